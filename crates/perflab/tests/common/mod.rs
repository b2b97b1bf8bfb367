//! Shared set-up for CLI tests: every test gets its own directory with its own history, so
//! tests never see each other's runs and never touch the repository's `.perflab/`.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub struct Lab {
    pub dir: tempfile::TempDir,
}

impl Lab {
    pub fn new() -> Lab {
        Lab {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    /// `perflab` with this lab's history and no config unless one is written.
    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("perflab").expect("binary");
        c.current_dir(self.dir.path())
            .env("PERFLAB_STORE", self.path("history.db"))
            .env_remove("PERFLAB_CONFIG")
            .env("NO_COLOR", "1");
        c
    }
}

pub fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .display()
        .to_string()
}

pub fn json(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out).expect("stdout is JSON")
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Whether `tool` runs (`go version`, `hyperfine --version`).
pub fn have(tool: &str) -> bool {
    let arg = if tool == "go" { "version" } else { "--version" };
    std::process::Command::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Say loudly that a test cannot run here, and return. CI (`.ci/run`) lists the tools it
/// installed in `PERFLAB_REQUIRE_TOOLS`; a skip for one of those is a failure, not a pass.
pub fn skip(tool: &str, why: &str) {
    let required = std::env::var("PERFLAB_REQUIRE_TOOLS").unwrap_or_default();
    if required.split([' ', ',']).any(|t| t == tool) {
        panic!("{tool} is required here (PERFLAB_REQUIRE_TOOLS) but {why}");
    }
    eprintln!("SKIPPED (not a pass): {tool}: {why}");
}

/// Build the Go test server (`tests/data/goserver`: /work, /metrics, net/http/pprof) into the
/// lab; the Go build cache is shared between tests.
pub fn build_go_server(lab: &Lab) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/goserver");
    let bin = lab.path("goserver");
    let built = std::process::Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&src)
        .env("GOFLAGS", "-mod=mod")
        .env("GOCACHE", std::env::temp_dir().join("perflab-test-gocache"))
        .output()
        .expect("go runs");
    assert!(built.status.success(), "{}", stderr(&built));
    bin
}
