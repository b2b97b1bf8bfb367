//! How `perflab bench -- CMD` gets machine-readable results from harnesses whose default
//! output is for people: hyperfine and pytest-benchmark are asked to write their JSON to a file
//! perflab reads, a Google Benchmark binary to print JSON, and `cargo bench` with criterion is
//! read from the raw samples it leaves in `target/criterion` (only the ones this run wrote).

use std::path::{Path, PathBuf};

use perflab_model::Benchmark;

use crate::Format;

/// Where the results of an arranged harness are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultsAt {
    /// Its standard output, format detected.
    Stdout,
    /// A file it writes, in this format.
    File(PathBuf, Format),
    /// criterion's tree under this `target` directory, written during the run.
    CriterionDir(PathBuf),
    /// The format the user named (`--format`): stdout read as it, or for `criterion-dir` the
    /// whole tree under the project's `target/criterion`.
    Named(Format, PathBuf),
}

/// A harness command line with what perflab added to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arranged {
    /// The command to run.
    pub argv: Vec<String>,
    /// Where to read the results.
    pub results: ResultsAt,
    /// What was added, for the user (`added --export-json …`).
    pub note: Option<String>,
}

fn program(argv: &[String]) -> &str {
    argv.first()
        .and_then(|p| Path::new(p).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("")
}

/// The value of `--flag VALUE` or `--flag=VALUE`, if given.
fn flag_value(argv: &[String], flag: &str) -> Option<String> {
    argv.iter().enumerate().find_map(|(i, a)| {
        if a == flag {
            argv.get(i + 1).cloned()
        } else {
            a.strip_prefix(&format!("{flag}=")).map(str::to_string)
        }
    })
}

fn has_flag(argv: &[String], flags: &[&str]) -> bool {
    argv.iter().any(|a| {
        flags
            .iter()
            .any(|f| a == f || a.starts_with(&format!("{f}=")))
    })
}

/// Whether the program links Google Benchmark (its binary carries the flag's name).
fn is_google_benchmark(path: &str) -> bool {
    let found = if path.contains('/') {
        Some(PathBuf::from(path))
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(path))
                .find(|p| p.is_file())
        })
    };
    let Some(file) = found else {
        return false;
    };
    // Bounded: a benchmark binary is tens of MB at most; larger files are not read.
    match std::fs::metadata(&file) {
        Ok(m) if m.len() <= 512 << 20 => {}
        _ => return false,
    }
    std::fs::read(&file).is_ok_and(|bytes| {
        bytes
            .windows(b"benchmark_format".len())
            .any(|w| w == b"benchmark_format")
    })
}

/// Arrange `argv` so its results can be read; `scratch` is a directory for result files and
/// `project_root` where `cargo bench` leaves `target/criterion`. A format the user named wins:
/// the command then runs as given.
pub fn arrange(
    argv: &[String],
    scratch: &Path,
    project_root: &Path,
    named: Option<Format>,
) -> Arranged {
    if named.is_none() {
        if let Some(a) = arrange_in_shell(argv, scratch, project_root) {
            return a;
        }
    }
    arrange_words(argv, scratch, project_root, named)
}

/// `sh -c "cd x && pytest -q"` (or bash, with options before `-c`): the harness inside the
/// shell's command is arranged as if it were given alone, so a command passed through a shell
/// (the GitHub action's `command:` input) is read the same way: pytest gets its JSON file,
/// criterion is read from its raw samples. `None` when `argv` is not such a command or the
/// harness in it needs nothing.
fn arrange_in_shell(argv: &[String], scratch: &Path, project_root: &Path) -> Option<Arranged> {
    if !matches!(program(argv), "sh" | "bash" | "dash" | "zsh") {
        return None;
    }
    let c = argv.iter().position(|a| a == "-c")?;
    if argv[1..c].iter().any(|a| !a.starts_with('-')) {
        return None;
    }
    let script = argv.get(c + 1)?;
    let words = shell_words::split(script).ok()?;
    const SEPARATORS: [&str; 5] = ["&&", "||", ";", "|", "&"];
    let mut start = 0;
    for end in
        (0..=words.len()).filter(|&i| i == words.len() || SEPARATORS.contains(&words[i].as_str()))
    {
        let segment = &words[start..end];
        // `FOO=1 pytest`: leading assignments stay in front.
        let skip = segment.iter().take_while(|w| is_assignment(w)).count();
        let command = &segment[skip..];
        if !command.is_empty() {
            let inner = arrange_words(command, scratch, project_root, None);
            if inner.results != ResultsAt::Stdout || inner.argv != command {
                let mut rebuilt: Vec<String> = Vec::with_capacity(words.len() + 1);
                let mut push = |w: &str| {
                    rebuilt.push(if SEPARATORS.contains(&w) {
                        w.to_string()
                    } else if is_assignment(w) {
                        // Quoting the whole word would make it a command, not an assignment.
                        let (name, value) = w.split_once('=').unwrap_or((w, ""));
                        format!("{name}={}", sh_quote(value))
                    } else {
                        sh_quote(w)
                    })
                };
                words[..start + skip].iter().for_each(|w| push(w));
                inner.argv.iter().for_each(|w| push(w));
                words[end..].iter().for_each(|w| push(w));
                let mut out = argv[..=c].to_vec();
                out.push(rebuilt.join(" "));
                out.extend_from_slice(&argv[c + 2..]);
                return Some(Arranged {
                    argv: out,
                    results: inner.results,
                    note: inner
                        .note
                        .map(|n| format!("{n} (inside the shell's command)")),
                });
            }
        }
        start = end + 1;
    }
    None
}

/// Where criterion leaves its raw samples: `CRITERION_HOME` when set, else `criterion/` in
/// cargo's target directory.
fn criterion_home(project_root: &Path) -> PathBuf {
    match std::env::var_os("CRITERION_HOME").filter(|v| !v.is_empty()) {
        Some(home) => project_root.join(home),
        None => cargo_target_dir(project_root).join("criterion"),
    }
}

/// Where cargo builds: `CARGO_TARGET_DIR` (or
/// `CARGO_BUILD_TARGET_DIR`) when set, as cargo reads it (relative to the project), else
/// `target/` of the project.
fn cargo_target_dir(project_root: &Path) -> PathBuf {
    ["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR"]
        .iter()
        .find_map(|k| std::env::var_os(k).filter(|v| !v.is_empty()))
        .map_or_else(|| project_root.join("target"), |d| project_root.join(d))
}

/// A word as the shell reads it back: as it is when it holds nothing the shell treats
/// specially, else in single quotes.
fn sh_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b));
    if plain {
        word.to_string()
    } else {
        shell_words::quote(word).into_owned()
    }
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !name.as_bytes()[0].is_ascii_digit()
    })
}

fn arrange_words(
    argv: &[String],
    scratch: &Path,
    project_root: &Path,
    named: Option<Format>,
) -> Arranged {
    let mut out = argv.to_vec();
    if let Some(f) = named {
        let dir = project_root.join("target").join("criterion");
        return Arranged {
            argv: out,
            results: ResultsAt::Named(f, dir),
            note: None,
        };
    }
    let name = program(argv);
    let python_pytest = (name.starts_with("python")
        && argv.get(1).is_some_and(|a| a == "-m")
        && argv.get(2).is_some_and(|a| a == "pytest"))
        || name == "pytest"
        || name == "py.test";
    // The user asked for the JSON file already: read it.
    let given = |flag: &str, format: Format| {
        flag_value(argv, flag).map(|f| Arranged {
            argv: argv.to_vec(),
            results: ResultsAt::File(PathBuf::from(f), format),
            note: None,
        })
    };
    if name == "hyperfine" {
        if let Some(a) = given("--export-json", Format::Hyperfine) {
            return a;
        }
    }
    if python_pytest {
        if let Some(a) = given("--benchmark-json", Format::PytestBenchmark) {
            return a;
        }
    }
    if name == "hyperfine" && !has_flag(argv, &["--export-json"]) {
        let file = scratch.join("hyperfine.json");
        out.push("--export-json".into());
        out.push(file.display().to_string());
        return Arranged {
            argv: out,
            results: ResultsAt::File(file, Format::Hyperfine),
            note: Some("added --export-json to read hyperfine's raw times".into()),
        };
    }
    if python_pytest && !has_flag(argv, &["--benchmark-json"]) {
        let file = scratch.join("pytest-benchmark.json");
        out.push(format!("--benchmark-json={}", file.display()));
        return Arranged {
            argv: out,
            results: ResultsAt::File(file, Format::PytestBenchmark),
            note: Some("added --benchmark-json to read pytest-benchmark's raw times".into()),
        };
    }
    if name == "cargo" && argv.get(1).is_some_and(|a| a == "bench") {
        return Arranged {
            argv: out,
            results: ResultsAt::CriterionDir(criterion_home(project_root)),
            note: None,
        };
    }
    if !has_flag(argv, &["--benchmark_format", "--benchmark_out"])
        && is_google_benchmark(argv.first().map_or("", String::as_str))
    {
        out.push("--benchmark_format=json".into());
        return Arranged {
            argv: out,
            results: ResultsAt::Stdout,
            note: Some("added --benchmark_format=json to read Google Benchmark's results".into()),
        };
    }
    Arranged {
        argv: out,
        results: ResultsAt::Stdout,
        note: None,
    }
}

/// Read what an arranged harness produced: its result file, criterion's fresh raw samples
/// (falling back to the console text when there are none, e.g. libtest `#[bench]`), or its
/// stdout (then stderr, where some harnesses print).
///
/// # Errors
/// As [`crate::parse_path`] and [`crate::parse_text`].
pub fn read_results(
    arranged: &Arranged,
    stdout: &str,
    stderr: &str,
    since: std::time::SystemTime,
) -> Result<crate::Parsed, crate::IngestError> {
    let source = format!("output of {}", program(&arranged.argv));
    let mut parsed = match &arranged.results {
        ResultsAt::File(path, format) => crate::parse_path(path, Some(*format))?,
        ResultsAt::CriterionDir(dir) => {
            match crate::criterion::parse_dir_since(dir, &dir.display().to_string(), Some(since))
                .and_then(|p| crate::finish_public(p, &dir.display().to_string()))
            {
                Ok(p) => p,
                Err(_) => crate::parse_text(stdout, None, &source)?,
            }
        }
        ResultsAt::Named(Format::CriterionDir, dir) => {
            crate::parse_path(dir, Some(Format::CriterionDir))?
        }
        ResultsAt::Named(f, _) => crate::parse_text(stdout, Some(*f), &source)?,
        ResultsAt::Stdout => match crate::parse_text(stdout, None, &source) {
            Ok(p) => p,
            Err(e) => crate::parse_text(stderr, None, &source).map_err(|_| e)?,
        },
    };
    if program(&arranged.argv) == "hyperfine" {
        name_by_templates(&mut parsed.benchmarks, &arranged.argv);
    }
    Ok(parsed)
}

/// Name hyperfine benchmarks by the template given on the command line (`sleep {t}`), when
/// one renders to the benchmark's command with its params.
pub fn name_by_templates(benchmarks: &mut [Benchmark], argv: &[String]) {
    let render = |t: &str, b: &Benchmark| {
        b.params
            .iter()
            .fold(t.to_string(), |s, (k, v)| s.replace(&format!("{{{k}}}"), v))
    };
    for b in benchmarks.iter_mut().filter(|b| !b.params.is_empty()) {
        let rendered = render(&b.name, b);
        if let Some(t) = argv
            .iter()
            .find(|a| a.contains('{') && render(a, b) == rendered)
        {
            b.name = t.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrange_default(argv: &[String], scratch: &Path, root: &Path) -> Arranged {
        arrange(argv, scratch, root, None)
    }

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn asks_each_harness_for_its_machine_readable_output() {
        let scratch = Path::new("/scratch");
        let root = Path::new("/repo");
        let h = arrange_default(
            &v(&["hyperfine", "-P", "t", "1", "3", "sleep 0.{t}"]),
            scratch,
            root,
        );
        assert_eq!(
            h.argv[6..],
            v(&["--export-json", "/scratch/hyperfine.json"])[..]
        );
        assert_eq!(
            h.results,
            ResultsAt::File("/scratch/hyperfine.json".into(), Format::Hyperfine)
        );
        let kept = arrange_default(
            &v(&["hyperfine", "--export-json", "x.json", "true"]),
            scratch,
            root,
        );
        assert_eq!(
            kept.results,
            ResultsAt::File("x.json".into(), Format::Hyperfine)
        );
        assert_eq!(kept.argv.len(), 4, "nothing added");
        // Inside a shell's command, the same harnesses are found and arranged.
        let sh = arrange(
            &v(&[
                "sh",
                "-c",
                "cd app && PYTHONHASHSEED=0 python -m pytest -q tests",
            ]),
            scratch,
            root,
            None,
        );
        assert_eq!(sh.argv[..2], v(&["sh", "-c"]));
        assert_eq!(
            sh.argv[2],
            "cd app && PYTHONHASHSEED=0 python -m pytest -q tests --benchmark-json=/scratch/pytest-benchmark.json"
        );
        assert_eq!(
            sh.results,
            ResultsAt::File(
                "/scratch/pytest-benchmark.json".into(),
                Format::PytestBenchmark
            )
        );
        let cargo = arrange(
            &v(&["bash", "-e", "-c", "cargo bench --bench http -- version"]),
            scratch,
            root,
            None,
        );
        assert_eq!(cargo.argv[3], "cargo bench --bench http -- version");
        assert_eq!(
            cargo.results,
            ResultsAt::CriterionDir("/repo/target/criterion".into())
        );
        let plain = arrange(
            &v(&["sh", "-c", "./bench.sh | tee out"]),
            scratch,
            root,
            None,
        );
        assert_eq!(
            (plain.argv[2].as_str(), plain.results),
            ("./bench.sh | tee out", ResultsAt::Stdout)
        );
        let py = arrange_default(&v(&["pytest", "--benchmark-json=b.json"]), scratch, root);
        assert_eq!(
            py.results,
            ResultsAt::File("b.json".into(), Format::PytestBenchmark)
        );
        let p = arrange_default(&v(&["python3", "-m", "pytest", "bench.py"]), scratch, root);
        assert_eq!(p.argv[4], "--benchmark-json=/scratch/pytest-benchmark.json");
        let c = arrange_default(&v(&["cargo", "bench"]), scratch, root);
        assert_eq!(
            c.results,
            ResultsAt::CriterionDir("/repo/target/criterion".into())
        );
        assert_eq!(
            arrange_default(&v(&["go", "test", "-bench", "."]), scratch, root).results,
            ResultsAt::Stdout
        );
    }

    #[test]
    fn hyperfine_runs_are_named_by_their_template() {
        let mut b = vec![Benchmark::new("sleep 0.{t}").with_param("t", "1")];
        name_by_templates(
            &mut b,
            &v(&["hyperfine", "-P", "t", "1", "3", "sleep 0.{t}"]),
        );
        assert_eq!(b[0].name, "sleep 0.{t}");
    }
}
