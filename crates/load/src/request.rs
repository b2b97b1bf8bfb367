//! The whole plan of a load test as the user wrote it (flags or a scenario file), validated
//! into [`LoadOptions`] and thresholds. The binary's `load` flags are [`LoadRequest`]'s own;
//! every check of a URL, header, body, scenario, rate or duration is here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use perflab_model::parse_duration;
use serde::Deserialize;

use crate::options::{parse_stages, parse_url, Check, LoadOptions, Model, Scenario};
use crate::template::{CsvData, Template};
use crate::threshold::Threshold;
use crate::LoadError;

fn config(message: String) -> LoadError {
    LoadError::Config { message }
}

/// What the user asked for, unvalidated: the command line's flags (they are defined here, so
/// the flags and the plan cannot drift apart; the binary flattens this into its own).
#[derive(Debug, Clone, Default, clap::Args)]
#[non_exhaustive]
pub struct LoadRequest {
    /// Target URL (http://host:port/path); not needed with --scenario-file.
    #[arg(value_name = "URL")]
    pub url: Option<String>,
    /// HTTP method.
    #[arg(short = 'm', long, default_value = "GET")]
    pub method: String,
    /// Header 'Name: value' (repeatable; templates allowed).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// Request body, or @FILE to read it from a file (templates allowed).
    #[arg(long, value_name = "BODY")]
    pub body: Option<String>,
    /// Scenarios, weights, templates and checks from a TOML file.
    #[arg(long, value_name = "FILE")]
    pub scenario_file: Option<PathBuf>,
    /// Virtual users (closed model).
    #[arg(short = 'c', long = "vus", value_name = "NUM")]
    pub vus: Option<usize>,
    /// Pause after each response (closed model).
    #[arg(long, value_name = "DURATION")]
    pub think_time: Option<String>,
    /// Arrival rate, e.g. 1000/s (open model).
    #[arg(long, value_name = "RATE")]
    pub rate: Option<String>,
    /// Arrivals: fixed intervals or poisson.
    #[arg(long, default_value = "fixed", value_parser = ["fixed", "poisson"])]
    pub arrival: String,
    /// Connections in the open model's pool.
    #[arg(long, default_value_t = 64, value_name = "NUM")]
    pub max_connections: usize,
    /// Requests that may wait for a connection before new ones are dropped (open model).
    #[arg(long, default_value_t = 100_000, value_name = "NUM")]
    pub max_queue: usize,
    /// Ramp VUs or rate: 'DURATION:TARGET,...', e.g. '30s:50,1m:100,30s:0'.
    #[arg(long, value_name = "STAGES")]
    pub stages: Option<String>,
    /// Test length without stages (default 10s, or the scenario file's `duration`).
    #[arg(short = 'd', long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Stop after this many requests.
    #[arg(short = 'n', long, value_name = "NUM")]
    pub requests: Option<u64>,
    /// Run this long first, excluded from the results (default 0s).
    #[arg(long, value_name = "DURATION")]
    pub warmup: Option<String>,
    /// Per-request timeout (default 10s).
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// The target's Prometheus endpoint: its costs per request, gauges and own latency.
    #[arg(long, value_name = "URL")]
    pub watch_metrics: Option<String>,
    /// Closed model: each VU sends at most RATE/s, latency from when due (wrk2's -R).
    #[arg(long, value_name = "RATE")]
    pub expected_rate: Option<String>,
    /// After the test, wait this long for requests in flight; the rest are unfinished (1s).
    #[arg(long, value_name = "DURATION")]
    pub grace: Option<String>,
    /// Speak HTTP/2 (h2c with prior knowledge on http://, ALPN h2 on https://).
    #[arg(long)]
    pub http2: bool,
    /// Accept any TLS certificate (self-signed test servers).
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Follow up to N redirections (301, 302, 303, 307, 308) per request; the chain counts as
    /// one request, its latency from the first send to the last response (default: none).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_redirects: u32,
    /// Threshold, e.g. 'p99<5ms', 'error_rate<0.01', 'rps>10000', 'search.p99<5ms',
    /// 'connect_p99<10ms', 'slow_connects<1' (repeatable).
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
    /// Stop as soon as a threshold fails.
    #[arg(long)]
    pub abort_on_fail: bool,
    /// Expect this status on every response (a check; repeatable as a scenario file's checks).
    #[arg(long, value_name = "CODE")]
    pub check_status: Option<u16>,
    /// Run part I of N of the load (I/N), for running segments on several machines.
    #[arg(long, default_value = "1/1", value_name = "I/N")]
    pub segment: String,
}

impl LoadRequest {
    /// A request with the binary's defaults.
    pub fn new() -> LoadRequest {
        LoadRequest {
            method: "GET".into(),
            arrival: "fixed".into(),
            segment: "1/1".into(),
            max_connections: 64,
            max_queue: 100_000,
            ..LoadRequest::default()
        }
    }

    /// The plan's identity: FNV-1a over the flags (the segment left out) and the scenario
    /// file's bytes, as 16 hex digits.
    fn plan_id(&self) -> String {
        let mut text = format!(
            "{:?}",
            LoadRequest {
                segment: String::new(),
                ..self.clone()
            }
        );
        if let Some(f) = &self.scenario_file {
            text.push_str(&read_bounded(f, "scenario file").unwrap_or_default());
        }
        let h = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        format!("{h:016x}")
    }

    /// Check everything and build the engine's options and the thresholds.
    ///
    /// # Errors
    /// [`LoadError::Config`] naming the flag, file and line, or scenario at fault.
    pub fn validate(&self) -> Result<(LoadOptions, Vec<Threshold>), LoadError> {
        let (scenarios, mut threshold_texts, plan, executors) =
            match (&self.scenario_file, &self.url) {
                (Some(f), None) => load_scenarios(f)?,
                (None, Some(url)) => {
                    let mut headers = Vec::new();
                    for h in &self.headers {
                        let (k, v) = h.split_once(':').ok_or_else(|| {
                            config(format!("-H {h:?}: write it as 'Name: value'"))
                        })?;
                        headers.push((k.to_string(), v.to_string()));
                    }
                    let body = self
                        .body
                        .as_deref()
                        .map(|b| read_body(b, Path::new("."), "--body"))
                        .transpose()?;
                    let checks = self.check_status.map(Check::Status).into_iter().collect();
                    let s = scenario(
                        "default",
                        1,
                        &self.method,
                        url,
                        &headers,
                        body,
                        None,
                        checks,
                    )?;
                    (vec![s], Vec::new(), FilePlan::default(), vec![None])
                }
                (Some(_), Some(_)) => {
                    return Err(config("give a URL or --scenario-file, not both".into()))
                }
                (None, None) => {
                    return Err(config(
                        "give a URL (http://host:port/path) or --scenario-file FILE".into(),
                    ))
                }
            };
        threshold_texts.extend(self.thresholds.iter().cloned());
        let request = self.overlaid(plan);
        let (mut opts, thresholds) = request.build(scenarios.clone(), threshold_texts)?;
        // As in k6, a flag that sets the load or the length (-c, --rate, --stages, -d, -n) runs
        // the whole file under it instead of the scenarios' own executors.
        let shortcut = self.vus.is_some()
            || self.rate.is_some()
            || self.stages.is_some()
            || self.duration.is_some()
            || self.requests.is_some();
        if executors.iter().any(Option::is_some) && !shortcut {
            opts.parts = request.parts(&scenarios, &executors, &opts.plan)?;
        }
        Ok((opts, thresholds))
    }

    /// The executors of a scenario file: each scenario with its own executor, with the ones
    /// it chains to (`then`), under that executor's load; the other scenarios together under
    /// the top-level plan.
    fn parts(
        &self,
        scenarios: &[Scenario],
        executors: &[Option<ExecutorEntry>],
        plan: &str,
    ) -> Result<Vec<crate::options::Part>, LoadError> {
        // A root and every scenario its chain reaches, in file order.
        let chain = |root: usize| {
            let mut members = vec![root];
            let mut at = scenarios[root].then;
            while let Some(j) = at.filter(|j| !members.contains(j)) {
                members.push(j);
                at = scenarios[j].then;
            }
            members.sort_unstable();
            members
        };
        let group = |members: &[usize], own_root: Option<usize>| {
            let mut sub: Vec<Scenario> = members.iter().map(|&i| scenarios[i].clone()).collect();
            for s in &mut sub {
                s.then = s.then.and_then(|t| members.iter().position(|&m| m == t));
            }
            if let Some(root) = own_root {
                // Only the root starts a VU's chain; the rest run when it leads to them.
                for (s, &i) in sub.iter_mut().zip(members) {
                    s.weight = u32::from(i == root);
                }
            }
            sub
        };
        let mut parts = Vec::new();
        for (i, e) in executors.iter().enumerate() {
            let Some(e) = e else { continue };
            let members = chain(i);
            if let Some(&j) = members.iter().find(|&&j| j != i && executors[j].is_some()) {
                return Err(config(format!(
                    "{}: then {:?} has an executor of its own: a chained scenario runs under the executor of the one that leads to it",
                    e.at, scenarios[j].name
                )));
            }
            let (request, per_vu) = e.request(self)?;
            let (mut options, _) = request
                .build(group(&members, Some(i)), Vec::new())
                .map_err(|err| config(format!("{}: {err}", e.at)))?;
            options.per_vu_requests = per_vu;
            options.plan = plan.to_string();
            parts.push(crate::options::Part {
                name: scenarios[i].name.clone(),
                executor: e.kind.clone(),
                options,
            });
        }
        let mut rest: Vec<usize> = Vec::new();
        for i in (0..scenarios.len()).filter(|&i| executors[i].is_none() && scenarios[i].weight > 0)
        {
            for j in chain(i) {
                if !rest.contains(&j) {
                    rest.push(j);
                }
            }
        }
        rest.sort_unstable();
        if !rest.is_empty() {
            let (mut options, _) = self.build(group(&rest, None), Vec::new())?;
            options.plan = plan.to_string();
            parts.push(crate::options::Part {
                name: "top-level".into(),
                executor: "top-level plan".into(),
                options,
            });
        }
        Ok(parts)
    }

    /// This request with the scenario file's plan keys wherever no flag was given.
    fn overlaid(&self, plan: FilePlan) -> LoadRequest {
        let mut r = self.clone();
        r.vus = r.vus.or(plan.vus);
        r.rate = r.rate.or(plan.rate);
        r.duration = r.duration.or(plan.duration);
        r.stages = r.stages.or(plan.stages);
        r.think_time = r.think_time.or(plan.think_time);
        r.warmup = r.warmup.or(plan.warmup);
        r.requests = r.requests.or(plan.requests);
        r.timeout = r.timeout.or(plan.timeout);
        r.grace = r.grace.or(plan.grace);
        r.expected_rate = r.expected_rate.or(plan.expected_rate);
        r
    }

    fn build(
        &self,
        scenarios: Vec<Scenario>,
        threshold_texts: Vec<String>,
    ) -> Result<(LoadOptions, Vec<Threshold>), LoadError> {
        let names = crate::options::result_names(&scenarios);
        let thresholds = threshold_texts
            .iter()
            .map(|t| Threshold::parse(t, &names))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(t) = thresholds.iter().find(|t| t.is_target_metric()) {
            if self.watch_metrics.is_none() {
                return Err(config(format!(
                    "threshold {:?} reads the target's own metrics: give --watch-metrics http://HOST:PORT/metrics",
                    t.expression
                )));
            }
        }
        for t in thresholds.iter().filter(|t| t.metric == "checks") {
            let has = scenarios
                .iter()
                .filter(|s| t.scenario.as_ref().is_none_or(|n| *n == s.name))
                .any(|s| !s.checks.is_empty());
            if !has {
                return Err(config(format!(
                    "threshold {:?}: no check is defined there (add --check-status CODE or checks to the scenario file)",
                    t.expression
                )));
            }
        }
        let stages = self
            .stages
            .as_deref()
            .map(parse_stages)
            .transpose()?
            .unwrap_or_default();
        let model = match (&self.rate, self.vus) {
            (Some(_), Some(_)) => {
                return Err(config(
                    "--rate (open model) and --vus (closed model) exclude each other".into(),
                ))
            }
            (Some(r), None) => Model::Open {
                rate: parse_rate(r)?,
                poisson: self.arrival == "poisson",
                max_connections: self.max_connections.max(1),
                max_queue: self.max_queue.max(1),
            },
            (None, vus) => Model::Closed {
                vus: vus.unwrap_or(if stages.is_empty() { 10 } else { 0 }),
                think_time: self
                    .think_time
                    .as_deref()
                    .map(|t| dur("think-time", t))
                    .transpose()?
                    .unwrap_or(Duration::ZERO),
                expected_rate: self
                    .expected_rate
                    .as_deref()
                    .map(|r| {
                        parse_rate(r)
                            .map_err(|e| config(e.to_string().replace("--rate", "--expected-rate")))
                    })
                    .transpose()?,
            },
        };
        if let Model::Closed { vus: 0, .. } = model {
            if stages.is_empty() {
                return Err(config("--vus must be at least 1".into()));
            }
        }
        match &model {
            Model::Closed { vus, .. } => check_vus("--vus", *vus as f64)?,
            Model::Open {
                max_connections, ..
            } => check_vus("--max-connections", *max_connections as f64)?,
        }
        for st in &stages {
            match &model {
                Model::Closed { .. } => check_vus("a stage's target of", st.target)?,
                Model::Open { .. } if st.target > MAX_RATE => {
                    return Err(config(format!(
                        "a stage's target rate {}/s is more than {MAX_RATE:e}/s",
                        st.target
                    )))
                }
                Model::Open { .. } => {}
            }
        }
        let mut opts = LoadOptions {
            model,
            stages,
            duration: dur("duration", self.duration.as_deref().unwrap_or("10s"))?,
            max_requests: self.requests,
            warmup: dur("warmup", self.warmup.as_deref().unwrap_or("0s"))?,
            timeout: dur("timeout", self.timeout.as_deref().unwrap_or("10s"))?,
            grace: dur("grace", self.grace.as_deref().unwrap_or("1s"))?,
            plan: self.plan_id(),
            watch_metrics: self.watch_metrics.clone(),
            scenarios,
            segment: parse_segment(&self.segment)?,
            abort_on_fail: self.abort_on_fail,
            max_body_kept: 64 * 1024,
            http2: self.http2,
            insecure: self.insecure,
            max_redirects: self.max_redirects,
            per_vu_requests: None,
            parts: Vec::new(),
        };
        // `-n` is the whole test's count, like the rate and the VUs: a segment runs its share.
        opts.max_requests = opts
            .max_requests
            .map(|n| opts.segment_share(n as usize) as u64);
        if let Model::Closed { vus, .. } = &opts.model {
            let peak = opts
                .stages
                .iter()
                .map(|s| s.target.ceil() as usize)
                .chain([*vus])
                .max()
                .unwrap_or(*vus);
            if opts.segment.1 > 1 && opts.segment_share(peak) == 0 {
                return Err(config(format!(
                    "--segment {}: {peak} virtual users split {} ways leave this segment none (use at least {} VUs)",
                    self.segment, opts.segment.1, opts.segment.1
                )));
            }
        }
        if opts.timeout.is_zero() {
            return Err(config("--timeout must be more than zero".into()));
        }
        if opts.total_duration().is_zero() && opts.max_requests.is_none() {
            return Err(config(
                "the test has no length: give --duration, --stages or --requests".into(),
            ));
        }
        Ok((opts, thresholds))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    #[serde(default)]
    thresholds: Vec<toml::Spanned<String>>,
    vus: Option<usize>,
    rate: Option<String>,
    duration: Option<String>,
    stages: Option<String>,
    think_time: Option<String>,
    warmup: Option<String>,
    requests: Option<u64>,
    timeout: Option<toml::Spanned<String>>,
    grace: Option<String>,
    expected_rate: Option<String>,
    scenario: Vec<toml::Spanned<ScenarioEntry>>,
}

/// What a scenario file holds: the scenarios, threshold texts, the plan's top-level keys, and
/// each scenario's own executor (None: the top-level plan runs it).
type FileContents = (
    Vec<Scenario>,
    Vec<String>,
    FilePlan,
    Vec<Option<ExecutorEntry>>,
);

/// The plan's own keys at the top of a scenario file (each flag overrides its key).
#[derive(Debug, Default, Clone)]
struct FilePlan {
    vus: Option<usize>,
    rate: Option<String>,
    duration: Option<String>,
    stages: Option<String>,
    think_time: Option<String>,
    warmup: Option<String>,
    requests: Option<u64>,
    timeout: Option<String>,
    grace: Option<String>,
    expected_rate: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioEntry {
    name: String,
    #[serde(default = "one")]
    weight: u32,
    #[serde(default = "get")]
    method: String,
    url: String,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    body: Option<String>,
    body_file: Option<String>,
    csv: Option<String>,
    #[serde(default)]
    check: Vec<CheckEntry>,
    /// `var = "json.path"`: values kept for this VU's later requests (`{{var.NAME}}`).
    #[serde(default)]
    extract: std::collections::BTreeMap<String, String>,
    /// The scenario this VU sends next.
    then: Option<String>,
    /// `key = "value"`: results are also given per tag.
    #[serde(default)]
    tags: std::collections::BTreeMap<String, String>,
    /// A k6 executor: this scenario (and those it chains to) runs under its own load.
    executor: Option<String>,
    vus: Option<usize>,
    rate: Option<String>,
    duration: Option<String>,
    stages: Option<String>,
    iterations: Option<u64>,
    think_time: Option<String>,
}

/// A scenario's own executor, as the file wrote it.
#[derive(Debug, Clone)]
struct ExecutorEntry {
    kind: String,
    vus: Option<usize>,
    rate: Option<String>,
    duration: Option<String>,
    stages: Option<String>,
    iterations: Option<u64>,
    think_time: Option<String>,
    /// `FILE:LINE: scenario NAME` for errors.
    at: String,
}

/// The k6 executors, and the keys each takes (besides `think_time` for the closed ones).
const EXECUTORS: [(&str, &[&str]); 6] = [
    ("constant-vus", &["vus", "duration"]),
    ("ramping-vus", &["vus", "stages"]),
    ("constant-arrival-rate", &["rate", "duration"]),
    ("ramping-arrival-rate", &["rate", "stages"]),
    ("per-vu-iterations", &["vus", "iterations", "duration"]),
    ("shared-iterations", &["vus", "iterations", "duration"]),
];

impl ExecutorEntry {
    /// This executor's plan: `base` (the flags over the file's top-level keys) with its own
    /// model, length and count.
    fn request(&self, base: &LoadRequest) -> Result<(LoadRequest, Option<u64>), LoadError> {
        let err = |m: String| config(format!("{}: {m}", self.at));
        let Some((_, keys)) = EXECUTORS.iter().find(|(k, _)| *k == self.kind) else {
            let names: Vec<&str> = EXECUTORS.iter().map(|(k, _)| *k).collect();
            return Err(err(format!(
                "executor {:?}: use one of {}",
                self.kind,
                names.join(", ")
            )));
        };
        let given = [
            ("vus", self.vus.is_some()),
            ("rate", self.rate.is_some()),
            ("duration", self.duration.is_some()),
            ("stages", self.stages.is_some()),
            ("iterations", self.iterations.is_some()),
        ];
        for (key, set) in given {
            if set && !keys.contains(&key) {
                return Err(err(format!(
                    "{key} does not apply to executor {}",
                    self.kind
                )));
            }
        }
        let open = self.kind.ends_with("arrival-rate");
        if open && self.think_time.is_some() {
            return Err(err(format!(
                "think_time does not apply to executor {}",
                self.kind
            )));
        }
        let need = |set: bool, key: &str| {
            if set {
                Ok(())
            } else {
                Err(err(format!("executor {} needs {key}", self.kind)))
            }
        };
        let mut r = base.clone();
        r.vus = None;
        r.rate = None;
        r.stages = None;
        r.requests = None;
        r.expected_rate = None;
        r.think_time = self.think_time.clone().or(base.think_time.clone());
        r.duration = self.duration.clone().or(base.duration.clone());
        let mut per_vu = None;
        match self.kind.as_str() {
            "constant-vus" => {
                need(self.vus.is_some(), "vus")?;
                r.vus = self.vus;
            }
            "ramping-vus" => {
                need(self.stages.is_some(), "stages")?;
                r.vus = Some(self.vus.unwrap_or(0));
                r.stages = self.stages.clone();
            }
            "constant-arrival-rate" => {
                need(self.rate.is_some(), "rate")?;
                r.rate = self.rate.clone();
            }
            "ramping-arrival-rate" => {
                need(self.stages.is_some(), "stages")?;
                r.rate = Some(self.rate.clone().unwrap_or_else(|| "1/s".into()));
                r.stages = self.stages.clone();
            }
            iterations => {
                need(self.iterations.is_some(), "iterations")?;
                let (vus, n) = (self.vus.unwrap_or(1), self.iterations.unwrap_or(0));
                if vus == 0 || n == 0 {
                    return Err(err("vus and iterations must be at least 1".into()));
                }
                r.vus = Some(vus);
                // The most time the iterations may take (k6's maxDuration, 10 minutes).
                r.duration = self.duration.clone().or(Some("10m".into()));
                if iterations == "per-vu-iterations" {
                    per_vu = Some(n);
                    r.requests = Some(n * vus as u64);
                } else {
                    r.requests = Some(n);
                }
            }
        }
        Ok((r, per_vu))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckEntry {
    status: Option<u16>,
    body_contains: Option<String>,
    json_field: Option<String>,
    latency_under: Option<String>,
}

fn one() -> u32 {
    1
}

fn get() -> String {
    "GET".into()
}

pub(crate) fn dur(flag: &str, v: &str) -> Result<Duration, LoadError> {
    parse_duration(v).map_err(|e| config(format!("--{flag}: {e}")))
}

#[allow(clippy::too_many_arguments)]
fn scenario(
    name: &str,
    weight: u32,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<String>,
    csv: Option<CsvData>,
    checks: Vec<Check>,
) -> Result<Scenario, LoadError> {
    let target = parse_url(&crate::template::expand_env(
        url,
        &format!("scenario {name}: url"),
    )?)?;
    let (authority, path) = (target.authority, target.path);
    let method = hyper::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| config(format!("scenario {name}: invalid method {method:?}")))?;
    let mut hs = Vec::new();
    for (k, v) in headers {
        let hname = hyper::header::HeaderName::from_bytes(k.trim().as_bytes())
            .map_err(|_| config(format!("scenario {name}: invalid header name {k:?}")))?;
        hs.push((
            hname,
            Template::compile(
                v.trim(),
                csv.as_ref(),
                &format!("scenario {name}: header {k}"),
            )?,
        ));
    }
    Ok(Scenario {
        name: name.to_string(),
        weight,
        url: Template::compile(&path, csv.as_ref(), &format!("scenario {name}: url"))?,
        authority,
        tls: target.tls,
        method,
        headers: hs,
        body: body
            .map(|b| Template::compile(&b, csv.as_ref(), &format!("scenario {name}: body")))
            .transpose()?,
        checks,
        csv,
        extract: Vec::new(),
        then: None,
        tags: Vec::new(),
    })
}

/// The most a scenario reads of a file it names (a body, a CSV, the scenario file itself):
/// each is read whole into memory, so `/dev/zero` or a log must stop here, not at 9 GB.
pub const FILE_LIMIT: u64 = 64 << 20;

/// `path` as text, at most [`FILE_LIMIT`] bytes; `what` says who asked (`FILE:LINE: scenario
/// x: csv`).
fn read_bounded(path: &Path, what: &str) -> Result<String, LoadError> {
    use std::io::Read as _;
    let fail = |m: String| config(format!("{what} {}: {m}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(FILE_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.to_string()))?;
    if bytes.len() as u64 > FILE_LIMIT {
        return Err(fail(format!(
            "larger than {} MiB; a scenario reads its files whole",
            FILE_LIMIT >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|e| fail(format!("not UTF-8 text ({e})")))
}

fn read_body(spec: &str, base: &Path, what: &str) -> Result<String, LoadError> {
    match spec.strip_prefix('@') {
        Some(file) => read_bounded(&base.join(file), what),
        None => Ok(spec.to_string()),
    }
}

/// Read a scenario file (TOML), with errors naming its path and line.
fn load_scenarios(path: &Path) -> Result<FileContents, LoadError> {
    let text = read_bounded(path, "scenario file")?;
    let file: ScenarioFile = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
            .map_or(String::new(), |l| format!(":{l}"));
        config(format!(
            "{}{line}: {}",
            path.display(),
            e.message().trim().replace('\n', ", ")
        ))
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    // Every mistake names the file and the line it is on.
    let line_of = |at: usize| text[..at.min(text.len())].matches('\n').count() + 1;
    let file_line = |at: usize| format!("{}:{}", path.display(), line_of(at));
    if let Some(t) = &file.timeout {
        let zero = parse_duration(t.get_ref()).is_ok_and(|d| d.is_zero());
        if zero {
            return Err(config(format!(
                "{}: timeout {:?} must be more than zero",
                file_line(t.span().start),
                t.get_ref()
            )));
        }
    }
    let mut out = Vec::new();
    let mut executors = Vec::new();
    // A scenario some other one chains to (`then`) may have weight 0: it runs only after it.
    let chained: Vec<String> = file
        .scenario
        .iter()
        .filter_map(|s| s.get_ref().then.clone())
        .collect();
    let mut thens: Vec<(usize, String, String)> = Vec::new();
    for spanned in file.scenario {
        let here = file_line(spanned.span().start);
        let s = spanned.into_inner();
        if let Some(t) = &s.then {
            thens.push((out.len(), t.clone(), here.clone()));
        }
        let (sc, executor) = one_scenario(s, &here, base, &chained)?;
        out.push(sc);
        executors.push(executor);
    }
    for (i, name, here) in thens {
        let Some(j) = out.iter().position(|s| s.name == name) else {
            return Err(config(format!(
                "{here}: then {name:?}: no scenario has that name"
            )));
        };
        out[i].then = Some(j);
    }
    check_scenario_set(&out, path)?;
    let plan = FilePlan {
        vus: file.vus,
        rate: file.rate,
        duration: file.duration,
        stages: file.stages,
        think_time: file.think_time,
        warmup: file.warmup,
        requests: file.requests,
        timeout: file.timeout.map(toml::Spanned::into_inner),
        grace: file.grace,
        expected_rate: file.expected_rate,
    };
    let names = crate::options::result_names(&out);
    let mut thresholds = Vec::new();
    for t in file.thresholds {
        Threshold::parse(t.get_ref(), &names)
            .map_err(|e| config(format!("{}: {e}", file_line(t.span().start))))?;
        thresholds.push(t.into_inner());
    }
    Ok((out, thresholds, plan, executors))
}

/// One `[[scenario]]` of a file (at `here`, `FILE:LINE`): checked, built, with its executor.
fn one_scenario(
    s: ScenarioEntry,
    here: &str,
    base: &Path,
    chained: &[String],
) -> Result<(Scenario, Option<ExecutorEntry>), LoadError> {
    let name = s.name.clone();
    let at = |m: String| config(format!("{here}: scenario {name}: {m}"));
    check_scenario_entry(&s, chained, &at)?;
    let csv = match &s.csv {
        Some(c) => {
            let p = base.join(c);
            let text = read_bounded(&p, &format!("{here}: scenario {name}: csv"))?;
            Some(CsvData::parse(&text, &p.display().to_string())?)
        }
        None => None,
    };
    let body = match (&s.body, &s.body_file) {
        (Some(_), Some(_)) => return Err(at("give body or body_file, not both".into())),
        (Some(b), None) => Some(b.clone()),
        (None, Some(f)) => Some(read_body(
            &format!("@{f}"),
            base,
            &format!("{here}: scenario {name}: body_file"),
        )?),
        (None, None) => None,
    };
    let checks = scenario_checks(&s, &at)?;
    let headers: Vec<(String, String)> = s.headers.clone().into_iter().collect();
    let mut sc = scenario(
        &s.name, s.weight, &s.method, &s.url, &headers, body, csv, checks,
    )
    .map_err(|e| config(format!("{here}: {e}")))?;
    sc.extract = s.extract.clone().into_iter().collect();
    sc.tags = s.tags.clone().into_iter().collect();
    let executor = executor_entry(s, here, &at)?;
    Ok((sc, executor))
}

/// A scenario's weight, extractions, name and tags, as the rest of perflab reads them.
fn check_scenario_entry(
    s: &ScenarioEntry,
    chained: &[String],
    at: &dyn Fn(String) -> LoadError,
) -> Result<(), LoadError> {
    if s.weight == 0 && !chained.contains(&s.name) {
        return Err(at(
            "weight 0 would never run: give 1 or more, leave it out, or reach it with then".into(),
        ));
    }
    for (var, path) in &s.extract {
        if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(at(format!(
                "extract {var:?}: a name of letters, digits and _"
            )));
        }
        if path.is_empty() {
            return Err(at(format!(
                "extract {var}: give a dotted JSON path, e.g. \"id\" or \"data.0.id\""
            )));
        }
    }
    if s.name.contains('=') {
        return Err(at(
            "a scenario name cannot hold '=' (tags' results are named key=value)".into(),
        ));
    }
    for (k, v) in &s.tags {
        let ok = |x: &str| !x.is_empty() && !x.contains(['=', '.', ' ']);
        if !ok(k) || !ok(v) {
            return Err(at(format!(
                "tag {k:?} = {v:?}: no '=', '.' or spaces, not empty"
            )));
        }
    }
    Ok(())
}

/// A scenario's `[[scenario.check]]` entries (at most 64).
fn scenario_checks(
    s: &ScenarioEntry,
    at: &dyn Fn(String) -> LoadError,
) -> Result<Vec<Check>, LoadError> {
    let mut checks = Vec::new();
    for c in &s.check {
        if let Some(st) = c.status {
            checks.push(Check::Status(st));
        }
        if let Some(b) = &c.body_contains {
            checks.push(Check::BodyContains(b.clone()));
        }
        if let Some(j) = &c.json_field {
            checks.push(Check::JsonField(j.clone()));
        }
        if let Some(l) = &c.latency_under {
            checks.push(Check::LatencyUnder(
                parse_duration(l).map_err(|e| at(e.to_string()))?,
            ));
        }
    }
    if checks.len() > 64 {
        return Err(at("at most 64 checks".into()));
    }
    Ok(checks)
}

/// A scenario's own executor (k6's `executor = …` with its load settings), which its load
/// settings need.
fn executor_entry(
    s: ScenarioEntry,
    here: &str,
    at: &dyn Fn(String) -> LoadError,
) -> Result<Option<ExecutorEntry>, LoadError> {
    let own = [s.vus.is_some(), s.rate.is_some(), s.duration.is_some()]
        .into_iter()
        .chain([
            s.stages.is_some(),
            s.iterations.is_some(),
            s.think_time.is_some(),
        ])
        .any(|b| b);
    match s.executor {
        Some(kind) => Ok(Some(ExecutorEntry {
            kind,
            vus: s.vus,
            rate: s.rate,
            duration: s.duration,
            stages: s.stages,
            iterations: s.iterations,
            think_time: s.think_time,
            at: format!("{here}: scenario {}", s.name),
        })),
        None if own => Err(at(
            "vus, rate, duration, stages, iterations and think_time of a scenario need its executor (e.g. executor = \"constant-vus\")".into(),
        )),
        None => Ok(None),
    }
}

/// The scenarios of a file together: one that runs at all, at least one, unique names, and not
/// `all` (the totals' name).
fn check_scenario_set(out: &[Scenario], path: &Path) -> Result<(), LoadError> {
    if !out.is_empty() && out.iter().all(|s| s.weight == 0) {
        return Err(config(format!(
            "{}: every scenario has weight 0",
            path.display()
        )));
    }
    if out.is_empty() {
        return Err(config(format!(
            "{}: no [[scenario]] entries",
            path.display()
        )));
    }
    let mut names: Vec<&str> = out.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(config(format!(
            "{}: two scenarios named {:?}",
            path.display(),
            w[0]
        )));
    }
    if names.contains(&"all") {
        return Err(config(format!(
            "{}: \"all\" is reserved for the totals",
            path.display()
        )));
    }
    Ok(())
}

/// Parse `--rate` (`1000/s`, `20k/s`, a bare number).
///
/// # Errors
/// [`LoadError::Config`] for anything but a positive rate.
pub fn parse_rate(s: &str) -> Result<f64, LoadError> {
    let v = perflab_model::parse_quantity(s)
        .and_then(|q| q.value_for(&perflab_model::Unit::per_sec(), "--rate", s))
        .map_err(|e| config(format!("--rate {s:?}: {e}")))?;
    if v.is_nan() || v <= 0.0 {
        return Err(config(format!("--rate {s:?} must be positive")));
    }
    if v > MAX_RATE {
        return Err(config(format!(
            "--rate {s:?} is more than {MAX_RATE:e}/s, which no generator reaches; for as fast as it can go, use the closed model (--vus)"
        )));
    }
    Ok(v)
}

/// The largest rate a plan may ask for: far beyond one machine's reach (the open model then
/// sends as fast as it can), but not a typo of 1e300.
pub const MAX_RATE: f64 = 1e9;

/// The most virtual users (or connections) one process is asked for: each holds a socket and
/// its buffers, about 9 KB, so 100,000 is near 1 GB; more is split with `--segment`.
pub const MAX_VUS: usize = 100_000;

fn check_vus(what: &str, n: f64) -> Result<(), LoadError> {
    if n > MAX_VUS as f64 {
        return Err(config(format!(
            "{what} {n} is more than {MAX_VUS} virtual users for one process (about 9 KB each); split the test with --segment I/N across processes or machines"
        )));
    }
    Ok(())
}

/// Parse `--segment I/N`.
///
/// # Errors
/// [`LoadError::Config`] unless 1 ≤ I ≤ N.
pub fn parse_segment(s: &str) -> Result<(usize, usize), LoadError> {
    let bad = || {
        config(format!(
            "--segment {s:?}: write it as I/N with 1 <= I <= N, e.g. 2/8"
        ))
    };
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let i: usize = i.trim().parse().map_err(|_| bad())?;
    let n: usize = n.trim().parse().map_err(|_| bad())?;
    if n == 0 || i == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}
