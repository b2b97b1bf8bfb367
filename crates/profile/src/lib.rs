//! One profile model for every profiler perflab reads or drives: weighted stacks over an interned
//! frame table, with one or more value columns (CPU nanoseconds, samples, instructions, allocated
//! bytes and blocks, ...). Readers turn `perf script` text, folded stacks, pprof, callgrind and
//! DHAT output into it; writers, the top table, the flamegraphs and the recommendations all read
//! the same [`Profile`], so they always agree.
//!
//! ```
//! use perflab_profile::{Frame, Profile, ValueType};
//! let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
//! let main = p.intern(Frame::function("main"));
//! let hot = p.intern(Frame::function("hot"));
//! p.add(&[main, hot], &[3]);
//! p.add(&[main], &[1]);
//! assert_eq!(p.total(0), 4);
//! assert_eq!(p.folded(0), vec![("main".to_string(), 1), ("main;hot".to_string(), 3)]);
//! ```

pub mod advice;
pub mod callgrind;
pub mod dhat;
pub mod elf;
pub mod fetch;
pub mod flame;
pub mod folded;
pub mod per_iteration;
pub mod perf_data;
pub mod perf_script;
pub mod pprof;
mod protobuf;
pub mod pyspy;
pub mod record;
pub mod scan;
pub mod session;
pub mod summary;
pub mod symbolize;
pub mod top;
pub mod wrappers;

use std::collections::HashMap;

use rustc_hash::FxHashMap;

/// Errors of reading a profile; every one names the input and, where it helps, the line.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The input is not in the expected format (or is truncated).
    #[error("{source_name}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Malformed {
        /// The file (or command) the text came from.
        source_name: String,
        /// 1-based line, when the format is line oriented.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A profile file could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// The OS error (in the message, not chained again).
        error: String,
    },
    /// An I/O error while rendering.
    #[error("i/o error while rendering a profile: {0}")]
    Io(#[from] std::io::Error),
}

impl ProfileError {
    pub(crate) fn malformed(source: &str, line: Option<usize>, message: impl Into<String>) -> Self {
        ProfileError::Malformed {
            source_name: source.to_string(),
            line,
            message: message.into(),
        }
    }
}

/// The largest profile file read (1 GiB): `--input /dev/zero` ends with an error.
pub const MAX_INPUT_BYTES: u64 = 1 << 30;

/// Read a profile file of any format [`read_any`] knows, at most [`MAX_INPUT_BYTES`].
///
/// # Errors
/// [`ProfileError::Malformed`] for a file too large or not a profile; [`ProfileError::Io`].
pub fn read_path(path: &std::path::Path) -> Result<Profile, ProfileError> {
    use std::io::Read as _;
    let source = path.display().to_string();
    let read_error = |e: std::io::Error| ProfileError::Read {
        path: source.clone(),
        error: e.to_string(),
    };
    let mut data = Vec::new();
    std::fs::File::open(path)
        .map_err(read_error)?
        .take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(read_error)?;
    if data.len() as u64 > MAX_INPUT_BYTES {
        return Err(ProfileError::malformed(
            &source,
            None,
            format!(
                "larger than {} MiB, the most perflab reads from one file",
                MAX_INPUT_BYTES >> 20
            ),
        ));
    }
    read_any(&data, &source)
}

/// What a value column measures: pprof's `ValueType` (`cpu`/`nanoseconds`, `alloc_space`/`bytes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueType {
    /// The quantity (`cpu`, `samples`, `instructions`, `alloc_space`, ...).
    pub kind: String,
    /// Its unit (`nanoseconds`, `count`, `bytes`).
    pub unit: String,
}

impl ValueType {
    /// A value type.
    pub fn new(kind: &str, unit: &str) -> Self {
        ValueType {
            kind: kind.to_string(),
            unit: unit.to_string(),
        }
    }
}

/// One frame: a function, where known its source location, and the binary it lives in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Frame {
    /// Function name, demangled; `[unknown]` when the profiler could not name it.
    pub function: String,
    /// Source file, when known.
    pub file: Option<String>,
    /// Source line, when known.
    pub line: Option<u32>,
    /// The binary or library (`libc.so.6`, `[kernel.kallsyms]`), when known.
    pub module: Option<String>,
    /// The instruction's address in its binary, as `objdump` and `nm` number it (for a caller,
    /// one byte into its call instruction), when known: what `go tool pprof -disasm` needs.
    pub address: Option<u64>,
}

impl Frame {
    /// A frame that only has a function name.
    pub fn function(name: &str) -> Self {
        Frame {
            function: name.to_string(),
            ..Frame::default()
        }
    }

    /// True when the profiler could not name the function.
    pub fn is_unknown(&self) -> bool {
        self.function.is_empty()
            || self.function == "[unknown]"
            || self.function.starts_with("0x")
            || self.function == "???"
    }

    /// True for kernel frames.
    pub fn is_kernel(&self) -> bool {
        self.module
            .as_deref()
            .is_some_and(|m| m.contains("kernel.kallsyms") || m.starts_with("[kernel"))
    }

    /// `file:line` when known.
    pub fn location(&self) -> Option<String> {
        match (&self.file, self.line) {
            (Some(f), Some(l)) => Some(format!("{f}:{l}")),
            (Some(f), None) => Some(f.clone()),
            _ => None,
        }
    }
}

/// A binary or library that samples ran in: pprof's mapping.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Binary {
    /// Its file name, as [`Frame::module`] names it.
    pub name: String,
    /// Its path when it was profiled.
    pub path: String,
    /// The GNU build id, hex.
    pub build_id: Option<String>,
    /// The executable segment: its address, file offset and size, to number addresses as a
    /// process that mapped it would (what pprof's mappings describe).
    pub text: Option<Segment>,
}

/// A loadable ELF segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Segment {
    /// Virtual address (`p_vaddr`).
    pub address: u64,
    /// File offset (`p_offset`).
    pub offset: u64,
    /// Size in the file (`p_filesz`).
    pub size: u64,
}

/// One distinct stack with its values (one per [`Profile::sample_types`] entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Frame indices, root first, leaf last.
    pub stack: Vec<u32>,
    /// One value per sample type.
    pub values: Vec<i64>,
}

/// Weighted stacks over an interned frame table. Identical stacks are merged as they are added, so
/// a million samples of a loop cost a few distinct entries.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// What each value column measures.
    pub sample_types: Vec<ValueType>,
    /// The frame table.
    pub frames: Vec<Frame>,
    /// The distinct stacks.
    pub samples: Vec<Sample>,
    /// Sampling period and what it counts (pprof's `period`/`period_type`), when sampled.
    pub period: Option<(ValueType, i64)>,
    /// How long the profile covers, when known.
    pub duration_ns: Option<i64>,
    /// Free-form notes carried into pprof's comments (backend, command).
    pub comments: Vec<String>,
    /// How many raw samples (events) were folded in, when the format says so.
    pub raw_samples: u64,
    /// The binaries behind [`Frame::module`] names, the profiled program first, when known.
    pub binaries: Vec<Binary>,
    /// The value column to show first, as `go tool pprof` chooses it: pprof's
    /// `default_sample_type`, else its last column; `--sample-index` sets another.
    pub default_type: Option<String>,
    /// A value did not fit in 64 bits when added up (the input is damaged or hostile).
    overflowed: bool,
    frame_index: FxHashMap<Frame, u32>,
    // `function\u{1}module` -> frame, for readers that intern by name without allocating.
    name_index: FxHashMap<Box<str>, u32>,
    key: String,
    stack_index: FxHashMap<Vec<u32>, usize>,
}

impl Profile {
    /// An empty profile with these value columns.
    pub fn new(sample_types: Vec<ValueType>) -> Self {
        Profile {
            sample_types,
            ..Profile::default()
        }
    }

    /// The index of `frame` in the frame table, adding it if new.
    pub fn intern(&mut self, frame: Frame) -> u32 {
        if let Some(&i) = self.frame_index.get(&frame) {
            return i;
        }
        let i = self.frames.len() as u32;
        self.frames.push(frame.clone());
        self.frame_index.insert(frame, i);
        i
    }

    /// The index of the frame with just this function name and module, adding it if new; the
    /// fast path for readers (no allocation when the frame is known).
    pub fn intern_fn(&mut self, function: &str, module: Option<&str>) -> u32 {
        let key = match module {
            None => function,
            Some(m) => {
                self.key.clear();
                self.key.push_str(function);
                self.key.push('\u{1}');
                self.key.push_str(m);
                self.key.as_str()
            }
        };
        if let Some(&i) = self.name_index.get(key) {
            return i;
        }
        let key: Box<str> = key.into();
        let i = self.intern(Frame {
            function: function.to_string(),
            module: module.map(str::to_string),
            ..Frame::default()
        });
        self.name_index.insert(key, i);
        i
    }

    /// Like [`Profile::intern_fn`], at an address when known.
    pub fn intern_at(&mut self, function: &str, module: Option<&str>, address: Option<u64>) -> u32 {
        let Some(address) = address else {
            return self.intern_fn(function, module);
        };
        use std::fmt::Write as _;
        self.key.clear();
        let _ = write!(
            self.key,
            "{function}\u{1}{}\u{2}{address:x}",
            module.unwrap_or("")
        );
        if let Some(&i) = self.name_index.get(self.key.as_str()) {
            return i;
        }
        let key: Box<str> = self.key.as_str().into();
        let i = self.intern(Frame {
            function: function.to_string(),
            module: module.map(str::to_string),
            address: Some(address),
            ..Frame::default()
        });
        self.name_index.insert(key, i);
        i
    }

    /// The binary named `name` (a [`Frame::module`]), when known.
    pub fn binary(&self, name: &str) -> Option<&Binary> {
        self.binaries.iter().find(|b| b.name == name)
    }

    /// Add `values` to the stack `stack` (root first). Missing values count as zero.
    pub fn add(&mut self, stack: &[u32], values: &[i64]) {
        let n = self.sample_types.len();
        match self.stack_index.get(stack) {
            Some(&i) => {
                for (acc, v) in self.samples[i].values.iter_mut().zip(values) {
                    match acc.checked_add(*v) {
                        Some(sum) => *acc = sum,
                        None => self.overflowed = true,
                    }
                }
            }
            None => {
                let mut vals = vec![0; n];
                for (acc, v) in vals.iter_mut().zip(values) {
                    *acc = *v;
                }
                self.stack_index.insert(stack.to_vec(), self.samples.len());
                self.samples.push(Sample {
                    stack: stack.to_vec(),
                    values: vals,
                });
            }
        }
    }

    /// The sum of value column `index` (saturating: [`Profile::check_values`] refuses a
    /// profile whose sums do not fit).
    pub fn total(&self, index: usize) -> i64 {
        self.samples
            .iter()
            .map(|s| s.values.get(index).copied().unwrap_or(0))
            .fold(0i64, i64::saturating_add)
    }

    /// Refuse values that overflow 64 bits when added up, rather than show a negative total.
    ///
    /// # Errors
    /// [`ProfileError::Malformed`] naming `source`.
    pub fn check_values(&self, source: &str) -> Result<(), ProfileError> {
        let column_overflows = (0..self.sample_types.len()).any(|i| {
            (self.samples.iter())
                .try_fold(0i64, |a, s| {
                    a.checked_add(s.values.get(i).copied().unwrap_or(0))
                })
                .is_none()
        });
        if self.overflowed || column_overflows {
            return Err(ProfileError::malformed(
                source,
                None,
                "sample values add up to more than a 64-bit integer holds: the profile is damaged",
            ));
        }
        Ok(())
    }

    /// The index of the value column named `kind`.
    pub fn type_index(&self, kind: &str) -> Option<usize> {
        self.sample_types.iter().position(|t| t.kind == kind)
    }

    /// The function name of frame `i`.
    pub fn name(&self, i: u32) -> &str {
        &self.frames[i as usize].function
    }

    /// Folded stacks (`root;...;leaf`, value) of column `index`, sorted, zero rows left out.
    /// Frames of the same function collapse into one name, so line-level frames merge.
    pub fn folded(&self, index: usize) -> Vec<(String, i64)> {
        let mut merged: HashMap<String, i64> = HashMap::new();
        let mut line = String::new();
        for s in &self.samples {
            let v = s.values.get(index).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            line.clear();
            for (k, &f) in s.stack.iter().enumerate() {
                if k > 0 {
                    line.push(';');
                }
                folded::push_name(&mut line, self.name(f));
            }
            if line.is_empty() {
                line.push_str("[empty]");
            }
            match merged.get_mut(line.as_str()) {
                Some(acc) => *acc += v,
                None => {
                    merged.insert(line.clone(), v);
                }
            }
        }
        let mut out: Vec<(String, i64)> = merged.into_iter().collect();
        out.sort_unstable();
        out
    }

    /// A copy with every value of column `index` multiplied by `factor` (rounded), other columns
    /// untouched: used to put sample counts on the process's own CPU clock.
    pub fn scaled(&self, index: usize, factor: f64) -> Profile {
        let mut p = self.clone();
        for s in &mut p.samples {
            if let Some(v) = s.values.get_mut(index) {
                *v = (*v as f64 * factor).round() as i64;
            }
        }
        p
    }

    /// Add every stack of `other` (matched by value-column kind; columns `self` lacks are
    /// dropped), optionally under an extra root frame.
    pub fn merge_from(&mut self, other: &Profile, root: Option<&str>) {
        let map: Vec<Option<usize>> = other
            .sample_types
            .iter()
            .map(|t| self.type_index(&t.kind))
            .collect();
        for b in &other.binaries {
            if self.binary(&b.name).is_none() {
                self.binaries.push(b.clone());
            }
        }
        let root = root.map(|r| self.intern(Frame::function(r)));
        let frames: Vec<u32> = other
            .frames
            .iter()
            .map(|f| self.intern(f.clone()))
            .collect();
        let n = self.sample_types.len();
        for s in &other.samples {
            let mut stack: Vec<u32> = Vec::with_capacity(s.stack.len() + 1);
            stack.extend(root);
            stack.extend(s.stack.iter().map(|&f| frames[f as usize]));
            let mut values = vec![0; n];
            for (k, v) in s.values.iter().enumerate() {
                if let Some(Some(j)) = map.get(k) {
                    values[*j] += v;
                }
            }
            self.add(&stack, &values);
        }
        self.raw_samples += other.raw_samples;
    }
}

/// Read a profile in any supported format, detected from its content: pprof (gzipped or raw
/// protobuf), DHAT JSON, callgrind output, folded stacks, or `perf script` text.
pub fn read_any(data: &[u8], source: &str) -> Result<Profile, ProfileError> {
    let p = read_format(data, source)?;
    p.check_values(source)?;
    Ok(p)
}

fn read_format(data: &[u8], source: &str) -> Result<Profile, ProfileError> {
    if pprof::sniff(data) {
        return pprof::parse(data, source);
    }
    let text = std::str::from_utf8(data).map_err(|_| {
        ProfileError::malformed(
            source,
            None,
            "not a profile (binary data that is not pprof)",
        )
    })?;
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| ProfileError::malformed(source, None, "empty file"))?;
    if first.starts_with('{') {
        return dhat::parse(text, source);
    }
    let callgrind_keys = [
        "version:",
        "creator:",
        "events:",
        "cmd:",
        "pid:",
        "positions:",
        "fn=",
        "ob=",
        "fl=",
    ];
    if callgrind_keys.iter().any(|k| first.starts_with(k)) {
        return callgrind::parse(text, source);
    }
    let folded_like = first
        .rsplit_once(' ')
        .is_some_and(|(_, n)| n.parse::<f64>().is_ok())
        && !text.lines().any(|l| l.starts_with('\t'));
    if folded_like {
        return folded::parse(text, source, ValueType::new("samples", "count"));
    }
    perf_script::parse(text, source)
}

/// Remove a Rust legacy-mangling hash (`::h0123456789abcdef`) from a demangled name.
pub fn strip_rust_hash(name: &str) -> &str {
    if let Some(pos) = name.rfind("::h") {
        let tail = &name[pos + 3..];
        if tail.len() == 16 && tail.bytes().all(|b| b.is_ascii_hexdigit()) {
            return &name[..pos];
        }
    }
    name
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_that_overflow_are_an_error_not_a_negative_total() {
        let folded = format!("main;a {}\nmain;b {}\n", i64::MAX, 10);
        let e = read_any(folded.as_bytes(), "big.folded")
            .unwrap_err()
            .to_string();
        assert!(e.contains("big.folded") && e.contains("64-bit"), "{e}");
        let same = format!("main;a {}\nmain;a {}\n", i64::MAX, 10);
        assert!(read_any(same.as_bytes(), "same.folded").is_err());
        assert!(read_any(b"main;a 5\nmain;b 7\n", "ok.folded").is_ok());
    }

    #[test]
    fn a_truncated_perf_script_is_refused_with_its_line() {
        let whole =
            "app 12/12 1.0: 1000000 cpu-clock:\n\t 401000 hot (/app)\n\t 401100 main (/app)\n\n";
        assert!(read_any(whole.as_bytes(), "whole.txt").is_ok());
        for cut in [&whole[..whole.len() - 6], &whole[..whole.len() - 3]] {
            let e = read_any(cut.as_bytes(), "cut.txt").unwrap_err().to_string();
            assert!(
                e.contains("cut.txt:3") && e.contains("truncated"),
                "{cut:?}: {e}"
            );
        }
    }

    #[test]
    fn no_samples_is_a_warning_not_an_error() {
        let p = Profile::new(vec![
            ValueType::new("samples", "count"),
            ValueType::new("cpu", "nanoseconds"),
        ]);
        let s = crate::summary::summarize(&p, &crate::summary::RunFacts::default(), 10);
        assert!(
            s.warnings
                .iter()
                .any(|w| w.starts_with("the profile has no samples")),
            "{:?}",
            s.warnings
        );
    }

    use super::*;

    #[test]
    fn identical_stacks_merge_and_totals_add_up() {
        let mut p = Profile::new(vec![
            ValueType::new("samples", "count"),
            ValueType::new("cpu", "nanoseconds"),
        ]);
        let a = p.intern(Frame::function("a"));
        let b = p.intern(Frame::function("b"));
        assert_eq!(p.intern(Frame::function("a")), a);
        for _ in 0..1000 {
            p.add(&[a, b], &[1, 10]);
        }
        p.add(&[a], &[1]);
        assert_eq!(p.samples.len(), 2);
        assert_eq!(p.total(0), 1001);
        assert_eq!(p.total(1), 10_000);
    }

    #[test]
    fn line_level_frames_fold_into_one_function() {
        let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
        let m = p.intern(Frame::function("main"));
        let h1 = p.intern(Frame {
            function: "hot".into(),
            line: Some(3),
            ..Frame::default()
        });
        let h2 = p.intern(Frame {
            function: "hot".into(),
            line: Some(4),
            ..Frame::default()
        });
        p.add(&[m, h1], &[2]);
        p.add(&[m, h2], &[5]);
        assert_eq!(p.folded(0), vec![("main;hot".to_string(), 7)]);
    }

    #[test]
    fn formats_are_detected_from_content() {
        let folded = read_any(b"main;a 3\nmain 1\n", "f").unwrap();
        assert_eq!(folded.total(0), 4);
        let cg = read_any(b"events: Ir\nfn=main\n1 5\n", "c").unwrap();
        assert_eq!(cg.sample_types[0].kind, "instructions");
        let ps = read_any(b"p 1 1.0:  10 cpu-clock:\n\t  1 main (/x)\n", "p").unwrap();
        assert_eq!(ps.total(1), 10);
        assert!(read_any(b"", "e").is_err());
        assert!(read_any(&[0xff, 0xfe, 0x00], "b").is_err());
    }

    #[test]
    fn rust_hashes_are_stripped_only_when_they_are_hashes() {
        assert_eq!(
            strip_rust_hash("core::fmt::write::h0123456789abcdef"),
            "core::fmt::write"
        );
        assert_eq!(strip_rust_hash("a::hello"), "a::hello");
    }

    #[test]
    fn merge_keeps_matching_columns_under_a_root() {
        let mut a = Profile::new(vec![ValueType::new("cpu", "nanoseconds")]);
        let mut b = Profile::new(vec![
            ValueType::new("samples", "count"),
            ValueType::new("cpu", "nanoseconds"),
        ]);
        let f = b.intern(Frame::function("f"));
        b.add(&[f], &[1, 7]);
        a.merge_from(&b, Some("target"));
        assert_eq!(a.folded(0), vec![("target;f".to_string(), 7)]);
    }
}
