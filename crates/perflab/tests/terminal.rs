//! perflab at a real terminal: each test drives it through a pseudo-terminal
//! (`tests/data/pty_drive.py`), so colour, the progress component and Ctrl-C behave as they do
//! for a person. Ctrl-C is typed (`\x03`): the terminal sends SIGINT to the whole foreground
//! process group, perflab and the commands it runs alike.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{json, stderr, Lab};

/// What the terminal showed and the exit code.
struct Shown {
    code: Option<i32>,
    raw: String,
}

/// `perflab ARGS` on a pseudo-terminal in `lab`, answering `steps` ([expect, type] pairs).
fn at_terminal(lab: &Lab, steps: &str, args: &[&str], env: &[(&str, &str)]) -> Shown {
    let mut c = Command::new("python3");
    c.arg(common::data("pty_drive.py"))
        .arg(steps)
        .arg(assert_cmd::cargo::cargo_bin("perflab"))
        .args(args)
        .current_dir(lab.dir.path())
        .env("PERFLAB_STORE", lab.path("history.db"))
        .env("PTY_DRIVE_RAW", "1")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("TERM", "xterm-256color");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("python3 runs");
    Shown {
        code: out.status.code(),
        raw: String::from_utf8_lossy(&out.stdout).into_owned() + &stderr(&out),
    }
}

const GREEN: &str = "\x1b[32m";
const BOLD: &str = "\x1b[1m";

#[test]
fn colour_on_a_terminal_none_when_piped_or_no_color() {
    let lab = Lab::new();
    let (old, new) = (common::data("old.txt"), common::data("new.txt"));
    let args = ["compare", old.as_str(), new.as_str()];
    let tty = at_terminal(&lab, "[]", &args, &[]);
    assert_eq!(tty.code, Some(0), "{}", tty.raw);
    assert!(tty.raw.contains(BOLD), "headers bold: {:?}", tty.raw);
    assert!(
        tty.raw.contains(&format!("{GREEN}improvement")),
        "improvement green: {:?}",
        tty.raw
    );
    // The columns line up as they do without colour: the same text once the codes are gone.
    let piped = lab
        .cmd()
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let piped_text = String::from_utf8_lossy(&piped.stdout);
    assert!(
        !piped_text.contains('\x1b'),
        "piped: no colour: {piped_text:?}"
    );
    assert_eq!(strip(&tty.raw).replace("\r\n", "\n"), piped_text);
    let no_color = at_terminal(&lab, "[]", &args, &[("NO_COLOR", "1")]);
    assert!(!no_color.raw.contains('\x1b'), "{:?}", no_color.raw);
    let never = at_terminal(
        &lab,
        "[]",
        &["--color", "never", args[0], args[1], args[2]],
        &[],
    );
    assert!(!never.raw.contains('\x1b'), "{:?}", never.raw);
    // Forced colour through a pipe, by flag or by CLICOLOR_FORCE; --color always beats NO_COLOR.
    for forced in [
        lab.cmd().arg("--color").arg("always").args(args).output(),
        lab.cmd()
            .args(args)
            .env_remove("NO_COLOR")
            .env("CLICOLOR_FORCE", "1")
            .output(),
    ] {
        let text = String::from_utf8_lossy(&forced.unwrap().stdout).into_owned();
        assert!(text.contains(GREEN), "{text:?}");
    }
    // A regression is red and so is the failed gate's line.
    let slow = lab.write("slow.txt", &slower(&std::fs::read_to_string(&old).unwrap()));
    let red = at_terminal(&lab, "[]", &["compare", &old, slow.to_str().unwrap()], &[]);
    assert_eq!(red.code, Some(1), "{}", red.raw);
    assert!(
        red.raw.contains("\x1b[1m\x1b[31mregression"),
        "{:?}",
        red.raw
    );
    assert!(red.raw.contains("\x1b[31mgate: FAILED"), "{:?}", red.raw);
}

/// Every `ns/op` figure of a Go benchmark file doubled.
fn slower(text: &str) -> String {
    text.lines()
        .map(|l| {
            let words: Vec<String> = l
                .split('\t')
                .map(|w| match w.trim().strip_suffix(" ns/op") {
                    Some(n) => format!("{} ns/op", n.trim().parse::<f64>().unwrap() * 2.0),
                    None => w.to_string(),
                })
                .collect();
            words.join("\t") + "\n"
        })
        .collect()
}

fn strip(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn progress_on_a_terminal_and_quiet_hides_it() {
    let lab = Lab::new();
    let run = ["run", "--runs", "30", "--no-store", "sleep 0.02"];
    let shown = at_terminal(&lab, "[]", &run, &[]);
    assert_eq!(shown.code, Some(0), "{}", shown.raw);
    assert!(
        strip(&shown.raw).contains("sleep 0.02 ["),
        "a progress bar: {:?}",
        shown.raw
    );
    let mut quiet = vec!["-q"];
    quiet.extend(run);
    let shown = at_terminal(&lab, "[]", &quiet, &[]);
    assert_eq!(shown.code, Some(0), "{}", shown.raw);
    assert!(
        !strip(&shown.raw).contains("sleep 0.02 ["),
        "{:?}",
        shown.raw
    );
    assert!(shown.raw.contains("Time (median"), "results still print");
    // -q drops status lines, not warnings or results.
    let out = lab
        .cmd()
        .args(["-q", "run", "--runs", "3", "sleep 0.01"])
        .output()
        .unwrap();
    assert!(!stderr(&out).contains("recorded run"), "{}", stderr(&out));
    let out = lab
        .cmd()
        .args(["run", "--runs", "3", "sleep 0.01"])
        .output()
        .unwrap();
    assert!(stderr(&out).contains("recorded run"), "{}", stderr(&out));
}

/// A repository with two commits, for `compare A..B`.
fn two_commits(lab: &Lab) -> std::path::PathBuf {
    let dir = lab.path("repo");
    std::fs::create_dir_all(&dir).unwrap();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(args)
            .current_dir(&dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .status()
            .unwrap();
        assert!(ok.success(), "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["commit", "-q", "--allow-empty", "-m", "a"]);
    git(&["commit", "-q", "--allow-empty", "-m", "b"]);
    dir
}

/// Ctrl-C typed 20 times in a row into each measuring command: every time the run is kept,
/// marked interrupted, and perflab exits 130 (the signal reaches the timed command too).
#[test]
fn ctrl_c_at_a_terminal_keeps_the_run_every_time() {
    let lab = Lab::new();
    let harness = lab.write(
        "harness.sh",
        "#!/bin/sh\ni=0\nwhile [ $i -lt 5000 ]; do echo \"BenchmarkWork-2 \t 100\t $((1000 + i % 7)) ns/op\"; i=$((i+1)); sleep 0.005; done\n",
    );
    std::fs::set_permissions(
        &harness,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let server = load_server();
    let repo = two_commits(&lab);
    let repo_store = lab.path("history.db");
    let mut kept = 0;
    let tries = 20;
    for i in 0..tries {
        // Each command waits for its own progress (or first output) before Ctrl-C is typed;
        // the wait varies, so the signal lands at different points of a run.
        let pause = format!("{}", 0.05 * (i % 5) as f64);
        let cases: Vec<(&str, Vec<String>)> = vec![
            (
                "runs",
                vec![
                    "run".into(),
                    "--runs".into(),
                    "100000".into(),
                    format!("sleep 0.00{}", 1 + i % 8),
                ],
            ),
            (
                "bench",
                vec!["bench".into(), "--".into(), harness.display().to_string()],
            ),
            (
                "requests",
                vec![
                    "load".into(),
                    server.clone(),
                    "-c".into(),
                    "2".into(),
                    "-d".into(),
                    "60s".into(),
                ],
            ),
            (
                "",
                vec![
                    "profile".into(),
                    "--".into(),
                    "sh".into(),
                    "-c".into(),
                    "sleep 0.3; while :; do :; done".into(),
                ],
            ),
        ];
        for (expect, args) in cases {
            let out = lab.path(&format!("out-{i}-{}.json", args[0]));
            let mut full: Vec<&str> = args.iter().map(String::as_str).collect();
            full.splice(1..1, ["--out", out.to_str().unwrap()]);
            let steps = serde_json::json!([[expect, ""], ["", "\u{3}"]]).to_string();
            std::thread::sleep(Duration::from_secs_f64(pause.parse().unwrap()));
            let shown = at_terminal(&lab, &steps, &full, &[]);
            let what = format!("try {i}, {}: {}", args[0], strip(&shown.raw));
            assert_eq!(shown.code, Some(130), "{what}");
            let doc: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&out).expect(&what)).expect(&what);
            assert_eq!(doc["interrupted"], true, "{what}");
            kept += 1;
        }
        // compare A..B in the repository: the rounds done so far are compared and recorded.
        let mut c = Command::new("python3");
        let steps = r#"[["round 2", "\u0003"]]"#;
        c.arg(common::data("pty_drive.py"))
            .arg(steps)
            .arg(assert_cmd::cargo::cargo_bin("perflab"))
            .args([
                "compare",
                "HEAD~1..HEAD",
                "--time",
                "--rounds",
                "5000",
                "--warmup",
                "0",
            ])
            .args(["--", "sleep", "0.005"])
            .current_dir(&repo)
            .env("PERFLAB_STORE", &repo_store)
            .env("TERM", "xterm-256color");
        let shown = c.output().unwrap();
        let text = String::from_utf8_lossy(&shown.stdout);
        assert_eq!(shown.status.code(), Some(130), "try {i}, compare: {text}");
        assert!(
            text.contains("the comparison above uses them"),
            "try {i}: {text}"
        );
        kept += 1;
    }
    let log = lab
        .cmd()
        .args(["log", "--json", "-n", "1000"])
        .output()
        .unwrap();
    let runs = json(&log.stdout);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), kept, "every interrupted run is in the history");
    assert_eq!(kept, tries * 5);
    assert!(runs.iter().all(|r| r["interrupted"] == true));
}

/// perflab's test server on a loopback port, in this process.
fn load_server() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let addr = "127.0.0.1:0".parse().unwrap();
        let opts = perflab_testkit::ServerOptions::default();
        perflab_testkit::run_blocking(addr, 1, opts, |bound| {
            let _ = tx.send(bound);
        })
        .expect("test server runs");
    });
    let bound = rx.recv_timeout(Duration::from_secs(10)).expect("bound");
    format!("http://{bound}/")
}

#[test]
fn load_shows_a_live_view_at_a_terminal_every_second() {
    let lab = Lab::new();
    let server = load_server();
    let args = ["load", &server, "--vus", "3", "-d", "3s", "--no-store"];
    let shown = at_terminal(&lab, "[]", &args, &[]);
    assert_eq!(shown.code, Some(0), "{}", shown.raw);
    let seen = strip(&shown.raw);
    // Elapsed and remaining, the VUs, rps, errors and the percentiles so far, redrawn in place.
    let views: Vec<&str> = seen
        .split(['\r', '\n'])
        .filter(|l| l.contains("s left)") && l.contains("VUs 3") && l.contains("p50 "))
        .collect();
    assert!(views.len() >= 2, "a live line each second: {seen:?}");
    assert!(views
        .iter()
        .any(|l| l.contains("p99 ") && l.contains("errors 0")));
}
