//! From a [`Profile`] and the facts of its run to the [`ProfileSummary`] the history keeps: the
//! top table, stack quality, allocation sites, warnings and recommendations.

use std::collections::HashMap;

use perflab_model::profile::{AllocSite, AllocSummary, FunctionCost, ProfileSummary};

use crate::{advice, top, Profile};

/// What is known about the run beside its stacks.
#[derive(Debug, Clone, Default)]
pub struct RunFacts {
    /// The command or file profiled.
    pub target: String,
    /// The backend used.
    pub backend: String,
    /// Why that backend, when it was a fallback.
    pub backend_note: Option<String>,
    /// `fp` or `dwarf`, when perf unwound stacks.
    pub unwinding: Option<String>,
    /// User+system CPU seconds from the process's own accounting.
    pub cpu_time_s: Option<f64>,
    /// System CPU seconds.
    pub sys_time_s: Option<f64>,
    /// Wall seconds.
    pub wall_time_s: Option<f64>,
    /// Peak RSS.
    pub peak_rss_bytes: Option<u64>,
    /// Threads seen (to tell waiting from running in parallel); 1 when unknown.
    pub threads: Option<u32>,
    /// Voluntary and involuntary context switches (rusage), when known.
    pub switches: Option<(u64, u64)>,
}

/// The value column a summary leads with: CPU time, else instructions, else allocated bytes,
/// else samples, else the first.
pub fn main_column(p: &Profile) -> usize {
    if let Some(i) = p.default_type.as_deref().and_then(|k| p.type_index(k)) {
        return i;
    }
    ["cpu", "instructions", "alloc_space", "samples"]
        .iter()
        .find_map(|k| p.type_index(k))
        .unwrap_or(0)
}

/// The profile with each stack cut after its innermost Python function (`py::…`, from Python
/// 3.12's perf support) when only the interpreter's own frames follow it; None without any.
fn python_view(p: &Profile) -> Option<Profile> {
    if !p.frames.iter().any(|f| f.function.starts_with("py::")) {
        return None;
    }
    let interpreter = |f: &crate::Frame| {
        f.module.as_deref().is_some_and(|m| m.contains("python"))
            || f.function.starts_with("_Py")
            || f.function.starts_with("Py")
            || f.function.starts_with("py::")
    };
    let mut out = Profile::new(p.sample_types.clone());
    for s in &p.samples {
        let cut = (s.stack.iter())
            .rposition(|&f| p.frames[f as usize].function.starts_with("py::"))
            .filter(|&i| {
                s.stack[i + 1..]
                    .iter()
                    .all(|&f| interpreter(&p.frames[f as usize]))
            });
        let kept = cut.map_or(&s.stack[..], |i| &s.stack[..=i]);
        let ids: Vec<u32> = kept
            .iter()
            .map(|&f| out.intern(p.frames[f as usize].clone()))
            .collect();
        out.add(&ids, &s.values);
    }
    Some(out)
}

/// An interpreter or JIT whose own functions the profile cannot name, and how to see them.
fn interpreter_warning(p: &Profile) -> Option<String> {
    let has = |pred: &dyn Fn(&crate::Frame) -> bool| p.frames.iter().any(pred);
    if has(&|f| f.function == "_PyEval_EvalFrameDefault")
        && !has(&|f| f.function.starts_with("py::"))
    {
        return Some(
            "only the Python interpreter is visible (_PyEval_EvalFrameDefault), not the Python \
             functions: Python 3.12+ shows them (perflab sets PYTHONPERFSUPPORT=1); for older \
             interpreters use py-spy (py-spy record -o profile.svg -- python app.py)"
                .into(),
        );
    }
    let (_, unknown) = stack_quality(p, main_column(p));
    let module = |m: &str| has(&|f| f.module.as_deref().is_some_and(|x| x.contains(m)));
    let v8 = has(&|f| f.function.starts_with("v8::") || f.function.starts_with("Builtins_"));
    if unknown > 0.2 && (v8 || module("libnode")) {
        return Some(format!(
            "{:.0}% of the samples are in JIT-compiled JavaScript perf cannot name: run node \
             with --perf-basic-prof (it writes /tmp/perf-PID.map, which perf reads)",
            unknown * 100.0
        ));
    }
    if unknown > 0.2 && module("libjvm") {
        return Some(format!(
            "{:.0}% of the samples are in JIT-compiled Java perf cannot name: attach a perf map \
             agent (perf-map-agent, or -XX:+DumpPerfMapAtExit on JDK 17+)",
            unknown * 100.0
        ));
    }
    None
}

/// Rust's allocation machinery between the allocator and the code that asked for memory:
/// an allocation site is the first frame outside it.
fn is_alloc_internal(name: &str) -> bool {
    [
        "alloc::",
        "<alloc::",
        "core::alloc",
        "hashbrown::raw",
        "<hashbrown::raw",
        "__rust_",
    ]
    .iter()
    .chain(&["__rdl_", "__rg_", "UnknownInlinedFun", "<core::alloc"])
    .any(|p| name.starts_with(p))
}

/// Code of Rust's `alloc` library (`Vec`, `String`, `Box`, the global allocator's wrappers).
/// Inlined into a program, its frames carry short names (`alloc`, `finish_grow`, `resize<u64>`)
/// that no name pattern catches; the file tells. The caller is the allocation site.
fn in_rust_liballoc(file: &str) -> bool {
    file.contains("library/alloc/src/")
}

/// Frames where a complete stack starts: `main` or a thread entry.
pub fn is_root_frame(name: &str) -> bool {
    matches!(
        name,
        "main"
            | "_start"
            | "__libc_start_main"
            | "__libc_start_call_main"
            | "__libc_start_main_impl"
            | "start_thread"
            | "clone"
            | "clone3"
            | "__clone"
            | "__clone3"
            | "runtime.main"
            | "runtime.goexit"
            | "runtime.goexit1"
            | "runtime.mcall"
            | "runtime.morestack"
            | "runtime.mstart"
            | "runtime.rt0_go"
            | "(below main)"
            // Python (py-spy): the module level, and a thread's entry.
            | "<module>"
            | "Thread._bootstrap"
    ) || name.ends_with("::main")
        || name.ends_with("thread_start")
}

/// A Go function's name (`net/http.(*conn).serve`, `main.work`): a package path, a dot, no `::`.
fn is_go_function(name: &str) -> bool {
    let last = name.rsplit('/').next().unwrap_or(name);
    !name.contains("::")
        && !name.starts_with('[')
        && last
            .split_once('.')
            .is_some_and(|(pkg, f)| !pkg.is_empty() && !f.is_empty() && !pkg.contains(' '))
}

/// Share of column `index` whose stack contains a root frame, and share whose leaf is unnamed.
/// In a Go program (it has `runtime.` frames) a stack that starts in a Go function and goes
/// on to a callee is whole too: Go's own profiles leave `runtime.goexit` out, and its unwinder
/// does not cut stacks. A lone Go frame is not (perf's DWARF unwinding of Go gives one-frame
/// stacks such as `crypto/sha256.block`, and those counted as 99.9% complete).
pub fn stack_quality(p: &Profile, index: usize) -> (f64, f64) {
    let go = p.frames.iter().any(|f| f.function.starts_with("runtime."));
    let roots: Vec<bool> = p
        .frames
        .iter()
        .map(|f| is_root_frame(&f.function))
        .collect();
    let go_root = |s: &crate::Sample| {
        go && s.stack.len() >= 2
            && s.stack
                .first()
                .is_some_and(|&f| is_go_function(&p.frames[f as usize].function))
    };
    let (mut total, mut complete, mut unknown) = (0i64, 0i64, 0i64);
    for s in &p.samples {
        let v = s.values.get(index).copied().unwrap_or(0);
        total += v;
        if s.stack.iter().any(|&f| roots[f as usize]) || go_root(s) {
            complete += v;
        }
        if s.stack
            .last()
            .is_none_or(|&f| p.frames[f as usize].is_unknown())
        {
            unknown += v;
        }
    }
    if total == 0 {
        return (0.0, 0.0);
    }
    (
        complete as f64 / total as f64,
        unknown as f64 / total as f64,
    )
}

/// How to get whole stacks, given the unwinding that cut them.
fn cut_stack_fix(unwinding: Option<&str>) -> &'static str {
    const FP: &str = "Build with frame pointers (C/C++: -fno-omit-frame-pointer; \
                      Rust: RUSTFLAGS='-C force-frame-pointers=yes')";
    match unwinding {
        // DWARF unwinding only sees the stack perf copies per sample; deep stacks with big
        // frames (async Rust, recursion) end there.
        Some("dwarf") => {
            "DWARF unwinding sees only the stack copied per sample (16 KiB unless set), and \
             deeper stacks (big frames, async code, recursion) end there: copy the most perf \
             can with --call-graph dwarf,65528 (four times the data), or build with frame \
             pointers (C/C++: -fno-omit-frame-pointer; Rust: RUSTFLAGS='-C \
             force-frame-pointers=yes') and use --call-graph fp"
        }
        Some("fp") => {
            "Frame-pointer unwinding stops at code built without them (libraries included): \
             rebuild with frame pointers (C/C++: -fno-omit-frame-pointer; \
             Rust: RUSTFLAGS='-C force-frame-pointers=yes') or use --call-graph dwarf"
        }
        _ => FP,
    }
}

/// Divisor from a column's unit to the summary's unit, and the summary unit's name.
pub fn unit_of(p: &Profile, index: usize) -> (f64, &'static str) {
    match p.sample_types.get(index).map(|t| t.unit.as_str()) {
        Some("nanoseconds") => (1e9, "s"),
        Some("microseconds") => (1e6, "s"),
        Some("bytes") => (1.0, "bytes"),
        _ => (1.0, "count"),
    }
}

/// Summarise `p` with `top_n` rows. When `facts.cpu_time_s` is known and the profile has a
/// `cpu` column, absolute times come from it: the sampled shares are applied to the process's
/// own CPU time, and a disagreement over 10% is reported, not hidden.
pub fn summarize(p: &Profile, facts: &RunFacts, top_n: usize) -> ProfileSummary {
    let index = main_column(p);
    let (div, unit) = unit_of(p, index);
    let sampled_total = p.total(index) as f64 / div;
    let mut warnings = Vec::new();
    let total = cpu_total(p, index, sampled_total, facts, &mut warnings);
    let scale = if sampled_total > 0.0 {
        total / sampled_total / div
    } else {
        0.0
    };
    let top = top_rows(p, index, top_n, scale);
    let samples = p
        .type_index("samples")
        .map(|i| p.total(i).max(0) as u64)
        .unwrap_or(p.raw_samples);
    let sampled = p.type_index("samples").is_some();
    let (complete, unknown) = stack_quality(p, index);
    let interpreter = interpreter_warning(p);
    stack_warnings(
        p,
        facts,
        samples,
        (complete, unknown),
        interpreter.is_some(),
        &mut warnings,
    );
    warnings.extend(interpreter);
    let rate_hz = match (sampled, facts.cpu_time_s) {
        (true, Some(cpu)) if cpu > 0.0 => Some(samples as f64 / cpu),
        _ => None,
    };
    let off_cpu_s = match (facts.wall_time_s, facts.cpu_time_s, facts.threads) {
        (Some(w), Some(c), Some(1)) => Some((w - c).max(0.0)),
        _ => None,
    };
    let alloc = alloc_summary(p, top_n);
    let mut summary = ProfileSummary {
        target: facts.target.clone(),
        backend: facts.backend.clone(),
        backend_note: facts.backend_note.clone(),
        unwinding: facts.unwinding.clone(),
        value: p
            .sample_types
            .get(index)
            .map(|t| t.kind.clone())
            .unwrap_or_default(),
        unit: unit.to_string(),
        samples,
        rate_hz,
        total,
        cpu_time_s: facts.cpu_time_s,
        sys_time_s: facts.sys_time_s,
        wall_time_s: facts.wall_time_s,
        peak_rss_bytes: facts.peak_rss_bytes,
        off_cpu_s,
        voluntary_switches: facts.switches.map(|s| s.0),
        involuntary_switches: facts.switches.map(|s| s.1),
        complete_stacks: (sampled && !p.samples.is_empty()).then_some(complete),
        unknown_leaf: (sampled && !p.samples.is_empty()).then_some(unknown),
        top,
        alloc,
        recommendations: Vec::new(),
        warnings,
        baseline_delta: Vec::new(),
        growth: Vec::new(),
        stacks: Vec::new(),
        files: Default::default(),
    };
    summary.recommendations = advice::recommend(p, index, &summary);
    summary
}

/// The total the table is in: a CPU profile's samples scaled to the process's own CPU time
/// (rusage), with a warning when the two disagree beyond the sampling's resolution.
fn cpu_total(
    p: &Profile,
    index: usize,
    sampled_total: f64,
    facts: &RunFacts,
    warnings: &mut Vec<String>,
) -> f64 {
    let mut total = sampled_total;
    let is_cpu = p.sample_types.get(index).is_some_and(|t| t.kind == "cpu");
    if is_cpu {
        if let Some(cpu) = facts.cpu_time_s.filter(|c| *c > 0.0) {
            // A short run has few samples, each worth a whole period: a gap of a few periods is
            // the sampling's resolution, not lost samples.
            let n = p.type_index("samples").map_or(0, |i| p.total(i)).max(1) as f64;
            let resolution = 3.0 * sampled_total / n;
            let gap = (sampled_total - cpu).abs();
            if sampled_total > 0.0 && gap / cpu > 0.10 && gap > resolution {
                warnings.push(format!(
                    "the samples cover {sampled_total:.3} s of CPU but the process used {cpu:.3} s \
                     (rusage): times below are scaled to the process's own accounting; samples \
                     were lost or some threads or children were not followed"
                ));
            }
            total = cpu;
        }
    }
    total
}

/// The top table's rows, in the profile's own unit scaled by `scale`.
fn top_rows(p: &Profile, index: usize, top_n: usize, scale: f64) -> Vec<FunctionCost> {
    // A Python program's time is in the interpreter's loop beneath its functions: the top table
    // charges it to the innermost Python function, as py-spy does (the flamegraph keeps all).
    let python = python_view(p);
    let rows = top::table(python.as_ref().unwrap_or(p), index);
    let grand = p.total(index).max(1) as f64;
    let mut sum = 0.0;
    rows.iter()
        .take(top_n)
        .map(|r| {
            let flat_share = r.flat as f64 / grand;
            sum += flat_share;
            FunctionCost {
                function: r.function.clone(),
                location: r.location.clone(),
                flat: r.flat as f64 * scale,
                flat_share,
                sum_share: sum,
                cum: r.cum as f64 * scale,
                cum_share: r.cum as f64 / grand,
            }
        })
        .collect()
}

/// Warnings about the stacks: none sampled, cut short, or ending in unnamed frames.
fn stack_warnings(
    p: &Profile,
    facts: &RunFacts,
    samples: u64,
    (complete, unknown): (f64, f64),
    interpreter: bool,
    warnings: &mut Vec<String>,
) {
    let sampled = p.type_index("samples").is_some();
    if p.samples.is_empty() {
        warnings.push(
            "the profile has no samples: the program ran too briefly to be sampled, or nothing \
             was recorded (run it longer, loop it, or raise --frequency)"
                .into(),
        );
    }
    if sampled && samples >= 20 && p.samples.iter().any(|s| s.stack.len() > 1) {
        // Plain perf reaches the entry on every sample of an ordinary program: anything
        // under 90% means the unwinding lost callers, and the tree and cum figures are off.
        if complete < 0.9 {
            // A Python user is never told to rebuild with C or Rust flags.
            let fix = if facts.backend == "py-spy" {
                "py-spy read only part of these stacks (threads caught between calls, or idle \
                 ones: `[empty]`); the flat shares still hold"
                    .to_string()
            } else if interpreter {
                "For whole Python stacks use py-spy (pip install py-spy; perflab uses it by default for Python programs)".to_string()
            } else {
                cut_stack_fix(facts.unwinding.as_deref()).to_string()
            };
            warnings.push(format!(
                "only {:.0}% of the samples have a stack that reaches the program's entry or a thread entry: \
                 stacks are cut short. {fix}",
                complete * 100.0
            ));
        }
        if unknown > 0.3 && !interpreter {
            warnings.push(format!(
                "{:.0}% of the samples end in an unnamed [unknown] frame: the binary has no \
                 symbols. Do not strip it; add line tables (C/C++: -g; Rust: debug = \
                 \"line-tables-only\" in the profile)",
                unknown * 100.0
            ));
        }
    }
}

/// True for allocator functions, which are skipped to find the site that asked for memory.
pub fn is_allocator(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "malloc",
        "calloc",
        "realloc",
        "reallocarray",
        "free",
        "posix_memalign",
        "aligned_alloc",
        "memalign",
        "valloc",
        "__libc_malloc",
        "__libc_calloc",
        "__libc_realloc",
        "_Znwm",
        "_Znam",
        "_ZnwmSt11align_val_t",
        "__rust_alloc",
        "__rust_alloc_zeroed",
        "__rust_realloc",
        "__rdl_alloc",
        "__rdl_alloc_zeroed",
        "__rdl_realloc",
        "__rg_alloc",
        "__rg_realloc",
        "strdup",
        "strndup",
        "runtime.mallocgc",
        "runtime.newobject",
        "runtime.makeslice",
        "runtime.growslice",
        "runtime.makemap",
        "runtime.rawstring",
        "runtime.rawbyteslice",
        "[root]",
    ];
    EXACT.contains(&name)
        || name.starts_with("operator new")
        || name.starts_with("alloc::alloc::")
        || name.starts_with("alloc::raw_vec::")
        || name.starts_with("<alloc::alloc::Global")
        || name.starts_with("alloc::vec::Vec<T>::with_capacity")
        || name.starts_with("std::alloc::")
}

fn alloc_summary(p: &Profile, top_n: usize) -> Option<AllocSummary> {
    let bytes_i = p.type_index("alloc_space")?;
    let col = |k: &str| p.type_index(k);
    let (blocks_i, live_b_i, live_k_i) = (
        col("alloc_objects"),
        col("inuse_space"),
        col("inuse_objects"),
    );
    let temp_i = col("temp_objects");
    let v = |s: &crate::Sample, i: Option<usize>| {
        i.and_then(|i| s.values.get(i).copied()).unwrap_or(0).max(0) as u64
    };
    let mut sites: HashMap<u32, AllocSite> = HashMap::new();
    for s in &p.samples {
        // The site: the first frame from the leaf that is not the allocator itself.
        let Some(&site) = s
            .stack
            .iter()
            .rev()
            .find(|&&f| {
                let frame = &p.frames[f as usize];
                !is_allocator(p.name(f))
                    && !is_alloc_internal(p.name(f))
                    && !frame.file.as_deref().is_some_and(in_rust_liballoc)
            })
            .or(s.stack.last())
        else {
            continue;
        };
        let frame = &p.frames[site as usize];
        let e = sites.entry(site).or_insert_with(|| AllocSite {
            function: frame.function.clone(),
            location: frame.location().or_else(|| frame.module.clone()),
            bytes: 0,
            blocks: 0,
            leaked_bytes: 0,
            leaked_blocks: 0,
            temporary_blocks: temp_i.map(|_| 0),
        });
        e.bytes += v(s, Some(bytes_i));
        e.blocks += v(s, blocks_i);
        e.leaked_bytes += v(s, live_b_i);
        e.leaked_blocks += v(s, live_k_i);
        if let Some(t) = e.temporary_blocks.as_mut() {
            *t += v(s, temp_i);
        }
    }
    let mut all: Vec<AllocSite> = sites.into_values().collect();
    let sum = |f: fn(&AllocSite) -> u64| all.iter().map(f).sum::<u64>();
    let summary_totals = (
        sum(|s| s.bytes),
        sum(|s| s.blocks),
        sum(|s| s.leaked_bytes),
        sum(|s| s.leaked_blocks),
        temp_i.map(|_| sum(|s| s.temporary_blocks.unwrap_or(0))),
    );
    // Keep the top sites by bytes and by count.
    all.sort_by(|a, b| b.blocks.cmp(&a.blocks).then(a.function.cmp(&b.function)));
    let by_count: Vec<String> = all.iter().take(top_n).map(|s| s.function.clone()).collect();
    all.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.function.cmp(&b.function)));
    let mut kept: Vec<AllocSite> = Vec::new();
    for (i, s) in all.into_iter().enumerate() {
        if i < top_n
            || by_count.contains(&s.function)
            || s.leaked_blocks > 0 && kept.len() < top_n * 2
        {
            kept.push(s);
        }
    }
    Some(AllocSummary {
        total_bytes: summary_totals.0,
        total_blocks: summary_totals.1,
        peak_bytes: col("peak_space").map(|i| p.total(i).max(0) as u64),
        leaked_bytes: summary_totals.2,
        leaked_blocks: summary_totals.3,
        temporary_blocks: summary_totals.4,
        sites: kept,
        // A Go heap profile samples the heap as of the last garbage collection.
        live_at: if p.period.as_ref().is_some_and(|(t, _)| t.kind == "space") {
            "the last GC".into()
        } else {
            "exit".into()
        },
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn rust_allocation_sites_name_the_callers_code_not_the_allocator_machinery() {
        use crate::{Frame, ValueType};
        let mut p = Profile::new(vec![
            ValueType::new("alloc_objects", "count"),
            ValueType::new("alloc_space", "bytes"),
        ]);
        let names = [
            "main",
            "app::parse",
            "alloc::raw_vec::RawVec<T,A>::grow_one",
            "alloc::raw_vec::finish_grow",
            "UnknownInlinedFun",
            "<alloc::alloc::Global as core::alloc::Allocator>::allocate",
            "alloc::alloc::alloc",
            "__rust_alloc",
            "malloc",
        ];
        let ids: Vec<u32> = names.iter().map(|n| p.intern(Frame::function(n))).collect();
        p.add(&ids, &[10, 4096]);
        let s = summarize(&p, &RunFacts::default(), 10);
        let a = s.alloc.expect("an allocation summary");
        assert_eq!(a.sites[0].function, "app::parse");
        assert_eq!(a.live_at, "exit");
    }

    use super::*;
    use crate::{Frame, ValueType};

    /// DHAT of a release binary names inlined liballoc frames by their short names (`alloc`,
    /// `finish_grow`, `resize<u64>`): the file says they are the allocator's plumbing, and the
    /// site is the first frame outside it (seen on perflab itself: `alloc` at
    /// library/alloc/src/alloc.rs:95 was the top site).
    #[test]
    fn inlined_liballoc_frames_are_skipped_by_their_file() {
        let mut p = Profile::new(vec![
            ValueType::new("alloc_objects", "count"),
            ValueType::new("alloc_space", "bytes"),
        ]);
        let frames = [
            ("main", None),
            (
                "perflab_load::record::ScenarioStats::new",
                Some("crates/load/src/record.rs"),
            ),
            (
                "hdrhistogram::Histogram<T>::new_with_bounds",
                Some("src/lib.rs"),
            ),
            (
                "resize<u64>",
                Some("/rustc/abc/library/alloc/src/vec/mod.rs"),
            ),
            (
                "finish_grow",
                Some("/rustc/abc/library/alloc/src/raw_vec/mod.rs"),
            ),
            ("alloc", Some("library/alloc/src/alloc.rs")),
            ("malloc", None),
        ];
        let ids: Vec<u32> = frames
            .iter()
            .map(|(n, f)| {
                p.intern(Frame {
                    file: f.map(str::to_string),
                    line: f.map(|_| 95),
                    ..Frame::function(n)
                })
            })
            .collect();
        p.add(&ids, &[3, 270_336]);
        let a = summarize(&p, &RunFacts::default(), 10).alloc.unwrap();
        assert_eq!(
            a.sites[0].function,
            "hdrhistogram::Histogram<T>::new_with_bounds"
        );
    }

    #[test]
    fn cpu_times_come_from_the_process_accounting() {
        let mut p = Profile::new(vec![
            ValueType::new("samples", "count"),
            ValueType::new("cpu", "nanoseconds"),
        ]);
        let m = p.intern(Frame::function("main"));
        let h = p.intern(Frame::function("hot"));
        p.add(&[m, h], &[75, 750_000_000]);
        p.add(&[m], &[25, 250_000_000]);
        let facts = RunFacts {
            cpu_time_s: Some(2.0),
            wall_time_s: Some(2.5),
            threads: Some(1),
            ..RunFacts::default()
        };
        let s = summarize(&p, &facts, 10);
        assert_eq!(s.value, "cpu");
        assert_eq!(s.total, 2.0);
        assert_eq!(s.top[0].function, "hot");
        assert!((s.top[0].flat - 1.5).abs() < 1e-9);
        assert!((s.top[1].cum - 2.0).abs() < 1e-9);
        assert_eq!(s.samples, 100);
        assert_eq!(s.rate_hz, Some(50.0));
        assert!((s.off_cpu_s.unwrap() - 0.5).abs() < 1e-9);
        assert!(s.warnings[0].contains("scaled to the process's own accounting"));
        assert_eq!(s.complete_stacks, Some(1.0));
    }

    #[test]
    fn a_gap_within_the_sampling_resolution_is_not_a_warning() {
        let mut p = Profile::new(vec![
            ValueType::new("samples", "count"),
            ValueType::new("cpu", "nanoseconds"),
        ]);
        let m = p.intern(Frame::function("main"));
        p.add(&[m], &[1, 2_000_000]); // one 2 ms sample of a 1 ms process
        let facts = RunFacts {
            cpu_time_s: Some(0.001),
            ..RunFacts::default()
        };
        assert!(summarize(&p, &facts, 5).warnings.is_empty());
        p.add(&[m], &[999, 1_998_000_000]); // 2 s sampled against 1 ms: a real gap
        assert_eq!(summarize(&p, &facts, 5).warnings.len(), 1);
    }

    #[test]
    fn shallow_stacks_get_a_fix() {
        let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
        let a = p.intern(Frame::function("a"));
        let b = p.intern(Frame::function("b"));
        p.add(&[a, b], &[100]);
        let s = summarize(&p, &RunFacts::default(), 5);
        assert!(s
            .warnings
            .iter()
            .any(|w| w.contains("force-frame-pointers")));
        // The fix depends on what cut the stacks: never "use dwarf" to a DWARF profile.
        let warning = |unwinding: &str| {
            let facts = RunFacts {
                unwinding: Some(unwinding.into()),
                ..RunFacts::default()
            };
            summarize(&p, &facts, 5)
                .warnings
                .into_iter()
                .find(|w| w.contains("cut short"))
                .unwrap()
        };
        let dwarf = warning("dwarf");
        assert!(
            dwarf.contains("16 KiB") && dwarf.contains("--call-graph fp"),
            "{dwarf}"
        );
        // DWARF already: the fix is more stack, or frame pointers.
        assert!(dwarf.contains("--call-graph dwarf,65528"), "{dwarf}");
        assert!(warning("fp").contains("--call-graph dwarf"));
    }
}
