//! `perflab testserver` (hidden): the load engine's own small server, for demos, tests and the
//! speed comparison with wrk and oha.

use std::io::Write as _;

use anyhow::{Context as _, Result};
use perflab_load::server::{run_blocking, ServerOptions};
use perflab_model::parse_duration;

use crate::cli::TestserverArgs;
use crate::Outcome;

pub(crate) fn run(args: TestserverArgs) -> Result<Outcome> {
    let addr: std::net::SocketAddr = args
        .addr
        .parse()
        .with_context(|| format!("--addr {:?}", args.addr))?;
    let opts = ServerOptions {
        stall_every: args
            .stall_every
            .as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--stall-every: {e}"))?,
        stall_for: parse_duration(&args.stall_for)
            .map_err(|e| anyhow::anyhow!("--stall-for: {e}"))?,
        body_size: args.body_size,
        tls: args.tls,
    };
    run_blocking(addr, args.threads, opts, |bound| {
        let mut out = std::io::stdout().lock();
        let scheme = if args.tls { "https" } else { "http" };
        let _ = writeln!(out, "listening on {scheme}://{bound}");
        let _ = out.flush();
    })
    .with_context(|| format!("cannot listen on {addr}"))?;
    Ok(Outcome::Ok)
}
