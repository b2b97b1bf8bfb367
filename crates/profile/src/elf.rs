//! What the profiled binary is made of, to choose the stack unwinding: Go keeps frame pointers;
//! other binaries keep them when their functions start with the frame-pointer prologue (`push
//! rbp; mov rbp, rsp` on x86-64, `stp x29, x30, [sp, #-n]!` on arm64); otherwise DWARF unwinding
//! is the reliable choice.

use std::path::{Path, PathBuf};

use object::{Object as _, ObjectSection as _, ObjectSymbol as _, SymbolKind};

/// Facts read from an ELF file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BinaryFacts {
    /// A Go binary.
    pub go: bool,
    /// Share of sampled functions that set up a frame pointer, when there were symbols to check.
    pub frame_pointer_share: Option<f64>,
    /// Has a symbol table (not stripped).
    pub symbols: bool,
    /// Has DWARF line tables.
    pub line_tables: bool,
}

/// How perf should unwind stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unwinding {
    /// Walk saved frame pointers: cheap, needs binaries built with them.
    FramePointer,
    /// Copy the stack and unwind it with DWARF CFI afterwards: works without frame pointers,
    /// costs more per sample.
    Dwarf,
}

impl Unwinding {
    /// `fp` or `dwarf`, as reported and as the `--call-graph` flag reads.
    pub fn as_str(self) -> &'static str {
        match self {
            Unwinding::FramePointer => "fp",
            Unwinding::Dwarf => "dwarf",
        }
    }
}

/// Find `program` on PATH unless it names a path.
pub fn resolve_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

/// Read the facts of an ELF binary; `None` for scripts and other non-ELF files.
pub fn inspect(path: &Path) -> Option<BinaryFacts> {
    let data = std::fs::read(path).ok()?;
    let file = object::File::parse(&*data).ok()?;
    let go = file.section_by_name(".gopclntab").is_some()
        || file.section_by_name(".go.buildinfo").is_some();
    let line_tables = file.section_by_name(".debug_line").is_some();
    let mut checked = 0u32;
    let mut with_fp = 0u32;
    let mut symbols = false;
    for sym in file.symbols() {
        symbols = true;
        if sym.kind() != SymbolKind::Text || sym.size() < 16 || checked >= 4000 {
            continue;
        }
        // The C runtime's own start-up functions never set up frames; they say nothing.
        const CRT: &[&str] = &[
            "_start",
            "_init",
            "_fini",
            "deregister_tm_clones",
            "register_tm_clones",
            "__do_global_dtors_aux",
            "frame_dummy",
            "_dl_relocate_static_pie",
        ];
        if sym.name().is_ok_and(|n| CRT.contains(&n)) {
            continue;
        }
        let Some(section) = sym
            .section_index()
            .and_then(|i| file.section_by_index(i).ok())
        else {
            continue;
        };
        let Ok(bytes) = section.data() else { continue };
        let Some(off) = sym.address().checked_sub(section.address()) else {
            continue;
        };
        let Some(code) = bytes.get(off as usize..(off as usize + 12).min(bytes.len())) else {
            continue;
        };
        checked += 1;
        if has_prologue(file.architecture(), code) {
            with_fp += 1;
        }
    }
    Some(BinaryFacts {
        go,
        frame_pointer_share: (checked >= 2).then(|| f64::from(with_fp) / f64::from(checked)),
        symbols,
        line_tables,
    })
}

fn has_prologue(arch: object::Architecture, code: &[u8]) -> bool {
    match arch {
        object::Architecture::X86_64 => {
            let code = code.strip_prefix(&[0xf3, 0x0f, 0x1e, 0xfa]).unwrap_or(code); // endbr64
            code.starts_with(&[0x55, 0x48, 0x89, 0xe5])
        }
        object::Architecture::Aarch64 => code
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            // stp x29, x30, [sp, #imm]! (pre-indexed) or [sp, #imm]
            .is_some_and(|i| (i & 0xffc0_7fff) == 0xa980_7bfd || (i & 0xffc0_7fff) == 0xa900_7bfd),
        _ => false,
    }
}

/// Choose the unwinding for a binary, with the reason to print.
pub fn choose(facts: Option<&BinaryFacts>) -> (Unwinding, String) {
    match facts {
        Some(f) if f.go => (
            Unwinding::FramePointer,
            "Go binary: Go keeps frame pointers".into(),
        ),
        Some(BinaryFacts {
            frame_pointer_share: Some(s),
            ..
        }) if *s >= 0.6 => (
            Unwinding::FramePointer,
            format!("{:.0}% of its functions keep frame pointers", s * 100.0),
        ),
        Some(BinaryFacts {
            frame_pointer_share: Some(s),
            ..
        }) => (
            Unwinding::Dwarf,
            format!(
                "only {:.0}% of its functions keep frame pointers",
                s * 100.0
            ),
        ),
        Some(_) => (
            Unwinding::Dwarf,
            "no symbols to check for frame pointers".into(),
        ),
        None => (
            Unwinding::Dwarf,
            "not an ELF binary (a script?): DWARF unwinding is the safe choice".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prologues_are_recognised() {
        let x86 = object::Architecture::X86_64;
        assert!(has_prologue(x86, &[0x55, 0x48, 0x89, 0xe5, 0x90]));
        assert!(has_prologue(
            x86,
            &[0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5]
        ));
        assert!(!has_prologue(x86, &[0x48, 0x85, 0xff, 0x7e]));
        let arm = object::Architecture::Aarch64;
        assert!(has_prologue(arm, &0xa9bf7bfdu32.to_le_bytes()));
        assert!(!has_prologue(arm, &0xd503201fu32.to_le_bytes()));
    }

    #[test]
    fn non_elf_files_have_no_facts_and_get_dwarf() {
        let me = std::env::current_exe().unwrap();
        assert!(inspect(&me).is_some());
        assert_eq!(inspect(Path::new("/nonexistent")), None);
        assert_eq!(choose(None).0, Unwinding::Dwarf);
        let go = BinaryFacts {
            go: true,
            ..BinaryFacts::default()
        };
        assert_eq!(choose(Some(&go)).0, Unwinding::FramePointer);
    }
}
