//! `perflab-testserver [--addr A] [--threads N] [--stall-every D --stall-for D] [--body-size B]
//! [--tls]`: the test server as a process, for `benches/load/compare.sh`. Prints
//! `listening on http://ADDR` once bound.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use perflab_testkit::{run_blocking, ServerOptions};

fn seconds(v: &str) -> Result<Duration, String> {
    let (num, scale) = match v.strip_suffix("ms") {
        Some(n) => (n, 1e-3),
        None => (v.trim_end_matches('s'), 1.0),
    };
    num.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .map(|x| Duration::from_secs_f64(x * scale))
        .ok_or_else(|| format!("{v:?} is not a duration like 5s or 250ms"))
}

fn main() -> ExitCode {
    let mut addr = "127.0.0.1:0".to_string();
    let mut threads = 1;
    let mut opts = ServerOptions {
        body_size: 1024 * 1024,
        ..ServerOptions::default()
    };
    let mut args = std::env::args().skip(1);
    let result = (|| -> Result<(), String> {
        while let Some(a) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
            match a.as_str() {
                "--addr" => addr = value()?,
                "--threads" => threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
                "--stall-every" => opts.stall_every = Some(seconds(&value()?)?),
                "--stall-for" => opts.stall_for = seconds(&value()?)?,
                "--body-size" => {
                    opts.body_size = value()?.parse().map_err(|e| format!("--body-size: {e}"))?
                }
                "--tls" => opts.tls = true,
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        let addr = addr.parse().map_err(|e| format!("--addr {addr:?}: {e}"))?;
        let tls = opts.tls;
        run_blocking(addr, threads, opts, |bound| {
            let mut out = std::io::stdout().lock();
            let scheme = if tls { "https" } else { "http" };
            let _ = writeln!(out, "listening on {scheme}://{bound}");
            let _ = out.flush();
        })
        .map_err(|e| format!("cannot listen on {addr}: {e}"))
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
