//! Git revisions as checkouts to build and measure, without touching the user's own: each
//! commit gets a detached worktree under `.perflab/worktrees/`, named by its hash and reused
//! while it is intact, so a second comparison of the same commits rebuilds nothing. The user's
//! branch, index and files are never changed; `WORKTREE` names the user's checkout as it is,
//! uncommitted changes included.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::ExecError;

/// The name of the user's own checkout, uncommitted changes included, as a side of `A..B`.
pub const WORKTREE: &str = "WORKTREE";

/// A revision range as `compare` takes it: `A..B` (B against A) or `A...B` (B against the merge
/// base of A and B, what a pull request changes). An empty side is `HEAD`, as in git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevRange {
    /// The base revision.
    pub base: String,
    /// The current revision.
    pub current: String,
    /// `A...B`: compare with the merge base.
    pub merge_base: bool,
}

impl RevRange {
    /// Read `A..B` or `A...B`; None when `text` is not a range.
    pub fn parse(text: &str) -> Option<RevRange> {
        let (base, current, merge_base) = match text.split_once("...") {
            Some((a, b)) => (a, b, true),
            None => {
                let (a, b) = text.split_once("..")?;
                (a, b, false)
            }
        };
        // `a/../b` is a path, not a range.
        if base.ends_with('/') || current.starts_with('/') || current.contains("..") {
            return None;
        }
        let or_head = |s: &str| if s.is_empty() { "HEAD" } else { s }.to_string();
        Some(RevRange {
            base: or_head(base),
            current: or_head(current),
            merge_base,
        })
    }
}

/// A repository found from a directory.
#[derive(Debug, Clone)]
pub struct Repo {
    top: PathBuf,
    /// Where the user stands inside it, relative to the top.
    prefix: PathBuf,
}

/// `root` joined with `prefix`, without a trailing slash for the top itself.
fn within(root: &Path, prefix: &Path) -> PathBuf {
    if prefix.as_os_str().is_empty() {
        root.to_path_buf()
    } else {
        root.join(prefix)
    }
}

/// One side's checkout, built or ready to build.
#[derive(Debug, Clone)]
pub struct Checkout {
    /// What the user named.
    pub rev: String,
    /// The full commit hash (HEAD's for `WORKTREE`).
    pub commit: String,
    /// Its top directory.
    pub root: PathBuf,
    /// The directory to run the command in: the user's place in the repository.
    pub dir: PathBuf,
    /// The user's own checkout (`WORKTREE`), not a perflab worktree.
    pub own: bool,
    /// The user's checkout has uncommitted changes.
    pub dirty: bool,
    /// A worktree from an earlier comparison was reused.
    pub reused: bool,
}

impl Checkout {
    /// `main (1a2b3c4d)`: how output names the side.
    pub fn label(&self) -> String {
        let short: String = self.commit.chars().take(8).collect();
        match (self.own, self.dirty) {
            (true, true) => format!("{} ({short}+changes)", self.rev),
            _ => format!("{} ({short})", self.rev),
        }
    }

    /// Where a successful build of this checkout with some command is remembered: beside the
    /// worktree, so the build cannot delete it and a failed build leaves none.
    fn build_marker(&self) -> Option<PathBuf> {
        (!self.own).then(|| self.root.with_extension("built"))
    }

    /// Whether `command` already built this worktree.
    pub fn built_with(&self, command: &str) -> bool {
        self.build_marker()
            .and_then(|m| std::fs::read_to_string(m).ok())
            .is_some_and(|c| c == command)
    }

    /// Remember that `command` built this worktree.
    ///
    /// # Errors
    /// The marker cannot be written.
    pub fn mark_built(&self, command: &str) -> Result<(), ExecError> {
        match self.build_marker() {
            Some(m) => std::fs::write(&m, command).map_err(|e| ExecError::Git {
                message: format!("cannot write {}: {e}", m.display()),
            }),
            None => Ok(()),
        }
    }
}

fn run_git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(crate::tail(&err, 2))
    }
}

fn git_error(message: String) -> ExecError {
    ExecError::Git { message }
}

impl Repo {
    /// The repository `dir` is in.
    ///
    /// # Errors
    /// Outside a repository, or without git.
    pub fn discover(dir: &Path) -> Result<Repo, ExecError> {
        let top = run_git(dir, &["rev-parse", "--show-toplevel"]).map_err(|e| {
            git_error(format!(
                "{} is not in a git repository ({e}): comparing revisions needs one",
                dir.display()
            ))
        })?;
        let prefix = run_git(dir, &["rev-parse", "--show-prefix"]).unwrap_or_default();
        Ok(Repo {
            top: PathBuf::from(top),
            prefix: PathBuf::from(prefix),
        })
    }

    /// The repository's top directory.
    pub fn top(&self) -> &Path {
        &self.top
    }

    /// The full commit hash `rev` names.
    ///
    /// # Errors
    /// An unknown revision, named in the message.
    pub fn resolve(&self, rev: &str) -> Result<String, ExecError> {
        if rev.starts_with('-') {
            return Err(git_error(format!("unknown revision {rev:?}")));
        }
        run_git(
            &self.top,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{rev}^{{commit}}"),
            ],
        )
        .ok()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            let hint = if self.is_shallow() {
                " (this is a shallow clone: fetch more history, e.g. `git fetch --unshallow`)"
            } else {
                " (see `git log --oneline --all`)"
            };
            git_error(format!(
                "unknown revision {rev:?}: not a branch, tag or commit here{hint}"
            ))
        })
    }

    /// The merge base of two commits (`A...B`).
    ///
    /// # Errors
    /// None exists; in a shallow clone the message says to fetch more history.
    pub fn merge_base(&self, a: &str, b: &str) -> Result<String, ExecError> {
        run_git(&self.top, &["merge-base", a, b]).map_err(|_| {
            if self.is_shallow() {
                git_error(format!(
                    "no merge base of {a} and {b} in this shallow clone: fetch more history \
(`git fetch --unshallow`, or `fetch-depth: 0` in actions/checkout)"
                ))
            } else {
                git_error(format!("{a} and {b} have no common ancestor"))
            }
        })
    }

    /// The default branch: what `origin/HEAD` points at, else the first of `main`, `master`,
    /// `trunk` that exists here.
    pub fn default_branch(&self) -> Option<String> {
        if let Ok(r) = run_git(
            &self.top,
            &[
                "symbolic-ref",
                "--quiet",
                "--short",
                "refs/remotes/origin/HEAD",
            ],
        ) {
            if let Some(b) = r.strip_prefix("origin/").filter(|b| !b.is_empty()) {
                return Some(b.to_string());
            }
        }
        ["main", "master", "trunk"]
            .into_iter()
            .find(|b| self.is_branch(b))
            .map(str::to_string)
    }

    /// A shallow clone (CI checkouts often are).
    pub fn is_shallow(&self) -> bool {
        run_git(&self.top, &["rev-parse", "--is-shallow-repository"]).is_ok_and(|s| s == "true")
    }

    /// Whether `rev` is a local branch name.
    pub fn is_branch(&self, rev: &str) -> bool {
        run_git(
            &self.top,
            &[
                "show-ref",
                "--verify",
                "--quiet",
                &format!("refs/heads/{rev}"),
            ],
        )
        .is_ok()
    }

    /// The user's own checkout as a side (`WORKTREE`).
    ///
    /// # Errors
    /// The repository has no commit yet.
    pub fn work_tree(&self) -> Result<Checkout, ExecError> {
        let commit = self.resolve("HEAD")?;
        let dirty = run_git(
            &self.top,
            &["status", "--porcelain", "--untracked-files=no"],
        )
        .is_ok_and(|s| !s.is_empty());
        Ok(Checkout {
            rev: WORKTREE.into(),
            commit,
            root: self.top.clone(),
            dir: within(&self.top, &self.prefix),
            own: true,
            dirty,
            reused: true,
        })
    }

    /// A clean, detached checkout of `commit` under `.perflab/worktrees/`, reused when an
    /// earlier one is intact; a half-made or changed one is repaired first.
    ///
    /// # Errors
    /// git cannot add the worktree.
    pub fn checkout(&self, rev: &str, commit: &str) -> Result<Checkout, ExecError> {
        let base = crate::local_dir(&self.top).join("worktrees");
        std::fs::create_dir_all(&base)
            .map_err(|e| git_error(format!("cannot create {}: {e}", base.display())))?;
        // Keep the worktrees out of the user's `git status`.
        let ignore = base.join(".gitignore");
        if !ignore.exists() {
            let _ = std::fs::write(&ignore, "*\n");
        }
        let short: String = commit.chars().take(16).collect();
        let root = base.join(&short);
        let mut checkout = Checkout {
            rev: rev.into(),
            commit: commit.into(),
            dir: within(&root, &self.prefix),
            root: root.clone(),
            own: false,
            dirty: false,
            reused: false,
        };
        if root.exists() {
            let head = run_git(&root, &["rev-parse", "HEAD"]);
            let top = run_git(&root, &["rev-parse", "--show-toplevel"]);
            if head.as_deref() == Ok(commit) && top.is_ok_and(|t| Path::new(&t) == root) {
                let changed = run_git(&root, &["status", "--porcelain", "--untracked-files=no"])
                    .map_or(true, |s| !s.is_empty());
                if changed {
                    // Someone edited our worktree: put it back, and build again.
                    run_git(&root, &["reset", "--quiet", "--hard", commit])
                        .map_err(|e| git_error(format!("cannot reset {}: {e}", root.display())))?;
                    let _ = checkout.build_marker().map(std::fs::remove_file);
                }
                checkout.reused = true;
                return Ok(checkout);
            }
            // Left half-made (an interrupted add) or moved: start again.
            let _ = run_git(
                &self.top,
                &["worktree", "remove", "--force", &root.to_string_lossy()],
            );
            let _ = std::fs::remove_dir_all(&root);
        }
        let _ = checkout.build_marker().map(std::fs::remove_file);
        let _ = run_git(&self.top, &["worktree", "prune"]);
        run_git(
            &self.top,
            &[
                "worktree",
                "add",
                "--quiet",
                "--detach",
                &root.to_string_lossy(),
                commit,
            ],
        )
        .map_err(|e| git_error(format!("cannot check out {rev} in {}: {e}", root.display())))?;
        if root.join(".gitmodules").exists() {
            run_git(
                &root,
                &["submodule", "update", "--init", "--recursive", "--quiet"],
            )
            .map_err(|e| git_error(format!("submodules of {rev}: {e}")))?;
        }
        Ok(checkout)
    }
}

/// The two sides of a comparison of revisions, checked out and ready to build.
#[derive(Debug, Clone)]
pub struct Sides {
    /// A.
    pub base: Checkout,
    /// B.
    pub current: Checkout,
    /// B's branch name, when B names a local branch.
    pub branch: Option<String>,
}

/// Check out both sides of `range` (`A..B`, `A...B`, either may be `WORKTREE`); with `aa`
/// (no range), the checkout at `cwd` is both sides, inside a repository or not. Every
/// revision is resolved before any worktree is made, so a typo leaves nothing behind.
///
/// # Errors
/// No repository, an unknown revision, no merge base, a worktree git cannot add.
pub fn sides(cwd: &Path, range: Option<&RevRange>) -> Result<Sides, ExecError> {
    let Some(range) = range else {
        let side = match Repo::discover(cwd) {
            Ok(repo) => Checkout {
                dir: cwd.to_path_buf(),
                ..repo.work_tree()?
            },
            Err(_) => Checkout {
                rev: ".".into(),
                commit: String::new(),
                root: cwd.to_path_buf(),
                dir: cwd.to_path_buf(),
                own: true,
                dirty: false,
                reused: true,
            },
        };
        return Ok(Sides {
            base: side.clone(),
            current: side,
            branch: None,
        });
    };
    let repo = Repo::discover(cwd)?;
    let commit = |rev: &str| match rev {
        WORKTREE => repo.resolve("HEAD"),
        r => repo.resolve(r),
    };
    let current_commit = commit(&range.current)?;
    let mut base_commit = commit(&range.base)?;
    let mut base_rev = range.base.clone();
    if range.merge_base {
        base_commit = repo.merge_base(&base_commit, &current_commit)?;
        base_rev = format!("merge-base({}, {})", range.base, range.current);
    }
    let checkout = |rev: &str, commit: &str, own: bool| {
        if own {
            repo.work_tree()
        } else {
            repo.checkout(rev, commit)
        }
    };
    Ok(Sides {
        base: checkout(
            &base_rev,
            &base_commit,
            range.base == WORKTREE && !range.merge_base,
        )?,
        current: checkout(&range.current, &current_commit, range.current == WORKTREE)?,
        branch: repo
            .is_branch(&range.current)
            .then(|| range.current.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = RevRange::parse("main..feat/x").unwrap();
        assert_eq!(
            (r.base.as_str(), r.current.as_str(), r.merge_base),
            ("main", "feat/x", false)
        );
        let r = RevRange::parse("main...HEAD~3").unwrap();
        assert_eq!(
            (r.base.as_str(), r.current.as_str(), r.merge_base),
            ("main", "HEAD~3", true)
        );
        let r = RevRange::parse("..WORKTREE").unwrap();
        assert_eq!((r.base.as_str(), r.current.as_str()), ("HEAD", "WORKTREE"));
        assert_eq!(RevRange::parse("old.txt"), None);
        assert_eq!(RevRange::parse("../results/old.json"), None);
        assert_eq!(RevRange::parse("a/../b.json"), None);
    }
}
