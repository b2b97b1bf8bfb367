//! Before the test: hosts that resolve, the workers the plan needs and the open files for them.

use super::*;

/// The distinct authorities (host:port) the scenarios send to.
pub(super) fn authorities(opts: &LoadOptions) -> Vec<&str> {
    let mut a: Vec<&str> = opts
        .scenarios
        .iter()
        .map(|s| s.authority.as_str())
        .collect();
    a.sort_unstable();
    a.dedup();
    a
}

/// A host that does not resolve fails every request: say so once, before the test.
pub(super) async fn resolve_hosts(opts: &LoadOptions) -> Result<(), LoadError> {
    for a in authorities(opts) {
        let found = tokio::time::timeout(Duration::from_secs(10), tokio::net::lookup_host(a)).await;
        let why = match found.map(|r| r.map(|mut addrs| addrs.next().is_some())) {
            Ok(Ok(true)) => continue,
            Ok(Ok(false)) => "no address".to_string(),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no answer from the resolver in 10 s".to_string(),
        };
        return Err(LoadError::Resolve {
            host: a.to_string(),
            reason: why,
        });
    }
    Ok(())
}

/// How many workers (VUs, or the open model's connections) the plan needs at its peak; the
/// open-file limit is raised for their connections, or the test refused.
pub(super) fn workers_needed(opts: &LoadOptions) -> Result<usize, LoadError> {
    let workers = match &opts.model {
        Model::Closed { vus, .. } => opts.segment_share(
            opts.stages
                .iter()
                .map(|s| s.target.ceil() as usize)
                .chain([*vus])
                .max()
                .unwrap_or(*vus),
        ),
        Model::Open {
            max_connections, ..
        } => (*max_connections).max(1),
    };
    // Each worker holds a connection per authority, plus perflab's own descriptors.
    let needed = (workers * authorities(opts).len().max(1)) as u64 + 64;
    if let Err((soft, hard)) = crate::limits::ensure_open_files(needed) {
        return Err(LoadError::OpenFiles {
            workers,
            needed,
            soft,
            hard,
        });
    }
    Ok(workers)
}
