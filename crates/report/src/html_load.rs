//! The HTML view of a load run, as k6's dashboard and Gatling's report show one: the plan and
//! its outcome, latency per scenario, thresholds in their units, checks, status codes and
//! errors, the load, throughput and latency over time, the latency distribution, and what each
//! request cost the target.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use perflab_model::load::{LoadSummary, SecondPoint};
use perflab_model::Unit;

use crate::escape::html;
use crate::load::observed_text;
use crate::svg::{self, ChartPoint, Trend, TrendLine};

/// A load run: the whole view, section by section.
pub fn load_section(load: &LoadSummary) -> String {
    let mut out = facts(load);
    out.push_str(&latency_table(load));
    out.push_str(&thresholds(load));
    out.push_str(&checks(load));
    out.push_str(&outcomes(load));
    out.push_str(&connections(load));
    out.push_str(&over_time(load));
    out.push_str(&distribution(load));
    out.push_str(&target(load));
    out
}

/// The plan, how long it ran, the rate it reached, and anything that makes the numbers partial.
fn facts(load: &LoadSummary) -> String {
    let t = |v: f64| Unit::seconds().format(v);
    let all = load.scenarios.get("all").cloned().unwrap_or_default();
    let mut out = format!(
        "<p class=\"load-facts\">{}; {} measured{}; {} requests, {:.1} req/s achieved{}; latency is the {}.</p>",
        html(load.description.as_deref().unwrap_or(&load.model)),
        t(load.measured_seconds),
        if load.warmup_seconds > 0.0 {
            format!(" after {} of warm-up", t(load.warmup_seconds))
        } else {
            String::new()
        },
        all.requests,
        load.achieved_rate,
        load.target_rate
            .map_or(String::new(), |r| format!(" of {r:.1} req/s asked")),
        if load.latency_is == "response_time" {
            "response time, from each request's intended send (coordinated omission corrected)"
        } else {
            "service time, from the actual send"
        }
    );
    let mut warnings = Vec::new();
    match load.ending {
        perflab_model::load::Ending::Interrupted => {
            warnings.push("interrupted: the results are partial".to_string());
        }
        perflab_model::load::Ending::Aborted => {
            warnings.push("aborted: a threshold failed (--abort-on-fail)".to_string());
        }
        perflab_model::load::Ending::Completed => {}
    }
    if load.dropped > 0 {
        warnings.push(format!(
            "{} requests dropped: the schedule's queue was full",
            load.dropped
        ));
    }
    if let Some(n) = all.errors.get("unfinished").filter(|n| **n > 0) {
        warnings.push(format!(
            "{n} requests due and unanswered at the end: their latency is a lower bound"
        ));
    }
    if load.generator_late > 0 {
        warnings.push(format!(
            "{} requests queued more than 2 ms late by the generator",
            load.generator_late
        ));
    }
    warnings.extend(crate::load::slow_connect_hint(load));
    for w in warnings {
        let _ = write!(out, "<p class=\"warn\">{}</p>", html(&w));
    }
    out
}

/// Requests, rate and latency percentiles per scenario (and `all`).
fn latency_table(load: &LoadSummary) -> String {
    let t = |v: f64| Unit::seconds().format(v);
    let mut out = String::from(
        "<table class=\"load-latency\"><thead><tr><th>Scenario</th><th class=\"num\">Requests</th>\
<th class=\"num\">req/s</th><th class=\"num\">p50</th><th class=\"num\">p90</th><th class=\"num\">p95</th>\
<th class=\"num\">p99</th><th class=\"num\">p99.9</th><th class=\"num\">max</th><th class=\"num\">Errors</th></tr></thead><tbody>",
    );
    for (name, s) in &load.scenarios {
        if name == "all" && load.scenarios.len() == 2 {
            continue;
        }
        let none = s.failed > 0 && s.failed >= s.requests;
        let l = &s.latency;
        let cell = |v: f64| {
            if none {
                "–".to_string()
            } else {
                t(v)
            }
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{}</td>\
<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
<td class=\"num\">{}</td><td class=\"num\">{:.2}%</td></tr>",
            html(name),
            s.requests,
            s.rps,
            cell(l.p50),
            cell(l.p90),
            cell(l.p95),
            cell(l.p99),
            cell(l.p99_9),
            cell(l.max),
            s.error_rate * 100.0
        );
    }
    out.push_str("</tbody></table><p class=\"note\">Latency of the requests that succeeded; failed ones are counted apart.</p>");
    out
}

/// Thresholds, each observed value in its metric's unit.
fn thresholds(load: &LoadSummary) -> String {
    if load.thresholds.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<h3>Thresholds</h3><table class=\"thresholds\"><thead><tr><th>Threshold</th>\
<th class=\"num\">Observed</th><th>Status</th></tr></thead><tbody>",
    );
    for t in &load.thresholds {
        let (class, word) = if t.passed {
            ("pass", "pass")
        } else {
            ("fail", "fail")
        };
        let observed = match &t.note {
            Some(note) => format!("<span class=\"note\">{}</span>", html(note)),
            None => html(&observed_text(t)),
        };
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td class=\"num\">{observed}</td><td class=\"{class}\">{word}</td></tr>",
            html(&t.expression)
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// Every check of every scenario, with its pass rate.
fn checks(load: &LoadSummary) -> String {
    let rows: Vec<(&String, &perflab_model::load::CheckSummary)> = load
        .scenarios
        .iter()
        .filter(|(n, _)| *n != "all" && !n.contains('='))
        .flat_map(|(n, s)| s.checks.iter().map(move |c| (n, c)))
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<h3>Checks</h3><table class=\"checks\"><thead><tr><th>Scenario</th><th>Check</th>\
<th class=\"num\">Passed</th><th class=\"num\">Of</th><th class=\"num\">Rate</th></tr></thead><tbody>",
    );
    for (name, c) in rows {
        let rate = if c.total > 0 {
            c.passed as f64 / c.total as f64
        } else {
            1.0
        };
        let class = if c.passed == c.total { "pass" } else { "fail" };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num {class}\">{:.2}%</td></tr>",
            html(name),
            html(&c.name),
            c.passed,
            c.total,
            rate * 100.0
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// Responses by status code and failures by kind, for `all`.
fn outcomes(load: &LoadSummary) -> String {
    let Some(all) = load.scenarios.get("all") else {
        return String::new();
    };
    if all.status.is_empty() && all.errors.is_empty() {
        return String::new();
    }
    let total = all.requests.max(1) as f64;
    let mut out = String::from(
        "<h3>Status codes and errors</h3><table class=\"status\"><thead><tr><th>Outcome</th>\
<th class=\"num\">Requests</th><th class=\"num\">Share</th></tr></thead><tbody>",
    );
    for (code, n) in &all.status {
        let class = if code.as_str() >= "400" {
            " class=\"fail\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<tr><td{class}>HTTP {}</td><td class=\"num\">{n}</td><td class=\"num\">{:.2}%</td></tr>",
            html(code),
            *n as f64 * 100.0 / total
        );
    }
    for (kind, n) in &all.errors {
        let _ = write!(
            out,
            "<tr><td class=\"fail\">{}</td><td class=\"num\">{n}</td><td class=\"num\">{:.2}%</td></tr>",
            html(kind),
            *n as f64 * 100.0 / total
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// The connections opened and their handshakes: TCP connect, and TLS over HTTPS.
fn connections(load: &LoadSummary) -> String {
    let Some(c) = &load.connects else {
        return String::new();
    };
    let t = |v: f64| Unit::seconds().format(v);
    let mut out = String::from(
        "<h3>Connections</h3><table class=\"connections\"><thead><tr><th>Handshake</th>\
<th class=\"num\">Count</th><th class=\"num\">p50</th><th class=\"num\">p90</th>\
<th class=\"num\">p99</th><th class=\"num\">max</th></tr></thead><tbody>",
    );
    let mut row = |name: &str, n: u64, p: &perflab_model::load::Percentiles| {
        let _ = write!(
            out,
            "<tr><td>{name}</td><td class=\"num\">{n}</td><td class=\"num\">{}</td>\
<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            t(p.p50),
            t(p.p90),
            t(p.p99),
            t(p.max)
        );
    };
    row("TCP connect", c.opened, &c.time);
    if let Some(h) = &c.tls {
        row("TLS", h.count, &h.time);
    }
    if c.incomplete > 0 {
        let _ = write!(
            out,
            "<tr><td class=\"fail\">given up before the handshake</td><td class=\"num\">{}</td>\
<td colspan=\"4\"></td></tr>",
            c.incomplete
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// One line of a chart over the test's seconds.
fn line(label: &str, series: &[SecondPoint], y: &dyn Fn(&SecondPoint) -> Option<f64>) -> TrendLine {
    TrendLine {
        label: label.into(),
        points: series
            .iter()
            .filter_map(|p| {
                let v = y(p)?;
                Some(ChartPoint {
                    x: p.t as f64,
                    y: v,
                    low: None,
                    high: None,
                    title: format!("second {}: {label} {}", p.t, trim(v)),
                    href: None,
                    selected: false,
                })
            })
            .collect(),
    }
}

fn trim(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.6}")
    }
}

/// The planned load, the throughput and errors, the latency bands and the status codes, each
/// over the seconds of the test.
fn over_time(load: &LoadSummary) -> String {
    let series = &load.series;
    if series.is_empty() {
        return String::new();
    }
    let last = series.last().map_or(0, |p| p.t);
    let labels = (
        format!("{} s", series[0].t),
        format!("{last} s (seconds into the test)"),
    );
    // Amounts (users, requests, responses) are read from zero; latency from its lowest.
    let chart = |unit: &Unit, lines: Vec<TrendLine>| {
        svg::trend(&Trend {
            unit,
            lines,
            marks: vec![],
            x_labels: labels.clone(),
            x_is_time: false,
            levels: vec![],
            from_zero: !unit.is_time(),
        })
    };
    let (count, per_sec, secs) = (Unit::count(), Unit::per_sec(), Unit::seconds());
    let mut out = String::from("<h3>Over time</h3>");
    if series.iter().any(|p| p.vus.is_some()) {
        let _ = write!(
            out,
            "<h4>Virtual users</h4>{}",
            chart(
                &count,
                vec![line("VUs", series, &|p| p.vus.map(|v| v as f64))]
            )
        );
    }
    let mut rate_lines = vec![line("requests/s", series, &|p| Some(p.requests as f64))];
    if series.iter().any(|p| p.target_rate.is_some()) {
        rate_lines.insert(0, line("target/s", series, &|p| p.target_rate));
    }
    rate_lines.push(line("errors/s", series, &|p| Some(p.errors as f64)));
    if series.iter().any(|p| p.checks_failed > 0) {
        rate_lines.push(line("failed checks/s", series, &|p| {
            Some(p.checks_failed as f64)
        }));
    }
    let _ = write!(
        out,
        "<h4>Requests and errors per second</h4>{}",
        chart(&per_sec, rate_lines)
    );
    let answered =
        |f: fn(&SecondPoint) -> f64| move |p: &SecondPoint| (p.requests > 0).then(|| f(p));
    let _ = write!(
        out,
        "<h4>Latency per second (p50, p90, p99, max)</h4>{}",
        chart(
            &secs,
            vec![
                line("p50", series, &answered(|p| p.p50)),
                line("p90", series, &answered(|p| p.p90)),
                line("p99", series, &answered(|p| p.p99)),
                line("max", series, &answered(|p| p.max)),
            ]
        )
    );
    let codes: BTreeSet<&String> = series.iter().flat_map(|p| p.status.keys()).collect();
    if !codes.is_empty() {
        let lines = codes
            .into_iter()
            .map(|c| {
                line(&format!("HTTP {c}"), series, &|p| {
                    Some(p.status.get(c).copied().unwrap_or(0) as f64)
                })
            })
            .collect();
        let _ = write!(
            out,
            "<h4>Status codes per second</h4>{}",
            chart(&per_sec, lines)
        );
    }
    out
}

/// The latency histogram and the HDR percentile spectrum.
fn distribution(load: &LoadSummary) -> String {
    let mut out = String::new();
    if !load.distribution.is_empty() {
        let items: Vec<(String, u64)> = load
            .distribution
            .iter()
            .map(|b| (Unit::seconds().format(b.le), b.count))
            .collect();
        let _ = write!(
            out,
            "<h3>Latency distribution</h3>{}",
            svg::columns(&items, "requests")
        );
    }
    // The spectrum on HDR's axis: 1 / (1 − quantile), logarithmic, so the tail is spread out.
    let points: Vec<ChartPoint> = load
        .spectrum
        .iter()
        .filter(|p| p.quantile < 1.0)
        .map(|p| ChartPoint {
            x: (1.0 / (1.0 - p.quantile)).log10(),
            y: p.seconds,
            low: None,
            high: None,
            title: format!(
                "p{}: {} ({} requests at or below)",
                trim(p.quantile * 100.0),
                Unit::seconds().format(p.seconds),
                p.count
            ),
            href: None,
            selected: false,
        })
        .collect();
    if points.len() >= 2 {
        let last = load
            .spectrum
            .iter()
            .rfind(|p| p.quantile < 1.0)
            .map_or(0.0, |p| p.quantile);
        let _ = write!(
            out,
            "<h3>Percentile spectrum</h3>{}",
            svg::trend(&Trend {
                unit: &Unit::seconds(),
                lines: vec![TrendLine {
                    label: "latency".into(),
                    points,
                }],
                marks: vec![],
                x_labels: ("p50".into(), format!("p{} (log scale)", trim(last * 100.0))),
                x_is_time: false,
                levels: vec![],
                from_zero: false,
            })
        );
    }
    out
}

/// What the target process and its own metrics said each request cost.
fn target(load: &LoadSummary) -> String {
    let t = |v: f64| Unit::seconds().format(v);
    let b = |v: f64| Unit::bytes().format(v);
    let mut rows = Vec::new();
    if let Some(p) = &load.target_process {
        rows.push((
            format!("CPU per request (pid {})", p.pid),
            t(p.cpu_seconds_per_request),
        ));
        rows.push(("CPU over the test".to_string(), t(p.cpu_seconds)));
        rows.push((
            "resident memory".to_string(),
            format!(
                "{} → {} (peak {})",
                b(p.rss_start_bytes as f64),
                b(p.rss_end_bytes as f64),
                b(p.rss_peak_bytes as f64)
            ),
        ));
    }
    if let Some(m) = &load.target_metrics {
        for (k, v) in &m.derived {
            let shown = match k.as_str() {
                "memory_per_request" => b(*v),
                "allocs_per_request" => format!("{v:.2}"),
                _ => t(*v),
            };
            rows.push((format!("{} (its metrics)", k.replace('_', " ")), shown));
        }
        for (name, h) in &m.histograms {
            rows.push((
                format!("server's own {name}"),
                format!("p50 {}  p99 {}", t(h.p50), t(h.p99)),
            ));
        }
    }
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from("<h3>The target's cost</h3><table class=\"target\"><tbody>");
    for (k, v) in rows {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
            html(&k),
            html(&v)
        );
    }
    out.push_str("</tbody></table>");
    out
}
