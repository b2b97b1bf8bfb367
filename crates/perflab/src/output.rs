//! Writing results without ever leaving half a file: write a temporary file beside the target,
//! flush it to disk, then rename it over the target (atomic on POSIX file systems).

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};

/// Write `bytes` to `path` atomically; `-` means stdout.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()?;
        return Ok(());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // A fresh, randomly named file created with O_EXCL beside the target: a planted symlink or
    // a file of the same name is never followed or overwritten, and the rename is atomic.
    let result = (|| -> std::io::Result<()> {
        let mut tmp = tempfile::Builder::new()
            .prefix(".perflab-")
            .suffix(".tmp")
            .tempfile_in(dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    })();
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// Render `document` as `format` and write it to `path` (plain, atomically) or, without one, to
/// stdout (coloured when stdout takes colour: see `term`).
pub(crate) fn emit(
    format: perflab_report::Format,
    document: &perflab_report::Document<'_>,
    path: Option<&Path>,
) -> Result<()> {
    match path {
        Some(path) => {
            let text = perflab_report::render(format, document)?;
            write_atomic(path, text.as_bytes())?;
            crate::term::detail!("wrote {}", path.display());
            Ok(())
        }
        None => print(&perflab_report::render_styled(
            format,
            document,
            crate::term::stdout_style(),
        )?),
    }
}

/// Print to stdout.
pub(crate) fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// In GitHub Actions (`GITHUB_ACTIONS=true`): print the workflow commands (annotations) on
/// stderr, which the runner reads as it does stdout, so stdout stays the document; and append
/// the Markdown to `$GITHUB_STEP_SUMMARY`.
pub(crate) fn github(
    markdown: impl FnOnce() -> Result<String, perflab_report::RenderError>,
    annotations: &str,
) -> Result<()> {
    if std::env::var("GITHUB_ACTIONS").as_deref() != Ok("true") {
        return Ok(());
    }
    eprint!("{annotations}");
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let text = format!("{}\n", markdown()?);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path);
        file.and_then(|mut f| f.write_all(text.as_bytes()))
            .context("cannot append to $GITHUB_STEP_SUMMARY")?;
    }
    Ok(())
}
