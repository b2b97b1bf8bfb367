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
        // The first matching frame from the leaf (the leaf itself when leaf_only).
        let pos = if leaf_only {
            s.stack
                .last()
                .filter(|&&f| matches[f as usize])
                .map(|_| s.stack.len() - 1)
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
    is_allocator(n)
        || matches!(
            n,
            "_int_malloc"
                | "_int_free"
                | "_int_realloc"
                | "malloc_consolidate"
                | "cfree"
                | "__GI___libc_free"
                | "__libc_free"
                | "tcache_get"
                | "tcache_put"
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
    n.starts_with("pthread_mutex_lock")
        || n.contains("__lll_lock_wait")
        || n.contains("futex_wait")
        || n.contains("lock_contended")
        || n.starts_with("parking_lot")
        || n == "sync.(*Mutex).lockSlow"
        || n == "runtime.lock2"
        || n == "runtime.futex"
        || n.contains("pthread_rwlock")
}

/// The recommendations for a summarised profile.
pub fn recommend(p: &Profile, index: usize, s: &ProfileSummary) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let mut add = |rule: &str, advice: String, evidence: String| {
        out.push(Recommendation {
            rule: rule.into(),
            advice,
            evidence,
        })
    };
    let cpu_like = s.alloc.is_none();
    if cpu_like {
        if let Some(e) = find(p, index, true, &is_alloc_cpu).filter(|e| e.share >= 0.10) {
            add(
                "allocator-hot",
                "Allocation is hot: reuse buffers across iterations, preallocate (with_capacity, \
                 reserve) and avoid short-lived boxes and strings in the loop."
                    .into(),
                cite(&e, "allocator functions take"),
            );
        }
        if let Some(e) = find(p, index, true, &is_copy).filter(|e| e.share >= 0.05) {
            add(
                "memcpy",
                "Copying is hot: pass references or slices instead of owned copies, avoid \
                 clone()/to_vec() and repeated buffer growth."
                    .into(),
                cite(&e, "memory copies take"),
            );
        }
        if let Some(e) = find(p, index, false, &is_format).filter(|e| e.share >= 0.05) {
            add(
                "formatting",
                "Formatting in a hot path: write into a reused buffer, format numbers with a \
                 specialised writer (itoa, ryu), or move logging and string building out of the \
                 loop."
                    .into(),
                cite(&e, "formatting takes"),
            );
        }
        if let Some(e) = find(p, index, false, &is_hash).filter(|e| e.share >= 0.10) {
            add(
                "hashing",
                "Hashing dominates: use a faster hasher for trusted keys (FxHash, ahash), look \
                 each key up once (entry API), or index by position instead of by key."
                    .into(),
                cite(&e, "hashing takes"),
            );
        }
        if let Some(e) = find(p, index, false, &is_sort).filter(|e| e.share >= 0.10) {
            add(
                "sorting",
                "Sorting dominates: sort once and keep the data sorted, use an unstable sort, or \
                 select only what is needed (select_nth_unstable, a heap for top-k)."
                    .into(),
                cite(&e, "sorting takes"),
            );
        }
        if let Some(e) = find(p, index, false, &is_lock).filter(|e| e.share >= 0.05) {
            add(
                "lock-contention",
                "Threads wait on locks: shorten critical sections, shard the lock, or use \
                 per-thread data merged at the end."
                    .into(),
                cite(&e, "lock waiting takes"),
            );
        }
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
            add(
                "syscalls",
                "Much time is spent in the kernel: batch system calls (buffered I/O, larger reads \
                 and writes), avoid per-item syscalls and page faults (reuse memory)."
                    .into(),
                evidence,
            );
        }
        if s.samples > 0 && s.samples < 100 && p.type_index("samples").is_some() {
            add(
                "few-samples",
                "Too few samples to rank functions reliably: run the workload longer (or loop \
                 it) or raise --frequency."
                    .into(),
                format!("{} samples in all", s.samples),
            );
        }
        if let (Some(off), Some(wall)) = (s.off_cpu_s, s.wall_time_s) {
            if wall > 0.0 && off / wall >= 0.5 {
                add(
                    "off-cpu",
                    "The program mostly waited (I/O, sleep, locks) rather than computed: a CPU \
                     profile cannot show where; look at I/O patterns and blocking calls."
                        .into(),
                    format!(
                        "off CPU {:.3} s of {:.3} s wall ({})",
                        off,
                        wall,
                        pct(off / wall)
                    ),
                );
            }
        }
    }
    if let Some(a) = &s.alloc {
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
            add(
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
        if a.leaked_blocks > 0 {
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
            add(
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
    let top3: f64 = s.top.iter().take(3).map(|r| r.flat_share).sum();
    if s.top.len() >= 4 && top3 >= 0.6 {
        let names: Vec<String> = s
            .top
            .iter()
            .take(3)
            .map(|r| format!("{} {}", r.function, pct(r.flat_share)))
            .collect();
        add(
            "focus",
            "A few functions hold most of the cost: optimise those first; elsewhere gains are \
             small."
                .into(),
            format!("the top 3 take {}: {}", pct(top3), names.join(", ")),
        );
    }
    out
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
