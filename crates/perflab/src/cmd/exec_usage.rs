//! `perflab exec-usage --report FILE -- CMD`: the profiler's wrapper. perf runs this, and this
//! runs the command, so the rusage written is the command's own, never perf's.

use anyhow::{Context as _, Result};
use perflab_profile::record::Usage;

use crate::cli::ExecUsageArgs;
use crate::{output, Outcome};

pub(crate) fn run(args: ExecUsageArgs) -> Result<Outcome> {
    let timeout = args
        .timeout
        .filter(|t| t.is_finite() && *t > 0.0)
        .map(std::time::Duration::from_secs_f64);
    let (m, timed_out) = perflab_exec::run_argv(&args.command, timeout)?;
    // The child started as a copy of this process, so the kernel charged it with our memory
    // until it exec'd. Our peak so far bounds that charge (the peak only grows).
    let floor = own_peak_rss().unwrap_or(0);
    let usage = Usage {
        wall_s: m.wall.as_secs_f64(),
        user_s: m.user.as_secs_f64(),
        sys_s: m.sys.as_secs_f64(),
        max_rss_bytes: m.max_rss_bytes,
        exit_code: m.exit_code,
        signal: m.signal,
        timed_out,
        wrapper_pid: Some(std::process::id()),
        rss_floor_bytes: floor,
    };
    let json = serde_json::to_string(&usage).context("usage report")?;
    output::write_atomic(&args.report, json.as_bytes())?;
    // Pass the command's status on, as a shell would.
    let code = match (m.exit_code, m.signal) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        (None, None) => 1,
    };
    if code != 0 {
        std::process::exit(code);
    }
    Ok(Outcome::Ok)
}

/// This process's peak RSS so far (`VmHWM`), in bytes.
fn own_peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}
