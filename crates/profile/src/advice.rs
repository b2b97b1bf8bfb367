//! Recommendations, each backed by evidence from the profile: which function, what share, called
//! from where. A rule that has no evidence says nothing.

use perflab_model::profile::{ProfileSummary, Recommendation};

use crate::summary::is_allocator;
use crate::Profile;

/// Where the weight of matching frames is and who called them.
struct Evidence {
    share: f64,
    function: String,
    caller: Option<String>,
}

/// Weight of stacks whose leaf (`leaf_only`) or any frame matches `pred`; the heaviest matching
/// function, and the heaviest caller outside the matching frames.
fn find(
    p: &Profile,
    index: usize,
    leaf_only: bool,
    pred: &dyn Fn(&str) -> bool,
) -> Option<Evidence> {
    use std::collections::HashMap;
    let matches: Vec<bool> = p.frames.iter().map(|f| pred(&f.function)).collect();
    let total = p.total(index).max(1) as f64;
    let (mut hit, mut funcs, mut callers) =
        (0i64, HashMap::<u32, i64>::new(), HashMap::<u32, i64>::new());
    for s in &p.samples {
        let v = s.values.get(index).copied().unwrap_or(0);
        if v <= 0 {
            continue;
        }
        // The first matching frame from the leaf (the leaf itself when leaf_only, past the
        // kernel frames a page fault or a system call puts under it).
        let pos = if leaf_only {
            s.stack
                .iter()
                .rposition(|&f| !p.frames[f as usize].is_kernel())
                .filter(|&i| matches[s.stack[i] as usize])
        } else {
            s.stack.iter().position(|&f| matches[f as usize])
        };
        let Some(pos) = pos else { continue };
        hit += v;
        *funcs.entry(s.stack[pos]).or_default() += v;
        // Walk towards the root past the matching frames to the caller.
        let mut k = pos;
        while k > 0 && matches[s.stack[k] as usize] {
            k -= 1;
        }
        if !matches[s.stack[k] as usize] {
            *callers.entry(s.stack[k]).or_default() += v;
        }
    }
    if hit == 0 {
        return None;
    }
    let best = |m: HashMap<u32, i64>| {
        m.into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(f, _)| p.name(f).to_string())
    };
    Some(Evidence {
        share: hit as f64 / total,
        function: best(funcs).unwrap_or_default(),
        caller: best(callers),
    })
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn cite(e: &Evidence, what: &str) -> String {
    let mut s = format!(
        "{what} {} of the profile, mostly {}",
        pct(e.share),
        e.function
    );
    if let Some(c) = &e.caller {
        s.push_str(&format!(", called from {c}"));
    }
    s
}

fn is_alloc_cpu(n: &str) -> bool {
    // glibc's internal names (`_int_free_merge_chunk`, `__GI___libc_malloc`, `cfree@GLIBC_2.2.5`).
    let glibc = n.split('@').next().unwrap_or(n);
    let bare = glibc.trim_start_matches("__GI_").trim_start_matches('_');
    is_allocator(n)
        || is_allocator(glibc)
        || [
            "int_malloc",
            "int_free",
            "int_realloc",
            "int_memalign",
            "libc_malloc",
            "libc_free",
        ]
        .iter()
        .chain(&[
            "libc_calloc",
            "libc_realloc",
            "tcache_",
            "malloc_",
            "unlink_chunk",
        ])
        .chain(&["sysmalloc", "systrim", "alloc_perturb", "arena_get"])
        .any(|p| bare.starts_with(p))
        || n.starts_with("runtime.mallocgc")
        || n.starts_with("runtime.(*mcache)")
        || n.starts_with("runtime.(*mcentral)")
        || n.starts_with("runtime.(*mheap)")
        || matches!(
            glibc,
            "cfree"
                | "__rust_dealloc"
                | "__rdl_dealloc"
                | "__rg_dealloc"
                | "runtime.scanobject"
                | "runtime.gcDrain"
                | "runtime.gcBgMarkWorker"
                | "runtime.sweepone"
                | "runtime.memclrNoHeapPointers"
        )
        || n.starts_with("operator delete")
        || n.starts_with("je_")
        || n.starts_with("mi_")
        || n.starts_with("tc_")
        || n.starts_with("<alloc::alloc::Global as core::alloc::Allocator>")
}

fn is_copy(n: &str) -> bool {
    n.contains("memcpy")
        || n.contains("memmove")
        || n == "runtime.memmove"
        || n.contains("copy_user")
}

fn is_format(n: &str) -> bool {
    n.starts_with("core::fmt::")
        || n.starts_with("<core::fmt::")
        || n.starts_with("alloc::fmt::format")
        || n.starts_with("std::fmt")
        || n.contains("vfprintf")
        || n.contains("printf_positional")
        || n.starts_with("__printf_fp")
        || n.contains("snprintf")
        || n.contains("sprintf")
        || n.starts_with("fmt.")
        || n.starts_with("strconv.")
        || n.starts_with("std::__cxx11::basic_ostringstream")
        || n.starts_with("std::ostream::_M_insert")
}

fn is_hash(n: &str) -> bool {
    let l = n.to_ascii_lowercase();
    l.contains("hash")
        || l.contains("siphash")
        || n.starts_with("runtime.mapaccess")
        || n.starts_with("runtime.mapassign")
}

fn is_sort(n: &str) -> bool {
    let l = n.to_ascii_lowercase();
    l.contains("sort") && !l.contains("resort")
}

fn is_lock(n: &str) -> bool {
    // glibc 2.34+ names them `___pthread_mutex_lock`, `lll_mutex_lock_optimized`, …
    let bare = n.split('@').next().unwrap_or(n).trim_start_matches('_');
    [
        "pthread_mutex_lock",
        "pthread_mutex_unlock",
        "pthread_rwlock",
        "pthread_spin_lock",
    ]
    .iter()
    .chain(&[
        "lll_lock_wait",
        "lll_mutex_lock",
        "lll_lock_wake",
        "futex_wait",
        "futex_lock",
    ])
    .any(|p| bare.starts_with(p))
        || n.contains("lock_contended")
        || n.starts_with("parking_lot")
        || n.starts_with("sync.(*Mutex).")
        || n.starts_with("sync.(*RWMutex).")
        || n.starts_with("runtime.semacquire")
        || n == "runtime.lock2"
}

/// Functions where a Go program's threads park or idle: time there is not the program's work.
fn is_idle(n: &str) -> bool {
    matches!(
        n,
        "runtime.futex"
            | "runtime.usleep"
            | "runtime.osyield"
            | "runtime.epollwait"
            | "runtime.netpoll"
            | "runtime.notesleep"
            | "runtime.mPark"
            | "runtime.stopm"
            | "runtime.findRunnable"
            | "runtime.findrunnable"
            | "runtime.schedule"
            | "runtime.park_m"
            | "runtime.gopark"
            | "runtime.runqgrab"
    )
}

/// A rule that fires on the share of the profile spent in frames of one kind: its evidence
/// predicate (`matches` a frame name; on the leaf only, or anywhere on the stack), the share it
/// needs, its message, and how its evidence is cited.
struct FrameRule {
    rule: &'static str,
    matches: fn(&str) -> bool,
    leaf_only: bool,
    min_share: f64,
    advice: &'static str,
    evidence: &'static str,
}

/// The frame rules, in the order their advice is given.
const FRAME_RULES: &[FrameRule] = &[
    FrameRule {
        rule: "allocator-hot",
        matches: is_alloc_cpu,
        leaf_only: true,
        min_share: 0.10,
        advice: "Allocation is hot: reuse buffers across iterations, preallocate (with_capacity, \
                 reserve) and avoid short-lived boxes and strings in the loop.",
        evidence: "allocator functions take",
    },
    FrameRule {
        rule: "memcpy",
        matches: is_copy,
        leaf_only: true,
        min_share: 0.05,
        advice: "Copying is hot: pass references or slices instead of owned copies, avoid \
                 clone()/to_vec() and repeated buffer growth.",
        evidence: "memory copies take",
    },
    FrameRule {
        rule: "formatting",
        matches: is_format,
        leaf_only: false,
        min_share: 0.05,
        advice: "Formatting in a hot path: write into a reused buffer, format numbers with a \
                 specialised writer (itoa, ryu), or move logging and string building out of the \
                 loop.",
        evidence: "formatting takes",
    },
    FrameRule {
        rule: "hashing",
        matches: is_hash,
        leaf_only: false,
        min_share: 0.10,
        advice: "Hashing dominates: use a faster hasher for trusted keys (FxHash, ahash), look \
                 each key up once (entry API), or index by position instead of by key.",
        evidence: "hashing takes",
    },
    FrameRule {
        rule: "sorting",
        matches: is_sort,
        leaf_only: false,
        min_share: 0.10,
        advice: "Sorting dominates: sort once and keep the data sorted, use an unstable sort, or \
                 select only what is needed (select_nth_unstable, a heap for top-k).",
        evidence: "sorting takes",
    },
    FrameRule {
        rule: "lock-contention",
        matches: is_lock,
        leaf_only: false,
        min_share: 0.05,
        advice: "Threads wait on locks: shorten critical sections, shard the lock, or use \
                 per-thread data merged at the end.",
        evidence: "lock waiting takes",
    },
];

/// The recommendations for a summarised profile.
pub fn recommend(p: &Profile, index: usize, s: &ProfileSummary) -> Vec<Recommendation> {
    let mut out = Vec::new();
    if s.alloc.is_none() {
        for r in FRAME_RULES {
            if let Some(e) =
                find(p, index, r.leaf_only, &r.matches).filter(|e| e.share >= r.min_share)
            {
                push(&mut out, r.rule, r.advice.into(), cite(&e, r.evidence));
            }
        }
        kernel_time(&mut out, p, index, s);
        off_cpu(&mut out, s);
    }
    if let Some(a) = &s.alloc {
        allocations(&mut out, a);
    }
    focus(&mut out, p, s);
    // Each piece of advice once, whatever found it.
    let mut seen = std::collections::HashSet::new();
    out.retain(|r| seen.insert(r.advice.clone()));
    out
}

fn push(out: &mut Vec<Recommendation>, rule: &str, advice: String, evidence: String) {
    out.push(Recommendation {
        rule: rule.into(),
        advice,
        evidence,
    });
}

/// Time in the kernel (system time, or kernel leaf frames), and too few samples to rank.
fn kernel_time(out: &mut Vec<Recommendation>, p: &Profile, index: usize, s: &ProfileSummary) {
    let kernel_share = kernel_leaf_share(p, index);
    let sys_share = match (s.sys_time_s, s.cpu_time_s) {
        (Some(sys), Some(cpu)) if cpu > 0.0 => sys / cpu,
        _ => 0.0,
    };
    if kernel_share.max(sys_share) >= 0.20 {
        let evidence = if sys_share >= kernel_share {
            format!(
                "system time is {} of the process's CPU time ({:.3} s of {:.3} s, rusage)",
                pct(sys_share),
                s.sys_time_s.unwrap_or(0.0),
                s.cpu_time_s.unwrap_or(0.0)
            )
        } else {
            format!(
                "kernel frames are the leaf of {} of the samples",
                pct(kernel_share)
            )
        };
        push(
            out,
            "syscalls",
            "Much time is spent in the kernel: batch system calls (buffered I/O, larger reads \
             and writes), avoid per-item syscalls and page faults (reuse memory)."
                .into(),
            evidence,
        );
    }
    if s.samples > 0 && s.samples < 100 && p.type_index("samples").is_some() {
        push(
            out,
            "few-samples",
            "Too few samples to rank functions reliably: run the workload longer (or loop \
             it) or raise --frequency."
                .into(),
            format!("{} samples in all", s.samples),
        );
    }
}

/// Off-CPU time: waiting, or a busy machine that did not give the program a CPU.
fn off_cpu(out: &mut Vec<Recommendation>, s: &ProfileSummary) {
    if let (Some(off), Some(wall)) = (s.off_cpu_s, s.wall_time_s) {
        let off_text = format!(
            "off CPU {:.3} s of {:.3} s wall ({})",
            off,
            wall,
            pct(off / wall)
        );
        // Waiting is asking to be switched out; being switched out unasked is a busy machine.
        let (asked, forced) = (s.voluntary_switches, s.involuntary_switches);
        let busy = matches!((asked, forced), (Some(a), Some(f)) if f > a);
        let switches = match (asked, forced) {
            (Some(a), Some(f)) => {
                format!("; {a} voluntary and {f} involuntary context switches")
            }
            _ => String::new(),
        };
        if wall > 0.0 && off / wall >= 0.5 && busy {
            push(
                out,
                "machine-busy",
                "The program was ready to run but did not get a CPU: other processes held the \
                 cores. Its figures are not its own; profile it on a quieter machine or with \
                 fewer jobs in parallel."
                    .into(),
                format!("{off_text}{switches}"),
            );
        } else if wall > 0.0 && off / wall >= 0.5 {
            push(
                out,
                "off-cpu",
                "The program mostly waited (I/O, sleep, locks) rather than computed: a CPU \
                 profile cannot show where; look at I/O patterns and blocking calls."
                    .into(),
                format!("{off_text}{switches}"),
            );
        }
    }
}

/// Temporary allocations, the live heap, and leaks at exit.
fn allocations(out: &mut Vec<Recommendation>, a: &perflab_model::profile::AllocSummary) {
    if let Some(t) = a
        .temporary_blocks
        .filter(|&t| t >= 100 && t as f64 >= 0.3 * a.total_blocks as f64)
    {
        let site = a
            .sites
            .iter()
            .max_by_key(|x| x.temporary_blocks.unwrap_or(0))
            .map(|x| {
                format!(
                    ", mostly from {} ({} blocks)",
                    x.function,
                    x.temporary_blocks.unwrap_or(0)
                )
            })
            .unwrap_or_default();
        push(
            out,
            "temporary-allocations",
            "Many allocations are freed right after use: reuse one buffer (clear() instead of a \
             new one), or keep small values on the stack."
                .into(),
            format!(
                "{t} of {} blocks ({}) were temporary{site}",
                a.total_blocks,
                pct(t as f64 / a.total_blocks.max(1) as f64)
            ),
        );
    }
    if a.leaked_blocks > 0 && a.live_at != "exit" {
        push(
            out,
            "live-heap",
            "This is the heap in use at the last garbage collection, not a leak by itself: \
             take a second heap profile later (or before and after a load test) and compare; \
             what grows between them leaks."
                .into(),
            format!(
                "{} blocks ({} bytes) in use at {}",
                a.leaked_blocks, a.leaked_bytes, a.live_at
            ),
        );
    }
    if a.leaked_blocks > 0 && a.live_at == "exit" {
        let site = a
            .sites
            .iter()
            .filter(|x| x.leaked_blocks > 0)
            .max_by_key(|x| x.leaked_bytes)
            .map(|x| {
                format!(
                    ", largest from {}{} ({} blocks, {} bytes)",
                    x.function,
                    x.location
                        .as_ref()
                        .map(|l| format!(" at {l}"))
                        .unwrap_or_default(),
                    x.leaked_blocks,
                    x.leaked_bytes
                )
            })
            .unwrap_or_default();
        push(
            out,
            "leaks",
            "Memory is still allocated at exit: free it, or if it is deliberate (caches, \
             arenas) make sure it does not grow with the work done."
                .into(),
            format!(
                "{} blocks ({} bytes) live at exit{site}",
                a.leaked_blocks, a.leaked_bytes
            ),
        );
    }
}

/// A few of the program's own functions holding most of the cost.
fn focus(out: &mut Vec<Recommendation>, p: &Profile, s: &ProfileSummary) {
    // The program's own functions: not unnamed code, the kernel, idle loops or empty rows.
    let kernel: std::collections::HashSet<&str> = (p.frames.iter())
        .filter(|f| f.is_kernel())
        .map(|f| f.function.as_str())
        .collect();
    let own: Vec<_> = (s.top.iter())
        .filter(|r| {
            r.flat_share > 0.0
                && !r.function.starts_with("[unknown")
                && !r.function.starts_with("0x")
        })
        .filter(|r| !kernel.contains(r.function.as_str()) && !is_idle(&r.function))
        .collect();
    let top3: f64 = own.iter().take(3).map(|r| r.flat_share).sum();
    if own.len() >= 4 && top3 >= 0.6 {
        let names: Vec<String> = own
            .iter()
            .take(3)
            .map(|r| format!("{} {}", r.function, pct(r.flat_share)))
            .collect();
        push(
            out,
            "focus",
            "A few functions hold most of the cost: optimise those first; elsewhere gains are \
             small."
                .into(),
            format!("the top 3 take {}: {}", pct(top3), names.join(", ")),
        );
    }
}

fn kernel_leaf_share(p: &Profile, index: usize) -> f64 {
    let total = p.total(index).max(1) as f64;
    let k: i64 = p
        .samples
        .iter()
        .filter(|s| {
            s.stack
                .last()
                .is_some_and(|&f| p.frames[f as usize].is_kernel())
        })
        .map(|s| s.values.get(index).copied().unwrap_or(0))
        .sum();
    k as f64 / total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{summarize, RunFacts};
    use crate::{Frame, ValueType};

    fn profile(stacks: &[(&[&str], i64)]) -> Profile {
        let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
        for (names, v) in stacks {
            let ids: Vec<u32> = names.iter().map(|n| p.intern(Frame::function(n))).collect();
            p.add(&ids, &[*v]);
        }
        p
    }

    fn rules(p: &Profile) -> Vec<Recommendation> {
        summarize(p, &RunFacts::default(), 10).recommendations
    }

    #[test]
    fn allocator_and_copy_advice_cite_the_call_site() {
        let p = profile(&[
            (&["main", "parse", "malloc", "_int_malloc"], 300),
            (&["main", "parse", "__memmove_avx_unaligned_erms"], 100),
            (&["main", "work"], 600),
        ]);
        let r = rules(&p);
        let alloc = r.iter().find(|r| r.rule == "allocator-hot").unwrap();
        assert_eq!(
            alloc.evidence,
            "allocator functions take 30.0% of the profile, mostly _int_malloc, called from parse"
        );
        let copy = r.iter().find(|r| r.rule == "memcpy").unwrap();
        assert!(copy.evidence.contains("10.0%") && copy.evidence.contains("called from parse"));
        assert!(!r.iter().any(|r| r.rule == "hashing" || r.rule == "sorting"));
    }

    #[test]
    fn no_evidence_no_advice() {
        let names: Vec<String> = (0..10).map(|i| format!("step{i}")).collect();
        let stacks: Vec<(Vec<&str>, i64)> = names
            .iter()
            .map(|n| (vec!["main", n.as_str()], 100))
            .collect();
        let stacks: Vec<(&[&str], i64)> = stacks.iter().map(|(s, v)| (&s[..], *v)).collect();
        let r = rules(&profile(&stacks));
        assert!(r.is_empty(), "{r:?}");
    }

    #[test]
    fn few_samples_and_focus() {
        let p = profile(&[
            (&["main", "a"], 40),
            (&["main", "b"], 20),
            (&["main", "c"], 10),
            (&["main", "d"], 5),
        ]);
        let r = rules(&p);
        assert!(r
            .iter()
            .any(|r| r.rule == "few-samples" && r.evidence == "75 samples in all"));
        let focus = r.iter().find(|r| r.rule == "focus").unwrap();
        assert!(
            focus.evidence.starts_with("the top 3 take 93.3%: a 53.3%"),
            "{}",
            focus.evidence
        );
    }

    fn kernel(p: &mut Profile, name: &str) -> u32 {
        let mut f = Frame::function(name);
        f.module = Some("[kernel.kallsyms]".into());
        p.intern(f)
    }

    #[test]
    fn current_glibc_and_go_lock_names_give_lock_advice() {
        let glibc = profile(&[
            (
                &[
                    "start_thread",
                    "worker",
                    "___pthread_mutex_lock",
                    "lll_mutex_lock_optimized",
                ],
                870,
            ),
            (&["start_thread", "worker", "compute"], 130),
        ]);
        let lock = rules(&glibc)
            .into_iter()
            .find(|r| r.rule == "lock-contention")
            .unwrap();
        assert!(
            lock.evidence.starts_with("lock waiting takes 87.0%"),
            "{}",
            lock.evidence
        );
        let go = profile(&[
            (
                &[
                    "runtime.goexit",
                    "main.worker",
                    "sync.(*Mutex).Lock",
                    "sync.(*Mutex).lockSlow",
                ],
                60,
            ),
            (&["runtime.goexit", "main.worker", "main.work"], 40),
        ]);
        assert!(rules(&go).iter().any(|r| r.rule == "lock-contention"));
        // An idle Go program parks its threads on a futex: that is not lock contention.
        let idle = profile(&[
            (
                &[
                    "runtime.mstart",
                    "runtime.schedule",
                    "runtime.findRunnable",
                    "runtime.stopm",
                    "runtime.futex",
                ],
                90,
            ),
            (&["runtime.goexit", "main.work"], 10),
        ]);
        assert!(!rules(&idle).iter().any(|r| r.rule == "lock-contention"));
    }

    #[test]
    fn the_allocator_share_counts_glibc_internals_and_page_faults_under_malloc() {
        let mut p = profile(&[
            (&["main", "parse", "cfree"], 100),
            (&["main", "parse", "free", "_int_free", "unlink_chunk"], 100),
            (&["main", "parse", "__GI___libc_free"], 50),
            (&["main", "work"], 650),
        ]);
        let mut ids: Vec<u32> = ["main", "parse", "malloc", "_int_malloc"]
            .iter()
            .map(|n| p.intern(Frame::function(n)))
            .collect();
        ids.push(kernel(&mut p, "asm_exc_page_fault"));
        ids.push(kernel(&mut p, "clear_page_erms"));
        p.add(&ids, &[100]);
        let alloc = rules(&p)
            .into_iter()
            .find(|r| r.rule == "allocator-hot")
            .unwrap();
        assert!(
            alloc.evidence.starts_with("allocator functions take 35.0%"),
            "{}",
            alloc.evidence
        );
        assert!(
            alloc.evidence.ends_with("called from parse"),
            "{}",
            alloc.evidence
        );
    }

    #[test]
    fn focus_names_the_programs_own_functions_and_advice_is_given_once() {
        let mut p = profile(&[
            (&["main", "a"], 400),
            (&["main", "[unknown]"], 150),
            (&["main", "b"], 150),
            (
                &[
                    "runtime.mstart",
                    "runtime.schedule",
                    "runtime.findRunnable",
                    "runtime.futex",
                ],
                100,
            ),
            (&["main", "c"], 100),
            (&["main", "d"], 50),
        ]);
        let m = p.intern(Frame::function("main"));
        let k = kernel(&mut p, "do_syscall_64");
        p.add(&[m, k], &[50]);
        let r = rules(&p);
        let focus = r.iter().find(|r| r.rule == "focus").unwrap();
        assert!(
            focus.evidence.ends_with(": a 40.0%, b 15.0%, c 10.0%"),
            "{}",
            focus.evidence
        );
        for not in ["[unknown]", "runtime.futex", "do_syscall_64"] {
            assert!(!focus.evidence.contains(not), "{}", focus.evidence);
        }
        let mut advice: Vec<&str> = r.iter().map(|x| x.advice.as_str()).collect();
        let n = advice.len();
        advice.dedup();
        assert_eq!(advice.len(), n);
    }

    #[test]
    fn waiting_and_being_preempted_get_different_advice() {
        let p = profile(&[(&["main", "work"], 1000)]);
        let mut s = summarize(&p, &RunFacts::default(), 10);
        s.off_cpu_s = Some(3.0);
        s.wall_time_s = Some(4.0);
        s.voluntary_switches = Some(12);
        s.involuntary_switches = Some(4000);
        let busy = recommend(&p, 0, &s);
        assert!(busy.iter().any(|r| r.rule == "machine-busy"), "{busy:?}");
        assert!(!busy.iter().any(|r| r.rule == "off-cpu"));
        s.voluntary_switches = Some(5000);
        s.involuntary_switches = Some(10);
        let waited = recommend(&p, 0, &s);
        let w = waited.iter().find(|r| r.rule == "off-cpu").unwrap();
        assert!(w
            .evidence
            .ends_with("; 5000 voluntary and 10 involuntary context switches"));
    }

    #[test]
    fn go_stacks_that_start_in_go_functions_are_whole() {
        let p = profile(&[
            (
                &["net/http.(*conn).serve", "main.handler", "runtime.mallocgc"],
                50,
            ),
            (&["runtime.goexit", "main.worker", "main.work"], 50),
        ]);
        let (complete, _) = crate::summary::stack_quality(&p, 0);
        assert_eq!(complete, 1.0);
        let s = summarize(&p, &RunFacts::default(), 10);
        assert!(
            !s.warnings.iter().any(|w| w.contains("frame pointers")),
            "{:?}",
            s.warnings
        );
        // A C program whose stacks stop short still is told.
        let c = profile(&[(&["compute", "inner"], 100)]);
        assert_eq!(crate::summary::stack_quality(&c, 0).0, 0.0);
        // One Go frame with no caller (perf's DWARF unwinding of Go) is not a whole stack.
        let lone = profile(&[
            (&["crypto/sha256.block"], 90),
            (&["runtime.goexit", "main.worker", "main.work"], 10),
        ]);
        assert!((crate::summary::stack_quality(&lone, 0).0 - 0.1).abs() < 1e-9);
    }

    #[test]
    fn hashing_sorting_formatting_and_locks_are_recognised() {
        let p = profile(&[
            (&["main", "index", "core::hash::BuildHasher::hash_one"], 200),
            (&["main", "rank", "core::slice::sort::quicksort"], 200),
            (&["main", "log", "core::fmt::write"], 200),
            (
                &["main", "worker", "pthread_mutex_lock", "__lll_lock_wait"],
                200,
            ),
            (&["main", "other"], 200),
        ]);
        let r: Vec<String> = rules(&p).into_iter().map(|r| r.rule).collect();
        for rule in ["hashing", "sorting", "formatting", "lock-contention"] {
            assert!(r.contains(&rule.to_string()), "{rule} missing from {r:?}");
        }
    }
}
