//! DHAT's JSON output (`valgrind --tool=dhat`, `dhatFileVersion` 2): per allocation stack, the
//! bytes and blocks allocated, held at the global peak, and still live at exit. It becomes a
//! profile with Go heap-profile columns (`alloc_objects`, `alloc_space`, `inuse_objects`,
//! `inuse_space`; "in use" means at exit, so leaks) plus `peak_space` and `temp_objects`.

use serde::Deserialize;

use crate::{Frame, Profile, ProfileError, ValueType};

/// A block whose mean lifetime is below this many instructions counts as temporary: allocated,
/// used briefly and freed, the pattern that reusing a buffer removes.
pub const TEMPORARY_LIFETIME_INSTRS: u64 = 10_000;

#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "dhatFileVersion")]
    version: u32,
    mode: String,
    #[serde(default)]
    cmd: String,
    #[serde(default)]
    tu: String,
    pps: Vec<ProgramPoint>,
    ftbl: Vec<String>,
}

#[derive(Deserialize)]
struct ProgramPoint {
    tb: u64,
    tbk: u64,
    #[serde(default)]
    tl: Option<u64>,
    #[serde(default)]
    gb: Option<u64>,
    #[serde(default)]
    eb: Option<u64>,
    #[serde(default)]
    ebk: Option<u64>,
    fs: Vec<usize>,
}

/// The column names, in order.
pub const COLUMNS: [(&str, &str); 6] = [
    ("alloc_objects", "count"),
    ("alloc_space", "bytes"),
    ("inuse_objects", "count"),
    ("inuse_space", "bytes"),
    ("peak_space", "bytes"),
    ("temp_objects", "count"),
];

/// Read a DHAT JSON file written in heap mode.
pub fn parse(text: &str, source: &str) -> Result<Profile, ProfileError> {
    let doc: Doc = serde_json::from_str(text).map_err(|e| {
        ProfileError::malformed(source, Some(e.line()), format!("not DHAT output: {e}"))
    })?;
    if doc.version != 2 || doc.mode != "heap" {
        return Err(ProfileError::malformed(
            source,
            None,
            format!(
                "DHAT file version {} mode {:?}: only version 2 heap profiles are read",
                doc.version, doc.mode
            ),
        ));
    }
    let mut p = Profile::new(COLUMNS.iter().map(|(k, u)| ValueType::new(k, u)).collect());
    if !doc.cmd.is_empty() {
        p.comments.push(format!("command: {}", doc.cmd));
    }
    let frames: Vec<Frame> = doc.ftbl.iter().map(|f| frame(f)).collect();
    let ids: Vec<u32> = frames.into_iter().map(|f| p.intern(f)).collect();
    let temp_ok = doc.tu == "instrs";
    let mut stack = Vec::new();
    for pp in &doc.pps {
        stack.clear();
        for &i in pp.fs.iter().rev() {
            let id = ids.get(i).ok_or_else(|| {
                ProfileError::malformed(source, None, format!("frame {i} is not in ftbl"))
            })?;
            stack.push(*id);
        }
        let live_blocks = pp.ebk.unwrap_or(0);
        let freed = pp.tbk.saturating_sub(live_blocks);
        let temp = match pp.tl {
            Some(tl) if temp_ok && pp.tbk > 0 && tl / pp.tbk < TEMPORARY_LIFETIME_INSTRS => freed,
            _ => 0,
        };
        let v = |x: u64| x.min(i64::MAX as u64) as i64;
        p.add(
            &stack,
            &[
                v(pp.tbk),
                v(pp.tb),
                v(live_blocks),
                v(pp.eb.unwrap_or(0)),
                v(pp.gb.unwrap_or(0)),
                v(temp),
            ],
        );
        p.raw_samples += pp.tbk;
    }
    Ok(p)
}

/// `0x10917E: main (leak.c:10)`, `0x48417B4: malloc (in /usr/lib/...so)`, `[root]`.
fn frame(s: &str) -> Frame {
    let body = match s.split_once(": ") {
        Some((addr, rest)) if addr.starts_with("0x") => rest,
        _ => s,
    };
    let (name, paren) = match body.rfind(" (") {
        Some(pos) if body.ends_with(')') => (&body[..pos], Some(&body[pos + 2..body.len() - 1])),
        _ => (body, None),
    };
    let mut f = Frame::function(crate::strip_rust_hash(name));
    match paren {
        Some(p) if p.starts_with("in ") => {
            let m = &p[3..];
            f.module = Some(m.rsplit('/').next().unwrap_or(m).to_string());
        }
        Some(p) => match p.rsplit_once(':') {
            Some((file, line)) if line.parse::<u32>().is_ok() => {
                f.file = Some(file.to_string());
                f.line = line.parse().ok();
            }
            _ => f.file = Some(p.to_string()),
        },
        None => {}
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"dhatFileVersion":2,"mode":"heap","verb":"Allocated","bklt":true,"bkacc":true,
"tu":"instrs","Mtu":"Minstr","tuth":500,"cmd":"./leak","pid":1,"te":743842,"tg":738307,
"pps":[{"tb":4096000,"tbk":1000,"tl":558739,"mb":4096,"mbk":1,"gb":4096,"gbk":1,"eb":0,"ebk":0,"rb":1000,"wb":4096000,"fs":[1,2,3]},
{"tb":112,"tbk":7,"tl":33593,"mb":0,"mbk":0,"gb":0,"gbk":0,"eb":112,"ebk":7,"rb":7,"wb":7,"fs":[1,4,5]}],
"ftbl":["[root]","0x48417B4: malloc (in /usr/libexec/valgrind/vgpreload_dhat-amd64-linux.so)",
"0x109155: big_site (leak.c:3)","0x1091A1: main (leak.c:5)","0x109186: small_site (leak.c:4)","0x1091C8: main (leak.c:5)"]}"#;

    #[test]
    fn reads_sites_leaks_peaks_and_temporaries() {
        let p = parse(DOC, "dhat.json").unwrap();
        let col = |k| p.total(p.type_index(k).unwrap());
        assert_eq!(col("alloc_space"), 4_096_112);
        assert_eq!(col("alloc_objects"), 1007);
        assert_eq!(col("inuse_objects"), 7);
        assert_eq!(col("inuse_space"), 112);
        assert_eq!(col("peak_space"), 4096);
        assert_eq!(col("temp_objects"), 1000); // 558 instructions on average: temporary
        let folded = p.folded(p.type_index("alloc_space").unwrap());
        assert!(folded.contains(&("main;big_site;malloc".to_string(), 4_096_000)));
        let site = p.frames.iter().find(|f| f.function == "big_site").unwrap();
        assert_eq!(site.location().as_deref(), Some("leak.c:3"));
        let m = p.frames.iter().find(|f| f.function == "malloc").unwrap();
        assert_eq!(m.module.as_deref(), Some("vgpreload_dhat-amd64-linux.so"));
    }

    #[test]
    fn other_json_is_refused() {
        let e = parse("{\"a\": 1}", "x.json").unwrap_err().to_string();
        assert!(e.starts_with("x.json:1: not DHAT output"), "{e}");
        let copy = DOC.replace("\"heap\"", "\"copy\"");
        assert!(parse(&copy, "c.json")
            .unwrap_err()
            .to_string()
            .contains("heap profiles"));
    }
}
