//! pprof's `profile.proto`, gzipped or not: read what Go (`go test -cpuprofile`, `runtime/pprof`,
//! heap profiles) and pprof-rs write, and write profiles that `go tool pprof` opens.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};

use crate::protobuf::{bytes, int, push_ints, Reader, WireError, Writer};
use crate::{Frame, Profile, ProfileError, ValueType};

/// True when `data` looks like a pprof file (gzip, or a protobuf starting with a sample type).
pub fn sniff(data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b]) || data.first() == Some(&0x0a)
}

/// The most a gzipped profile may inflate to (128 MiB): real profiles are a few MB, and a gzip
/// bomb (1 GB of zeros in 4 MB) must end with an error, not with the machine's memory.
pub const MAX_INFLATED_BYTES: u64 = 128 << 20;

/// Inflate at most `limit` bytes, growing the buffer by half its size at a time (never past the
/// limit), so memory stays near the data actually held.
fn inflate_bounded(data: &[u8], limit: u64) -> std::io::Result<Vec<u8>> {
    let mut reader = flate2::read::GzDecoder::new(data).take(limit + 1);
    let mut out: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if out.len() + n > out.capacity() {
            let room = (out.capacity() / 2)
                .max(n)
                .min(limit as usize + 1 - out.len());
            out.reserve_exact(room.max(n));
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// Read a pprof profile (gzip-compressed or raw).
pub fn parse(data: &[u8], source: &str) -> Result<Profile, ProfileError> {
    let raw;
    let buf = if data.starts_with(&[0x1f, 0x8b]) {
        let out = inflate_bounded(data, MAX_INFLATED_BYTES)
            .map_err(|e| ProfileError::malformed(source, None, format!("bad gzip data: {e}")))?;
        if out.len() as u64 > MAX_INFLATED_BYTES {
            return Err(ProfileError::malformed(
                source,
                None,
                format!(
                    "gzip data inflates past {} MiB, more than any real profile (a gzip bomb?)",
                    MAX_INFLATED_BYTES >> 20
                ),
            ));
        }
        raw = out;
        &raw[..]
    } else {
        data
    };
    decode(buf).map_err(|e| {
        ProfileError::malformed(source, None, format!("not a pprof profile ({})", e.0))
    })
}

#[derive(Default)]
struct RawLocation {
    mapping: u64,
    address: u64,
    lines: Vec<(u64, i64)>, // function id, line; innermost first
}

/// The messages of a pprof protobuf as read, before the string table resolves them.
#[derive(Default)]
struct Wire {
    strings: Vec<String>,
    sample_types: Vec<(u64, u64)>,
    samples: Vec<(Vec<u64>, Vec<u64>)>,
    locations: HashMap<u64, RawLocation>,
    /// id → (name, filename)
    functions: HashMap<u64, (u64, u64)>,
    /// id → filename
    mappings: HashMap<u64, u64>,
    period_type: Option<(u64, u64)>,
    period: i64,
    duration: i64,
    comments: Vec<u64>,
    default_type: u64,
}

fn decode(buf: &[u8]) -> Result<Profile, WireError> {
    let w = read_wire(buf)?;
    let mut p = profile_of(&w)?;
    let loc_frames = location_frames(&w, &mut p)?;
    add_samples(w.samples, &loc_frames, &mut p)?;
    Ok(p)
}

/// Every top-level message of the profile.
fn read_wire(buf: &[u8]) -> Result<Wire, WireError> {
    let mut w = Wire::default();
    let mut r = Reader::new(buf);
    while let Some((field, v)) = r.next_field()? {
        match field {
            1 => w.sample_types.push(value_type(bytes(v)?)?),
            11 => w.period_type = Some(value_type(bytes(v)?)?),
            2 => w.samples.push(read_sample(bytes(v)?)?),
            3 => {
                let (id, file) = read_pair(bytes(v)?, 1, 5)?;
                w.mappings.insert(id, file);
            }
            4 => {
                let (id, loc) = read_location(bytes(v)?)?;
                w.locations.insert(id, loc);
            }
            5 => {
                let (id, name, file) = read_function(bytes(v)?)?;
                w.functions.insert(id, (name, file));
            }
            6 => w
                .strings
                .push(String::from_utf8_lossy(bytes(v)?).into_owned()),
            10 => w.duration = int(v)? as i64,
            12 => w.period = int(v)? as i64,
            13 => w.comments.push(int(v)?),
            14 => w.default_type = int(v)?,
            _ => {}
        }
    }
    Ok(w)
}

/// A Sample: its location ids and values.
fn read_sample(buf: &[u8]) -> Result<(Vec<u64>, Vec<u64>), WireError> {
    let mut locs = Vec::new();
    let mut vals = Vec::new();
    let mut m = Reader::new(buf);
    while let Some((f, v)) = m.next_field()? {
        match f {
            1 => push_ints(&mut locs, v)?,
            2 => push_ints(&mut vals, v)?,
            _ => {}
        }
    }
    Ok((locs, vals))
}

/// Two integer fields of a message (a Mapping's id and filename).
fn read_pair(buf: &[u8], a: u32, b: u32) -> Result<(u64, u64), WireError> {
    let (mut x, mut y) = (0, 0);
    let mut m = Reader::new(buf);
    while let Some((f, v)) = m.next_field()? {
        if f == a {
            x = int(v)?;
        } else if f == b {
            y = int(v)?;
        }
    }
    Ok((x, y))
}

/// A Location: its id, mapping, address and lines (function, line), inlined first.
fn read_location(buf: &[u8]) -> Result<(u64, RawLocation), WireError> {
    let mut loc = RawLocation::default();
    let mut id = 0;
    let mut m = Reader::new(buf);
    while let Some((f, v)) = m.next_field()? {
        match f {
            1 => id = int(v)?,
            2 => loc.mapping = int(v)?,
            3 => loc.address = int(v)?,
            4 => {
                let (func, line) = read_pair(bytes(v)?, 1, 2)?;
                loc.lines.push((func, line as i64));
            }
            _ => {}
        }
    }
    Ok((id, loc))
}

/// A Function: its id, name and filename (string indexes).
fn read_function(buf: &[u8]) -> Result<(u64, u64, u64), WireError> {
    let (mut id, mut name, mut file) = (0, 0, 0);
    let mut m = Reader::new(buf);
    while let Some((f, v)) = m.next_field()? {
        match f {
            1 => id = int(v)?,
            2 => name = int(v)?,
            4 => file = int(v)?,
            _ => {}
        }
    }
    Ok((id, name, file))
}

/// A string of the table, by index.
fn string_at(w: &Wire, i: u64) -> Result<&str, WireError> {
    w.strings
        .get(i as usize)
        .map(String::as_str)
        .ok_or(WireError("string index out of range"))
}

/// The profile's types, period, duration, default type and comments.
fn profile_of(w: &Wire) -> Result<Profile, WireError> {
    if w.sample_types.is_empty() || w.strings.first().is_some_and(|s| !s.is_empty()) {
        return Err(WireError("no sample types or string table"));
    }
    let s = |i: u64| string_at(w, i);
    let mut p = Profile::new(
        w.sample_types
            .iter()
            .map(|&(t, u)| Ok(ValueType::new(s(t)?, s(u)?)))
            .collect::<Result<_, WireError>>()?,
    );
    if let Some((t, u)) = w.period_type {
        p.period = Some((ValueType::new(s(t)?, s(u)?), w.period));
    }
    p.duration_ns = (w.duration > 0).then_some(w.duration);
    // go tool pprof shows the default sample type, else the last: a heap profile's
    // inuse_space, a block or mutex profile's delay (not its contentions).
    p.default_type = match w.default_type {
        0 => p.sample_types.last().map(|t| t.kind.clone()),
        i => Some(s(i)?.to_string()),
    };
    for &c in &w.comments {
        p.comments.push(s(c)?.to_string());
    }
    Ok(p)
}

/// Each location expands to its frames (inlined functions first), root last as stored.
fn location_frames(w: &Wire, p: &mut Profile) -> Result<HashMap<u64, Vec<u32>>, WireError> {
    let s = |i: u64| string_at(w, i);
    let mut loc_frames: HashMap<u64, Vec<u32>> = HashMap::new();
    for (&id, loc) in &w.locations {
        let module = loc
            .mappings_file(&w.mappings)
            .and_then(|i| s(i).ok())
            .filter(|m| !m.is_empty())
            .map(|m| m.rsplit('/').next().unwrap_or(m).to_string());
        let mut frames = Vec::new();
        if loc.lines.is_empty() {
            frames.push(p.intern(Frame {
                function: format!("0x{:x}", loc.address),
                module: module.clone(),
                ..Frame::default()
            }));
        }
        for &(func, line) in &loc.lines {
            let (name, file) = w
                .functions
                .get(&func)
                .copied()
                .ok_or(WireError("location names an unknown function"))?;
            let file = s(file)?;
            frames.push(p.intern(Frame {
                function: crate::strip_rust_hash(s(name)?).to_string(),
                file: (!file.is_empty()).then(|| file.to_string()),
                line: u32::try_from(line).ok().filter(|&l| l > 0),
                module: module.clone(),
                address: None,
            }));
        }
        loc_frames.insert(id, frames);
    }
    Ok(loc_frames)
}

/// The samples, each its locations' frames (leaf first on the wire, root first in the model).
fn add_samples(
    samples: Vec<(Vec<u64>, Vec<u64>)>,
    loc_frames: &HashMap<u64, Vec<u32>>,
    p: &mut Profile,
) -> Result<(), WireError> {
    let mut stack = Vec::new();
    let n = p.sample_types.len();
    for (locs, vals) in samples {
        if vals.len() != n {
            return Err(WireError("a sample has the wrong number of values"));
        }
        stack.clear();
        for id in &locs {
            let frames = loc_frames
                .get(id)
                .ok_or(WireError("sample names an unknown location"))?;
            stack.extend_from_slice(frames);
        }
        stack.reverse();
        let values: Vec<i64> = vals.iter().map(|&v| v as i64).collect();
        p.add(&stack, &values);
        p.raw_samples += 1;
    }
    Ok(())
}

impl RawLocation {
    fn mappings_file(&self, mappings: &HashMap<u64, u64>) -> Option<u64> {
        mappings.get(&self.mapping).copied()
    }
}

fn value_type(b: &[u8]) -> Result<(u64, u64), WireError> {
    let (mut t, mut u) = (0, 0);
    let mut m = Reader::new(b);
    while let Some((f, v)) = m.next_field()? {
        match f {
            1 => t = int(v)?,
            2 => u = int(v)?,
            _ => {}
        }
    }
    Ok((t, u))
}

/// Encode `profile` as a gzipped pprof. `default_type` names the column `go tool pprof` shows
/// first.
pub fn write(profile: &Profile, default_type: Option<&str>) -> Vec<u8> {
    let mut strings = Strings::default();
    let mut w = Writer::default();
    for t in &profile.sample_types {
        let (a, b) = (strings.id(&t.kind), strings.id(&t.unit));
        value_type_field(&mut w, 1, a, b);
    }
    let mappings = write_mappings(profile, &mut strings, &mut w);
    write_samples(profile, &mappings, &mut strings, &mut w);
    if let Some((t, period)) = &profile.period {
        let (a, b) = (strings.id(&t.kind), strings.id(&t.unit));
        value_type_field(&mut w, 11, a, b);
        w.uint(12, *period as u64);
    }
    if let Some(d) = profile.duration_ns {
        w.uint(10, d as u64);
    }
    let comments: Vec<u64> = profile.comments.iter().map(|c| strings.id(c)).collect();
    let default = default_type.map(|d| strings.id(d));
    for s in &strings.list {
        w.bytes(6, s.as_bytes());
    }
    for c in comments {
        w.uint(13, c);
    }
    if let Some(d) = default {
        w.uint(14, d);
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(&w.buf);
    gz.finish().unwrap_or_default()
}

/// The string table being written: index 0 is the empty string.
struct Strings {
    list: Vec<String>,
    index: HashMap<String, u64>,
}

impl Default for Strings {
    fn default() -> Strings {
        Strings {
            list: vec![String::new()],
            index: HashMap::from([(String::new(), 0)]),
        }
    }
}

impl Strings {
    fn id(&mut self, s: &str) -> u64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.list.len() as u64;
        self.list.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

/// A ValueType message (type, unit) as `field`.
fn value_type_field(w: &mut Writer, field: u32, t: u64, u: u64) {
    let mut m = Writer::default();
    m.uint(1, t);
    m.uint(2, u);
    w.bytes(field, &m.buf);
}

/// The Mapping messages; returns each module's (mapping id, base address), `u64::MAX` as the
/// base where its addresses are not kept.
fn write_mappings<'p>(
    profile: &'p Profile,
    strings: &mut Strings,
    w: &mut Writer,
) -> HashMap<&'p str, (u64, u64)> {
    // One mapping per binary, the profiled program first (pprof's main binary), then one per
    // other module, so the module survives a round trip and `go tool pprof` can group by it.
    // A binary whose executable segment is known is placed as a process would map it, each at
    // its own base (the program at 0, so its addresses are the ones `nm` prints), and its
    // frames' addresses are kept: `-disasm` finds the instructions, `-list` the lines.
    let mut mappings: HashMap<&str, (u64, u64)> = HashMap::new(); // module -> id, base
    let mut names: Vec<&str> = profile.binaries.iter().map(|b| b.name.as_str()).collect();
    names.extend(profile.frames.iter().filter_map(|f| f.module.as_deref()));
    for name in names {
        if mappings.contains_key(name) {
            continue;
        }
        let id = mappings.len() as u64 + 1;
        let base = (id - 1) << 40;
        let binary = profile.binary(name);
        let of_it = || {
            profile
                .frames
                .iter()
                .filter(|f| f.module.as_deref() == Some(name))
        };
        let mut m = Writer::default();
        m.uint(1, id);
        if let Some(text) = binary.and_then(|b| b.text) {
            let page = text.address & 0xfff;
            m.uint(2, base + text.address - page);
            m.uint(3, base + text.address + text.size);
            m.uint(4, text.offset - page.min(text.offset));
        }
        m.uint(5, strings.id(binary.map_or(name, |b| b.path.as_str())));
        if let Some(id) = binary.and_then(|b| b.build_id.as_deref()) {
            m.uint(6, strings.id(id));
        }
        m.uint(7, 1); // has_functions
        m.uint(8, u64::from(of_it().any(|f| f.file.is_some())));
        let lines = of_it().any(|f| f.line.is_some());
        m.uint(9, u64::from(lines));
        m.uint(10, u64::from(lines)); // inlined functions were resolved with the lines
        w.bytes(3, &m.buf);
        let base = if binary.and_then(|b| b.text).is_some() {
            base
        } else {
            u64::MAX // no addresses in this mapping
        };
        mappings.insert(name, (id, base));
    }
    mappings
}

/// The Sample, Location and Function messages.
fn write_samples(
    profile: &Profile,
    mappings: &HashMap<&str, (u64, u64)>,
    strings: &mut Strings,
    w: &mut Writer,
) {
    // A location is one address: the frames of a stack at the same address (a function and
    // those inlined into it there) are one location with a line each, innermost first.
    let mut functions: HashMap<(u64, u64), u64> = HashMap::new();
    let mut function_list = Vec::new();
    let mut locations: HashMap<&[u32], u64> = HashMap::new();
    let mut location_list: Vec<Vec<u8>> = Vec::new();
    let same_place = |a: &Frame, b: &Frame| {
        a.address.is_some() && a.address == b.address && a.module == b.module
    };
    let mut sample_list = Vec::with_capacity(profile.samples.len());
    for s in &profile.samples {
        let mut ids: Vec<u64> = Vec::new();
        let mut end = s.stack.len();
        while end > 0 {
            let mut start = end - 1;
            let leaf = &profile.frames[s.stack[start] as usize];
            while start > 0 && same_place(&profile.frames[s.stack[start - 1] as usize], leaf) {
                start -= 1;
            }
            let run = &s.stack[start..end];
            let next = location_list.len() as u64 + 1;
            let id = *locations.entry(run).or_insert_with(|| {
                let mut loc = Writer::default();
                loc.uint(1, next);
                let mapping = leaf.module.as_deref().and_then(|m| mappings.get(m));
                if let Some(&(mid, base)) = mapping {
                    loc.uint(2, mid);
                    if let (Some(a), true) = (leaf.address, base != u64::MAX) {
                        loc.uint(3, base + a);
                    }
                }
                for &fi in run.iter().rev() {
                    let f = &profile.frames[fi as usize];
                    let key = (
                        strings.id(&f.function),
                        strings.id(f.file.as_deref().unwrap_or("")),
                    );
                    let fid = functions.len() as u64 + 1;
                    let fid = *functions.entry(key).or_insert_with(|| {
                        function_list.push((fid, key));
                        fid
                    });
                    let mut line = Writer::default();
                    line.uint(1, fid);
                    line.uint(2, u64::from(f.line.unwrap_or(0)));
                    loc.bytes(4, &line.buf);
                }
                location_list.push(loc.buf);
                next
            });
            ids.push(id);
            end = start;
        }
        sample_list.push(ids);
    }
    for (s, ids) in profile.samples.iter().zip(sample_list) {
        let mut m = Writer::default();
        m.packed(1, ids); // leaf first
        m.packed(2, s.values.iter().map(|&v| v as u64));
        w.bytes(2, &m.buf);
    }
    for loc in &location_list {
        w.bytes(4, loc);
    }
    for (id, (name, file)) in function_list {
        let mut m = Writer::default();
        m.uint(1, id);
        m.uint(2, name);
        m.uint(3, name);
        m.uint(4, file);
        w.bytes(5, &m.buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Profile {
        let mut p = Profile::new(vec![
            ValueType::new("samples", "count"),
            ValueType::new("cpu", "nanoseconds"),
        ]);
        p.period = Some((ValueType::new("cpu", "nanoseconds"), 2_004_008));
        p.duration_ns = Some(1_000_000_000);
        p.comments.push("backend: perf".into());
        let m = p.intern(Frame {
            function: "main".into(),
            file: Some("hot.c".into()),
            line: Some(5),
            ..Frame::default()
        });
        let h = p.intern(Frame {
            module: Some("/usr/bin/hot".into()),
            ..Frame::function("hot_loop")
        });
        p.add(&[m, h], &[90, 180_000_000]);
        p.add(&[m], &[10, 20_000_000]);
        p
    }

    /// The top-level messages of field `field` in a written profile.
    fn messages(gz: &[u8], field: u32) -> Vec<Vec<(u32, u64)>> {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut raw)
            .unwrap();
        let mut out = Vec::new();
        let mut r = Reader::new(&raw);
        while let Some((f, v)) = r.next_field().unwrap() {
            if f == field {
                let mut fields = Vec::new();
                let mut m = Reader::new(bytes(v).unwrap());
                while let Some((g, v)) = m.next_field().unwrap() {
                    fields.push((g, int(v).unwrap_or(u64::MAX)));
                }
                out.push(fields);
            }
        }
        out
    }

    #[test]
    fn addresses_make_mappings_and_inlined_frames_share_a_location() {
        let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
        p.binaries.push(crate::Binary {
            name: "app".into(),
            path: "/opt/app".into(),
            build_id: Some("abcd".into()),
            text: Some(crate::Segment {
                address: 0x13dc0,
                offset: 0x12dc0,
                size: 0x3d7e0,
            }),
        });
        let at = |function: &str, line: u32, address: u64| Frame {
            function: function.into(),
            file: Some("/src/app.rs".into()),
            line: Some(line),
            module: Some("app".into()),
            address: Some(address),
        };
        let main = p.intern(at("main", 9, 0x14000));
        let outer = p.intern(at("run", 20, 0x14100));
        let inlined = p.intern(at("step", 3, 0x14100));
        let libc = p.intern(Frame {
            module: Some("libc.so.6".into()),
            ..Frame::function("memcpy")
        });
        p.add(&[main, outer, inlined], &[7]);
        p.add(&[main, outer, inlined, libc], &[1]);
        let bytes = write(&p, None);
        let maps = messages(&bytes, 3);
        assert_eq!(maps.len(), 2, "{maps:?}");
        // The program first, mapped as the kernel would: page-aligned start and offset.
        assert!(maps[0].contains(&(2, 0x13000)) && maps[0].contains(&(4, 0x12000)));
        assert!(maps[0].contains(&(3, 0x13dc0 + 0x3d7e0)));
        assert!(maps[0].contains(&(9, 1)), "has_line_numbers: {:?}", maps[0]);
        assert!(!maps[1].iter().any(|&(f, _)| f == 2 || f == 3));
        let locs = messages(&bytes, 4);
        assert_eq!(locs.len(), 3, "main, run+step, memcpy: {locs:?}");
        let shared = (locs.iter())
            .find(|l| l.contains(&(3, 0x14100)))
            .expect("one location at 0x14100");
        assert_eq!(shared.iter().filter(|&&(f, _)| f == 4).count(), 2);
        let q = parse(&bytes, "p").unwrap();
        assert_eq!(q.folded(0), p.folded(0));
        let step = q.frames.iter().find(|f| f.function == "step").unwrap();
        assert_eq!(step.location().as_deref(), Some("/src/app.rs:3"));
    }

    #[test]
    fn round_trips_through_the_wire_format() {
        let p = sample();
        let bytes = write(&p, Some("cpu"));
        assert!(sniff(&bytes));
        let q = parse(&bytes, "p.pb.gz").unwrap();
        assert_eq!(q.sample_types, p.sample_types);
        assert_eq!(q.total(1), 200_000_000);
        assert_eq!(q.folded(1), p.folded(1));
        assert_eq!(q.period, p.period);
        assert_eq!(q.duration_ns, Some(1_000_000_000));
        assert_eq!(q.comments, vec!["backend: perf".to_string()]);
        let main = q.frames.iter().find(|f| f.function == "main").unwrap();
        assert_eq!(main.location().as_deref(), Some("hot.c:5"));
        assert_eq!(main.module, None);
        let hot = q.frames.iter().find(|f| f.function == "hot_loop").unwrap();
        assert_eq!(
            hot.module.as_deref(),
            Some("hot"),
            "the reader keeps the base name"
        );
    }

    #[test]
    fn truncated_and_foreign_files_are_refused() {
        let bytes = write(&sample(), None);
        let e = parse(&bytes[..bytes.len() / 2], "cut.pb.gz").unwrap_err();
        assert!(e.to_string().starts_with("cut.pb.gz: bad gzip data"), "{e}");
        let e = parse(b"\x0a\x05hello world", "x.pb").unwrap_err();
        assert!(
            e.to_string().starts_with("x.pb: not a pprof profile"),
            "{e}"
        );
    }
}
