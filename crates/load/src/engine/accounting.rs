//! The end of the test: the grace period, unfinished and dropped requests, and the summary.

use super::*;

/// The end of the test: requests in flight may finish within the grace period (a quarter
/// second after Ctrl-C: it means now), and requests that fell due before the stop but waited
/// for a connection are still sent in it; then the tasks are stopped and what was in flight
/// or still queued is recorded as unfinished, with its waiting so far as latency (a lower
/// bound). Returns the requests dropped: a worker found its backlog full.
pub(super) async fn wind_down(shared: &Shared, started: Started, ending: Ending) -> u64 {
    let grace = match ending {
        Ending::Interrupted => shared.opts.grace.min(Duration::from_millis(250)),
        _ => shared.opts.grace,
    };
    let until = tokio::time::Instant::now() + grace;
    let mut drops = 0;
    let mut stragglers = Vec::new();
    for mut h in started.handles {
        match tokio::time::timeout_at(until, &mut h).await {
            Ok(Ok(d)) => drops += d,
            Ok(Err(_)) => {}
            Err(_) => {
                h.abort();
                stragglers.push(h);
            }
        }
    }
    for h in stragglers {
        if let Ok(d) = h.await {
            drops += d;
        }
    }
    let now = Instant::now();
    // Open model: every slot that fell due before the stop and was not sent, queued or not yet
    // (its connection was stuck), is unfinished.
    let until = shared.stopped().unwrap_or(now).min(now);
    for lane in &started.backlogs {
        let Ok(mut lane) = lane.lock() else { continue };
        if let Some(pace) = &started.pace {
            lane.fill(shared, pace, until);
        }
        drops += lane.dropped;
        for (intended, scenario) in lane.queue.drain(..) {
            shared.record_unanswered(scenario, intended, now);
        }
    }
    shared.record_unfinished(now);
    drops
}

pub(super) fn build_summary(
    shared: &Shared,
    now: Instant,
    series: &[SecondPoint],
    dropped: u64,
    target_rate: Option<f64>,
    cpu: f64,
) -> LoadSummary {
    let opts = &shared.opts;
    let checks: Vec<usize> = opts.scenarios.iter().map(|s| s.checks.len()).collect();
    let (totals, lag) = shared.recorder.totals(&checks);
    let measured = now
        .saturating_duration_since(shared.warmup_end)
        .as_secs_f64();
    let mut scenarios = std::collections::BTreeMap::new();
    let mut all = crate::record::ScenarioStats::new(0);
    for (sc, t) in opts.scenarios.iter().zip(&totals) {
        let names: Vec<String> = sc.checks.iter().map(Check::describe).collect();
        scenarios.insert(sc.name.clone(), summarize(t, &names, measured));
        let mut t_no_checks = crate::record::ScenarioStats::new(0);
        t_no_checks.merge(t);
        all.merge(&t_no_checks);
    }
    // Per tag: the scenarios that carry it, together.
    let mut tagged: std::collections::BTreeMap<String, crate::record::ScenarioStats> =
        std::collections::BTreeMap::new();
    for (sc, t) in opts.scenarios.iter().zip(&totals) {
        for (k, v) in &sc.tags {
            let mut t_no_checks = crate::record::ScenarioStats::new(0);
            t_no_checks.merge(t);
            tagged
                .entry(format!("{k}={v}"))
                .or_insert_with(|| crate::record::ScenarioStats::new(0))
                .merge(&t_no_checks);
        }
    }
    for (name, t) in &tagged {
        scenarios.insert(name.clone(), summarize(t, &[], measured));
    }
    let mut all_summary = summarize(&all, &[], measured);
    all_summary.checks = scenarios
        .values()
        .flat_map(|s| s.checks.iter().cloned())
        .collect();
    let sent_measured = all.requests;
    scenarios.insert("all".into(), all_summary);
    LoadSummary {
        ending: Ending::Completed,
        description: None,
        warmup_seconds: 0.0,
        spectrum: Vec::new(),
        distribution: Vec::new(),
        model: match opts.model {
            Model::Closed { .. } => "closed".into(),
            Model::Open { .. } => "open".into(),
        },
        peak_vus: match opts.model {
            Model::Closed { vus, .. } => {
                let staged = opts.stages.iter().map(|s| s.target).fold(0.0, f64::max);
                Some((vus as f64).max(staged).round() as u64)
            }
            Model::Open { .. } => None,
        },
        latency_is: match opts.model {
            Model::Closed {
                expected_rate: Some(_),
                ..
            } => "response_time".into(),
            Model::Closed { .. } => "service_time".into(),
            Model::Open { .. } => "response_time".into(),
        },
        target_rate,
        achieved_rate: if measured > 0.0 {
            sent_measured as f64 / measured
        } else {
            0.0
        },
        dropped,
        generator_late: shared.generator_late.load(Ordering::Relaxed),
        send_lag: if lag.is_empty() {
            Percentiles::default()
        } else {
            percentiles(&lag)
        },
        connects: shared.connects.summary(),
        generator_cpu_seconds: cpu,
        measured_seconds: measured,
        segment: (opts.segment.1 > 1).then(|| format!("{}/{}", opts.segment.0, opts.segment.1)),
        plan: Some(opts.plan.clone()),
        scenarios,
        series: series.to_vec(),
        thresholds: Vec::new(),
        target_process: None,
        target_metrics: None,
    }
}
