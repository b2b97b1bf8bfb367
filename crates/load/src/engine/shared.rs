//! The state the workers share: the plan, the recorder, counters, what is in flight.

use super::*;

pub(super) struct Shared {
    pub(super) opts: LoadOptions,
    pub(super) tls: Option<tokio_rustls::TlsConnector>,
    pub(super) recorder: Recorder,
    pub(super) stop: AtomicBool,
    pub(super) start: Instant,
    pub(super) warmup_end: Instant,
    pub(super) sent: AtomicU64,
    pub(super) completed: AtomicU64,
    pub(super) active_vus: AtomicUsize,
    pub(super) seq: AtomicU64,
    pub(super) weights: Vec<u32>,
    pub(super) weight_total: u32,
    /// Per worker: when its request in progress was due (ns since `start`, plus one; 0 when
    /// idle) and its scenario, so requests still in flight at the end are counted.
    pub(super) inflight: Vec<(AtomicU64, AtomicUsize)>,
    /// When the test stopped (ns since `start`, plus one; 0 while running): requests due
    /// before it are part of the test and may still be sent within the grace period.
    pub(super) stopped_at: AtomicU64,
    /// Open model: slots an idle connection woke for more than [`LATE`] after their time (the
    /// generator short of CPU, not the connection busy on the server).
    pub(super) generator_late: AtomicU64,
    /// How long each TCP connect and TLS handshake took, and the connects given up.
    pub(super) connects: ConnectTimes,
}

/// The connect time of every TCP connection and of every TLS handshake over one, and the
/// connects given up before their handshake finished. One lock per connection opened, not per
/// request: a keep-alive test opens a handful, a `Connection: close` one pays a few
/// nanoseconds beside a handshake of tens of microseconds.
pub(super) struct ConnectTimes(std::sync::Mutex<crate::record::ConnectStats>);

impl ConnectTimes {
    pub(super) fn new() -> ConnectTimes {
        ConnectTimes(std::sync::Mutex::new(crate::record::ConnectStats::new()))
    }

    /// A TCP connect begins: the attempt records itself when it ends, or when it is given up
    /// (dropped by a request's timeout or the end of the test).
    pub(super) fn attempt(&self) -> ConnectAttempt<'_> {
        ConnectAttempt {
            times: self,
            began: Instant::now(),
            ended: false,
        }
    }

    /// A TLS handshake that took `took`.
    pub(super) fn shook_hands(&self, took: Duration) {
        if let Ok(mut c) = self.0.lock() {
            c.tls.saturating_record(nanos(took));
        }
    }

    /// What the summary carries; `None` when no connect was tried.
    pub(super) fn summary(&self) -> Option<perflab_model::load::Connects> {
        self.0.lock().ok()?.summary()
    }
}

fn nanos(d: Duration) -> u64 {
    (d.as_nanos() as u64).max(1)
}

/// One TCP connect in progress.
pub(super) struct ConnectAttempt<'a> {
    times: &'a ConnectTimes,
    began: Instant,
    ended: bool,
}

impl ConnectAttempt<'_> {
    /// The handshake finished: its time is recorded.
    pub(super) fn connected(mut self) {
        self.ended = true;
        if let Ok(mut c) = self.times.0.lock() {
            c.tcp.saturating_record(nanos(self.began.elapsed()));
        }
    }

    /// The connect failed (refused, unreachable): an error of its request, not a time.
    pub(super) fn failed(mut self) {
        self.ended = true;
    }
}

impl Drop for ConnectAttempt<'_> {
    fn drop(&mut self) {
        if !self.ended {
            if let Ok(mut c) = self.times.0.lock() {
                c.gave_up(self.began.elapsed());
            }
        }
    }
}

/// How late an idle connection may wake for a slot before it counts as the generator's lateness.
pub(super) const LATE: Duration = Duration::from_millis(2);

impl Shared {
    /// Mark the end of the test: what is due from now on is not part of it.
    pub(super) fn mark_stopped(&self) {
        let at = self.start.elapsed().as_nanos() as u64 + 1;
        let _ = self
            .stopped_at
            .compare_exchange(0, at, Ordering::SeqCst, Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
    }

    /// When the test stopped, if it has.
    pub(super) fn stopped(&self) -> Option<Instant> {
        match self.stopped_at.load(Ordering::SeqCst) {
            0 => None,
            at => Some(self.start + Duration::from_nanos(at - 1)),
        }
    }

    /// Whether a request due at `due` is still to be sent: always while the test runs; after
    /// the stop, only if it fell due before it (it waited on busy connections, and leaving it
    /// out would make the latency depend on where the test stopped).
    pub(super) fn still_due(&self, due: Option<Instant>) -> bool {
        match self.stopped() {
            None => true,
            Some(end) => due.is_some_and(|d| d < end),
        }
    }

    /// Record a request that was due at `due` and not answered by `now` as `unfinished`, with
    /// its waiting so far as latency (a lower bound of what it would have been).
    pub(super) fn record_unanswered(&self, scenario: usize, due: Instant, now: Instant) {
        if due < self.warmup_end {
            return;
        }
        let waited = now.saturating_duration_since(due).as_nanos() as u64;
        self.recorder.record(&Outcome {
            scenario,
            latency_ns: waited,
            service_ns: waited,
            lag_ns: None,
            status: None,
            error: Some(ErrorKind::Unfinished),
            bytes_in: 0,
            bytes_out: 0,
            checks_passed: 0,
        });
    }

    /// Record every request still in flight as `unfinished`, with its latency up to `now`;
    /// a paced VU's later slots that fell due before the stop are unanswered too. Call only
    /// when no worker can run any more (finished or aborted).
    pub(super) fn record_unfinished(&self, now: Instant) {
        let every = match self.opts.model {
            Model::Closed {
                expected_rate: Some(r),
                ..
            } if r > 0.0 => Some(Duration::from_secs_f64(1.0 / r)),
            _ => None,
        };
        let end = self.stopped().unwrap_or(now);
        for (due, scenario) in &self.inflight {
            let due = due.swap(0, Ordering::SeqCst);
            if due == 0 {
                continue;
            }
            let due = self.start + Duration::from_nanos(due - 1);
            let scenario = scenario.load(Ordering::SeqCst);
            self.record_unanswered(scenario, due, now);
            if let Some(e) = every.filter(|e| !e.is_zero()) {
                let mut next = due + e;
                while next < end {
                    self.record_unanswered(scenario, next, now);
                    next += e;
                }
            }
        }
    }

    pub(super) fn pick_scenario(&self, rng: &mut Rng) -> usize {
        if self.weights.len() == 1 {
            return 0;
        }
        let mut r = (rng.next_u64() % u64::from(self.weight_total)) as u32;
        for (i, w) in self.weights.iter().enumerate() {
            if r < *w {
                return i;
            }
            r -= w;
        }
        0
    }

    /// Take one request of the `-n` budget: false when it is spent. One atomic step, so VUs
    /// racing for the last request cannot both send it.
    pub(super) fn claim(&self) -> bool {
        let before = self.sent.fetch_add(1, Ordering::Relaxed);
        self.opts.max_requests.is_none_or(|m| before < m)
    }

    pub(super) fn over_budget(&self) -> bool {
        self.opts
            .max_requests
            .is_some_and(|m| self.sent.load(Ordering::Relaxed) >= m)
    }
}

impl Shared {
    pub(super) fn new(opts: LoadOptions, workers: usize) -> Result<Shared, LoadError> {
        let checks: Vec<usize> = opts.scenarios.iter().map(|s| s.checks.len()).collect();
        let weights: Vec<u32> = opts.scenarios.iter().map(|s| s.weight).collect();
        let tls = if opts.scenarios.iter().any(|s| s.tls) || opts.max_redirects > 0 {
            Some(tokio_rustls::TlsConnector::from(crate::tls::client_config(
                opts.insecure,
                opts.http2,
            )?))
        } else {
            None
        };
        let start = Instant::now();
        Ok(Shared {
            inflight: (0..workers)
                .map(|_| (AtomicU64::new(0), AtomicUsize::new(0)))
                .collect(),
            tls,
            // The runtime's workers and the thread that drives it.
            recorder: Recorder::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()) + 1,
                &checks,
            ),
            stop: AtomicBool::new(false),
            start,
            warmup_end: start + opts.warmup,
            stopped_at: AtomicU64::new(0),
            generator_late: AtomicU64::new(0),
            connects: ConnectTimes::new(),
            sent: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            active_vus: AtomicUsize::new(0),
            seq: AtomicU64::new(0),
            weight_total: weights.iter().sum(),
            weights,
            opts,
        })
    }
}
