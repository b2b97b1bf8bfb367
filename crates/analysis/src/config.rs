//! `perflab.toml`: comparison settings, allowed changes per metric and benchmark, targets,
//! metric directions, and the project's build and benchmark commands (the keys are in
//! docs/config.md). Every mistake is an error naming the file, and the line when the TOML
//! parser knows it. The binary only finds the file and reads it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use perflab_model::Better;
use serde::Deserialize;

use crate::{AnalysisError, CompareOptions, Correction, Rule, Target};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    compare: CompareSection,
    #[serde(default)]
    max_change: BTreeMap<String, String>,
    #[serde(default)]
    rule: Vec<RuleEntry>,
    #[serde(default)]
    target: Vec<TargetEntry>,
    #[serde(default)]
    metric: BTreeMap<String, MetricEntry>,
    bench: Option<CommandSection>,
    build: Option<CommandSection>,
    load: Option<LoadSection>,
    serve: Option<ServeSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeSection {
    commit_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadSection {
    base_url: Option<String>,
    server: Option<String>,
    wait_port: Option<u16>,
    #[serde(default)]
    endpoint: Vec<EndpointEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointEntry {
    path: String,
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
}

/// `[load]`: where the service is, how to start it, and what each endpoint is sent, so that
/// `perflab load /path` and `perflab profile /path` work in the project's own terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadConfig {
    /// `base_url`: what a path is joined to (`http://127.0.0.1:8080`).
    pub base_url: Option<String>,
    /// `server`: started before a test of an endpoint and stopped after (`go run ./cmd/server`).
    pub server: Option<String>,
    /// `wait_port`: the port that tells the server is up (default: the base URL's port).
    pub wait_port: Option<u16>,
    /// `[[load.endpoint]]` entries.
    pub endpoints: Vec<Endpoint>,
}

/// One `[[load.endpoint]]`: how to call a path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoint {
    /// The path (`/api/v1/faces/search`).
    pub path: String,
    /// The method (default GET).
    pub method: Option<String>,
    /// Headers, `Name` → value.
    pub headers: BTreeMap<String, String>,
    /// The body (or `@FILE`).
    pub body: Option<String>,
}

impl LoadConfig {
    /// The entry for `path` (its query string ignored).
    pub fn endpoint(&self, path: &str) -> Option<&Endpoint> {
        let bare = path.split(['?', '#']).next().unwrap_or(path);
        self.endpoints
            .iter()
            .find(|e| e.path == bare || e.path == path)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandSection {
    command: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricEntry {
    better: Option<String>,
    max_change: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompareSection {
    alpha: Option<f64>,
    confidence: Option<f64>,
    correction: Option<String>,
    max_change: Option<String>,
    fail_on_missing: Option<bool>,
    fail_on_inconclusive: Option<bool>,
    rounds: Option<usize>,
    max_rounds: Option<usize>,
    budget: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    benchmark: Option<String>,
    #[serde(default = "star")]
    metric: String,
    max_change: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetEntry {
    #[serde(default = "star")]
    benchmark: String,
    metric: String,
    target: String,
    critical: Option<String>,
}

fn star() -> String {
    "*".into()
}

/// How long `compare A..B` measures, as `[compare]` sets it (flags win).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AbSettings {
    /// Rounds measured first.
    pub rounds: Option<usize>,
    /// Rounds at most, adding more while a row is inconclusive.
    pub max_rounds: Option<usize>,
    /// Wall time the whole compare may take, and as the file wrote it.
    pub budget: Option<(std::time::Duration, String)>,
}

/// The validated configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Where it was read from (None: no file).
    pub path: Option<PathBuf>,
    /// Comparison settings and rules.
    pub compare: CompareOptions,
    /// Targets for `check` and `report`.
    pub targets: Vec<Target>,
    /// Directions set by `[metric.NAME] better = …`.
    pub better: BTreeMap<String, Better>,
    /// `[bench] command`: what `perflab bench` and `compare A..B` run when given no command.
    pub bench_command: Option<String>,
    /// `[build] command`: what `compare A..B` runs in each checkout before measuring.
    pub build_command: Option<String>,
    /// `[compare] rounds`, `max_rounds` and `budget`: how long `compare A..B` measures.
    pub ab: AbSettings,
    /// `[load]`: the service's base URL, server command and endpoints.
    pub load: LoadConfig,
    /// `[serve] commit_url`: a commit's page, `{commit}` standing for its hash
    /// (`https://github.com/OWNER/REPO/commit/{commit}`).
    pub commit_url: Option<String>,
}

impl Config {
    /// Give metrics the direction the config sets for them.
    pub fn apply_directions(&self, benchmarks: &mut [perflab_model::Benchmark]) {
        if self.better.is_empty() {
            return;
        }
        for b in benchmarks {
            for m in &mut b.metrics {
                if let Some(&d) = self.better.get(&m.name) {
                    m.better = d;
                }
            }
        }
    }

    /// Read `text` (the contents of `path`).
    ///
    /// # Errors
    /// [`AnalysisError::Config`] naming the file (and line) and the key that is wrong.
    pub fn parse(text: &str, path: &Path) -> Result<Config, AnalysisError> {
        let err = |message: String| AnalysisError::Config { message };
        let at = |what: String| err(format!("{}: {what}", path.display()));
        let file: File = toml::from_str(text).map_err(|e| {
            let loc = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                    format!(":{line}")
                })
                .unwrap_or_default();
            let message = e.message().trim().replace('\n', ", ");
            err(format!("{}{loc}: {message}", path.display()))
        })?;
        let pct = |v: &str, key: String| parse_pct(v).map_err(|e| at(format!("{key}: {e}")));
        let mut compare = CompareOptions::default();
        compare.alpha = file.compare.alpha.unwrap_or(compare.alpha);
        compare.confidence_level = file.compare.confidence.unwrap_or(compare.confidence_level);
        compare.fail_on_missing = file.compare.fail_on_missing.unwrap_or(false);
        compare.fail_on_inconclusive = file.compare.fail_on_inconclusive.unwrap_or(false);
        let budget = match &file.compare.budget {
            Some(b) => Some((
                perflab_model::parse_duration(b).map_err(|e| {
                    at(format!(
                        "compare.budget = {b:?}: {e} (write it as 10m, 90s or 1h)"
                    ))
                })?,
                b.clone(),
            )),
            None => None,
        };
        for (key, v) in [
            ("rounds", file.compare.rounds),
            ("max_rounds", file.compare.max_rounds),
        ] {
            if v.is_some_and(|n| n < 2) {
                return Err(at(format!(
                    "compare.{key}: each side needs at least 2 rounds to be tested"
                )));
            }
        }
        let ab = AbSettings {
            rounds: file.compare.rounds,
            max_rounds: file.compare.max_rounds,
            budget,
        };
        compare
            .validate("compare.")
            .map_err(|e| at(e.to_string()))?;
        if let Some(c) = &file.compare.correction {
            compare.correction = Correction::from_name(c)
                .ok_or_else(|| at(format!("compare.correction = {c:?}: use none, holm or bh")))?;
        }
        if let Some(m) = &file.compare.max_change {
            compare.default_max_change = pct(m, "compare.max_change".into())?;
        }
        for (metric, v) in &file.max_change {
            compare.rules.push(Rule {
                benchmark: None,
                metric: metric.clone(),
                max_change: pct(v, format!("max_change.{metric}"))?,
            });
        }
        for (i, r) in file.rule.iter().enumerate() {
            compare.rules.push(Rule {
                benchmark: r.benchmark.clone(),
                metric: r.metric.clone(),
                max_change: pct(&r.max_change, format!("rule[{i}].max_change"))?,
            });
        }
        let mut better = BTreeMap::new();
        for (name, m) in &file.metric {
            match m.better.as_deref() {
                Some("higher") => {
                    better.insert(name.clone(), Better::Higher);
                }
                Some("lower") => {
                    better.insert(name.clone(), Better::Lower);
                }
                Some(other) => {
                    return Err(at(format!(
                        "metric.{name}.better = {other:?}: use \"higher\" or \"lower\""
                    )))
                }
                None => {}
            }
            if let Some(v) = &m.max_change {
                compare.rules.push(Rule {
                    benchmark: None,
                    metric: name.clone(),
                    max_change: pct(v, format!("metric.{name}.max_change"))?,
                });
            }
        }
        let mut targets = Vec::new();
        for (i, t) in file.target.iter().enumerate() {
            let target = Target::parse(&t.benchmark, &t.metric, &t.target, t.critical.as_deref())
                .map_err(|e| {
                let sep = if matches!(e, AnalysisError::Field { .. }) {
                    ""
                } else {
                    ": "
                };
                at(format!("target[{i}]{sep}{e}"))
            })?;
            targets.push(target);
        }
        let command = |section: Option<CommandSection>, name: &str| match section {
            Some(s) if s.command.trim().is_empty() => Err(at(format!("{name}.command is empty"))),
            Some(s) => Ok(Some(s.command)),
            None => Ok(None),
        };
        Ok(Config {
            path: Some(path.to_path_buf()),
            compare,
            targets,
            better,
            bench_command: command(file.bench, "bench")?,
            build_command: command(file.build, "build")?,
            ab,
            load: load_config(file.load, &at)?,
            commit_url: match file.serve.and_then(|s| s.commit_url) {
                Some(u) if !u.contains("{commit}") => {
                    return Err(at(format!(
                        "serve.commit_url {u:?} has no {{commit}} in it"
                    )))
                }
                Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => {
                    return Err(at(format!("serve.commit_url {u:?} is not an http(s) URL")))
                }
                other => other,
            },
        })
    }
}

fn load_config(
    section: Option<LoadSection>,
    at: &dyn Fn(String) -> AnalysisError,
) -> Result<LoadConfig, AnalysisError> {
    let Some(l) = section else {
        return Ok(LoadConfig::default());
    };
    if let Some(u) = &l.base_url {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(at(format!(
                "load.base_url = {u:?}: give a URL such as \"http://127.0.0.1:8080\""
            )));
        }
    }
    if l.server.as_deref().is_some_and(|s| s.trim().is_empty()) {
        return Err(at("load.server is empty".into()));
    }
    let mut endpoints = Vec::new();
    for (i, e) in l.endpoint.into_iter().enumerate() {
        if !e.path.starts_with('/') {
            return Err(at(format!(
                "load.endpoint[{i}].path = {:?}: a path starts with /",
                e.path
            )));
        }
        endpoints.push(Endpoint {
            path: e.path,
            method: e.method,
            headers: e.headers,
            body: e.body,
        });
    }
    Ok(LoadConfig {
        base_url: l.base_url.map(|u| u.trim_end_matches('/').to_string()),
        server: l.server,
        wait_port: l.wait_port,
        endpoints,
    })
}

/// Parse `10%`, `+20%`, `-10%` or `0.1` into a fraction (the sign is ignored: the allowed change
/// always applies in the metric's worse direction).
///
/// # Errors
/// [`AnalysisError::Config`] for anything that is not a percentage or a fraction; a bare
/// number above 1 is refused rather than read as a percentage without its sign.
pub fn parse_pct(s: &str) -> Result<f64, AnalysisError> {
    let t = s.trim().trim_start_matches('+');
    let bad = |hint: &str| AnalysisError::Config {
        message: format!("invalid percentage {s:?} ({hint})"),
    };
    let q = perflab_model::parse_quantity(t).map_err(|_| bad("write it like 10%"))?;
    let bare_over_one = q.kind == perflab_model::Kind::Plain && q.value.abs() > 1.0;
    if bare_over_one
        || !matches!(
            q.kind,
            perflab_model::Kind::Fraction | perflab_model::Kind::Plain
        )
    {
        return Err(bad("write it like 10%, or as a fraction like 0.1"));
    }
    Ok(q.value.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages() {
        assert_eq!(parse_pct("10%").unwrap(), 0.1);
        assert_eq!(parse_pct("+20%").unwrap(), 0.2);
        assert_eq!(parse_pct("-10%").unwrap(), 0.1);
        assert_eq!(parse_pct("0.3").unwrap(), 0.3);
        assert!(parse_pct("ten").is_err());
        assert!(parse_pct("10").is_err(), "a bare 10 is not 1000%");
    }

    #[test]
    fn commands_and_their_mistakes() {
        let p = Path::new("perflab.toml");
        let c = Config::parse(
            "[bench]\ncommand = \"go test -bench .\"\n[build]\ncommand = \"make\"\n",
            p,
        )
        .unwrap();
        assert_eq!(c.bench_command.as_deref(), Some("go test -bench ."));
        assert_eq!(c.build_command.as_deref(), Some("make"));
        let e = Config::parse("[bench]\ncommand = \" \"\n", p).unwrap_err();
        assert_eq!(e.to_string(), "perflab.toml: bench.command is empty");
        let e = Config::parse("[build]\ncmd = \"make\"\n", p).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("perflab.toml:2: unknown field `cmd`"),
            "{e}"
        );
        let e = Config::parse("[compare]\nmax_change = \"ten\"\n", p).unwrap_err();
        assert!(e.to_string().contains("compare.max_change"), "{e}");
    }
}
