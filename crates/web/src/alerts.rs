//! Change points of the whole history for the server: computed once per generation of the
//! store; the API waits for a current set, pages and `/metrics` take the newest one at once
//! and have it recomputed in the background (a scan of a large history takes a while).

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use perflab_analysis::history::{alerts, Alert, ChangePointOptions};
use perflab_model::Better;
use perflab_store::{Store, StoreError};

use crate::{AppState, Shared};

/// Change points of every stored series (optionally on one branch), not yet marked
/// acknowledged.
///
/// # Errors
/// Store errors.
pub fn change_points_of(
    store: &dyn Store,
    branch: Option<&str>,
    opts: &ChangePointOptions,
) -> Result<Vec<Alert>, StoreError> {
    let mut out = Vec::new();
    for s in store.all_series(branch)? {
        let medians: Vec<f64> = s.points.iter().map(|p| p.median).collect();
        let runs: Vec<String> = s.points.iter().map(|p| p.run_id.clone()).collect();
        let better = if s.better == "higher" {
            Better::Higher
        } else {
            Better::Lower
        };
        out.extend(alerts(
            &s.benchmark,
            &s.metric,
            better,
            &medians,
            &runs,
            opts,
        ));
    }
    Ok(out)
}

/// The change points of every stored series (optionally on one branch), each marked when it
/// was acknowledged.
///
/// # Errors
/// Store errors.
pub fn all_alerts(
    store: &dyn Store,
    branch: Option<&str>,
    opts: &ChangePointOptions,
) -> Result<Vec<Alert>, StoreError> {
    with_acks(store, &change_points_of(store, branch, opts)?)
}

fn with_acks(store: &dyn Store, list: &[Alert]) -> Result<Vec<Alert>, StoreError> {
    let acked: HashSet<String> = store.acknowledged()?.into_iter().collect();
    Ok(list
        .iter()
        .map(|a| Alert {
            acknowledged: acked.contains(&a.id),
            ..a.clone()
        })
        .collect())
}

/// Compute the set at `generation` and keep it.
fn compute(s: &AppState, generation: i64) -> Result<(i64, Arc<Vec<Alert>>), StoreError> {
    let list = Arc::new(change_points_of(
        s.store.as_ref(),
        None,
        &ChangePointOptions::default(),
    )?);
    let computed = (generation, list);
    *s.alerts_cache.lock().unwrap_or_else(|p| p.into_inner()) = Some(computed.clone());
    Ok(computed)
}

fn kept(s: &AppState) -> Option<(i64, Arc<Vec<Alert>>)> {
    s.alerts_cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

/// The generation the kept set was computed at (`-1` before the first).
pub(crate) fn kept_generation(s: &AppState) -> i64 {
    kept(s).map_or(-1, |(g, _)| g)
}

/// The alerts as of the store's current generation, computed now when they are not.
pub(crate) fn fresh_alerts(s: &AppState) -> Result<Vec<Alert>, StoreError> {
    let generation = s.store.generation()?;
    let (_, list) = match kept(s) {
        Some(k) if k.0 == generation => k,
        _ => compute(s, generation)?,
    };
    with_acks(s.store.as_ref(), &list)
}

/// The newest alerts computed, at once, with their generation; when the history moved since,
/// one background thread computes them again. Only the very first call waits.
pub(crate) fn latest_alerts(s: &Shared) -> Result<(i64, Vec<Alert>), StoreError> {
    let generation = s.store.generation()?;
    let (g, list) = match kept(s) {
        None => compute(s, generation)?,
        Some(k) => {
            if k.0 != generation && !s.refreshing.swap(true, Ordering::SeqCst) {
                let s = s.clone();
                std::thread::spawn(move || {
                    if let Err(e) = compute(&s, generation) {
                        eprintln!("perflab serve: alerts: {e}");
                    }
                    s.refreshing.store(false, Ordering::SeqCst);
                });
            }
            k
        }
    };
    Ok((g, with_acks(s.store.as_ref(), &list)?))
}
