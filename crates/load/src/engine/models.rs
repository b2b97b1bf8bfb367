//! The two models: closed-model VUs (with think time, or paced by an expected rate) and the
//! open model's workers, each pacing its own share of the arrival schedule.

use super::*;

/// One open-model worker's share of the schedule: where it stands, and the slots that fell
/// due and wait for its connection: (intended send time, scenario). Shared with the end of the
/// test, which queues what fell due while the connection was stuck and records it.
pub(super) type Backlog = Arc<std::sync::Mutex<Lane>>;

/// See [`Backlog`].
pub(super) struct Lane {
    pub(super) queue: std::collections::VecDeque<(Instant, usize)>,
    /// The next slot, seconds from the start.
    t: f64,
    rng: Rng,
    /// False once the schedule has ended (the deadline, the budget, or the stop).
    generating: bool,
    /// Slots dropped: the backlog was full.
    pub(super) dropped: u64,
}

/// The model's tasks, running.
pub(super) struct Started {
    pub(super) handles: Vec<tokio::task::JoinHandle<u64>>,
    /// The open model's workers' lanes (what fell due and was not sent is unfinished).
    pub(super) backlogs: Vec<Backlog>,
    /// The open model's pacing, to queue what fell due while a connection was stuck.
    pub(super) pace: Option<Pace>,
}

/// Start the closed model's VUs, or the open model's workers and its schedule.
pub(super) fn start_model(shared: &Arc<Shared>, workers: usize) -> Started {
    let opts = &shared.opts;
    let mut handles = Vec::new();
    let mut backlogs = Vec::new();
    let mut paced = None;
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
            // Each worker (one connection) paces every n-th slot of the schedule, as wrk2
            // does: one timer wake-up per request, where a shared schedule feeding a queue
            // woke twice (the schedule, then a worker). Its share of the queue bounds what
            // may wait for it.
            let room = (*max_queue).max(1).div_ceil(workers.max(1));
            let pace = Pace {
                rate: *rate,
                poisson: *poisson,
                workers: workers.max(1),
                room,
            };
            paced = Some(pace);
            for id in 0..workers {
                let sh = shared.clone();
                let lane: Backlog = Arc::new(std::sync::Mutex::new(pace.lane(opts, id)));
                backlogs.push(lane.clone());
                handles.push(tokio::spawn(async move {
                    paced_worker(sh, id, pace, lane).await
                }));
            }
        }
    }
    Started {
        handles,
        backlogs,
        pace: paced,
    }
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

/// How the open model's workers share the schedule.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pace {
    /// The whole schedule's rate (before stages and segments).
    rate: f64,
    /// Poisson arrivals (each worker's share is then Poisson too, at rate / workers).
    poisson: bool,
    workers: usize,
    /// Slots that may wait for one worker before more are dropped.
    room: usize,
}

impl Pace {
    fn rate_at(&self, opts: &LoadOptions, t: f64) -> f64 {
        let warm = opts.warmup.as_secs_f64();
        let r = if t < warm || opts.stages.is_empty() {
            self.rate
        } else {
            level_at(self.rate, &opts.stages, t - warm)
        };
        opts.segment_rate(r)
    }

    /// The time to this worker's next slot: every n-th of an even schedule, or a Poisson
    /// process at rate / n.
    fn gap(&self, rate: f64, rng: &mut Rng) -> f64 {
        let n = self.workers as f64;
        if self.poisson {
            -(1.0 - rng.next_f64()).ln() * n / rate
        } else {
            n / rate
        }
    }

    /// Worker `id`'s lane, at its first slot.
    pub(super) fn lane(&self, opts: &LoadOptions, id: usize) -> Lane {
        let mut rng = Rng::new(0xA11CE ^ (id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let first = self.rate_at(opts, 0.0);
        let t = if first <= 0.0 {
            0.0
        } else if self.poisson {
            self.gap(first, &mut rng)
        } else {
            id as f64 / first
        };
        Lane {
            queue: Default::default(),
            t,
            rng,
            generating: true,
            dropped: 0,
        }
    }
}

impl Lane {
    /// Queue this lane's slots that fell due by `now` (and before the stop, once there is one).
    pub(super) fn fill(&mut self, shared: &Shared, pace: &Pace, now: Instant) {
        let opts = &shared.opts;
        let end = opts.warmup.as_secs_f64() + opts.total_duration().as_secs_f64();
        let stopped = shared.stopped();
        while self.generating {
            if self.t >= end || shared.over_budget() {
                self.generating = false;
                return;
            }
            let rate = pace.rate_at(opts, self.t);
            if rate <= 0.0 {
                self.t += 0.01;
                continue;
            }
            let intended = shared.start + Duration::from_secs_f64(self.t);
            if stopped.is_some_and(|s| intended >= s) {
                self.generating = false;
                return;
            }
            if intended > now {
                return;
            }
            if self.queue.len() >= pace.room {
                // Past this connection's reach: the slots already due are counted at once, not
                // one by one, and the worker sends as fast as it can.
                let g = pace.gap(rate, &mut self.rng);
                let behind = now.saturating_duration_since(intended).as_secs_f64();
                let skip = (behind / g).floor().max(1.0);
                if intended >= shared.warmup_end {
                    self.dropped += skip as u64;
                }
                self.t += skip * g;
                continue;
            }
            if !shared.claim() {
                self.generating = false;
                return;
            }
            let scenario = shared.pick_scenario(&mut self.rng);
            self.queue.push_back((intended, scenario));
            self.t += pace.gap(rate, &mut self.rng);
        }
    }

    /// When the next slot falls due, while the schedule runs.
    fn next_due(&self, shared: &Shared) -> Option<Instant> {
        self.generating
            .then(|| shared.start + Duration::from_secs_f64(self.t))
    }
}

/// One open-model worker: it owns every n-th slot of the arrival schedule (n workers), sleeps
/// until its next one on a precise timer, and sends it. A worker whose connection is still busy
/// when slots fall due sends them as soon as it is free, each timed from its own slot
/// (coordinated omission corrected); a full backlog drops slots, which are counted. As wrk2
/// does: one timer wake-up per request, where a shared schedule feeding a queue woke twice.
pub(super) async fn paced_worker(shared: Arc<Shared>, id: usize, pace: Pace, lane: Backlog) -> u64 {
    // The timer sleeps on a timerfd in the runtime (crate::timer): precise to microseconds,
    // where tokio's timer rounds to milliseconds and every millisecond of late sending would
    // be charged to the server as latency.
    let timer = crate::timer::PreciseTimer::new();
    let mut w = Worker::new(id, &shared);
    loop {
        let (job, next) = match lane.lock() {
            Ok(mut l) => {
                l.fill(&shared, &pace, Instant::now());
                (l.queue.pop_front(), l.next_due(&shared))
            }
            Err(_) => return 0,
        };
        match (job, next) {
            // Everything queued fell due before the stop: it is still sent, within the grace
            // period (what is left when that ends is recorded as unfinished).
            (Some((intended, scenario)), _) => w.request(&shared, scenario, Some(intended)).await,
            (None, None) => return 0,
            (None, Some(intended)) => {
                // Bounded so that a stop is noticed within 50 ms even at very low rates.
                let wake = intended.min(Instant::now() + Duration::from_millis(50));
                match &timer {
                    Some(timer) => timer.sleep_until(wake).await,
                    None => tokio::time::sleep_until(tokio::time::Instant::from_std(wake)).await,
                }
                // Woken late for a slot while idle: the generator's lateness, not the server's.
                if wake == intended
                    && intended >= shared.warmup_end
                    && Instant::now() > intended + LATE
                {
                    shared.generator_late.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}
