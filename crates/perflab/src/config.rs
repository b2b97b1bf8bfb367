//! Finding and reading `perflab.toml`; what it says is parsed and validated by
//! `perflab_analysis::config`.

use std::path::Path;

use anyhow::{Context as _, Result};
pub(crate) use perflab_analysis::config::{parse_pct, Config};

/// Load `explicit`, or `perflab.toml` at `root` when it exists; no file gives the defaults.
pub(crate) fn load(explicit: Option<&Path>, root: &Path) -> Result<Config> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let p = root.join("perflab.toml");
            if !p.exists() {
                return Ok(Config::default());
            }
            p
        }
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    Ok(Config::parse(&text, &path)?)
}
