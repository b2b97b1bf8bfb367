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
    /// Share of sampled functions that set up a frame pointer, when there were symbols to check:
    /// of the program's own functions when it has enough of them (Rust's standard library keeps
    /// frame pointers in release binaries whose own code has none), else of all.
    pub frame_pointer_share: Option<f64>,
    /// Whether `frame_pointer_share` was measured on the program's own functions.
    pub own_functions: bool,
    /// Has a symbol table (not stripped).
    pub symbols: bool,
    /// Has DWARF line tables.
    pub line_tables: bool,
    /// Built by rustc (its standard library's symbols are in it).
    pub rust: bool,
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
    let (mut own_checked, mut own_fp) = (0u32, 0u32);
    let mut symbols = false;
    let mut rust = false;
    for sym in file.symbols() {
        symbols = true;
        rust = rust
            || sym.name().is_ok_and(|n| {
                n.starts_with("_ZN3std") || (n.starts_with("_R") && n.contains("3std"))
            });
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
        let fp = has_prologue(file.architecture(), code);
        with_fp += u32::from(fp);
        if !sym.name().is_ok_and(is_rust_library) {
            own_checked += 1;
            own_fp += u32::from(fp);
        }
    }
    // The program's own code decides when there is enough of it beside the libraries.
    let own = own_checked >= 2 && own_checked < checked;
    let (n, k) = if own {
        (own_checked, own_fp)
    } else {
        (checked, with_fp)
    };
    Some(BinaryFacts {
        go,
        frame_pointer_share: (n >= 2).then(|| f64::from(k) / f64::from(n)),
        own_functions: own,
        symbols,
        line_tables,
        rust,
    })
}

/// Whether any symbol of the ELF file at `path` contains one of `needles`.
pub fn has_symbol_containing(path: &Path, needles: &[&str]) -> bool {
    let Ok(data) = std::fs::read(path) else {
        return false;
    };
    let Ok(file) = object::File::parse(&*data) else {
        return false;
    };
    let found = file.symbols().any(|s| {
        s.name()
            .is_ok_and(|n| needles.iter().any(|k| n.contains(k)))
    });
    found
}

/// A Rust standard-library (or its dependencies') function, by its mangled name: the first
/// path segment of a legacy `_ZN` name, or a crate name in a v0 `_R` name.
fn is_rust_library(name: &str) -> bool {
    const CRATES: &[&str] = &[
        "std",
        "core",
        "alloc",
        "hashbrown",
        "gimli",
        "addr2line",
        "miniz_oxide",
        "object",
        "rustc_demangle",
        "memchr",
        "std_detect",
        "panic_unwind",
        "compiler_builtins",
        "adler",
        "adler2",
    ];
    if let Some(rest) = name.strip_prefix("_ZN") {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let len: usize = rest[..digits].parse().unwrap_or(0);
        let first = rest.get(digits..digits + len).unwrap_or("");
        // `<std::…::X as core::…>`: an impl's path starts after `_$LT$`.
        let first = first.strip_prefix("_$LT$").unwrap_or(first);
        let krate = first.split("..").next().unwrap_or(first);
        return CRATES.contains(&krate);
    }
    if name.starts_with("_R") {
        // rustc's own shims live in a crate named `__rustc` (`7___rustc` in v0).
        return name.contains("___rustc")
            || CRATES
                .iter()
                .any(|c| name.contains(&format!("{}{c}", c.len())));
    }
    name.starts_with("__rust")
        || name.starts_with("__rdl")
        || name.starts_with("__rg_")
        || name == "rust_eh_personality"
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
            own_functions,
            ..
        }) if *s >= 0.6 => (
            Unwinding::FramePointer,
            format!(
                "{:.0}% of its {}functions keep frame pointers",
                s * 100.0,
                if *own_functions { "own " } else { "" }
            ),
        ),
        Some(BinaryFacts {
            frame_pointer_share: Some(s),
            own_functions,
            ..
        }) => (
            Unwinding::Dwarf,
            format!(
                "only {:.0}% of its {}functions keep frame pointers",
                s * 100.0,
                if *own_functions { "own " } else { "" }
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
    #[test]
    fn rust_library_functions_are_told_from_the_programs_own() {
        for lib in [
            "_ZN3std2rt10lang_start17h0123456789abcdefE",
            "_ZN4core3fmt5write17h0123456789abcdefE",
            "_ZN60_$LT$alloc..string..String$u20$as$u20$core..fmt..Display$GT$3fmt17h01E",
            "_RNvMNtCsgEmfK2I1SDS_4core3stre4trim",
            "_RNvCsfLfy6EI15iL_7___rustc12___rust_alloc",
            "__rust_alloc",
        ] {
            assert!(is_rust_library(lib), "{lib}");
        }
        for own in [
            "_ZN3hot8checksum17h3508cb5df1602891E",
            "main",
            "parse_line",
            "_ZN5myapp4main17h01E",
        ] {
            assert!(!is_rust_library(own), "{own}");
        }
    }

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
