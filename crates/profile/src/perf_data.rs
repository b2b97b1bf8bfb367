//! One repair of a `perf.data` file before `perf script` reads it: a process keeps, in perf's
//! model, every mapping it had before its last `exec`. perf 6.1's DWARF unwinder takes a
//! library's base address from its *lowest* mapping in the process, so when a program that
//! execs another (`taskset`, `env`, `nice`, `numactl`, `sh -c`, perflab's own usage wrapper)
//! had its libc below the new program's, every libc frame lost its callers: about one run in
//! two, as address-space randomization decides.
//!
//! The repair moves those stale mappings to a process that never runs: the MMAP records of a
//! process that fall before its last exec are rewritten in place to a phantom pid, and the
//! parent named by the FORK record that created it (whose mappings the child inherits) to
//! another phantom that maps nothing. Nothing
//! changes size; samples taken before the last exec (a wrapper's few microseconds) lose their
//! symbols, the rest of the program keeps whole stacks. Written by hand: the records needed are
//! four fixed layouts, and no crate reads `perf.data`'s side-band records for writing.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt as _;
use std::path::Path;

const MAGIC: &[u8; 8] = b"PERFILE2";
const RECORD_MMAP: u32 = 1;
const RECORD_COMM: u32 = 3;
const RECORD_FORK: u32 = 7;
const RECORD_MMAP2: u32 = 10;
const MISC_COMM_EXEC: u16 = 1 << 13;
const SAMPLE_TID: u64 = 1 << 1;
const SAMPLE_TIME: u64 = 1 << 2;
const SAMPLE_ID: u64 = 1 << 6;
const SAMPLE_CPU: u64 = 1 << 7;
const SAMPLE_STREAM_ID: u64 = 1 << 9;
const SAMPLE_IDENTIFIER: u64 = 1 << 16;
const ATTR_SAMPLE_ID_ALL: u64 = 1 << 18;

/// The pid stale mappings are moved to: above any pid Linux gives (at most 2^22).
pub const PHANTOM_PID: u32 = 0x7fff_fff0;

/// The parent a new process that later execs is given instead of its own: another phantom,
/// which never maps anything, so the child inherits nothing (not even the moved mappings).
pub const PHANTOM_PARENT: u32 = 0x7fff_fff1;

/// What the repair did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Repaired {
    /// Processes that exec'd.
    pub execs: usize,
    /// MMAP records moved to the phantom pid.
    pub mappings: usize,
    /// FORK records whose parent was replaced by the phantom pid.
    pub forks: usize,
}

/// Where a side-band record sits, and what it says.
struct SideBand {
    offset: u64,
    kind: u32,
    pid: u32,
    ppid: u32,
    time: u64,
}

/// Repair `path` in place (see the module's documentation). A file this cannot read with
/// confidence (another byte order, attributes that disagree on their sample layout, no
/// timestamps) is left as it is: `Ok` with nothing done.
///
/// # Errors
/// The file cannot be read or written.
pub fn forget_mappings_before_exec(path: &Path) -> std::io::Result<Repaired> {
    let file = File::options().read(true).write(true).open(path)?;
    let Some((records, end, time_at)) = layout(&file)? else {
        return Ok(Repaired::default());
    };
    let found = side_band(&file, records, end, time_at)?;
    let plan = plan(&found);
    for &(offset, kind) in &plan {
        match kind {
            // pid and tid of the mapping.
            RECORD_MMAP | RECORD_MMAP2 => {
                let patch = PHANTOM_PID.to_le_bytes();
                file.write_all_at(&patch, offset + 8)?;
                file.write_all_at(&patch, offset + 12)?;
            }
            // ppid and ptid of the fork.
            _ => {
                let patch = PHANTOM_PARENT.to_le_bytes();
                file.write_all_at(&patch, offset + 12)?;
                file.write_all_at(&patch, offset + 20)?;
            }
        }
    }
    Ok(Repaired {
        execs: found
            .iter()
            .filter(|r| r.kind == RECORD_COMM)
            .map(|r| r.pid)
            .collect::<std::collections::HashSet<_>>()
            .len(),
        mappings: plan.iter().filter(|(_, k)| *k != RECORD_FORK).count(),
        forks: plan.iter().filter(|(_, k)| *k == RECORD_FORK).count(),
    })
}

/// The records to rewrite: each process's mappings before its last exec, and the fork that
/// gave it its parent's.
fn plan(found: &[SideBand]) -> Vec<(u64, u32)> {
    let mut last_exec: HashMap<u32, u64> = HashMap::new();
    for r in found.iter().filter(|r| r.kind == RECORD_COMM) {
        let t = last_exec.entry(r.pid).or_insert(r.time);
        *t = (*t).max(r.time);
    }
    found
        .iter()
        .filter(|r| match (r.kind, last_exec.get(&r.pid)) {
            (RECORD_MMAP | RECORD_MMAP2, Some(&exec)) => r.time < exec && r.pid != PHANTOM_PID,
            // A new process (not a thread: those share their process's mappings).
            (RECORD_FORK, Some(&exec)) => r.ppid != r.pid && r.time <= exec,
            _ => false,
        })
        .map(|r| (r.offset, r.kind))
        .collect()
}

/// The data section (start, end) and where the timestamp sits from a side-band record's end,
/// or None when the file is not one this can repair.
fn layout(file: &File) -> std::io::Result<Option<(u64, u64, u64)>> {
    let mut header = [0u8; 104];
    if file.read_exact_at(&mut header, 0).is_err() || &header[..8] != MAGIC {
        return Ok(None);
    }
    let u64_at =
        |b: &[u8], i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
    let attr_size = u64_at(&header, 16);
    let (attrs, attrs_size) = (u64_at(&header, 24), u64_at(&header, 32));
    let (data, data_size) = (u64_at(&header, 40), u64_at(&header, 48));
    if attr_size < 48 || attrs_size == 0 || attrs_size % attr_size != 0 || attrs_size > 1 << 20 {
        return Ok(None);
    }
    let mut attr_bytes = vec![0u8; attrs_size as usize];
    file.read_exact_at(&mut attr_bytes, attrs)?;
    let mut sample_type = None;
    for attr in attr_bytes.chunks(attr_size as usize) {
        let (st, flags) = (u64_at(attr, 24), u64_at(attr, 40));
        if flags & ATTR_SAMPLE_ID_ALL == 0 || st & SAMPLE_TIME == 0 {
            return Ok(None);
        }
        match sample_type {
            None => sample_type = Some(st),
            Some(s) if s != st => return Ok(None),
            Some(_) => {}
        }
    }
    let Some(st) = sample_type else {
        return Ok(None);
    };
    // The sample_id trailer: tid, time, id, stream_id, cpu, identifier, as present.
    let words = [
        SAMPLE_TID,
        SAMPLE_TIME,
        SAMPLE_ID,
        SAMPLE_STREAM_ID,
        SAMPLE_CPU,
        SAMPLE_IDENTIFIER,
    ]
    .iter()
    .filter(|b| st & **b != 0)
    .count() as u64;
    let before_time = u64::from(st & SAMPLE_TID != 0);
    Ok(Some((data, data + data_size, (words - before_time) * 8)))
}

/// Every MMAP, MMAP2, exec COMM and FORK record of the data section.
fn side_band(file: &File, start: u64, end: u64, time_at: u64) -> std::io::Result<Vec<SideBand>> {
    let mut r = BufReader::with_capacity(1 << 16, file);
    r.seek(SeekFrom::Start(start))?;
    let mut found = Vec::new();
    let mut at = start;
    let mut body = Vec::new();
    while at + 8 <= end {
        let mut h = [0u8; 8];
        r.read_exact(&mut h)?;
        let kind = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let misc = u16::from_le_bytes([h[4], h[5]]);
        let size = u64::from(u16::from_le_bytes([h[6], h[7]]));
        if size < 8 || at + size > end {
            break;
        }
        let wanted = match kind {
            RECORD_MMAP | RECORD_MMAP2 | RECORD_FORK => true,
            RECORD_COMM => misc & MISC_COMM_EXEC != 0,
            _ => false,
        };
        if wanted && size >= 8 + 16 + time_at {
            body.resize(size as usize - 8, 0);
            r.read_exact(&mut body)?;
            let u32_at =
                |i: usize| u32::from_le_bytes(body[i..i + 4].try_into().unwrap_or_default());
            let t = body.len() - time_at as usize;
            found.push(SideBand {
                offset: at,
                kind,
                pid: u32_at(0),
                ppid: if kind == RECORD_FORK { u32_at(4) } else { 0 },
                time: u64::from_le_bytes(body[t..t + 8].try_into().unwrap_or_default()),
            });
        } else {
            r.seek_relative(size as i64 - 8)?;
        }
        at += size;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: u32, pid: u32, ppid: u32, time: u64) -> SideBand {
        SideBand {
            offset: time * 100,
            kind,
            pid,
            ppid,
            time,
        }
    }

    #[test]
    fn a_process_forgets_what_it_mapped_and_inherited_before_its_last_exec() {
        let found = [
            rec(RECORD_MMAP2, 10, 0, 1), // the wrapper before its exec (perf's copy)
            rec(RECORD_COMM, 10, 0, 2),  // the wrapper execs
            rec(RECORD_MMAP2, 10, 0, 3), // the wrapper's libraries: kept for it
            rec(RECORD_FORK, 11, 10, 4), // the command's process, inheriting them
            rec(RECORD_FORK, 10, 10, 5), // a thread of the wrapper: kept
            rec(RECORD_COMM, 11, 0, 6),  // taskset
            rec(RECORD_MMAP2, 11, 0, 7), // taskset's libc
            rec(RECORD_COMM, 11, 0, 8),  // the program
            rec(RECORD_MMAP2, 11, 0, 9), // its libc: kept
            rec(RECORD_MMAP, 12, 0, 10), // a process that never execs: kept
        ];
        let plan = plan(&found);
        assert_eq!(
            plan,
            [(100, RECORD_MMAP2), (400, RECORD_FORK), (700, RECORD_MMAP2)]
        );
    }

    #[test]
    fn files_it_cannot_read_with_confidence_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("perf.data");
        std::fs::write(&p, b"not a perf.data file at all").unwrap();
        assert_eq!(
            forget_mappings_before_exec(&p).unwrap(),
            Repaired::default()
        );
        assert_eq!(std::fs::read(&p).unwrap(), b"not a perf.data file at all");
        assert!(forget_mappings_before_exec(&dir.path().join("none")).is_err());
    }
}
