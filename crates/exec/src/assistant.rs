//! The `/benchmark` assistant's knowledge of a project: which ecosystem it is, what it calls a
//! package, which benchmarks it has, and how to turn a scope the user names (a package, a
//! function, an endpoint) into the harness commands the instruments run. Files are read, nothing
//! is run here: the binary runs the plans.
//!
//! One [`Ecosystem`] per language keeps the language-specific part behind one interface:
//! [`Go`] (`go test -bench`, pprof profiles from the test binary), [`Cargo`] (`cargo bench`,
//! criterion or libtest) and [`Pytest`] (pytest-benchmark).
//!
//! ```
//! use perflab_exec::assistant::{Scope, Depth};
//! assert_eq!(Scope::classify("/api/v1/faces/search"), Scope::Endpoint("/api/v1/faces/search".into()));
//! assert_eq!(Depth::parse("deep"), Some(Depth::Deep));
//! ```

use std::path::{Path, PathBuf};

/// What the user named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The whole project.
    Project,
    /// A package (Go package or pattern, workspace crate, Python module or directory), as the
    /// ecosystem names it (`./internal/service`, `./...`, `parser`, `tests/bench_x.py`).
    Package(String),
    /// A benchmark name or pattern, in the whole project or in one package.
    Function {
        /// The name or pattern (`FaceSearch`).
        pattern: String,
        /// Restricted to this package.
        package: Option<String>,
    },
    /// An HTTP path (`/api/v1/search`), joined to the base URL.
    Endpoint(String),
}

impl Scope {
    /// The scope's kind as the interactive mode asks for it: `project`, `package`,
    /// `function`, `endpoint`.
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::Project => "project",
            Scope::Package(_) => "package",
            Scope::Function { .. } => "function",
            Scope::Endpoint(_) => "endpoint",
        }
    }

    /// A first look without the project: a path that starts with `/` is an endpoint, anything
    /// else a function until [`Project::scope`] finds it is a package.
    pub fn classify(text: &str) -> Scope {
        if text.starts_with('/') {
            Scope::Endpoint(text.to_string())
        } else if text.is_empty() {
            Scope::Project
        } else {
            Scope::Function {
                pattern: text.to_string(),
                package: None,
            }
        }
    }

    /// How the scope reads in a report header (`package ./internal/service`).
    pub fn describe(&self) -> String {
        match self {
            Scope::Project => "the whole project".into(),
            Scope::Package(p) => format!("package {p}"),
            Scope::Function {
                pattern,
                package: None,
            } => format!("benchmarks matching {pattern:?}"),
            Scope::Function {
                pattern,
                package: Some(p),
            } => format!("benchmarks matching {pattern:?} in {p}"),
            Scope::Endpoint(p) => format!("endpoint {p}"),
        }
    }
}

/// How hard to look: samples and durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Depth {
    /// One count, short runs: a first look in seconds.
    Quick,
    /// Five counts (enough for the gate's test), the default.
    #[default]
    Standard,
    /// Ten counts and longer runs.
    Deep,
}

impl Depth {
    /// `quick`, `standard`, `deep`.
    pub fn parse(s: &str) -> Option<Depth> {
        match s {
            "quick" => Some(Depth::Quick),
            "standard" => Some(Depth::Standard),
            "deep" => Some(Depth::Deep),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Depth::Quick => "quick",
            Depth::Standard => "standard",
            Depth::Deep => "deep",
        }
    }

    /// Repetitions of each benchmark (Go's `-count`).
    pub fn count(self) -> u32 {
        match self {
            Depth::Quick => 1,
            Depth::Standard => 5,
            Depth::Deep => 10,
        }
    }

    /// A load test's duration and warm-up, in seconds.
    pub fn load_seconds(self) -> (u64, u64) {
        match self {
            Depth::Quick => (5, 1),
            Depth::Standard => (30, 5),
            Depth::Deep => (120, 10),
        }
    }
}

/// A benchmark found in the sources.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BenchmarkRef {
    /// The package it is in, as the ecosystem names packages.
    pub package: String,
    /// Its name as the harness reports it (`BenchmarkFaceSearch`, `parse/small`, `test_parse`).
    pub name: String,
}

/// A harness run the assistant plans: the command, where it runs, and for a profile, the
/// profile files the harness writes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarnessPlan {
    /// The command line.
    pub argv: Vec<String>,
    /// The package it covers (for a report's headings).
    pub package: String,
    /// Profiles the harness writes: (kind, path), kind one of `cpu`, `alloc`, `block`,
    /// `mutex`. Empty when the instruments must profile the command from outside.
    pub profiles: Vec<(String, PathBuf)>,
    /// Environment for the command (`GODEBUG=gctrace=1`).
    pub env: Vec<(String, String)>,
    /// A build to run first, unprofiled, so a profile from outside shows the benchmarks and
    /// not the compiler (`cargo bench --no-run`, `go test -c`).
    pub build: Option<Vec<String>>,
    /// The directory the command runs in (a Go test binary runs in its package's), None for
    /// the project root.
    pub cwd: Option<PathBuf>,
}

/// What one language's tooling needs to know.
pub trait Ecosystem: std::fmt::Debug + Send + Sync {
    /// `Go`, `Rust`, `Python`.
    fn name(&self) -> &'static str;
    /// Every benchmark in the sources.
    fn benchmarks(&self, root: &Path) -> Vec<BenchmarkRef>;
    /// `text` as one of this ecosystem's packages (a directory, a file's package, a pattern, a
    /// crate name), or None when it names none.
    fn package(&self, root: &Path, text: &str) -> Option<String>;
    /// The command that runs the benchmarks of `scope` (never an endpoint).
    fn bench(&self, root: &Path, scope: &Scope, depth: Depth) -> Vec<String>;
    /// The runs that profile the benchmarks of `scope`, writing into `dir`. Ecosystems whose
    /// harness writes profiles (Go) say where; others leave `profiles` empty and the command
    /// is profiled from outside (perf). `contention` adds block and mutex profiles where the
    /// harness has them (they slow blocking code down, so a scan leaves them out).
    fn profile(
        &self,
        root: &Path,
        scope: &Scope,
        depth: Depth,
        dir: &Path,
        contention: bool,
    ) -> Vec<HarnessPlan>;
}

/// A project the assistant works in.
#[derive(Debug)]
pub struct Project {
    /// Its root directory.
    pub root: PathBuf,
    /// Its ecosystem.
    pub ecosystem: Box<dyn Ecosystem>,
}

impl Project {
    /// The project at `root`: Go (go.mod), Rust (Cargo.toml), Python (pytest-benchmark), in
    /// that order, or None.
    pub fn detect(root: &Path) -> Option<Project> {
        let ecosystem: Box<dyn Ecosystem> = if root.join("go.mod").is_file() {
            Box::new(Go)
        } else if root.join("Cargo.toml").is_file() {
            Box::new(Cargo)
        } else if python_project(root) {
            Box::new(Pytest)
        } else {
            return None;
        };
        Some(Project {
            root: root.to_path_buf(),
            ecosystem,
        })
    }

    /// What `text` names here: an endpoint (`/…`), a package (a directory, a source file, a
    /// pattern or a crate), else a benchmark name or pattern. `PACKAGE:PATTERN` names
    /// benchmarks in one package.
    pub fn scope(&self, text: &str) -> Scope {
        match Scope::classify(text) {
            Scope::Function { pattern, .. } => {
                if let Some(p) = self.ecosystem.package(&self.root, &pattern) {
                    return Scope::Package(p);
                }
                if let Some((pkg, pat)) = pattern.rsplit_once(':') {
                    if let Some(p) = self.ecosystem.package(&self.root, pkg) {
                        return Scope::Function {
                            pattern: pat.to_string(),
                            package: Some(p),
                        };
                    }
                }
                Scope::Function {
                    pattern,
                    package: None,
                }
            }
            other => other,
        }
    }

    /// The benchmarks in `scope` (by package; a function scope by a substring or regex-like
    /// match of the name, as the harnesses match).
    pub fn benchmarks_in(&self, scope: &Scope) -> Vec<BenchmarkRef> {
        let all = self.ecosystem.benchmarks(&self.root);
        all.into_iter()
            .filter(|b| match scope {
                Scope::Project | Scope::Endpoint(_) => true,
                Scope::Package(p) => package_contains(p, &b.package),
                Scope::Function { pattern, package } => {
                    package
                        .as_ref()
                        .is_none_or(|p| package_contains(p, &b.package))
                        && name_matches(pattern, &b.name)
                }
            })
            .collect()
    }

    /// The packages that have benchmarks.
    pub fn packages(&self) -> Vec<String> {
        let mut p: Vec<String> = (self.ecosystem.benchmarks(&self.root).into_iter())
            .map(|b| b.package)
            .collect();
        p.sort();
        p.dedup();
        p
    }
}

/// Does package pattern `scope` (`./...`, `./internal/...`, `./x`, a crate) hold `package`?
fn package_contains(scope: &str, package: &str) -> bool {
    if scope == package || scope == "./..." {
        return true;
    }
    match scope.strip_suffix("/...") {
        Some(prefix) => package == prefix || package.starts_with(&format!("{prefix}/")),
        None => false,
    }
}

/// A harness-style match: the pattern is found in the name (Go and criterion match a regex
/// or substring; pytest's -k a substring). Regex metacharacters beyond `^` and `$` are taken
/// as a match of everything, so that the harness decides.
fn name_matches(pattern: &str, name: &str) -> bool {
    if pattern.chars().any(|c| "[](){}*+?|\\.".contains(c)) {
        return true;
    }
    let anchored_start = pattern.starts_with('^');
    let anchored_end = pattern.ends_with('$');
    let core = pattern.trim_start_matches('^').trim_end_matches('$');
    let bare = name.strip_prefix("Benchmark").unwrap_or(name);
    [name, bare]
        .into_iter()
        .any(|n| match (anchored_start, anchored_end) {
            (true, true) => n == core,
            (true, false) => n.starts_with(core),
            (false, true) => n.ends_with(core),
            (false, false) => n.contains(core),
        })
}

/// Source files under `root`, depth-limited, skipping VCS, vendored and build directories.
fn sources(root: &Path, suffix: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: usize, suffix: &str, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                let skip = name.starts_with('.')
                    || matches!(
                        name.as_str(),
                        "vendor" | "node_modules" | "target" | "venv" | "__pycache__" | "testdata"
                    );
                if !skip && depth > 0 && out.len() < 20_000 {
                    walk(&e.path(), depth - 1, suffix, out);
                }
            } else if kind.is_file() && name.ends_with(suffix) {
                out.push(e.path());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, 8, suffix, &mut out);
    out
}

fn read_small(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(m) if m.len() <= 4 << 20 => std::fs::read_to_string(path).unwrap_or_default(),
        _ => String::new(),
    }
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Identifiers that follow `prefix` in `text` up to `(`: `func BenchmarkX(` → `BenchmarkX`.
fn declared(text: &str, prefix: &str, keep_prefix: bool) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix(prefix) else {
            continue;
        };
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if rest[ident.len()..].trim_start().starts_with('(') {
            out.push(if keep_prefix {
                format!("{}{ident}", prefix.rsplit(' ').next().unwrap_or(""))
            } else {
                ident
            });
        }
    }
    out
}

/// Go modules: a package is a directory (`./internal/service`) or a pattern (`./...`).
#[derive(Debug, Clone, Copy)]
pub struct Go;

impl Go {
    fn dir_package(root: &Path, dir: &Path) -> String {
        let rel = relative(root, dir);
        if rel.is_empty() {
            ".".into()
        } else {
            format!("./{rel}")
        }
    }

    fn packages_in(root: &Path, scope: &Scope) -> Vec<String> {
        let mut pkgs: Vec<String> = Go
            .benchmarks(root)
            .into_iter()
            .filter(|b| match scope {
                Scope::Package(p) => package_contains(p, &b.package),
                Scope::Function {
                    pattern,
                    package: pkg,
                } => {
                    pkg.as_ref().is_none_or(|p| package_contains(p, &b.package))
                        && name_matches(pattern, &b.name)
                }
                _ => true,
            })
            .map(|b| b.package)
            .collect();
        pkgs.sort();
        pkgs.dedup();
        pkgs
    }

    fn pattern(scope: &Scope) -> String {
        match scope {
            Scope::Function { pattern, .. } => pattern.clone(),
            _ => ".".into(),
        }
    }
}

impl Ecosystem for Go {
    fn name(&self) -> &'static str {
        "Go"
    }

    fn benchmarks(&self, root: &Path) -> Vec<BenchmarkRef> {
        let mut out = Vec::new();
        // A directory with a go.mod of its own is another module: `./...` does not reach it
        // (cespare/xxhash keeps its benchmark driver in one), nor does a package path.
        let own_module = |f: &Path| {
            f.ancestors()
                .skip(1)
                .take_while(|d| *d != root)
                .all(|d| !d.join("go.mod").is_file())
        };
        for f in sources(root, "_test.go")
            .into_iter()
            .filter(|f| own_module(f))
        {
            let text = read_small(&f);
            let dir = f.parent().unwrap_or(root);
            for name in declared(&text, "func Benchmark", true) {
                out.push(BenchmarkRef {
                    package: Go::dir_package(root, dir),
                    name,
                });
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn package(&self, root: &Path, text: &str) -> Option<String> {
        if text == "./..." || text == "..." {
            return Some("./...".into());
        }
        if let Some(prefix) = text.strip_suffix("/...") {
            let dir = root.join(prefix.trim_start_matches("./"));
            return dir
                .is_dir()
                .then(|| format!("{}/...", Go::dir_package(root, &dir)));
        }
        let path = root.join(text.trim_start_matches("./"));
        let dir = if path.is_file() && text.ends_with(".go") {
            path.parent()?.to_path_buf()
        } else if path.is_dir() || text == "." {
            path
        } else {
            return None;
        };
        let has_go = std::fs::read_dir(&dir)
            .ok()?
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".go"));
        has_go.then(|| Go::dir_package(root, &dir))
    }

    fn bench(&self, root: &Path, scope: &Scope, depth: Depth) -> Vec<String> {
        let pkgs = match scope {
            Scope::Package(p) => vec![p.clone()],
            Scope::Function {
                package: Some(p), ..
            } => vec![p.clone()],
            // Only the packages whose benchmarks match: go test builds every package it names.
            Scope::Function { .. } => {
                let p = Go::packages_in(root, scope);
                if p.is_empty() {
                    vec!["./...".into()]
                } else {
                    p
                }
            }
            _ => vec!["./...".into()],
        };
        let mut argv: Vec<String> = ["go", "test", "-run", "^$", "-bench"]
            .map(String::from)
            .to_vec();
        argv.push(Go::pattern(scope));
        argv.push("-benchmem".into());
        argv.push("-count".into());
        argv.push(depth.count().to_string());
        if depth == Depth::Quick {
            argv.push("-benchtime".into());
            argv.push("200ms".into());
        }
        argv.extend(pkgs);
        argv
    }

    fn profile(
        &self,
        root: &Path,
        scope: &Scope,
        depth: Depth,
        dir: &Path,
        contention: bool,
    ) -> Vec<HarnessPlan> {
        // One test binary per package, built first and run directly in its package's directory
        // (as go test runs it): go test would merge the binary's stderr, where GODEBUG's gctrace
        // goes, into the benchmark lines on stdout.
        Go::packages_in(root, scope)
            .into_iter()
            .enumerate()
            .map(|(i, pkg)| {
                let at = |kind: &str| dir.join(format!("{i}-{kind}.pprof"));
                let kinds: &[&str] = if contention {
                    &["cpu", "alloc", "block", "mutex"]
                } else {
                    &["cpu", "alloc"]
                };
                let profiles: Vec<(String, PathBuf)> =
                    kinds.iter().map(|k| (k.to_string(), at(k))).collect();
                let binary = dir.join(format!("{i}.test"));
                let build = ["go", "test", "-c", "-o"]
                    .map(String::from)
                    .into_iter()
                    .chain([binary.display().to_string(), pkg.clone()])
                    .collect();
                let mut argv = vec![
                    binary.display().to_string(),
                    "-test.run".into(),
                    "^$".into(),
                    "-test.bench".into(),
                    Go::pattern(scope),
                    "-test.benchmem".into(),
                    "-test.count".into(),
                    "1".into(),
                    "-test.benchtime".into(),
                    match depth {
                        Depth::Quick => "200ms",
                        Depth::Standard => "1s",
                        Depth::Deep => "3s",
                    }
                    .into(),
                ];
                for (kind, flag) in [
                    ("cpu", "-test.cpuprofile"),
                    ("alloc", "-test.memprofile"),
                    ("block", "-test.blockprofile"),
                    ("mutex", "-test.mutexprofile"),
                ] {
                    if kinds.contains(&kind) {
                        argv.push(flag.into());
                        argv.push(at(kind).display().to_string());
                    }
                }
                // Go's default allocation sampling (one per 512 KiB, scaled up by pprof): a
                // rate of 1 would walk a stack per allocation and fill the CPU profile with
                // the profiler's own traceback.
                let cwd = root.join(pkg.trim_start_matches("./"));
                HarnessPlan {
                    argv,
                    package: pkg,
                    profiles,
                    env: vec![("GODEBUG".into(), "gctrace=1".into())],
                    build: Some(build),
                    cwd: Some(cwd),
                }
            })
            .collect()
    }
}

/// Cargo projects: a package is a workspace crate (its name or directory).
#[derive(Debug, Clone, Copy)]
pub struct Cargo;

impl Cargo {
    /// (crate name, crate directory) of every crate with benchmarks.
    fn crates(root: &Path) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        for manifest in sources(root, "Cargo.toml") {
            let text = read_small(&manifest);
            let Some(name) = package_name(&text) else {
                continue;
            };
            let dir = manifest.parent().unwrap_or(root).to_path_buf();
            if text.contains("[[bench]]") || dir.join("benches").is_dir() {
                out.push((name, dir));
            }
        }
        out
    }
}

/// `name = "…"` in a manifest's `[package]` table.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if in_package {
            if let Some(v) = line.strip_prefix("name") {
                let v = v.trim_start().strip_prefix('=')?.trim();
                return Some(v.trim_matches('"').to_string());
            }
        }
    }
    None
}

impl Ecosystem for Cargo {
    fn name(&self) -> &'static str {
        "Rust"
    }

    fn benchmarks(&self, root: &Path) -> Vec<BenchmarkRef> {
        let mut out = Vec::new();
        for (name, dir) in Cargo::crates(root) {
            for f in sources(&dir.join("benches"), ".rs") {
                let text = read_small(&f);
                // criterion: bench_function("name", …); libtest: #[bench] fn name(
                for (i, _) in text.match_indices("bench_function(") {
                    let rest = &text[i + "bench_function(".len()..];
                    if let Some(s) = rest.trim_start().strip_prefix('"') {
                        if let Some(end) = s.find('"') {
                            out.push(BenchmarkRef {
                                package: name.clone(),
                                name: s[..end].to_string(),
                            });
                        }
                    }
                }
                let mut after_attr = false;
                for line in text.lines() {
                    let l = line.trim();
                    if l == "#[bench]" {
                        after_attr = true;
                    } else if after_attr {
                        if let Some(f) = declared(l, "fn ", false).into_iter().next() {
                            out.push(BenchmarkRef {
                                package: name.clone(),
                                name: f,
                            });
                        }
                        after_attr = false;
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn package(&self, root: &Path, text: &str) -> Option<String> {
        let path = root.join(text.trim_start_matches("./"));
        Cargo::crates(root)
            .into_iter()
            .find(|(name, dir)| {
                name == text
                    || (path.exists()
                        && path
                            .canonicalize()
                            .ok()
                            .zip(dir.canonicalize().ok())
                            .is_some_and(|(p, d)| p.starts_with(d)))
            })
            .map(|(name, _)| name)
    }

    fn bench(&self, root: &Path, scope: &Scope, depth: Depth) -> Vec<String> {
        let mut argv: Vec<String> = vec!["cargo".into(), "bench".into()];
        let package = match scope {
            Scope::Package(p) => Some(p),
            Scope::Function { package, .. } => package.as_ref(),
            _ => None,
        };
        if let Some(p) = package {
            argv.push("-p".into());
            argv.push(p.clone());
        }
        argv.push("--".into());
        if let Scope::Function { pattern, .. } = scope {
            argv.push(pattern.clone());
        }
        let criterion = sources(root, "Cargo.toml")
            .iter()
            .any(|m| read_small(m).contains("criterion"));
        if depth == Depth::Quick && criterion {
            // criterion's own short run, for the bench targets only: the library's libtest
            // harness, which `cargo bench` also runs, refuses criterion's flags.
            let cut = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
            argv.splice(cut..cut, ["--bench".to_string(), "*".to_string()]);
            argv.extend(["--warm-up-time", "1", "--measurement-time", "2"].map(String::from));
        }
        argv
    }

    fn profile(
        &self,
        root: &Path,
        scope: &Scope,
        depth: Depth,
        _dir: &Path,
        _contention: bool,
    ) -> Vec<HarnessPlan> {
        let argv = self.bench(root, scope, depth);
        let cut = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
        let mut build = argv[..cut].to_vec();
        build.push("--no-run".into());
        vec![HarnessPlan {
            argv,
            package: match scope {
                Scope::Package(p) => p.clone(),
                _ => "workspace".into(),
            },
            profiles: Vec::new(),
            env: Vec::new(),
            build: Some(build),
            cwd: None,
        }]
    }
}

/// Python projects with pytest-benchmark: a package is a module file or a directory.
#[derive(Debug, Clone, Copy)]
pub struct Pytest;

/// A Python project (a manifest or pytest configuration at its root) that declares
/// pytest-benchmark or has files using its fixture. A directory that merely holds Python
/// projects somewhere below it is not one.
fn python_project(root: &Path) -> bool {
    let markers = [
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "requirements.txt",
        "requirements-dev.txt",
        "tox.ini",
        "pytest.ini",
        "conftest.py",
    ];
    if !markers.iter().any(|m| root.join(m).is_file()) {
        return false;
    }
    markers
        .iter()
        .any(|m| read_small(&root.join(m)).contains("pytest-benchmark"))
        || !Pytest.benchmarks(root).is_empty()
}

impl Pytest {
    /// Files that use the benchmark fixture, wherever they are (bidict keeps them in
    /// `microbenchmarks.py`, outside pytest's default `test_*.py`).
    fn files(root: &Path) -> Vec<PathBuf> {
        sources(root, ".py")
            .into_iter()
            .filter(|f| {
                let t = read_small(f);
                t.contains("benchmark(") || t.contains("benchmark.pedantic(")
            })
            .collect()
    }

    /// What pytest needs to run the benchmarks whatever the project's addopts say: the
    /// benchmark plugin on (`-p no:benchmark` is common in addopts), no parallel workers
    /// (pytest-benchmark turns itself off under xdist), the files named.
    fn base() -> Vec<String> {
        [
            "python3",
            "-m",
            "pytest",
            "-o",
            "addopts=",
            "-p",
            "no:xdist",
            "-p",
            "no:cacheprovider",
            "--benchmark-only",
            "-q",
        ]
        .map(String::from)
        .to_vec()
    }
}

impl Ecosystem for Pytest {
    fn name(&self) -> &'static str {
        "Python"
    }

    fn benchmarks(&self, root: &Path) -> Vec<BenchmarkRef> {
        let mut out = Vec::new();
        for f in Pytest::files(root) {
            let text = read_small(&f);
            for name in declared(&text, "def ", false) {
                // Test functions that take the fixture.
                let uses = text.lines().any(|l| {
                    let l = l.trim_start();
                    l.starts_with(&format!("def {name}(")) && l.contains("benchmark")
                });
                if uses {
                    out.push(BenchmarkRef {
                        package: relative(root, &f),
                        name,
                    });
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn package(&self, root: &Path, text: &str) -> Option<String> {
        let path = root.join(text.trim_start_matches("./"));
        let module = root.join(format!("{}.py", text.replace('.', "/")));
        let path = if path.exists() { path } else { module };
        if !path.exists() {
            return None;
        }
        let files = Pytest::files(root);
        let canon = path.canonicalize().ok()?;
        files
            .iter()
            .any(|f| f.canonicalize().is_ok_and(|f| f.starts_with(&canon)))
            .then(|| relative(root, &path))
    }

    fn bench(&self, root: &Path, scope: &Scope, depth: Depth) -> Vec<String> {
        let mut argv = Pytest::base();
        if depth == Depth::Quick {
            argv.extend(
                ["--benchmark-max-time", "0.1", "--benchmark-min-rounds", "3"].map(String::from),
            );
        }
        match scope {
            Scope::Package(p) => argv.push(p.clone()),
            Scope::Function { pattern, package } => {
                argv.push("-k".into());
                argv.push(pattern.clone());
                match package {
                    Some(p) => argv.push(p.clone()),
                    None => argv.extend(Pytest::files(root).iter().map(|f| relative(root, f))),
                }
            }
            _ => argv.extend(Pytest::files(root).iter().map(|f| relative(root, f))),
        }
        argv
    }

    fn profile(
        &self,
        root: &Path,
        scope: &Scope,
        depth: Depth,
        _dir: &Path,
        _contention: bool,
    ) -> Vec<HarnessPlan> {
        vec![HarnessPlan {
            argv: self.bench(root, scope, depth),
            package: match scope {
                Scope::Package(p) => p.clone(),
                _ => "project".into(),
            },
            profiles: Vec::new(),
            env: Vec::new(),
            build: None,
            cwd: None,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn go_service() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        write(r, "go.mod", "module example.com/svc\n\ngo 1.19\n");
        write(r, "internal/service/face.go", "package service\n");
        write(
            r,
            "internal/service/face_test.go",
            "package service\nimport \"testing\"\nfunc BenchmarkFaceSearch(b *testing.B) {}\nfunc BenchmarkFaceIndex (b *testing.B) {}\nfunc TestX(t *testing.T) {}\n",
        );
        write(
            r,
            "internal/store/db_test.go",
            "package store\nimport \"testing\"\nfunc BenchmarkInsert(b *testing.B) {}\n",
        );
        write(r, "cmd/server/main.go", "package main\n");
        // A nested module is not one of this module's packages.
        write(r, "tools/go.mod", "module example.com/tools\n");
        write(
            r,
            "tools/x_test.go",
            "package tools\nimport \"testing\"\nfunc BenchmarkTool(b *testing.B) {}\n",
        );
        d
    }

    #[test]
    fn go_scopes_are_packages_files_patterns_or_benchmark_names() {
        let d = go_service();
        let p = Project::detect(d.path()).unwrap();
        assert_eq!(p.ecosystem.name(), "Go");
        assert_eq!(
            p.scope("internal/service/face.go"),
            Scope::Package("./internal/service".into())
        );
        assert_eq!(
            p.scope("./internal/store"),
            Scope::Package("./internal/store".into())
        );
        assert_eq!(
            p.scope("./internal/..."),
            Scope::Package("./internal/...".into())
        );
        assert_eq!(p.scope("./..."), Scope::Package("./...".into()));
        assert_eq!(
            p.scope("FaceSearch"),
            Scope::Function {
                pattern: "FaceSearch".into(),
                package: None
            }
        );
        assert_eq!(
            p.scope("./internal/store:Insert"),
            Scope::Function {
                pattern: "Insert".into(),
                package: Some("./internal/store".into())
            }
        );
        assert_eq!(
            p.scope("/api/v1/faces"),
            Scope::Endpoint("/api/v1/faces".into())
        );
        let names: Vec<String> = p
            .benchmarks_in(&p.scope("Face"))
            .into_iter()
            .map(|b| b.name)
            .collect();
        assert_eq!(names, ["BenchmarkFaceIndex", "BenchmarkFaceSearch"]);
        assert_eq!(p.packages(), ["./internal/service", "./internal/store"]);
    }

    #[test]
    fn go_commands_name_only_the_packages_that_match() {
        let d = go_service();
        let p = Project::detect(d.path()).unwrap();
        let argv = p
            .ecosystem
            .bench(d.path(), &p.scope("FaceSearch"), Depth::Standard);
        assert_eq!(
            argv.join(" "),
            "go test -run ^$ -bench FaceSearch -benchmem -count 5 ./internal/service"
        );
        let plans = p.ecosystem.profile(
            d.path(),
            &p.scope("./internal/..."),
            Depth::Quick,
            Path::new("/p"),
            false,
        );
        assert_eq!(plans.len(), 2, "one go test per package: {plans:?}");
        assert!(plans[0].argv.contains(&"-test.cpuprofile".to_string()));
        assert_eq!(plans[0].build.as_ref().unwrap()[..3], ["go", "test", "-c"]);
        assert_eq!(plans[0].profiles[0].0, "cpu");
    }

    #[test]
    fn cargo_crates_and_criterion_names() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        write(r, "Cargo.toml", "[workspace]\nmembers = [\"parser\"]\n");
        write(r, "parser/Cargo.toml", "[package]\nname = \"fastparse\"\n\n[dev-dependencies]\ncriterion = \"0.5\"\n\n[[bench]]\nname = \"parse\"\nharness = false\n");
        write(
            r,
            "parser/benches/parse.rs",
            "fn b(c: &mut Criterion) { c.bench_function(\"parse small\", |b| b.iter(|| 1)); }\n",
        );
        let p = Project::detect(r).unwrap();
        assert_eq!(p.scope("fastparse"), Scope::Package("fastparse".into()));
        assert_eq!(p.scope("parser"), Scope::Package("fastparse".into()));
        assert_eq!(p.benchmarks_in(&Scope::Project)[0].name, "parse small");
        assert_eq!(
            p.ecosystem
                .bench(r, &p.scope("parse"), Depth::Standard)
                .join(" "),
            "cargo bench -- parse"
        );
    }

    #[test]
    fn pytest_benchmarks_outside_test_files_and_options_that_disable_them() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        write(
            r,
            "pyproject.toml",
            "[tool.pytest.ini_options]\naddopts = \"-p no:benchmark --numprocesses=auto\"\n",
        );
        write(
            r,
            "tests/microbenchmarks.py",
            "def test_put(benchmark):\n    benchmark(lambda: 1)\n\ndef helper():\n    pass\n",
        );
        let p = Project::detect(r).unwrap();
        assert_eq!(p.ecosystem.name(), "Python");
        let b = p.benchmarks_in(&Scope::Project);
        assert_eq!(b.len(), 1);
        assert_eq!(
            (b[0].package.as_str(), b[0].name.as_str()),
            ("tests/microbenchmarks.py", "test_put")
        );
        assert_eq!(p.scope("tests"), Scope::Package("tests".into()));
        let argv = p
            .ecosystem
            .bench(r, &p.scope("put"), Depth::Standard)
            .join(" ");
        assert!(argv.contains("-o addopts= -p no:xdist"), "{argv}");
        assert!(argv.ends_with("-k put tests/microbenchmarks.py"), "{argv}");
    }

    #[test]
    fn a_directory_that_holds_projects_is_not_one() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "some/project/pyproject.toml",
            "[project]\nname = \"x\"\n",
        );
        write(
            d.path(),
            "some/project/bench_x.py",
            "def test_x(benchmark):\n    benchmark(len, [])\n",
        );
        assert!(Project::detect(d.path()).is_none());
        assert!(Project::detect(&d.path().join("some/project")).is_some());
    }

    #[test]
    fn names_match_as_the_harnesses_match() {
        assert!(name_matches("FaceSearch", "BenchmarkFaceSearch"));
        assert!(name_matches("^FaceSearch$", "BenchmarkFaceSearch"));
        assert!(!name_matches("^Face$", "BenchmarkFaceSearch"));
        assert!(name_matches("Search.*", "BenchmarkX"));
        assert!(package_contains("./internal/...", "./internal/service"));
        assert!(!package_contains("./internal/...", "./internals"));
    }
}
