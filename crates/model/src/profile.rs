//! What a profile run records in the history: the summary of one profiled target (the full stacks
//! stay in the files it names: flamegraph, pprof, folded).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One profiled target: how it was measured, where its time (or memory) went, and what to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ProfileSummary {
    /// The command (or file) profiled.
    pub target: String,
    /// `perf`, `callgrind`, `rusage` (no stacks), `dhat`, or `file` for an imported profile.
    pub backend: String,
    /// Why this backend was used when it was not the first choice (perf missing or denied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_note: Option<String>,
    /// Stack unwinding: `fp` (frame pointers), `dwarf`, or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unwinding: Option<String>,
    /// What the top table measures: `cpu`, `instructions`, `alloc_space`, ...
    pub value: String,
    /// Its unit: `s`, `count`, `bytes`.
    pub unit: String,
    /// Samples (or events) behind the profile.
    pub samples: u64,
    /// Effective sampling rate in Hz (samples per CPU second), when sampled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_hz: Option<f64>,
    /// Sum of the value over all stacks, in `unit`.
    pub total: f64,
    /// User+system CPU seconds of the target, from its own accounting (wait4 rusage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_time_s: Option<f64>,
    /// System (kernel) CPU seconds, part of `cpu_time_s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sys_time_s: Option<f64>,
    /// Wall-clock seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_time_s: Option<f64>,
    /// Peak resident set size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
    /// Off-CPU seconds (waiting: locks, I/O, sleep), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub off_cpu_s: Option<f64>,
    /// Context switches the program asked for (it waited: I/O, sleep, locks), from rusage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voluntary_switches: Option<u64>,
    /// Context switches forced on it (preempted: another process wanted the CPU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub involuntary_switches: Option<u64>,
    /// Share (0..1) of the sample weight whose stack reaches the program's entry (`main`, libc
    /// start-up) or a thread entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete_stacks: Option<f64>,
    /// Share (0..1) of the sample weight with an unnamed (`[unknown]`) leaf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_leaf: Option<f64>,
    /// The hottest functions, pprof's columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top: Vec<FunctionCost>,
    /// Allocation summary (`--alloc`, or a heap profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alloc: Option<AllocSummary>,
    /// Advice, each with its evidence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recommendations: Vec<Recommendation>,
    /// Things the reader should know (partial result, shallow stacks, few samples).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Against a baseline (scan): functions whose share of the total changed most, hotter first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline_delta: Vec<FunctionDelta>,
    /// Against a baseline profile (`profile --baseline`): the stacks whose value grew or shrank
    /// most, in the value's own unit (goroutines, bytes in use), biggest change first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub growth: Vec<StackGrowth>,
    /// The heaviest stacks (at most 500), so a flame graph can be drawn from the stored run
    /// alone (the dashboard, the HTML report).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stacks: Vec<StackWeight>,
    /// Written files by role: `flamegraph`, `pprof`, `folded`, `alloc_flamegraph`, ...
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
}

/// One stack of a profile and its share of the total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackWeight {
    /// Frames from the root, joined by `;` (the folded format's line).
    pub stack: String,
    /// Share of the profile's total, 0..1.
    pub weight: f64,
}

/// One row of the top table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCost {
    /// Function name.
    pub function: String,
    /// Source file (or binary) when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Value spent in the function itself.
    pub flat: f64,
    /// `flat` as a share (0..1) of the total.
    pub flat_share: f64,
    /// Running sum of `flat_share` down the table.
    pub sum_share: f64,
    /// Value spent in the function and everything it called.
    pub cum: f64,
    /// `cum` as a share of the total.
    pub cum_share: f64,
}

/// One stack's value in a baseline profile and now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackGrowth {
    /// `root;…;leaf`.
    pub stack: String,
    /// In the baseline.
    pub before: f64,
    /// Now.
    pub after: f64,
}

/// One function's share of the total in a baseline and now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDelta {
    /// Function name.
    pub function: String,
    /// Its flat share (0..1) in the baseline.
    pub base_share: f64,
    /// Its flat share now.
    pub current_share: f64,
}

/// Allocation totals and the top sites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AllocSummary {
    /// Bytes allocated over the run.
    pub total_bytes: u64,
    /// Blocks allocated over the run.
    pub total_blocks: u64,
    /// Heap bytes live at the peak, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_bytes: Option<u64>,
    /// Bytes still allocated at exit.
    pub leaked_bytes: u64,
    /// Blocks still allocated at exit.
    pub leaked_blocks: u64,
    /// Blocks freed shortly after being allocated, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_blocks: Option<u64>,
    /// The sites (first frame outside the allocator), by bytes.
    pub sites: Vec<AllocSite>,
    /// When `leaked_*` were live: `exit` (DHAT, memcheck), or `the last GC` (a Go heap
    /// profile's in-use memory, which is not a leak by itself).
    #[serde(default = "at_exit")]
    pub live_at: String,
}

fn at_exit() -> String {
    "exit".into()
}

/// One allocation site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocSite {
    /// The function that called the allocator.
    pub function: String,
    /// Its source location, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Bytes allocated here.
    pub bytes: u64,
    /// Blocks allocated here.
    pub blocks: u64,
    /// Bytes from here still live at exit.
    pub leaked_bytes: u64,
    /// Blocks from here still live at exit.
    pub leaked_blocks: u64,
    /// Temporary blocks from here, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_blocks: Option<u64>,
}

/// A piece of advice and the evidence it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// A stable identifier of the rule (`allocator-hot`, `memcpy`, `focus`, ...).
    pub rule: String,
    /// What to do.
    pub advice: String,
    /// What in the profile shows it (function, share, call site).
    pub evidence: String,
}
