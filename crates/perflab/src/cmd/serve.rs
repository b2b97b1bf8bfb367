//! `perflab serve` (perflab-web over the store) and `perflab token create|list|revoke`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use perflab_web::{serve_blocking, token_hash, AppState};

use crate::cli::{PushArgs, ServeArgs, TokenCommand};
use crate::config::Config;
use crate::{context, output, Outcome};

pub(crate) fn run(args: ServeArgs, store: Option<&Path>, config: &Config) -> Result<Outcome> {
    let addr: std::net::SocketAddr = (args.addr.parse())
        .with_context(|| format!("--addr {:?}: write it as HOST:PORT", args.addr))?;
    if !addr.ip().is_loopback() && args.read_token.is_none() {
        crate::term::warning!(
            "serve: {addr} is not a loopback address and there is no --read-token: anyone who \
             can reach it can read the whole history (set --read-token or PERFLAB_READ_TOKEN)"
        );
    }
    let mut state = AppState::new(Arc::from(context::open_store(store)?));
    state.max_upload = args.max_upload;
    state.read_token = args.read_token;
    state.targets = config.targets.clone();
    // A perflab.toml's allowed changes decide which change points are alerts.
    state.alert_policy.thresholds = config.path.is_some().then(|| config.compare.clone());
    serve_blocking(addr, Arc::new(state), super::interrupt_flag(), |bound| {
        crate::term::info!("perflab serve: listening on http://{bound} (Ctrl-C stops)");
    })
    .with_context(|| format!("cannot serve on {addr}"))?;
    Ok(Outcome::Ok)
}

pub(crate) fn token(cmd: TokenCommand, store: Option<&Path>) -> Result<Outcome> {
    let s = context::open_store(store)?;
    match cmd {
        TokenCommand::Create { name } => {
            let token = perflab_web::new_token().context("cannot read random bytes")?;
            s.save_token(&name, &token_hash(&token))?;
            output::print(&format!("{token}\n"))?;
            crate::term::info!("token {name} created: it is shown once; only its hash is kept");
        }
        TokenCommand::List => output::print(
            &s.tokens()?
                .iter()
                .map(|(n, at)| format!("{n}\t{at}\n"))
                .collect::<String>(),
        )?,
        TokenCommand::Revoke { name } => {
            if !s.revoke_token(&name)? {
                bail!("no token named {name:?} (see perflab token list)");
            }
            output::print(&format!("revoked token {name}\n"))?;
        }
    }
    Ok(Outcome::Ok)
}

pub(crate) fn push(args: PushArgs, store: Option<&Path>) -> Result<Outcome> {
    let run = context::resolve(&args.run, store, None)?.run;
    let (server, ca) = (&args.server, args.ca_file.as_deref());
    let id = perflab_web::push_with_ca(server, &args.token, &run.to_json(), ca)?;
    output::print(&format!("pushed run {id} to {}\n", args.server))?;
    Ok(Outcome::Ok)
}
