//! The two models: closed-model VUs (with think time, or paced by an expected rate) and the
//! open model's workers fed by its arrival schedule.

use super::*;

/// The open model's queue of due requests: (intended send time, scenario), shared by its
/// workers.
pub(super) type DueQueue = Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<(Instant, usize)>>>;

/// The model's tasks, running.
pub(super) struct Started {
    pub(super) handles: Vec<tokio::task::JoinHandle<u64>>,
    /// The open model's queue of due requests (what is left in it at the end was dropped).
    pub(super) queue: Option<DueQueue>,
}

/// Start the closed model's VUs, or the open model's workers and its schedule.
pub(super) fn start_model(shared: &Arc<Shared>, workers: usize) -> Started {
    let opts = &shared.opts;
    let mut handles = Vec::new();
    let mut queue = None;
    match &opts.model {
        Model::Closed {
            vus,
            think_time,
            expected_rate,
        } => {
            shared
                .active_vus
                .store(opts.segment_share(*vus), Ordering::SeqCst);
            for id in 0..workers {
                let sh = shared.clone();
                let (think, every) = (*think_time, expected_rate.map(|r| 1.0 / r));
                handles.push(tokio::spawn(async move {
                    closed_vu(sh, id, think, every).await
                }));
            }
        }
        Model::Open {
            rate,
            poisson,
            max_queue,
            ..
        } => {
            let (tx, rx) = tokio::sync::mpsc::channel::<(Instant, usize)>((*max_queue).max(1));
            let rx = Arc::new(tokio::sync::Mutex::new(rx));
            queue = Some(rx.clone());
            for id in 0..workers {
                let sh = shared.clone();
                let rx = rx.clone();
                handles.push(tokio::spawn(async move { open_worker(sh, id, rx).await }));
            }
            let sh = shared.clone();
            let (rate, poisson) = (*rate, *poisson);
            // The schedule sleeps on a timerfd in the runtime (crate::timer): precise to
            // microseconds, where tokio's timer rounds to milliseconds and every millisecond of
            // late sending would be charged to the server as latency.
            handles.push(tokio::spawn(async move {
                schedule(&sh, &tx, rate, poisson).await
            }));
        }
    }
    Started { handles, queue }
}

pub(super) fn mean_rate(rate: f64, opts: &LoadOptions) -> f64 {
    if opts.stages.is_empty() {
        return opts.segment_rate(rate);
    }
    let total = opts.total_duration().as_secs_f64();
    let steps = 1000;
    let mean = (0..steps)
        .map(|i| level_at(rate, &opts.stages, (i as f64 + 0.5) / steps as f64 * total))
        .sum::<f64>()
        / steps as f64;
    opts.segment_rate(mean)
}

pub(super) async fn closed_vu(
    shared: Arc<Shared>,
    id: usize,
    think: Duration,
    every: Option<f64>,
) -> u64 {
    let mut w = Worker::new(id, &shared);
    // With an expected rate, request k of this VU is due at start + k/rate (spread over the
    // first interval across VUs so they do not all fire together).
    // The scenario a `then` chains to, sent next by this VU.
    let mut next: Option<usize> = None;
    let mut due = every.map(|e| {
        let spread = e * (id as f64 / shared.inflight.len().max(1) as f64);
        shared.start + Duration::from_secs_f64(spread)
    });
    let mut sent = 0u64;
    // A paced VU sleeps on its own precise timer: tokio's rounds to a millisecond, and the
    // lateness would be charged to the server as latency (a p50 of 1 ms for a 65 µs service).
    let timer = every.and_then(|_| crate::timer::PreciseTimer::new());
    loop {
        let done = shared.opts.per_vu_requests.is_some_and(|n| sent >= n);
        // A paced VU that fell behind (its requests waited on the server) still sends what fell
        // due before the stop, within the grace period.
        if done || !shared.still_due(due) || shared.over_budget() {
            return 0;
        }
        let elapsed = shared.start.elapsed().as_secs_f64();
        let since_warm = elapsed - shared.opts.warmup.as_secs_f64();
        let active = if shared.opts.stages.is_empty() || since_warm < 0.0 {
            shared.active_vus.load(Ordering::Relaxed)
        } else {
            let Model::Closed { vus, .. } = shared.opts.model else {
                return 0;
            };
            let level = level_at(vus as f64, &shared.opts.stages, since_warm).round() as usize;
            shared.opts.segment_share(level)
        };
        if id >= active {
            tokio::time::sleep(Duration::from_millis(20)).await;
            // Not running is not being late: requests are due from when the VU starts.
            if let Some(d) = due.as_mut() {
                *d = (*d).max(Instant::now());
            }
            continue;
        }
        if let Some(d) = due {
            match &timer {
                Some(t) => t.sleep_until(d).await,
                None => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
            }
            if !shared.still_due(Some(d)) {
                return 0;
            }
        }
        if !shared.claim() {
            return 0;
        }
        sent += 1;
        let scenario = next
            .take()
            .unwrap_or_else(|| shared.pick_scenario(&mut w.rng));
        w.request(&shared, scenario, due).await;
        next = shared.opts.scenarios[scenario].then;
        if let (Some(d), Some(e)) = (due.as_mut(), every) {
            *d += Duration::from_secs_f64(e);
        }
        if !think.is_zero() {
            tokio::time::sleep(think).await;
        }
    }
}

pub(super) async fn open_worker(shared: Arc<Shared>, id: usize, rx: DueQueue) -> u64 {
    let mut w = Worker::new(id, &shared);
    loop {
        let job = {
            let mut guard = rx.lock().await;
            guard.recv().await
        };
        let Some((intended, scenario)) = job else {
            return 0;
        };
        // Everything queued fell due before the stop: it is still sent, within the grace
        // period (what is left when that ends is recorded as unfinished).
        w.request(&shared, scenario, Some(intended)).await;
    }
}

/// Generate intended send times and queue them; returns how many were dropped.
pub(super) async fn schedule(
    shared: &Shared,
    tx: &tokio::sync::mpsc::Sender<(Instant, usize)>,
    base_rate: f64,
    poisson: bool,
) -> u64 {
    let timer = crate::timer::PreciseTimer::new();
    let sleep_until = |at: Instant| {
        let timer = &timer;
        async move {
            match timer {
                Some(t) => t.sleep_until(at).await,
                None => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
            }
        }
    };
    let opts = &shared.opts;
    let mut rng = Rng::new(0xA11CE);
    let warm = opts.warmup.as_secs_f64();
    let end = warm + opts.total_duration().as_secs_f64();
    let rate_at = |t: f64| -> f64 {
        let r = if t < warm || opts.stages.is_empty() {
            base_rate
        } else {
            level_at(base_rate, &opts.stages, t - warm)
        };
        opts.segment_rate(r)
    };
    let mut t = 0.0f64;
    let mut dropped = 0u64;
    // After a full queue the schedule is late because the connections were busy, not because
    // it was short of CPU: that lateness is not the generator's.
    let mut was_full = false;
    loop {
        let rate = rate_at(t);
        if rate <= 0.0 {
            t += 0.01;
        } else {
            let gap = if poisson {
                -(1.0 - rng.next_f64()).ln() / rate
            } else {
                1.0 / rate
            };
            let intended = shared.start + Duration::from_secs_f64(t);
            let now = Instant::now();
            if intended > now {
                was_full = false;
                // Bounded so that a stop is noticed within 50 ms even at very low rates.
                sleep_until(intended.min(now + Duration::from_millis(50))).await;
                if Instant::now() < intended {
                    continue;
                }
            }
            if shared.stop.load(Ordering::Relaxed) || shared.over_budget() {
                return dropped;
            }
            let scenario = shared.pick_scenario(&mut rng);
            if !shared.claim() {
                return dropped;
            }
            if !was_full && intended >= shared.warmup_end && Instant::now() > intended + LATE {
                shared.generator_late.fetch_add(1, Ordering::Relaxed);
            }
            match tx.try_send((intended, scenario)) {
                Ok(()) => {}
                Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
                    was_full = true;
                    if intended >= shared.warmup_end {
                        dropped += 1;
                    }
                    // Past the workers' reach: the slots already due are counted at once, not
                    // one by one, and the generator waits for room instead of spinning, so the
                    // workers send as fast as they can (a rate of 1e7/s sent almost nothing).
                    let behind = Instant::now()
                        .saturating_duration_since(intended)
                        .as_secs_f64();
                    let skip = (behind / gap).floor();
                    if skip >= 1.0 {
                        if intended >= shared.warmup_end {
                            dropped += skip as u64;
                        }
                        t += skip * gap;
                    }
                    let room = tokio::time::timeout(Duration::from_millis(50), tx.reserve());
                    match room.await {
                        Ok(Err(_)) => return dropped,
                        Ok(Ok(permit)) => drop(permit),
                        Err(_) => {}
                    }
                }
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => return dropped,
            }
            t += gap;
        }
        if t >= end || shared.stop.load(Ordering::Relaxed) {
            return dropped;
        }
    }
}
