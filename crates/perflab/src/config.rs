//! `perflab.toml`: comparison settings, allowed changes per metric and benchmark, targets and
//! metric directions (the keys are in docs/config.md). The file is read here; what it sets is
//! validated by the crates that own it (levels and targets in perflab-analysis).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use perflab_analysis::{AnalysisError, CompareOptions, Correction, Rule, Target};
use perflab_model::Better;
use serde::Deserialize;

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

/// The validated configuration.
#[derive(Debug, Clone, Default)]
pub(crate) struct Config {
    /// Where it was read from (None: no file).
    pub(crate) path: Option<PathBuf>,
    /// Comparison settings and rules.
    pub(crate) compare: CompareOptions,
    /// Targets for `check` and `report`.
    pub(crate) targets: Vec<Target>,
    /// Directions set by `[metric.NAME] better = …`.
    pub(crate) better: BTreeMap<String, Better>,
}

impl Config {
    /// Give metrics the direction the config sets for them.
    pub(crate) fn apply_directions(&self, benchmarks: &mut [perflab_model::Benchmark]) {
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
}

/// Parse `10%`, `+20%`, `-10%` or `0.1` into a fraction (the sign is ignored: the allowed change
/// always applies in the metric's worse direction).
pub(crate) fn parse_pct(s: &str) -> Result<f64> {
    let t = s.trim().trim_start_matches('+');
    let q = perflab_model::parse_quantity(t)
        .with_context(|| format!("invalid percentage {s:?} (write it like 10%)"))?;
    // A bare number is a fraction; above 1 it is a percentage written without its sign.
    let bare_over_one = q.kind == perflab_model::Kind::Plain && q.value.abs() > 1.0;
    if bare_over_one
        || !matches!(
            q.kind,
            perflab_model::Kind::Fraction | perflab_model::Kind::Plain
        )
    {
        bail!("invalid percentage {s:?} (write it like 10%, or as a fraction like 0.1)");
    }
    Ok(q.value.abs())
}

/// Load `explicit`, or `perflab.toml` at `root` when it exists; no file gives the defaults.
pub(crate) fn load(explicit: Option<&Path>, root: &Path) -> Result<Config> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let p = root.join("perflab.toml");
            if !p.exists() {
                return Ok(Config::default());
            }
            p
        }
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    let file: File = toml::from_str(&text).map_err(|e| {
        let loc = e
            .span()
            .map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!(":{line}")
            })
            .unwrap_or_default();
        let message = e.message().trim().replace('\n', ", ");
        anyhow::anyhow!("{}{loc}: {message}", path.display())
    })?;
    let at = |what: String| format!("{}: {what}", path.display());
    let mut compare = CompareOptions::default();
    compare.alpha = file.compare.alpha.unwrap_or(compare.alpha);
    compare.confidence_level = file.compare.confidence.unwrap_or(compare.confidence_level);
    compare
        .validate("compare.")
        .map_err(|e| anyhow::anyhow!(at(e.to_string())))?;
    if let Some(c) = &file.compare.correction {
        compare.correction = Correction::from_name(c).ok_or_else(|| {
            anyhow::anyhow!(at(format!(
                "compare.correction = {c:?}: use none, holm or bh"
            )))
        })?;
    }
    if let Some(m) = &file.compare.max_change {
        compare.default_max_change =
            parse_pct(m).with_context(|| at("compare.max_change".into()))?;
    }
    for (metric, v) in &file.max_change {
        compare.rules.push(Rule {
            benchmark: None,
            metric: metric.clone(),
            max_change: parse_pct(v).with_context(|| at(format!("max_change.{metric}")))?,
        });
    }
    for (i, r) in file.rule.iter().enumerate() {
        compare.rules.push(Rule {
            benchmark: r.benchmark.clone(),
            metric: r.metric.clone(),
            max_change: parse_pct(&r.max_change)
                .with_context(|| at(format!("rule[{i}].max_change")))?,
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
            Some(other) => bail!(at(format!(
                "metric.{name}.better = {other:?}: use \"higher\" or \"lower\""
            ))),
            None => {}
        }
        if let Some(v) = &m.max_change {
            compare.rules.push(Rule {
                benchmark: None,
                metric: name.clone(),
                max_change: parse_pct(v)
                    .with_context(|| at(format!("metric.{name}.max_change")))?,
            });
        }
    }
    let mut targets = Vec::new();
    for (i, t) in file.target.iter().enumerate() {
        targets.push(
            Target::parse(&t.benchmark, &t.metric, &t.target, t.critical.as_deref()).map_err(
                |e| {
                    let sep = if matches!(e, AnalysisError::Field { .. }) {
                        ""
                    } else {
                        ": "
                    };
                    anyhow::anyhow!(at(format!("target[{i}]{sep}{e}")))
                },
            )?,
        );
    }
    Ok(Config {
        path: Some(path),
        compare,
        targets,
        better,
    })
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
}
