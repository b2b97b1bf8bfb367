//! Change points of the whole history for the server: computed once per generation of the
//! store; the API waits for a current set, pages and `/metrics` take the newest one at once
//! and have it recomputed in the background (a scan of a large history takes a while).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use perflab_analysis::history::{alerts, Alert, ChangePointOptions, Direction};
use perflab_analysis::CompareOptions;
use perflab_model::Better;
use perflab_store::{Store, StoreError};
use serde::Serialize;

use crate::{AppState, Shared};

/// Which change points are alerts: the change-point test's options and, when `perflab.toml`
/// sets them, the allowed changes of `[compare]` and `[[rule]]` (a change point within its
/// benchmark's `max_change` is not an alert, as a Bencher threshold would not fire).
#[derive(Debug, Clone, Default)]
pub struct AlertPolicy {
    /// Window, p-value and the smallest change a change point may have.
    pub change_points: ChangePointOptions,
    /// `max_change` per benchmark × metric; `None`: every change point is an alert.
    pub thresholds: Option<CompareOptions>,
}

impl AlertPolicy {
    /// The policy with these change-point options and no thresholds.
    pub fn change_points(opts: ChangePointOptions) -> AlertPolicy {
        AlertPolicy {
            change_points: opts,
            thresholds: None,
        }
    }

    fn admits(&self, a: &Alert) -> bool {
        self.thresholds
            .as_ref()
            .is_none_or(|t| a.change.abs() > t.max_change(&a.benchmark, &a.metric))
    }
}

/// Change points of every stored series, not yet marked acknowledged. A series is benchmark ×
/// metric × branch × testbed: a feature branch's runs never make a change point on main's
/// line, nor a faster CI machine (runs labelled `testbed=…`) on a slower one's.
/// `branch` keeps one branch's alerts only.
///
/// # Errors
/// Store errors.
pub fn change_points_of(
    store: &dyn Store,
    branch: Option<&str>,
    policy: &AlertPolicy,
) -> Result<Vec<Alert>, StoreError> {
    let mut out = Vec::new();
    for s in store.all_series(branch)? {
        let better = if s.better == "higher" {
            Better::Higher
        } else {
            Better::Lower
        };
        let mut by_line: BTreeMap<(Option<&str>, Option<&str>), Vec<&perflab_store::Point>> =
            BTreeMap::new();
        for p in &s.points {
            by_line
                .entry((p.branch.as_deref(), p.testbed.as_deref()))
                .or_default()
                .push(p);
        }
        for ((on, testbed), points) in by_line {
            let medians: Vec<f64> = points.iter().map(|p| p.median).collect();
            let runs: Vec<String> = points.iter().map(|p| p.run_id.clone()).collect();
            let commits: HashMap<&str, Option<&str>> = points
                .iter()
                .map(|p| (p.run_id.as_str(), p.commit.as_deref()))
                .collect();
            for mut a in alerts(
                &s.benchmark,
                &s.metric,
                better,
                &medians,
                &runs,
                &policy.change_points,
            ) {
                a.branch = on.map(str::to_string);
                a.testbed = testbed.map(str::to_string);
                a.commit = commits
                    .get(a.run_id.as_str())
                    .copied()
                    .flatten()
                    .map(str::to_string);
                if policy.admits(&a) {
                    out.push(a);
                }
            }
        }
    }
    Ok(out)
}

/// The change points of every stored series (optionally on one branch), each marked with who
/// acknowledged it and when.
///
/// # Errors
/// Store errors.
pub fn all_alerts(
    store: &dyn Store,
    branch: Option<&str>,
    policy: &AlertPolicy,
) -> Result<Vec<Alert>, StoreError> {
    with_acks(store, &change_points_of(store, branch, policy)?)
}

fn with_acks(store: &dyn Store, list: &[Alert]) -> Result<Vec<Alert>, StoreError> {
    let acked: HashMap<String, perflab_store::Acknowledgement> = store
        .acknowledged()?
        .into_iter()
        .map(|a| (a.alert_id.clone(), a))
        .collect();
    Ok(list
        .iter()
        .map(|a| {
            let ack = acked.get(&a.id);
            Alert {
                acknowledged: ack.is_some(),
                acknowledged_by: ack.map(|k| k.by.clone()),
                acknowledged_at: ack.map(|k| k.at.clone()),
                ..a.clone()
            }
        })
        .collect())
}

/// The alerts one commit caused, on one branch: a change that moved twelve benchmarks is
/// one regression to look at, not twelve (as Skia Perf groups them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertGroup {
    /// Stable id: that of its first alert's run and branch.
    pub id: String,
    /// The branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The commit (when the runs have git facts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The first run after the change.
    pub run_id: String,
    /// How many of its alerts are regressions.
    pub regressions: usize,
    /// How many are improvements.
    pub improvements: usize,
    /// The largest change in the worse direction (or the largest at all), as a fraction.
    pub worst_change: f64,
    /// All its alerts are acknowledged.
    pub acknowledged: bool,
    /// Its alerts' ids.
    pub alerts: Vec<String>,
}

/// Alerts grouped by branch and commit (by run when there is no commit), newest first by the
/// order of `alerts`' runs, regressions before improvements.
pub fn group_alerts(alerts: &[Alert]) -> Vec<AlertGroup> {
    let mut groups: Vec<AlertGroup> = Vec::new();
    let mut index: HashMap<(Option<&str>, &str), usize> = HashMap::new();
    for a in alerts {
        let key = (
            a.branch.as_deref(),
            a.commit.as_deref().unwrap_or(a.run_id.as_str()),
        );
        let i = *index.entry(key).or_insert_with(|| {
            groups.push(AlertGroup {
                id: perflab_analysis::history::alert_id(
                    "group",
                    a.branch.as_deref().unwrap_or(""),
                    key.1,
                ),
                branch: a.branch.clone(),
                commit: a.commit.clone(),
                run_id: a.run_id.clone(),
                regressions: 0,
                improvements: 0,
                worst_change: 0.0,
                acknowledged: true,
                alerts: Vec::new(),
            });
            groups.len() - 1
        });
        let g = &mut groups[i];
        let regression = a.direction == Direction::Regression;
        if regression {
            g.regressions += 1;
        } else {
            g.improvements += 1;
        }
        // The worst regression; an improvement only while the group has no regression.
        let first_regression = regression && g.regressions == 1;
        let counts = regression || g.regressions == 0;
        if first_regression || (counts && a.change.abs() > g.worst_change.abs()) {
            g.worst_change = a.change;
        }
        g.acknowledged &= a.acknowledged;
        g.alerts.push(a.id.clone());
    }
    groups.sort_by_key(|g| g.regressions == 0);
    groups
}

/// Compute the set at `generation` and keep it.
fn compute(s: &AppState, generation: i64) -> Result<(i64, Arc<Vec<Alert>>), StoreError> {
    let list = Arc::new(change_points_of(s.store.as_ref(), None, &s.alert_policy)?);
    s.notifier.observe(&with_acks(s.store.as_ref(), &list)?);
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
            if k.0 != generation {
                refresh_soon(s);
            }
            k
        }
    };
    Ok((g, with_acks(s.store.as_ref(), &list)?))
}

/// Have the alerts computed again in the background (after an upload), so webhooks hear of a
/// new change point without anyone opening a page.
pub(crate) fn refresh_soon(s: &Shared) {
    if s.refreshing.swap(true, Ordering::SeqCst) {
        return;
    }
    let s = s.clone();
    std::thread::spawn(move || {
        // Until the history stops moving: uploads during a computation are seen too.
        loop {
            let result = s.store.generation().and_then(|g| {
                if kept_generation(&s) != g {
                    compute(&s, g)?;
                }
                Ok(g)
            });
            match result {
                Ok(g) if s.store.generation().is_ok_and(|now| now != g) => continue,
                Ok(_) => break,
                Err(e) => {
                    eprintln!("perflab serve: alerts: {e}");
                    break;
                }
            }
        }
        s.refreshing.store(false, Ordering::SeqCst);
    });
}

/// The alert set at start, so that webhooks announce only what is new from now on.
///
/// # Errors
/// Store errors.
pub fn prime(s: &AppState) -> Result<(), StoreError> {
    compute(s, s.store.generation()?).map(|_| ())
}
