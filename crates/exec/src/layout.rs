//! The address-space layout of a profiled command, arranged so that perf's DWARF unwinder
//! finds the command's libraries.
//!
//! perf (6.1 at least, with libunwind) locates a library's `.eh_frame_hdr` from the *lowest*
//! mapping of that library in the thread, and it keeps the mappings a process had before
//! `exec`. The usage wrapper runs under perf and then starts the command, so perf also sees
//! the wrapper's libc, ld.so and libgcc_s in the command's process. When those lie below the
//! command's own copies (half the time, by ASLR's draw), every frame inside them loses its
//! callers: 40–60% of a malloc-heavy program's stacks. Plain `perf record -- CMD` never hits
//! this, because perf's own child maps nothing before its `exec`.
//!
//! The cure: perf and the wrapper start with randomization off, so the wrapper's libraries sit
//! at the top of the address space, above wherever the command's land; the wrapper turns
//! randomization back on before it starts the command, so the command's layout is as usual.

use std::process::Command;

/// True when this process runs with address-space randomization (the usual case), so that
/// [`fixed_for_children`] changes something and the wrapper must turn it back on.
pub fn randomized() -> bool {
    current().is_some_and(|p| p & libc::ADDR_NO_RANDOMIZE == 0)
}

/// Start `cmd` with randomization off. If the kernel or a sandbox refuses, `cmd` still runs,
/// with the usual layout.
pub fn fixed_for_children(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: runs in the forked child before exec and calls only personality(2), which is
    // async-signal-safe.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(|| {
            let p = libc::personality(0xffff_ffff);
            if p >= 0 {
                libc::personality((p | libc::ADDR_NO_RANDOMIZE) as libc::c_ulong);
            }
            Ok(())
        });
    }
    cmd
}

/// Turn randomization back on for the programs this process starts from now on.
pub fn randomize_children() {
    if let Some(p) = current() {
        if p & libc::ADDR_NO_RANDOMIZE != 0 {
            // SAFETY: personality(2) only changes this process's execution domain flags.
            #[allow(unsafe_code)]
            unsafe {
                libc::personality((p & !libc::ADDR_NO_RANDOMIZE) as libc::c_ulong);
            }
        }
    }
}

fn current() -> Option<i32> {
    // SAFETY: 0xffffffff queries the persona without changing it.
    #[allow(unsafe_code)]
    let p = unsafe { libc::personality(0xffff_ffff) };
    (p >= 0).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The child reads its own flags from /proc: randomization off under `fixed_for_children`,
    /// and back on in what a child that called `randomize_children` starts.
    #[test]
    fn children_start_with_the_layout_fixed() {
        let persona = |cmd: &mut Command| -> String {
            let out = cmd.output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        if !randomized() {
            eprintln!("SKIP: this test already runs without address randomization");
            return;
        }
        let mut cmd = Command::new("cat");
        cmd.arg("/proc/self/personality");
        let plain = u32::from_str_radix(&persona(&mut cmd), 16).unwrap();
        assert_eq!(plain & libc::ADDR_NO_RANDOMIZE as u32, 0);
        let mut cmd = Command::new("cat");
        cmd.arg("/proc/self/personality");
        let fixed = u32::from_str_radix(&persona(fixed_for_children(&mut cmd)), 16).unwrap();
        assert_ne!(fixed & libc::ADDR_NO_RANDOMIZE as u32, 0);
    }
}
