//! `perflab init`: a commented perflab.toml for the benchmarks found here (perflab-exec's
//! project detection), and with `--ci github` a pull-request workflow. Never overwrites
//! without `--force`.

use anyhow::{bail, Result};
use perflab_exec::project;

use crate::cli::InitArgs;
use crate::{context, output, Outcome};

pub(crate) fn run(args: InitArgs) -> Result<Outcome> {
    let root = context::project_root();
    let found = project::detect(&root);
    let checked = match (found.first(), args.no_verify) {
        (Some(d), false) => verify(d),
        _ => None,
    };
    let mut toml = project::perflab_toml_checked(&found, checked.as_ref());
    let mut chosen = None;
    if let (Some(d), Some(Ok(_))) = (found.first(), &checked) {
        if let Some(c) = choose_rounds(&d.bench) {
            toml = c.apply(&toml, &d.bench);
            chosen = Some(c);
        }
    }
    let mut files = vec![(root.join("perflab.toml"), toml)];
    if args.ci.is_some() {
        let workflow = root.join(".github").join("workflows").join("perflab.yml");
        let kind = found.first().map(|d| d.kind);
        files.push((workflow, project::github_workflow(&args.action, kind)));
    }
    let exist: Vec<String> = (files.iter().filter(|(p, _)| p.exists()))
        .map(|(p, _)| p.display().to_string())
        .collect();
    if !args.force {
        if exist.len() == files.len() {
            bail!(
                "{} exists: nothing written (--force overwrites)",
                exist.join(" and ")
            );
        }
        // What is there is kept; what is missing (the workflow beside a perflab.toml) is written.
        for e in &exist {
            crate::term::info!("kept {e} (exists; --force overwrites)");
        }
        files.retain(|(p, _)| !p.exists());
    }
    for (path, text) in &files {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        output::write_atomic(path, text.as_bytes())?;
        crate::term::info!("wrote {}", path.display());
    }
    match (found.first(), &checked) {
        (Some(d), Some(Err(why))) => crate::term::info!(
            "found {} ({}), but `{}` did not run here ({why}): [bench] command is left unset in perflab.toml",
            d.kind, d.evidence, d.bench
        ),
        (Some(d), Some(Ok(saw))) => crate::term::info!(
            "found {} ({}): `perflab bench` runs {} (checked: {saw})",
            d.kind, d.evidence, d.bench
        ),
        (Some(d), None) => crate::term::info!(
            "found {} ({}): `perflab bench` runs {}",
            d.kind, d.evidence, d.bench
        ),
        (None, _) => crate::term::info!("no benchmarks found: set [bench] command in perflab.toml"),
    }
    if let Some(c) = chosen {
        crate::term::info!("{}", c.said);
    }
    Ok(Outcome::Ok)
}

/// The compare A..B defaults init chose from one timed run of the benchmarks.
struct Chosen {
    /// `[compare] rounds`.
    rounds: usize,
    /// The bench command with `-count 1`, when the whole one did not fit.
    command: Option<String>,
    /// What to tell the user.
    said: String,
}

/// The budget init writes: a compare of a pull request should not take longer.
const BUDGET: std::time::Duration = std::time::Duration::from_secs(600);

impl Chosen {
    fn apply(&self, toml: &str, bench: &str) -> String {
        let mut out = toml.replacen(
            "budget = \"10m\"\n",
            &format!(
                "budget = \"10m\"\n# Rounds measured first, chosen by `perflab init` from one timed run (more follow\n# while a row is inconclusive, within the budget).\nrounds = {}\n",
                self.rounds
            ),
            1,
        );
        if let Some(c) = &self.command {
            let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
            out = out.replacen(
                &format!("command = {}\n", quote(bench)),
                &format!("command = {}\n", quote(c)),
                1,
            );
        }
        out
    }
}

/// Time one run of `bench` and choose the rounds that let `compare A..B` (a warm-up and the
/// rounds, both sides each) end within [`BUDGET`]; a Go command whose `-count N` makes that
/// fewer than 3 rounds gets `-count 1` (the rounds are the repetitions). `None` when the run
/// fails (the quick check passed, so the config is still written).
fn choose_rounds(bench: &str) -> Option<Chosen> {
    let argv = perflab_exec::split_words(bench).ok()?;
    crate::term::info!(
        "timing one run of `{bench}` to choose compare's rounds (--no-verify skips)"
    );
    let began = std::time::Instant::now();
    let out = perflab_exec::run_harness(&argv, false, super::interrupt_flag()).ok()?;
    if out.interrupted {
        return None;
    }
    let run = began.elapsed();
    let text = |d: std::time::Duration| perflab_model::Unit::seconds().format(d.as_secs_f64());
    let Fit {
        rounds,
        per_run,
        command,
        note,
    } = fit(run, &argv, bench);
    let said = if rounds < 3 {
        format!(
            "one run of the benchmarks took {}: even 3 rounds of compare A..B would not fit budget = \"10m\"; shorten them (-benchtime, a subset) or raise [compare] budget",
            text(run)
        )
    } else {
        format!(
            "one run of the benchmarks took {}: compare A..B will run {rounds} rounds (about {}), more while a row is inconclusive, within budget = \"10m\" ([compare] in perflab.toml){note}",
            text(run),
            // The warm-up and the rounds, both sides each.
            text(per_run.mul_f64(2.0 * (rounds + 1) as f64))
        )
    };
    Some(Chosen {
        rounds: rounds.max(3),
        command,
        said,
    })
}

/// What fits the budget, from one run's time.
struct Fit {
    rounds: usize,
    per_run: std::time::Duration,
    command: Option<String>,
    note: String,
}

fn fit(run: std::time::Duration, argv: &[String], bench: &str) -> Fit {
    let fits = |run: std::time::Duration| {
        let round = 2.0 * run.as_secs_f64().max(1e-3);
        ((BUDGET.as_secs_f64() - round) / round).floor().max(0.0) as usize
    };
    let mut out = Fit {
        rounds: fits(run).min(10),
        per_run: run,
        command: None,
        note: String::new(),
    };
    if out.rounds < 3 {
        let count = argv
            .iter()
            .position(|a| a == "-count")
            .and_then(|i| argv.get(i + 1))
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|&n| n > 1);
        if let (Some(n), true) = (count, argv.first().is_some_and(|a| a == "go")) {
            out.per_run = run.div_f64(f64::from(n));
            out.rounds = fits(out.per_run).min(10);
            out.command = Some(bench.replacen(&format!("-count {n}"), "-count 1", 1));
            out.note = format!(
                "; with -count {n} fewer than 3 rounds would fit, so [bench] command uses -count 1 (the rounds repeat it)"
            );
        }
    }
    out
}

/// Run the setup's quick check once: Ok with what was seen, Err with why it did not work.
fn verify(d: &project::Detected) -> Option<Result<String, String>> {
    let (command, expect) = d.verify.as_ref()?;
    crate::term::info!("checking that the benchmarks run: {command}");
    let argv = match perflab_exec::split_words(command) {
        Ok(a) => a,
        Err(e) => return Some(Err(e.to_string())),
    };
    Some(
        match perflab_exec::run_harness(&argv, false, super::interrupt_flag()) {
            Err(e) => Err(e.to_string()),
            Ok(out) if !out.stdout.contains(expect) && !out.stderr.contains(expect) => {
                Err(format!(
                    "it ran but printed no benchmark result ({:?} not seen: {})",
                    expect.trim(),
                    perflab_exec::tail(&out.stdout, 2)
                ))
            }
            Ok(out) => {
                let n = out.stdout.lines().filter(|l| l.contains(expect)).count();
                Ok(if expect.is_empty() {
                    "it built".to_string()
                } else if *expect == "ns/op" {
                    format!("{n} benchmark(s) ran once")
                } else {
                    perflab_exec::tail(&out.stdout, 1)
                })
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_rounds_fit_ten_minutes_and_a_long_go_count_becomes_one() {
        let words = |s: &str| perflab_exec::split_words(s).unwrap();
        let go = "go test -run '^$' -bench . -benchmem -count 5 ./...";
        // 6 s a run: 10 rounds (and a warm-up) take 2m12s.
        let f = fit(Duration::from_secs(6), &words(go), go);
        assert_eq!((f.rounds, f.command.as_deref()), (10, None));
        // 60 s a run: (600 - 120) / 120 = 4 rounds.
        assert_eq!(fit(Duration::from_secs(60), &words(go), go).rounds, 4);
        // 150 s a run (xxhash at -count 5): one count is 30 s, so 9 rounds of -count 1.
        let f = fit(Duration::from_secs(150), &words(go), go);
        assert_eq!(f.rounds, 9);
        assert_eq!(
            f.command.as_deref(),
            Some("go test -run '^$' -bench . -benchmem -count 1 ./...")
        );
        assert!(f.note.contains("-count 1"));
        // Not Go, or no -count: said, not rewritten.
        let py = "pytest --benchmark-only";
        let f = fit(Duration::from_secs(400), &words(py), py);
        assert_eq!((f.rounds, f.command), (0, None));
    }

    #[test]
    fn the_chosen_rounds_and_command_go_into_the_config() {
        let toml = "[bench]\ncommand = \"go test -count 5\"\n\n[compare]\nbudget = \"10m\"\n";
        let c = Chosen {
            rounds: 7,
            command: Some("go test -count 1".into()),
            said: String::new(),
        };
        let out = c.apply(toml, "go test -count 5");
        assert!(out.contains("command = \"go test -count 1\"\n"), "{out}");
        assert!(
            out.contains("budget = \"10m\"\n# Rounds") && out.contains("rounds = 7\n"),
            "{out}"
        );
        perflab_analysis::config::Config::parse(&out, std::path::Path::new("perflab.toml"))
            .expect("it parses");
    }
}
