//! HTML: one self-contained page per report or comparison (inline CSS and SVG, no script,
//! nothing fetched), and the sections the dashboard reuses for its own pages. Every outside
//! string goes through [`crate::escape::html`].

use std::fmt::Write as _;

use perflab_analysis::{Comparison, Row, Status, TargetResult, Verdict};
use perflab_model::history::{Point, Series};
use perflab_model::profile::ProfileSummary;
use perflab_model::{Run, Unit};

use crate::escape::html;
use crate::svg::{self, ChartPoint, IntervalRow, Trend, TrendLine};
use crate::{change_text, gate_line_with, median_pm, p_text, ReportInput};

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#111;background:#fafafa}\
header{background:#111;color:#eee;padding:10px 24px}header a{color:#eee;margin-right:18px;text-decoration:none}\
main{padding:16px 24px;max-width:1100px}h1{font-size:22px}h2{font-size:18px;margin-top:28px}\
table{border-collapse:collapse;margin:8px 0;background:#fff}td,th{padding:3px 10px;border-bottom:1px solid #e5e5e5;text-align:left}\
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}\
.regression,.fail{color:#b91c1c;font-weight:600}.improvement,.pass{color:#047857}.worse,.warn{color:#b45309}.error{color:#7c2d12}\
.gate{padding:8px 12px;border-radius:6px;background:#ecfdf5}.gate.failed{background:#fef2f2}\
.note{color:#555}svg .frame text{font-size:11px;fill:#111}svg.chart{width:100%;height:auto;background:#fff;border:1px solid #e5e5e5}svg.bars{max-width:620px}\
svg.columns .bar{opacity:.85}.load-facts{margin-bottom:4px}p.warn{margin:2px 0}h4{font-size:14px;margin:14px 0 4px}\
svg text{font:11px system-ui,sans-serif;fill:#444}svg .grid{stroke:#eee}svg .axis line{stroke:#bbb}\
svg .line{stroke-width:1.6}svg .mark line{stroke-dasharray:4 3;stroke-width:1.4}\
svg .mark.regression line,svg .mark.regression path{stroke:#dc2626;fill:#dc2626}\
svg .mark.improvement line,svg .mark.improvement path{stroke:#059669;fill:#059669}\
svg .pt.selected{stroke:#111;stroke-width:2}svg .side line{stroke-width:3}\
svg .side.base line,svg .side.base circle{stroke:#9ca3af;fill:#9ca3af}\
svg .side.regression line,svg .side.regression circle,svg .side.worse line,svg .side.worse circle{stroke:#dc2626;fill:#dc2626}\
svg .side.improvement line,svg .side.improvement circle{stroke:#059669;fill:#059669}\
svg .side.same line,svg .side.same circle{stroke:#2563eb;fill:#2563eb}\
code{background:#f1f1f1;padding:0 3px}";

/// A whole page: `title` (text), navigation links `(href, label)`, and `body` (HTML).
pub fn page(title: &str, nav: &[(&str, &str)], body: &str) -> String {
    let mut out = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'\">\
<title>{}</title><style>{STYLE}</style></head><body>",
        html(title)
    );
    if !nav.is_empty() {
        out.push_str("<header><nav>");
        for (href, label) in nav {
            let _ = write!(out, "<a href=\"{}\">{}</a>", html(href), html(label));
        }
        out.push_str("</nav></header>");
    }
    let _ = writeln!(out, "<main>{body}</main></body></html>");
    out
}

fn class_of(v: Verdict) -> &'static str {
    match v {
        Verdict::Same => "same",
        Verdict::Improvement => "improvement",
        Verdict::Worse => "worse",
        Verdict::Regression => "regression",
        Verdict::Inconclusive => "inconclusive",
        Verdict::Error => "error",
    }
}

/// A median with its interval; an unbounded interval (too few samples) is drawn as the
/// median alone rather than as half a bar.
fn interval(median: f64, lo: f64, hi: f64) -> svg::Interval {
    if lo.is_finite() && hi.is_finite() {
        (lo, median, hi)
    } else {
        (median, median, median)
    }
}

/// The comparison: the gate, a chart of the changed rows (each relative to its base median,
/// with both sides' intervals), and every row in a table.
pub fn comparison_section(c: &Comparison) -> String {
    let mut out = String::new();
    let gate = gate_line_with(c, html);
    let _ = write!(
        out,
        "<p class=\"gate{}\">{}</p>",
        if c.gate.passed { "" } else { " failed" },
        gate.trim_end().replace('\n', "<br>")
    );
    let mut shown: Vec<&Row> = c.rows.iter().filter(|r| r.significant()).collect();
    let what = if shown.is_empty() {
        shown = c.rows.iter().collect();
        "every row"
    } else {
        "the rows that changed"
    };
    shown.sort_by(|a, b| {
        b.change
            .unwrap_or(0.0)
            .abs()
            .total_cmp(&a.change.unwrap_or(0.0).abs())
    });
    shown.truncate(40);
    if !shown.is_empty() {
        let rows: Vec<IntervalRow> = shown
            .iter()
            .map(|r| IntervalRow {
                label: format!("{} {}", r.key(), r.metric),
                base: interval(r.base.median, r.base.ci_low, r.base.ci_high),
                current: interval(r.current.median, r.current.ci_low, r.current.ci_high),
                class: class_of(r.verdict).into(),
            })
            .collect();
        let _ = write!(
            out,
            "<p class=\"note\">Medians with their {:.0}% intervals, {what} (at most 40), relative to the base median: base grey, current coloured by verdict.</p>{}",
            c.confidence_level * 100.0,
            svg::intervals(&rows)
        );
    }
    let (bl, cl) = c.rows.first().map_or(("base", "current"), |r| {
        (r.base_label.as_str(), r.current_label.as_str())
    });
    let _ = write!(
        out,
        "<table class=\"rows\"><thead><tr><th>Benchmark</th><th>Metric</th><th class=\"num\">{}</th>\
<th class=\"num\">{}</th><th class=\"num\">Change</th><th class=\"num\">p</th><th>Verdict</th></tr></thead><tbody>",
        html(bl),
        html(cl)
    );
    for r in &c.rows {
        let _ = write!(
            out,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
<td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            class_of(r.verdict),
            html(&r.key()),
            html(&r.metric),
            html(&median_pm(&r.unit, r.base.median, r.base.ci_low, r.base.ci_high)),
            html(&median_pm(&r.unit, r.current.median, r.current.ci_low, r.current.ci_high)),
            html(&change_text(r)),
            html(&p_text(r)),
            r.verdict.as_str()
        );
    }
    out.push_str("</tbody></table>");
    if c.rows
        .iter()
        .any(|r| r.base.ci_low.is_infinite() || r.current.ci_low.is_infinite())
    {
        let _ = write!(
            out,
            "<p class=\"note\">{}</p>",
            html(crate::NO_INTERVAL_NOTE)
        );
    }
    for w in &c.warnings {
        let _ = write!(out, "<p class=\"note\">{}</p>", html(w));
    }
    out
}

/// Targets with their levels and status.
pub fn targets_section(targets: &[TargetResult]) -> String {
    let mut out = String::from(
        "<table class=\"targets\"><thead><tr><th>Benchmark</th><th>Metric</th><th class=\"num\">Value</th>\
<th>Target</th><th>Status</th></tr></thead><tbody>",
    );
    for t in targets {
        let (class, word) = match t.status {
            Status::Pass => ("pass", "pass"),
            Status::Warn => ("warn", "warn"),
            Status::Fail => ("fail", "fail"),
        };
        let target = match &t.critical {
            Some(c) => format!("{} (critical {c})", t.target),
            None => t.target.clone(),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"{class}\">{word}</td></tr>",
            html(&t.benchmark),
            html(&t.metric),
            html(&t.unit.format(t.value)),
            html(&target)
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// Who, where and when a run was made.
pub fn run_facts(run: &Run) -> String {
    let mut facts: Vec<(&str, String)> = vec![
        ("Run", format!("{} ({})", run.id, run.kind.as_str())),
        ("Date", run.started_at.clone()),
    ];
    if let Some(g) = &run.git {
        let dirty = if g.dirty { " (dirty)" } else { "" };
        facts.push(("Commit", format!("{}{dirty}", g.commit)));
        if let Some(b) = &g.branch {
            facts.push(("Branch", b.clone()));
        }
    }
    if let Some(h) = &run.host {
        facts.push((
            "Host",
            format!("{} · {} {} · {} cores", h.hostname, h.os, h.arch, h.cores),
        ));
    }
    if !run.command.is_empty() {
        facts.push(("Command", run.command.join(" ")));
    }
    let mut out = String::from("<table class=\"facts\">");
    for (k, v) in facts {
        let _ = write!(out, "<tr><th>{k}</th><td>{}</td></tr>", html(&v));
    }
    out.push_str("</table>");
    if run.interrupted {
        out.push_str("<p class=\"warn\">This run was interrupted: its results are partial.</p>");
    }
    out
}

/// Every benchmark × metric of a run: median with its interval and n.
pub fn medians_section(run: &Run) -> String {
    let mut out = String::from(
        "<table class=\"medians\"><thead><tr><th>Benchmark</th><th>Metric</th><th class=\"num\">Median</th>\
<th class=\"num\">n</th></tr></thead><tbody>",
    );
    for b in &run.benchmarks {
        for m in &b.metrics {
            let s = perflab_stats::summarize(&m.samples, 0.95);
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                html(&b.key()),
                html(&m.name),
                html(&median_pm(&m.unit, s.center, s.ci_low, s.ci_high)),
                m.samples.len()
            );
        }
    }
    out.push_str("</tbody></table>");
    out
}

pub use crate::html_load::load_section;

/// Profiles: the top functions and the advice with its evidence.
pub fn profile_section(profiles: &[ProfileSummary]) -> String {
    let mut out = String::new();
    for p in profiles {
        let unit = Unit(p.unit.clone());
        let _ = write!(
            out,
            "<h3>{}</h3><p>{} ({}), {} samples, total {}</p>",
            html(&p.target),
            html(&p.backend),
            html(&p.value),
            p.samples,
            html(&unit.format(p.total))
        );
        if !p.top.is_empty() {
            out.push_str("<table class=\"top\"><thead><tr><th class=\"num\">flat</th><th class=\"num\">flat%</th><th class=\"num\">cum%</th><th>Function</th></tr></thead><tbody>");
            for f in p.top.iter().take(20) {
                let _ = write!(
                    out,
                    "<tr><td class=\"num\">{}</td><td class=\"num\">{:.1}%</td><td class=\"num\">{:.1}%</td><td>{}</td></tr>",
                    html(&unit.format(f.flat)),
                    f.flat_share * 100.0,
                    f.cum_share * 100.0,
                    html(&f.function)
                );
            }
            out.push_str("</tbody></table>");
        }
        if !p.top.is_empty() {
            let items: Vec<(String, f64)> = p
                .top
                .iter()
                .take(12)
                .map(|f| (short(&f.function, 12), f.flat))
                .collect();
            out.push_str(&svg::bars(&unit, &items));
        }
        if !p.stacks.is_empty() {
            let stacks: Vec<(String, f64)> = p
                .stacks
                .iter()
                .map(|s| (s.stack.clone(), s.weight))
                .collect();
            let _ = write!(
                out,
                "<p class=\"note\">Flame graph of the {} heaviest stacks (hover a frame for its share).</p>{}",
                p.stacks.len(),
                svg::flame(&stacks)
            );
        }
        for r in &p.recommendations {
            let _ = write!(
                out,
                "<p><b>{}</b> <span class=\"note\">{}</span></p>",
                html(&r.advice),
                html(&r.evidence)
            );
        }
        for w in &p.warnings {
            let _ = write!(out, "<p class=\"warn\">{}</p>", html(w));
        }
    }
    out
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    } else {
        s.to_string()
    }
}

/// A chart point for a stored point: its median and interval, with the commit and time as
/// hover text.
pub fn chart_point(p: &Point, x: f64) -> ChartPoint {
    let unit = Unit(p.unit.clone());
    let commit = p
        .commit
        .as_deref()
        .map_or(String::new(), |c| format!(" @ {}", &c[..c.len().min(12)]));
    ChartPoint {
        x,
        y: p.median,
        low: p.ci_low,
        high: p.ci_high,
        title: format!(
            "{}{commit}{}\nrun {}: {}",
            perflab_model::format_rfc3339(
                p.time_unix_ms.div_euclid(1000),
                p.time_unix_ms.rem_euclid(1000) as u32
            ),
            p.branch
                .as_deref()
                .map_or(String::new(), |b| format!(" ({b})")),
            p.run_id,
            unit.format(p.median)
        ),
        href: None,
        selected: false,
    }
}

/// A run's history: one small trend per series, the reported run marked.
pub fn trends_section(history: &[Series], run_id: &str) -> String {
    let mut out = String::new();
    for s in history.iter().filter(|s| !s.points.is_empty()) {
        let unit = Unit(s.points[0].unit.clone());
        let points: Vec<ChartPoint> = s
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| ChartPoint {
                selected: p.run_id == run_id,
                ..chart_point(p, i as f64)
            })
            .collect();
        let _ = write!(
            out,
            "<h3>{} · {}</h3>{}",
            html(&s.benchmark),
            html(&s.metric),
            svg::trend(&Trend {
                unit: &unit,
                lines: vec![TrendLine {
                    label: String::new(),
                    points,
                }],
                marks: vec![],
                x_labels: (format!("{} runs ago", s.points.len() - 1), "latest".into()),
                x_is_time: false,
                levels: vec![],
                from_zero: false,
            })
        );
    }
    out
}

/// The body of a report: the Markdown report's sections, with charts.
pub fn report_body(input: &ReportInput<'_>) -> String {
    let run = input.run;
    let mut out = format!("<h1>Benchmark report</h1>{}", run_facts(run));
    // A load run leads with its own view; its medians would repeat the Load tables.
    if let Some(load) = &run.load {
        let _ = write!(out, "<h2>Load</h2>{}", load_section(load));
    }
    out.push_str("<h2>Summary</h2>");
    if input.targets.is_empty() && run.load.is_some() {
        out.push_str("<p class=\"note\">No targets are configured (add <code>[[target]]</code> entries to <code>perflab.toml</code>); the load run's figures are above.</p>");
    } else if input.targets.is_empty() {
        out.push_str("<p class=\"note\">No targets are configured (add <code>[[target]]</code> entries to <code>perflab.toml</code>).</p>");
        if !run.benchmarks.is_empty() {
            out.push_str(&medians_section(run));
        }
    } else {
        out.push_str(&targets_section(&input.targets));
    }
    match &input.comparison {
        None => out.push_str("<h2>Comparison</h2><p>No earlier run to compare with.</p>"),
        Some((what, c)) => {
            let _ = write!(
                out,
                "<h2>Comparison with {}</h2>{}",
                html(what),
                comparison_section(c)
            );
        }
    }
    if input.history.iter().any(|s| s.points.len() > 1) {
        let _ = write!(
            out,
            "<h2>Trends</h2>{}",
            trends_section(&input.history, &run.id)
        );
    } else if !input.history.is_empty() {
        // One run is not a trend: sixteen one-point charts would only push the rest down.
        out.push_str("<h2>Trends</h2><p class=\"note\">This is the first stored run of its benchmarks: trends start with the second.</p>");
    }
    if !run.profiles.is_empty() {
        let _ = write!(out, "<h2>Profiles</h2>{}", profile_section(&run.profiles));
    }
    out
}

/// `perflab report --format html`: one self-contained page.
pub fn report_html(input: &ReportInput<'_>) -> String {
    page(
        &format!("perflab report {}", input.run.id),
        &[],
        &report_body(input),
    )
}

/// `perflab compare --format html`: one self-contained page.
pub fn compare_html(c: &Comparison) -> String {
    page(
        "perflab compare",
        &[],
        &format!("<h1>Comparison</h1>{}", comparison_section(c)),
    )
}
