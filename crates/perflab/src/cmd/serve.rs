//! `perflab serve` (perflab-web over the store) and `perflab token create|list|revoke`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use perflab_web::{serve_blocking, token_hash, AppState};

use crate::cli::{ExportArgs, PruneArgs, PushArgs, ServeArgs, TokenCommand};
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
    state.projects = Some(perflab_web::Projects::new(context::store_location(store)));
    state.max_upload = args.max_upload;
    state.read_token = args.read_token;
    state.targets = config.targets.clone();
    state.commit_url = config.commit_url.clone();
    // A perflab.toml's allowed changes decide which change points are alerts.
    state.alert_policy.thresholds = config.path.is_some().then(|| config.compare.clone());
    for url in &args.webhook {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("--webhook {url:?}: give it as http://… or https://…");
        }
    }
    if !args.webhook.is_empty() {
        let base = args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        state.notifier = perflab_web::Notifier::new(args.webhook.clone(), base);
        // What is in the history now is not news.
        perflab_web::prime(&state)?;
    }
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
    let id = match &args.project {
        Some(p) => perflab_web::push_to_project(server, p, &args.token, &run.to_json(), ca)?,
        None => perflab_web::push_with_ca(server, &args.token, &run.to_json(), ca)?,
    };
    let to = args
        .project
        .as_deref()
        .map_or(String::new(), |p| format!(" (project {p})"));
    output::print(&format!("pushed run {id} to {}{to}\n", args.server))?;
    Ok(Outcome::Ok)
}

pub(crate) fn prune(args: PruneArgs, store: Option<&Path>) -> Result<Outcome> {
    if args.keep.is_none() && args.older_than.is_none() {
        bail!("say what to remove: --keep N (per branch) and/or --older-than 90d");
    }
    let before = match &args.older_than {
        Some(d) => {
            let age = perflab_model::parse_duration(d)
                .with_context(|| format!("--older-than {d:?}: write it as 90d, 12h or 2w"))?;
            Some(
                perflab_model::now_unix_ms()
                    - i64::try_from(age.as_millis()).unwrap_or(i64::MAX / 2),
            )
        }
        None => None,
    };
    let s = context::open_store(store)?;
    let removed = if args.dry_run {
        would_prune(s.as_ref(), args.keep, before)?
    } else {
        s.prune(args.keep, before)?
    };
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    let mut out = String::new();
    for id in &removed {
        out.push_str(&format!("{verb} {id}\n"));
    }
    let left = s.list_runs(&perflab_store::RunFilter::default())?.len();
    out.push_str(&format!(
        "{verb} {} run(s); {left} in the history{}\n",
        removed.len(),
        if args.dry_run { " now" } else { "" }
    ));
    output::print(&out)?;
    Ok(Outcome::Ok)
}

/// What [`perflab_store::Store::prune`] would remove, without removing it: the same rule
/// on the listing.
fn would_prune(
    s: &dyn perflab_store::Store,
    keep: Option<usize>,
    before: Option<i64>,
) -> Result<Vec<String>> {
    let mut seen: std::collections::HashMap<Option<String>, usize> = Default::default();
    let mut out = Vec::new();
    for r in s.list_runs(&perflab_store::RunFilter::default())? {
        let n = seen.entry(r.branch.clone()).or_default();
        let doomed = keep.is_some_and(|k| *n >= k) || before.is_some_and(|t| r.started_unix_ms < t);
        *n += 1;
        if doomed && r.baselines.is_empty() {
            out.push(r.id);
        }
    }
    out.reverse();
    Ok(out)
}

pub(crate) fn export(args: ExportArgs, store: Option<&Path>) -> Result<Outcome> {
    let s = context::open_store(store)?;
    let mut runs = s.list_runs(&perflab_store::RunFilter {
        branch: args.branch.clone(),
        ..Default::default()
    })?;
    runs.reverse();
    let mut out = String::new();
    let mut skipped = 0;
    for r in &runs {
        match s.run(&r.id) {
            Ok(Some(run)) => {
                out.push_str(&run.to_compact_json());
                out.push('\n');
            }
            Ok(None) => {}
            Err(e @ perflab_store::StoreError::Corrupt { .. }) => {
                crate::term::warning!("export: {e}; left out");
                skipped += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    match &args.output {
        Some(path) => output::write_atomic(path, out.as_bytes())?,
        None => output::print(&out)?,
    }
    crate::term::info!(
        "exported {} run(s){}",
        runs.len() - skipped,
        if skipped > 0 {
            format!(", {skipped} unreadable left out")
        } else {
            String::new()
        }
    );
    Ok(Outcome::Ok)
}
