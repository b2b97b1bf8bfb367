//! During the test, once a second: the per-second series, progress, the abort-on-fail check and the
//! watched target process.

use super::*;

/// The watched target process: its RSS over the test, its CPU from the end of the warm-up.
pub(super) struct TargetWatch {
    pub(super) pid: Option<u32>,
    pub(super) rss_start: u64,
    pub(super) rss_peak: u64,
    pub(super) cpu_start: Option<f64>,
}

impl TargetWatch {
    pub(super) fn new(pid: Option<u32>, no_warmup: bool) -> TargetWatch {
        let rss_start = pid.and_then(process_rss_bytes).unwrap_or(0);
        TargetWatch {
            pid,
            rss_start,
            rss_peak: rss_start,
            // Counted from the end of the warm-up (sampled at the first tick after it).
            cpu_start: if no_warmup {
                pid.and_then(|p| process_cpu_seconds(Some(p)))
            } else {
                None
            },
        }
    }

    pub(super) fn sample(&mut self, warmed_up: bool) {
        let Some(pid) = self.pid else { return };
        if self.cpu_start.is_none() && warmed_up {
            self.cpu_start = Some(process_cpu_seconds(Some(pid)).unwrap_or(0.0));
        }
        self.rss_peak = self.rss_peak.max(process_rss_bytes(pid).unwrap_or(0));
    }

    pub(super) fn summary(&self, requests: u64) -> Option<perflab_model::load::ProcessSummary> {
        let pid = self.pid?;
        let cpu_end = process_cpu_seconds(Some(pid)).unwrap_or(0.0);
        let used = cpu_end - self.cpu_start.unwrap_or(cpu_end);
        let rss_end = process_rss_bytes(pid).unwrap_or(0);
        Some(perflab_model::load::ProcessSummary {
            pid,
            cpu_seconds: used,
            cpu_seconds_per_request: if requests > 0 {
                used / requests as f64
            } else {
                0.0
            },
            rss_start_bytes: self.rss_start,
            rss_end_bytes: rss_end,
            rss_peak_bytes: self.rss_peak.max(rss_end),
        })
    }
}

/// The planned load `elapsed` seconds into the test: the closed model's VUs, or the open
/// model's target rate (this segment's share, as the stages ramp them), for the series.
pub(super) fn levels_at(opts: &LoadOptions, elapsed: f64) -> (Option<u64>, Option<f64>) {
    let since_warm = elapsed - opts.warmup.as_secs_f64();
    let staged = |base: f64| {
        if opts.stages.is_empty() || since_warm < 0.0 {
            base
        } else {
            level_at(base, &opts.stages, since_warm)
        }
    };
    match &opts.model {
        Model::Closed { vus, .. } => {
            let level = staged(*vus as f64).round().max(0.0) as usize;
            (Some(opts.segment_share(level) as u64), None)
        }
        Model::Open { rate, .. } => (None, Some(opts.segment_rate(staged(*rate)))),
    }
}

fn quantile(h: &hdrhistogram::Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1e9
    }
}

/// The label of the second that ends `since` into the measured part, after the point labelled
/// `last`: the point taken at the tick about 1 s in is second 1 (the ticks start a little after
/// the test), and the half second before a deadline at 3.5 s is second 4 (it was labelled 3
/// twice).
pub(super) fn second_label(since: Duration, last: Option<u64>) -> u64 {
    let near = (since.as_secs_f64() - 0.25).ceil().max(0.0) as u64;
    last.map_or(near, |l| near.max(l + 1))
}

/// Once a second until the end (the deadline, the request budget, Ctrl-C, or a failed
/// threshold with abort-on-fail): the per-second series, progress, the target's samples.
pub(super) async fn monitor(
    shared: &Shared,
    thresholds: &[Threshold],
    stop_flag: &AtomicBool,
    target: &mut TargetWatch,
    progress: &mut dyn FnMut(&Progress),
) -> (Ending, Vec<SecondPoint>) {
    let opts = &shared.opts;
    let start = shared.start;
    let total = opts.warmup + opts.total_duration();
    let deadline = start + total;
    let mut series = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    let mut total_errors = 0u64;
    let mut measured_requests = 0u64;
    // The percentiles so far, for the live view (two digits, as each second's).
    let mut so_far = crate::record::second_histogram();
    let mut vus_now = None;
    loop {
        let now_deadline = tokio::time::Instant::from_std(deadline);
        let wait_stop = async {
            while !stop_flag.load(Ordering::Relaxed) && !shared.over_budget() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::select! {
            _ = ticker.tick() => {}
            _ = tokio::time::sleep_until(now_deadline) => {}
            _ = wait_stop => {}
        }
        let now = Instant::now();
        target.sample(now >= shared.warmup_end);
        let second = shared.recorder.drain_second();
        let (requests, errors) = (second.requests, second.errors);
        let warming = now < shared.warmup_end;
        if !warming || requests > 0 {
            total_errors += errors;
            measured_requests += requests;
            let (vus, target_rate) = levels_at(opts, now.duration_since(start).as_secs_f64());
            vus_now = vus;
            if !warming {
                let _ = so_far.add(&second.latency);
            }
            let t = if warming {
                0
            } else {
                second_label(
                    now.saturating_duration_since(shared.warmup_end),
                    series.last().map(|p: &SecondPoint| p.t),
                )
            };
            series.push(SecondPoint {
                vus,
                target_rate,
                ..second.point(t)
            });
        }
        progress(&Progress {
            elapsed: now.duration_since(start),
            total,
            requests: measured_requests,
            rps: requests as f64,
            p50: quantile(&so_far, 0.5),
            p99: quantile(&so_far, 0.99),
            errors: total_errors,
            vus: vus_now,
            warming_up: warming,
        });
        if stop_flag.load(Ordering::Relaxed) {
            return (Ending::Interrupted, series);
        }
        if now >= deadline || shared.over_budget() {
            return (Ending::Completed, series);
        }
        if opts.abort_on_fail && !warming && !thresholds.is_empty() {
            let summary = build_summary(shared, now, &series, 0, None, 0.0);
            if thresholds
                .iter()
                .filter(|t| !t.is_target_metric())
                .any(|t| !t.evaluate_load(&summary).passed)
            {
                return (Ending::Aborted, series);
            }
        }
    }
}
