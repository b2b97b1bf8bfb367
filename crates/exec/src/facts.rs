//! Facts about where a run happens: the repository root, its git state, and the host.

use std::path::{Path, PathBuf};
use std::process::Command;

use perflab_model::{GitInfo, HostInfo};

/// The repository root, or the current directory outside a repository.
pub fn project_root() -> PathBuf {
    git(&["rev-parse", "--show-toplevel"])
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."))
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// The git state of the working tree, when inside a repository with a commit.
pub fn git_info() -> Option<GitInfo> {
    let commit = git(&["rev-parse", "HEAD"])?;
    let branch = git(&["rev-parse", "--abbrev-ref", "HEAD"]).filter(|b| b != "HEAD");
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    Some(GitInfo {
        commit,
        branch,
        dirty,
    })
}

/// Facts about this machine.
pub fn host_info() -> HostInfo {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let hostname = read("/proc/sys/kernel/hostname")
        .or_else(|| read("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let cpu = read("/proc/cpuinfo").and_then(|c| {
        c.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    });
    let memory_bytes = read("/proc/meminfo").and_then(|m| {
        m.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    HostInfo {
        hostname,
        os: std::env::consts::OS.into(),
        arch: std::env::consts::ARCH.into(),
        cpu,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_bytes,
    }
}

/// `ROOT/.perflab`, perflab's local data (the history, the worktrees of `compare A..B`), with a
/// `.gitignore` of its own (`*`), as `.pytest_cache` has: it never shows in `git status` nor
/// lands in a commit by `git add -A`. Best effort: a directory that cannot be written fails
/// later, where the store or the worktree says why.
pub fn local_dir(root: &Path) -> PathBuf {
    let dir = root.join(".perflab");
    let ignore = dir.join(".gitignore");
    if !ignore.exists() && std::fs::create_dir_all(&dir).is_ok() {
        let tmp = dir.join(format!(".gitignore.{}.tmp", std::process::id()));
        let text = "# Written by perflab: its history and worktrees are local data.\n*\n";
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, &ignore);
        }
        let _ = std::fs::remove_file(&tmp);
    }
    dir
}
