//! One profiling session from recording to what the user keeps: the recordings of a command
//! (CPU, and allocations with `--alloc`), put on the process's own clock, rendered as
//! flamegraphs, pprof and folded files with the summary, and the run's numbers as a benchmark.

use std::path::{Path, PathBuf};

use perflab_model::profile::{ProfileSummary, StackWeight};
use perflab_model::{Benchmark, Metric, Unit};

use crate::record::{self, RecordError, RecordOptions, Recording};
use crate::summary::{self, RunFacts};
use crate::{flame, folded, pprof, Profile, ProfileError};

/// Profile process `pid` with perf for `seconds`, starting after `delay`, on a thread of its
/// own: a load test's target over the test's measured window (`load --profile-target`). Join
/// the handle after the test; Ctrl-C at the terminal ends perf early with what it sampled.
pub fn record_pid_during(
    pid: u32,
    delay: std::time::Duration,
    seconds: f64,
    opts: RecordOptions,
) -> std::thread::JoinHandle<Result<Profiled, RecordError>> {
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let cpu = record::record_pid(pid, seconds.max(0.1), &opts)?;
        Ok(Profiled { cpu, alloc: None })
    })
}

/// A file to write: its role in the summary (`flamegraph`, `pprof`…), its name and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// Key in `ProfileSummary::files`.
    pub role: String,
    /// File name (with the prefix).
    pub name: String,
    /// Contents.
    pub bytes: Vec<u8>,
}

/// A CPU recording and, with --alloc, an allocation recording of the same target.
#[derive(Debug, Clone)]
pub struct Profiled {
    /// The CPU profile (or the file read).
    pub cpu: Recording,
    /// The allocation profile, with --alloc.
    pub alloc: Option<Recording>,
}

impl Profiled {
    /// A profile read from a file (`--input`).
    pub fn from_file(profile: Profile) -> Profiled {
        let is_alloc = profile.type_index("alloc_space").is_some();
        let rec = Recording {
            profile,
            backend: "file".into(),
            note: None,
            unwinding: None,
            usage: record::Usage::default(),
        };
        if is_alloc {
            // A heap profile only: it is both what is shown and where sites come from.
            Profiled {
                cpu: rec.clone(),
                alloc: Some(rec),
            }
        } else {
            Profiled {
                cpu: rec,
                alloc: None,
            }
        }
    }

    /// A one-line description when the command did not end well.
    pub fn failure(&self, target: &str) -> Option<String> {
        let u = &self.cpu.usage;
        if u.timed_out {
            return None; // stopped by perflab at its budget: expected
        }
        match (u.exit_code, u.signal) {
            (Some(0), _) | (None, None) => None,
            (Some(c), _) => Some(format!(
                "{target} exited with status {c}: the profile of what ran was kept (partial)"
            )),
            (None, Some(s)) => Some(format!(
                "{target} was killed by signal {s}: the profile up to then was kept (partial)"
            )),
        }
    }
}

/// Record the CPU profile of `argv` and, when asked, its allocations. `stdout`: a file for the
/// command's output during the CPU run (a harness's results); the allocation run's output is
/// dropped then, as it would only repeat it.
///
/// # Errors
/// [`RecordError`] when a recorder fails or the scratch directories cannot be made.
pub fn profile_command(
    argv: &[String],
    base: &RecordOptions,
    alloc: bool,
    stdout: record::CommandOutput,
) -> Result<Profiled, RecordError> {
    let dir = |name: &str| -> Result<PathBuf, RecordError> {
        let d = base.scratch.join(name);
        std::fs::create_dir_all(&d).map_err(|e| RecordError::Scratch {
            path: d.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(d)
    };
    if alloc {
        record::check_alloc(argv)?; // before the CPU run spends its time
    }
    let mut cpu_opts = base.clone();
    cpu_opts.scratch = dir("cpu")?;
    let quiet = stdout != record::CommandOutput::Stderr;
    cpu_opts.stdout = stdout;
    let cpu = record::record_cpu(argv, &cpu_opts)?;
    let alloc = if alloc {
        let mut opts = base.clone();
        opts.scratch = dir("alloc")?;
        if quiet {
            opts.stdout = record::CommandOutput::File(opts.scratch.join("stdout"));
        }
        Some(record::record_alloc(argv, &opts)?)
    } else {
        None
    };
    Ok(Profiled { cpu, alloc })
}

fn facts(target: &str, r: &Recording) -> RunFacts {
    let u = &r.usage;
    // Under valgrind the process's times are the instrumented run's, not the program's.
    let timed = r.backend == "perf" || r.backend == "rusage";
    RunFacts {
        target: target.to_string(),
        backend: r.backend.clone(),
        backend_note: r.note.clone(),
        unwinding: r.unwinding.as_ref().map(|(u, _)| u.as_str().to_string()),
        cpu_time_s: timed.then_some(u.user_s + u.sys_s),
        sys_time_s: timed.then_some(u.sys_s),
        wall_time_s: timed.then_some(u.wall_s),
        peak_rss_bytes: u.peak_rss().filter(|_| timed),
        // The main thread lives the whole run, so wall - CPU is a lower bound of waiting.
        threads: Some(1),
        switches: u.switches.filter(|_| timed),
    }
}

/// The files of `scan`'s overall profile (one tower per target): flamegraph, pprof, folded.
///
/// # Errors
/// [`ProfileError`] when the flamegraph cannot be drawn.
pub fn overall_outputs(overall: &Profile) -> Result<Vec<OutputFile>, ProfileError> {
    let file = |role: &str, name: &str, bytes: Vec<u8>| OutputFile {
        role: role.into(),
        name: name.into(),
        bytes,
    };
    Ok(vec![
        file(
            "flamegraph",
            "overall-flamegraph.svg",
            flame::render(overall, 0, "cpu: all targets", "one tower per target")?,
        ),
        file("pprof", "overall.pb.gz", pprof::write(overall, Some("cpu"))),
        file(
            "folded",
            "overall.folded",
            folded::write(overall, 0).into_bytes(),
        ),
    ])
}

/// The `limit` heaviest stacks of column `col`, each as its share of the column's total.
pub fn heaviest_stacks(p: &Profile, col: usize, limit: usize) -> Vec<StackWeight> {
    let total = p.total(col) as f64;
    if total <= 0.0 {
        return Vec::new();
    }
    let mut stacks = p.folded(col);
    stacks.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    stacks.truncate(limit);
    stacks
        .into_iter()
        .map(|(stack, v)| StackWeight {
            stack,
            weight: v as f64 / total,
        })
        .collect()
}

/// The CPU profile with its `cpu` column put on the process's own clock (rusage), so the
/// flamegraph, pprof and folded files agree with the summary.
pub fn on_process_clock(p: &Profile, cpu_s: Option<f64>) -> Profile {
    match (p.type_index("cpu"), cpu_s) {
        (Some(i), Some(cpu)) if cpu > 0.0 && p.total(i) > 0 => {
            p.scaled(i, cpu * 1e9 / p.total(i) as f64)
        }
        _ => p.clone(),
    }
}

/// The files of a profile, `{prefix}flamegraph.svg`, `{prefix}profile.pb.gz`,
/// `{prefix}stacks.folded` (and the `alloc-` files), and its summary. The caller writes them
/// (this crate measures and renders, it does not touch the user's directories).
///
/// # Errors
/// [`ProfileError`] when a flamegraph cannot be drawn.
pub fn render_outputs(
    prefix: &str,
    target: &str,
    profiled: &Profiled,
    top: usize,
    frequency: u32,
) -> Result<(ProfileSummary, Vec<OutputFile>), ProfileError> {
    let cpu = &profiled.cpu;
    let f = facts(target, cpu);
    let mut s = summary::summarize(&cpu.profile, &f, top);
    if let Some((u, why)) = &cpu.unwinding {
        let note = format!("{} unwinding: {why}", u.as_str());
        s.backend_note = Some(match s.backend_note.take() {
            Some(n) => format!("{n}; {note}"),
            None => note,
        });
    }
    let shown = on_process_clock(&cpu.profile, f.cpu_time_s);
    let col = summary::main_column(&shown);
    s.stacks = heaviest_stacks(&shown, col, 500);
    let mut subtitle = cpu.backend.clone();
    if let Some((u, _)) = &cpu.unwinding {
        subtitle.push_str(&format!(", {} unwinding, {frequency} Hz", u.as_str()));
    }
    subtitle.push_str(&format!(", {} samples", s.samples));
    if let Some(c) = s.cpu_time_s {
        subtitle.push_str(&format!(", CPU {}", Unit::seconds().format(c)));
    }
    let mut files = Vec::new();
    let mut write = |role: &str, name: &str, bytes: &[u8]| -> Result<(), ProfileError> {
        files.push(OutputFile {
            role: role.to_string(),
            name: format!("{prefix}{name}"),
            bytes: bytes.to_vec(),
        });
        Ok(())
    };
    let title = format!("{}: {target}", shown.sample_types[col].kind);
    write(
        "flamegraph",
        "flamegraph.svg",
        &flame::render(&shown, col, &title, &subtitle)?,
    )?;
    let default_type = shown.sample_types[col].kind.clone();
    let mut with_comments = shown.clone();
    with_comments
        .comments
        .push(format!("perflab profile: {target}"));
    with_comments.comments.push(format!("backend: {subtitle}"));
    write(
        "pprof",
        "profile.pb.gz",
        &pprof::write(&with_comments, Some(&default_type)),
    )?;
    write(
        "folded",
        "stacks.folded",
        folded::write(&shown, col).as_bytes(),
    )?;
    if let Some(alloc) = &profiled.alloc {
        let a = summary::summarize(&alloc.profile, &facts(target, alloc), top);
        let ai = alloc.profile.type_index("alloc_space").unwrap_or(0);
        write(
            "alloc_flamegraph",
            "alloc-flamegraph.svg",
            &flame::render(
                &alloc.profile,
                ai,
                &format!("allocated bytes: {target}"),
                &format!("{}, {} allocations", alloc.backend, a.samples),
            )?,
        )?;
        write(
            "alloc_pprof",
            "alloc.pb.gz",
            &pprof::write(&alloc.profile, Some("alloc_space")),
        )?;
        write(
            "alloc_folded",
            "alloc.folded",
            folded::write(&alloc.profile, ai).as_bytes(),
        )?;
        if alloc.backend != "file" {
            let (w_cpu, w_alloc) = (cpu.usage.wall_s, alloc.usage.wall_s);
            if w_cpu > 0.0 {
                s.warnings.push(format!(
                    "allocation profiling (valgrind DHAT) ran {:.1}× slower than the CPU run \
                     ({:.2} s against {:.2} s wall)",
                    w_alloc / w_cpu,
                    w_alloc,
                    w_cpu
                ));
            }
        }
        s.alloc = a.alloc;
        s.recommendations.extend(
            a.recommendations
                .into_iter()
                .filter(|r| r.rule == "temporary-allocations" || r.rule == "leaks"),
        );
    }
    if let Some(f) = profiled.failure(target) {
        s.warnings.push(f);
    }
    let u = &cpu.usage;
    if u.max_rss_bytes > 0 && u.peak_rss().is_none() && cpu.backend != "callgrind" {
        s.warnings.push(format!(
            "peak RSS not recorded: it is at perflab's measurement floor ({}), so the command's \
             own peak is smaller than perflab can see",
            Unit::bytes().format(u.rss_floor_bytes as f64)
        ));
    }
    if cpu.usage.timed_out {
        s.warnings
            .push("stopped at the end of its time budget: the profile covers what ran".into());
    }
    Ok((s, files))
}

/// The run's numbers as a benchmark, so `compare` and `check` work on profile runs too.
pub fn benchmark_of(s: &ProfileSummary) -> Benchmark {
    let mut b = Benchmark::new(s.target.clone());
    let mut add = |name: &str, unit: Unit, v: Option<f64>| {
        if let Some(v) = v {
            b.metrics.push(Metric::new(name, unit, vec![v]));
        }
    };
    add("cpu_time", Unit::seconds(), s.cpu_time_s);
    add("wall_time", Unit::seconds(), s.wall_time_s);
    add(
        "peak_rss",
        Unit::bytes(),
        s.peak_rss_bytes.map(|v| v as f64),
    );
    if s.value == "instructions" {
        add("instructions", Unit::count(), Some(s.total));
    }
    if let Some(a) = &s.alloc {
        add("alloc_bytes", Unit::bytes(), Some(a.total_bytes as f64));
        add("alloc_blocks", Unit::count(), Some(a.total_blocks as f64));
        add("leaked_bytes", Unit::bytes(), Some(a.leaked_bytes as f64));
    }
    b
}

/// A profile without its first frame where that frame is one of `roots`.
pub fn strip_roots(p: &Profile, roots: &[String]) -> Profile {
    let mut out = Profile::new(p.sample_types.clone());
    for s in &p.samples {
        let skip = usize::from(
            s.stack
                .first()
                .is_some_and(|&f| roots.iter().any(|r| r == p.name(f))),
        );
        let ids: Vec<u32> = s.stack[skip..]
            .iter()
            .map(|&f| out.intern(p.frames[f as usize].clone()))
            .collect();
        out.add(&ids, &s.values);
    }
    out
}

/// Against `base`: the `n` stacks of column `kind` whose value changed most (in the column's
/// unit: goroutines, bytes), and the advice when a goroutine profile grew, which is how a
/// goroutine leak shows (a goroutine profile before and after a load test).
pub fn growth_against(
    base: &Profile,
    current: &Profile,
    n: usize,
) -> (
    Vec<perflab_model::profile::StackGrowth>,
    Option<perflab_model::profile::Recommendation>,
) {
    use std::collections::BTreeMap;
    let index = summary::main_column(current);
    let kind = current
        .sample_types
        .get(index)
        .map(|t| t.kind.clone())
        .unwrap_or_default();
    let Some(bi) = base.type_index(&kind) else {
        return (Vec::new(), None);
    };
    let mut rows: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (stack, v) in base.folded(bi) {
        rows.entry(stack).or_default().0 += v;
    }
    for (stack, v) in current.folded(index) {
        rows.entry(stack).or_default().1 += v;
    }
    let mut changed: Vec<(String, i64, i64)> = (rows.into_iter())
        .filter(|(_, (b, a))| a != b)
        .map(|(s, (b, a))| (s, b, a))
        .collect();
    changed.sort_by(|x, y| {
        (y.2 - y.1)
            .abs()
            .cmp(&(x.2 - x.1).abs())
            .then(x.0.cmp(&y.0))
    });
    let grown: i64 = changed.iter().map(|c| c.2 - c.1).sum();
    let advice = (kind == "goroutine" && grown > 0).then(|| {
        let top = changed.iter().find(|c| c.2 > c.1);
        let leaf = top.map_or("", |c| c.0.rsplit(';').next().unwrap_or(""));
        perflab_model::profile::Recommendation {
            rule: "goroutine-growth".into(),
            advice: "Goroutines that were started and never returned: each one blocked here holds \
                     its stack and what it references. Give them a way out (a context, a closed \
                     channel, a timeout)."
                .into(),
            evidence: format!(
                "{grown} more goroutines than the baseline, {} of them in {leaf}",
                top.map_or(0, |c| c.2 - c.1)
            ),
        }
    });
    let rows = changed
        .into_iter()
        .take(n)
        .map(|(stack, b, a)| perflab_model::profile::StackGrowth {
            stack,
            before: b as f64,
            after: a as f64,
        })
        .collect();
    (rows, advice)
}

/// Each function's flat share of its target's total, keyed `function (target)`: the targets
/// are the root frames named in `targets` (scan's overall profile), so a function that is hot
/// in one small target is not diluted by the others.
pub fn per_target_shares(
    p: &Profile,
    index: usize,
    targets: &[String],
) -> std::collections::BTreeMap<String, f64> {
    use std::collections::BTreeMap;
    let mut flat: BTreeMap<String, i64> = BTreeMap::new();
    let mut totals: BTreeMap<&str, i64> = BTreeMap::new();
    for s in &p.samples {
        let v = s.values.get(index).copied().unwrap_or(0);
        let (Some(&root), Some(&leaf)) = (s.stack.first(), s.stack.last()) else {
            continue;
        };
        let target = p.name(root);
        if !targets.iter().any(|t| t == target) || root == leaf {
            continue;
        }
        *totals.entry(target).or_default() += v;
        *flat
            .entry(format!("{} ({target})", p.name(leaf)))
            .or_default() += v;
    }
    flat.into_iter()
        .map(|(k, v)| {
            let target = k
                .rsplit_once(" (")
                .map_or("", |(_, t)| t.trim_end_matches(')'));
            let total = totals.get(target).copied().unwrap_or(1).max(1);
            (k, v as f64 / total as f64)
        })
        .collect()
}

/// Each function's flat share of column `index`'s total.
pub fn flat_shares(p: &Profile, index: usize) -> std::collections::BTreeMap<String, f64> {
    let total = p.total(index).max(1) as f64;
    crate::top::table(p, index)
        .into_iter()
        .map(|r| (r.function, r.flat as f64 / total))
        .collect()
}

/// What a user profiling a harness should know before it runs: the test binary that `go test`
/// builds and runs itself resolves to no symbols (seen with Go 1.19, with -o, -work or
/// -ldflags alike), while one built with -c resolves.
pub fn harness_notes(argv: &[String]) -> Vec<String> {
    let is_go_test = argv.len() > 1
        && Path::new(&argv[0]).file_name().is_some_and(|n| n == "go")
        && argv[1] == "test";
    if is_go_test {
        vec![
            "the symbols of the test binary that go test builds and runs itself cannot be \
read, so its profile is mostly [unknown]: build it with `go test -c -o bench.test` and run \
`perflab bench --profile -- ./bench.test -test.run '^$' -test.bench .`"
                .into(),
        ]
    } else {
        Vec::new()
    }
}

/// What the figures of a harness profiled with `backend` mean, when they are not native.
pub fn backend_warning(backend: &str) -> Option<String> {
    match backend {
        "perf" => None,
        "callgrind" => Some(
            "the harness ran under callgrind (perf unavailable): its timings are tens of times \
slower than native and compare only with other callgrind runs"
                .into(),
        ),
        other => Some(format!(
            "profiled with {other}: no stacks, timings are native"
        )),
    }
}
