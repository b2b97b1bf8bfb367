//! Addresses, source lines and inlined functions for what perf sampled, read in-process from the
//! binaries themselves (their program headers and DWARF, with the `addr2line` crate). perf can
//! do this too, but it starts binutils' `addr2line` for it and waits on it: 15 s for a profile of
//! perflab's own 85 MB binary that takes perf 0.3 s with `--no-inline` and this pass well under
//! one. The result is what `go tool pprof -list`, `-lines` and `-disasm` need.

use std::borrow::Cow;

use addr2line::gimli;
use object::{Object as _, ObjectSection as _, ObjectSegment as _, SegmentFlags};

use crate::{Frame, Profile, Segment};

/// The largest binary read for its line tables; bigger ones keep function names only.
const MAX_BINARY_BYTES: u64 = 2 << 30;

type Reader<'a> = gimli::EndianSlice<'a, gimli::RunTimeEndian>;

/// One binary opened for lookups.
struct Opened<'a> {
    /// Executable segments, to turn perf's file offsets into addresses.
    segments: Vec<Segment>,
    lines: Option<addr2line::Context<Reader<'a>>>,
}

impl Opened<'_> {
    fn address_of(&self, offset: u64) -> Option<u64> {
        (self.segments.iter())
            .find(|s| offset >= s.offset && offset - s.offset < s.size)
            .map(|s| offset - s.offset + s.address)
    }

    /// The frames at `probe`, innermost (the inlined code) first: function, file, line.
    fn frames_at(&self, probe: u64) -> Vec<(Option<String>, Option<String>, Option<u32>)> {
        let Some(ctx) = &self.lines else {
            return Vec::new();
        };
        let Ok(mut frames) = ctx.find_frames(probe).skip_all_loads() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        while let Ok(Some(f)) = frames.next() {
            let name = (f.function.as_ref())
                .and_then(|n| n.demangle().ok())
                .map(|n| crate::strip_rust_hash(&n).to_string());
            let (file, line) = match &f.location {
                Some(l) => (l.file.map(str::to_string), l.line),
                None => (None, None),
            };
            out.push((name, file, line));
        }
        out
    }
}

/// What a binary's file says of itself: build id and executable segments.
fn facts(file: &object::File<'_>) -> (Option<String>, Vec<Segment>) {
    let build_id = file.build_id().ok().flatten().map(|id| {
        id.iter().fold(String::new(), |mut s, b| {
            s.push_str(&format!("{b:02x}"));
            s
        })
    });
    let segments = (file.segments())
        .filter(|s| matches!(s.flags(), SegmentFlags::Elf { p_flags } if p_flags & 1 != 0))
        .map(|s| {
            let (offset, size) = s.file_range();
            Segment {
                address: s.address(),
                offset,
                size,
            }
        })
        .collect();
    (build_id, segments)
}

/// The DWARF sections of `file`, decompressed where they are compressed (Go compresses them).
fn dwarf_sections<'d>(file: &object::File<'d>) -> Option<gimli::DwarfSections<Cow<'d, [u8]>>> {
    let mut has_info = false;
    let sections = gimli::DwarfSections::load(|id| -> Result<Cow<'d, [u8]>, ()> {
        let data = match file.section_by_name(id.name()) {
            Some(s) => s.uncompressed_data().unwrap_or(Cow::Borrowed(&[])),
            None => Cow::Borrowed(&[][..]),
        };
        has_info |= id == gimli::SectionId::DebugInfo && !data.is_empty();
        Ok(data)
    })
    .ok()?;
    has_info.then_some(sections)
}

/// Give each frame of a fresh recording ([`crate::perf_script::parse_recorded`]) its address in
/// its binary, its source line and the functions inlined there, and each binary its build id and
/// executable segment; `main` (the profiled program's path) becomes the first binary, as pprof
/// expects. A caller's address is one byte into its call instruction (perf gives the return
/// address, which may be on the next line). Offsets in files that cannot be read are dropped.
pub fn resolve(p: &Profile, main: Option<&std::path::Path>) -> Profile {
    let mut out = Profile {
        sample_types: p.sample_types.clone(),
        period: p.period.clone(),
        duration_ns: p.duration_ns,
        comments: p.comments.clone(),
        raw_samples: p.raw_samples,
        default_type: p.default_type.clone(),
        binaries: p.binaries.clone(),
        ..Profile::default()
    };
    let main = main.and_then(|m| m.canonicalize().ok());
    if let Some(i) = (out.binaries.iter()).position(|b| {
        let path = std::path::Path::new(&b.path);
        main.as_deref()
            .is_some_and(|m| path == m || path.canonicalize().ok().as_deref() == Some(m))
    }) {
        let b = out.binaries.remove(i);
        out.binaries.insert(0, b);
    }
    // Per frame of `p`, its frames in `out`, outermost first: [leaf, caller].
    let mut chains: Vec<[Vec<u32>; 2]> = vec![[Vec::new(), Vec::new()]; p.frames.len()];
    let mut done = vec![false; p.frames.len()];
    let mut binaries = std::mem::take(&mut out.binaries);
    for b in &mut binaries {
        let data = match std::fs::metadata(&b.path) {
            Ok(m) if m.len() <= MAX_BINARY_BYTES => std::fs::read(&b.path).ok(),
            _ => None,
        };
        let Some(data) = data else { continue };
        let Ok(file) = object::File::parse(&data[..]) else {
            continue;
        };
        let (build_id, segments) = facts(&file);
        b.build_id = build_id;
        b.text = segments.first().copied();
        let endian = if file.is_little_endian() {
            gimli::RunTimeEndian::Little
        } else {
            gimli::RunTimeEndian::Big
        };
        let sections = dwarf_sections(&file);
        let lines = (sections.as_ref())
            .map(|s| s.borrow(|section| gimli::EndianSlice::new(section, endian)))
            .and_then(|dwarf| addr2line::Context::from_dwarf(dwarf).ok());
        let opened = Opened { segments, lines };
        for (i, f) in p.frames.iter().enumerate() {
            if done[i] || f.module.as_deref() != Some(b.name.as_str()) {
                continue;
            }
            let Some(address) = f.address.and_then(|o| opened.address_of(o)) else {
                continue;
            };
            done[i] = true;
            for (k, probe) in [address, address.saturating_sub(1)].into_iter().enumerate() {
                chains[i][k] = chain(&mut out, f, probe, opened.frames_at(probe));
            }
        }
    }
    out.binaries = binaries;
    for (i, f) in p.frames.iter().enumerate() {
        if !done[i] {
            let id = out.intern(Frame {
                address: None,
                ..f.clone()
            });
            chains[i] = [vec![id], vec![id]];
        }
    }
    let mut stack = Vec::new();
    for s in &p.samples {
        stack.clear();
        for (k, &f) in s.stack.iter().enumerate() {
            let leaf = k + 1 == s.stack.len();
            stack.extend_from_slice(&chains[f as usize][usize::from(!leaf)]);
        }
        out.add(&stack, &s.values);
    }
    out
}

/// The frames for `f` at `probe`, outermost first. The outermost keeps perf's name (its symbol
/// table's, as everywhere else in perflab) unless perf had none.
fn chain(
    out: &mut Profile,
    f: &Frame,
    probe: u64,
    found: Vec<(Option<String>, Option<String>, Option<u32>)>,
) -> Vec<u32> {
    let at = |function: String, file: Option<String>, line: Option<u32>| Frame {
        function,
        file,
        line,
        module: f.module.clone(),
        address: Some(probe),
    };
    if found.is_empty() {
        return vec![out.intern(at(f.function.clone(), f.file.clone(), f.line))];
    }
    let last = found.len() - 1;
    let mut ids: Vec<u32> = (found.into_iter().enumerate())
        .map(|(k, (name, file, line))| {
            let function = match name {
                Some(n) if k < last || f.is_unknown() => n,
                _ if k == last => f.function.clone(),
                _ => "[unknown]".to_string(),
            };
            out.intern(at(function, file, line))
        })
        .collect();
    ids.reverse();
    ids
}
