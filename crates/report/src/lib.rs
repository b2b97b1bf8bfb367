//! Stage: **output**. Renders runs, comparisons and target checks as bytes: aligned terminal
//! text, Markdown for pull-request comments, CSV and JSON. Every renderer is a pure function from
//! model and analysis values to a `String`, so each format is tested by comparing strings, and
//! nothing here prints.
//!
//! ```
//! use perflab_analysis::{compare, CompareOptions};
//! use perflab_model::{Benchmark, Metric, Unit};
//! let set = |f: f64| {
//!     let mut b = Benchmark::new("parse");
//!     let s = [1.0, 1.1, 0.9, 1.0, 1.05, 0.95].map(|v| v * f * 1e-3);
//!     b.metrics.push(Metric::new("time", Unit::seconds(), s.to_vec()));
//!     vec![b]
//! };
//! let c = compare(&set(1.0), &set(2.0), &CompareOptions::default()).unwrap();
//! let md = perflab_report::compare_markdown(&c);
//! assert!(md.contains("| parse | 1.00ms ± 10% | 2.00ms ± 10% | +100.00% ❌ | 0.002 |"));
//! ```

pub mod checklist;
pub mod commit;
pub mod escape;
pub mod github;
mod gotest;
pub mod html;
mod html_load;
mod load;
mod profile;
pub mod prometheus;
mod render;
pub mod style;
pub mod svg;
mod table;
mod timing;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use perflab_analysis::{Comparison, Row, Status, TargetResult, Verdict};
use perflab_model::{Benchmark, Run, Unit};
use serde::Serialize;

pub use gotest::run_gotest;
pub use load::{load_text, slow_connect_hint};
pub use profile::{profile_markdown, profile_text, scan_text, top_table};
pub use render::{render, render_styled, Document, Format, RenderError};
pub use style::{Style, Tone};
pub use table::Table;
pub use timing::timing_text;

/// A median with its interval as benchstat prints it: `1.72µs ± 1%`; the median alone when the
/// interval is unbounded (fewer than 6 samples: the table's note, [`NO_INTERVAL_NOTE`], says
/// why), never `± ∞`.
pub fn median_pm(unit: &Unit, median: f64, ci_low: f64, ci_high: f64) -> String {
    let pct = perflab_stats::pct_range(median, ci_low, ci_high);
    let pct = if pct.is_infinite() {
        return unit.format(median);
    } else if pct.is_nan() {
        "?".to_string()
    } else {
        format!("{pct:.0}%")
    };
    format!("{} ± {pct}", unit.format(median))
}

/// The one footnote of a table where some medians have no interval (comparisons carry the
/// analysis's own "need >= 6 samples" warning instead).
pub const NO_INTERVAL_NOTE: &str =
    "a median without ± has no 95% confidence interval: that needs at least 6 samples";

fn change_text(r: &Row) -> String {
    match (r.verdict, r.change) {
        (Verdict::Same, _) => "~".into(),
        (_, Some(c)) => format!("{:+.2}%", c * 100.0),
        (_, None) => "?".into(),
    }
}

/// The raw p-value, or `-` where no test could decide (too few samples: the row's note says so).
fn p_text(r: &Row) -> String {
    match (r.p_value, r.role) {
        (_, perflab_analysis::Role::Untested) | (None, _) => "-".into(),
        (Some(p), _) => format!("{p:.3}"),
    }
}

fn verdict_mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Same => "",
        Verdict::Improvement => "✅",
        Verdict::Worse => "⚠️",
        Verdict::Regression => "❌",
        Verdict::Inconclusive => "❔",
        Verdict::Error => "❗",
    }
}

/// A row's mark in a comparison table read as a verdict (the PR comment, the step summary,
/// `compare --format markdown`): a worse or better row that benchstat's uncorrected test
/// calls significant but the gate's corrected one does not gets no ⚠️/✅ (one row in twenty of
/// an A/A compare would), and says so instead.
fn gated_mark(r: &Row, alpha: f64) -> (&'static str, bool) {
    let corrected_out = matches!(r.verdict, Verdict::Worse | Verdict::Improvement)
        && r.role == perflab_analysis::Role::Tested
        && !r.p_adjusted.is_some_and(|p| p <= alpha);
    if corrected_out {
        ("", true)
    } else {
        (verdict_mark(r.verdict), false)
    }
}

/// Rows grouped into tables: one per metric, unit and pair of columns, in first-seen order.
fn groups(c: &Comparison) -> Vec<Vec<&Row>> {
    // One table per metric, unit, column pair and package (benchstat splits tables by pkg).
    type Key = (String, Unit, String, String, Option<String>);
    let mut order: Vec<Key> = Vec::new();
    let mut map: BTreeMap<Key, Vec<&Row>> = BTreeMap::new();
    for r in &c.rows {
        let k = (
            r.metric.clone(),
            r.unit.clone(),
            r.base_label.clone(),
            r.current_label.clone(),
            r.params.get("pkg").cloned(),
        );
        if !map.contains_key(&k) {
            order.push(k.clone());
        }
        map.entry(k).or_default().push(r);
    }
    order.into_iter().filter_map(|k| map.remove(&k)).collect()
}

/// The geomean summarising exactly this table's rows, if there is one.
fn geomean_for<'a>(c: &'a Comparison, rows: &[&Row]) -> Option<&'a perflab_analysis::Geomean> {
    let first = rows.first()?;
    c.geomean.iter().find(|g| {
        g.metric == first.metric
            && g.unit == first.unit
            && g.base_label == first.base_label
            && g.current_label == first.current_label
            && g.pkg.as_ref() == first.params.get("pkg")
            && g.rows == rows.len()
    })
}

/// Params equal in every row of a table: printed once above it instead of in every name.
fn common_params(rows: &[&Row]) -> BTreeMap<String, String> {
    let mut common = rows.first().map(|r| r.params.clone()).unwrap_or_default();
    for r in rows {
        common.retain(|k, v| r.params.get(k) == Some(v));
    }
    if rows.len() < 2 {
        // With one row nothing is shared; keep its name whole.
        common.clear();
    }
    common
}

fn display_name(r: &Row, common: &BTreeMap<String, String>) -> String {
    let mut b = Benchmark::new(r.benchmark.clone());
    b.params = r
        .params
        .iter()
        .filter(|(k, _)| !common.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let k = b.key();
    if k.is_empty() {
        "(all)".into()
    } else {
        escape::terminal(&k)
    }
}

fn describe_common(common: &BTreeMap<String, String>) -> Option<String> {
    (!common.is_empty()).then(|| {
        let text = common
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        escape::terminal(&text)
    })
}

/// Footnotes: each distinct warning gets a number, rows refer to it.
struct Notes(Vec<String>);

impl Notes {
    fn mark(&mut self, warnings: &[String]) -> String {
        let mut marks = Vec::new();
        for w in warnings {
            let i = match self.0.iter().position(|x| x == w) {
                Some(i) => i,
                None => {
                    self.0.push(w.clone());
                    self.0.len() - 1
                }
            };
            marks.push(superscript(i + 1));
        }
        marks.join("")
    }
}

fn superscript(n: usize) -> String {
    const D: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    n.to_string()
        .bytes()
        .map(|b| D[usize::from(b - b'0')])
        .collect()
}

/// `perflab log`: one line per run, newest first.
pub fn log_text(runs: &[perflab_model::RunSummary]) -> String {
    let mut t = Table::new(
        [
            "run",
            "kind",
            "started",
            "commit",
            "branch",
            "benchmarks",
            "baselines",
        ]
        .map(String::from)
        .to_vec(),
    );
    for r in runs {
        let commit = r.commit.as_deref().map_or("-".to_string(), |c| {
            let short: String = c.chars().take(9).collect();
            if r.dirty {
                format!("{short}+")
            } else {
                short
            }
        });
        t.row(vec![
            format!(
                "{}{}",
                r.id,
                if r.interrupted { " (interrupted)" } else { "" }
            ),
            r.kind.clone(),
            r.started_at.clone(),
            commit,
            r.branch.as_deref().map_or("-".into(), escape::terminal),
            r.benchmarks.to_string(),
            r.baselines.join(","),
        ]);
    }
    t.render_text()
}

/// A comparison as its renderers show it: groups of rows (one metric and unit each) with their
/// cells formatted once; each format lays them out and numbers the notes its own way.
struct CompareView<'a> {
    groups: Vec<GroupView<'a>>,
}

struct GroupView<'a> {
    /// Metric, unit, direction and labels come from the group's rows (all alike).
    first: &'a Row,
    common: BTreeMap<String, String>,
    rows: Vec<RowView<'a>>,
    geomean: Option<GeomeanView<'a>>,
}

struct RowView<'a> {
    row: &'a Row,
    name: String,
    base: String,
    current: String,
    change: String,
    p: String,
    n: String,
}

struct GeomeanView<'a> {
    base: String,
    current: String,
    change: String,
    warnings: &'a [String],
}

impl<'a> CompareView<'a> {
    fn of(c: &'a Comparison) -> CompareView<'a> {
        let groups = groups(c)
            .into_iter()
            .map(|rows| {
                let first = rows[0];
                let common = common_params(&rows);
                let geomean = geomean_for(c, &rows).map(|g| {
                    let fmt = |v: Option<f64>| v.map_or("-".into(), |v| first.unit.format(v));
                    GeomeanView {
                        base: fmt(g.base),
                        current: fmt(g.current),
                        change: g
                            .change
                            .map_or("-".into(), |c| format!("{:+.2}%", c * 100.0)),
                        warnings: &g.warnings,
                    }
                });
                let rows = rows
                    .iter()
                    .map(|r| RowView {
                        row: r,
                        name: display_name(r, &common),
                        base: median_pm(&r.unit, r.base.median, r.base.ci_low, r.base.ci_high),
                        current: median_pm(
                            &r.unit,
                            r.current.median,
                            r.current.ci_low,
                            r.current.ci_high,
                        ),
                        change: change_text(r),
                        p: p_text(r),
                        n: if r.base.n == r.current.n {
                            r.base.n.to_string()
                        } else {
                            format!("{}+{}", r.base.n, r.current.n)
                        },
                    })
                    .collect();
                GroupView {
                    first,
                    common,
                    rows,
                    geomean,
                }
            })
            .collect();
        CompareView { groups }
    }
}

/// Terminal table of a comparison, one block per metric.
pub fn compare_text(c: &Comparison) -> String {
    compare_text_styled(c, Style::Plain)
}

/// [`compare_text`] with colour: verdicts red, yellow or green, headers bold, the gate's line
/// red when it failed.
pub fn compare_text_styled(c: &Comparison, style: Style) -> String {
    let mut out = String::new();
    let mut notes = Notes(Vec::new());
    for g in CompareView::of(c).groups {
        let first = g.first;
        let title = format!(
            "{} ({}, {} is better)",
            first.metric,
            first.unit,
            first.better.as_str()
        );
        let _ = writeln!(
            out,
            "{}{}",
            style.paint(Tone::Strong, &title),
            describe_common(&g.common).map_or(String::new(), |s| format!("  [{s}]"))
        );
        let mut t = Table::new(vec![
            "benchmark".into(),
            first.base_label.clone(),
            first.current_label.clone(),
            "change".into(),
            "p".into(),
            "n".into(),
            "verdict".into(),
        ]);
        for r in g.rows {
            let verdict = format!("{}{}", r.row.verdict.as_str(), notes.mark(&r.row.warnings));
            let tone = style::verdict_tone(r.row.verdict);
            t.row(vec![r.name, r.base, r.current, r.change, r.p, r.n, verdict]);
            t.tone_last(3, tone);
            t.tone_last(6, tone);
        }
        if let Some(m) = g.geomean {
            let mark = notes.mark(m.warnings);
            t.row(vec![
                "geomean".into(),
                m.base,
                m.current,
                m.change,
                String::new(),
                String::new(),
                mark,
            ]);
        }
        out.push_str(&t.render_styled(style));
        out.push('\n');
    }
    for (i, n) in notes.0.iter().enumerate() {
        let _ = writeln!(out, "{} {}", superscript(i + 1), escape::terminal(n));
    }
    for w in &c.warnings {
        let _ = writeln!(out, "note: {}", escape::terminal(w));
    }
    if let Some(t) = detectable_table(c, escape::terminal) {
        let _ = write!(out, "\n{DETECTABLE_TITLE}\n{}\n", t.render_styled(style));
    }
    let tone = if c.gate.passed { Tone::Good } else { Tone::Bad };
    for line in gate_line(c).lines() {
        let _ = writeln!(out, "{}", style.paint(tone, line));
    }
    out
}

const DETECTABLE_TITLE: &str = "A/A: the smallest regression each row could show on this machine";

/// The A/A table: per tested row, the smallest change the test would find and the gate flag.
fn detectable_table(c: &Comparison, esc: fn(&str) -> String) -> Option<Table> {
    if c.detectable.is_empty() {
        return None;
    }
    let pct =
        |v: Option<f64>| v.map_or("none below 100×".into(), |v| format!("{:.2}%", v * 100.0));
    let mut t = Table::new(vec![
        "benchmark".into(),
        "metric".into(),
        "test detects".into(),
        "gate flags".into(),
    ]);
    for d in &c.detectable {
        t.row(vec![
            esc(&d.benchmark),
            esc(&d.metric),
            pct(d.test_change),
            pct(d.gate_change),
        ]);
    }
    Some(t)
}

fn gate_line(c: &Comparison) -> String {
    gate_line_with(c, escape::terminal)
}

fn gate_line_md(c: &Comparison) -> String {
    gate_line_with(c, escape::markdown).replace("gate: FAILED", "**gate: FAILED**")
}

fn gate_line_with(c: &Comparison, esc: fn(&str) -> String) -> String {
    let mut out = if c.gate.passed {
        let exact = c
            .rows
            .iter()
            .filter(|r| r.role == perflab_analysis::Role::Exact)
            .count();
        format!(
            "gate: passed ({} rows tested, {exact} compared exactly, α={}, {} correction)\n",
            c.gate.family,
            c.alpha,
            correction_name(c)
        )
    } else {
        let names: Vec<String> = c
            .rows
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Regression | Verdict::Error))
            .map(|r| {
                format!(
                    "{} {} {}",
                    esc(&r.key()),
                    esc(&r.metric),
                    if r.verdict == Verdict::Error {
                        "error".to_string()
                    } else {
                        change_text(r)
                    }
                )
            })
            .collect();
        let mut errors = if c.gate.errors > 0 {
            format!(", {} row(s) that could not be tested", c.gate.errors)
        } else {
            String::new()
        };
        if c.gate.missing_fails && !c.missing.is_empty() {
            let only: Vec<String> = c
                .missing
                .iter()
                .take(5)
                .map(|m| {
                    let metric = m
                        .metric
                        .as_deref()
                        .map_or(String::new(), |x| format!(" {x}"));
                    format!("{}{metric} only in {}", esc(&m.benchmark), esc(&m.only_in))
                })
                .collect();
            errors.push_str(&format!(
                ", {} missing on one side (--fail-on-missing): {}",
                c.missing.len(),
                only.join(", ")
            ));
        }
        let names = if names.is_empty() {
            String::new()
        } else {
            format!(": {}", names.join(", "))
        };
        if c.gate.fail_on_inconclusive && c.gate.inconclusive > 0 {
            errors.push_str(&format!(
                ", {} inconclusive (--fail-on-inconclusive)",
                c.gate.inconclusive
            ));
        }
        format!(
            "gate: FAILED: {} regression(s){names}{errors}\n",
            c.gate.regressions
        )
    };
    let undecided: Vec<&Row> = inconclusive_rows(c);
    if !undecided.is_empty() {
        let names: Vec<String> = undecided
            .iter()
            .take(5)
            .map(|r| {
                format!(
                    "{} {} ({})",
                    esc(&r.key()),
                    esc(&r.metric),
                    undecided_text(r)
                )
            })
            .collect();
        let more = if undecided.len() > 5 {
            format!(" and {} more", undecided.len() - 5)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "gate: inconclusive: {} row(s) too noisy to tell whether they exceed the allowed change: {}{more}{}\n",
            undecided.len(),
            names.join(", "),
            if c.gate.fail_on_inconclusive {
                ""
            } else {
                "; they pass (--fail-on-inconclusive fails them)"
            }
        ));
    }
    for n in &c.gate.notes {
        out.push_str(&format!("gate: note: {}\n", esc(n)));
    }
    out
}

/// The rows the noise left undecided.
fn inconclusive_rows(c: &Comparison) -> Vec<&Row> {
    c.rows
        .iter()
        .filter(|r| r.verdict == Verdict::Inconclusive)
        .collect()
}

/// `up to +23.0% against 10% allowed, noise ±12.0% per round, ~40 rounds would tell`.
fn undecided_text(r: &Row) -> String {
    let reach = match r.better {
        perflab_model::Better::Lower => r.gate_ci_high,
        perflab_model::Better::Higher => r.gate_ci_low,
    };
    let mut parts = vec![format!(
        "could be {} against {:.0}% allowed",
        reach.map_or("?".into(), |x| format!("{:+.1}%", x * 100.0)),
        r.allowed_change * 100.0
    )];
    let per = if r.gate_rounds.is_some() {
        "round"
    } else {
        "sample"
    };
    if let Some(n) = r.noise {
        parts.push(format!("noise ±{:.1}% per {per}", n * 100.0));
    }
    parts.push(match r.needed {
        Some(n) => format!("~{n} {per}s would tell"),
        None => "on the allowed change itself".into(),
    });
    parts.join(", ")
}

/// The inconclusive rows as their own Markdown section (PR comment, step summary, reports):
/// empty when there are none.
pub fn inconclusive_markdown(c: &Comparison) -> String {
    let rows = inconclusive_rows(c);
    if rows.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "**❔ Inconclusive: too noisy to tell** ({} row{}; {})\n\n| benchmark | metric | change | could be | allowed | noise | would tell |\n|---|---|---:|---:|---:|---:|---:|\n",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        if c.gate.fail_on_inconclusive {
            "they fail the gate (--fail-on-inconclusive)"
        } else {
            "they pass the gate; --fail-on-inconclusive fails them"
        }
    );
    for r in rows {
        let per = if r.gate_rounds.is_some() {
            "round"
        } else {
            "sample"
        };
        let reach = match r.better {
            perflab_model::Better::Lower => r.gate_ci_high,
            perflab_model::Better::Higher => r.gate_ci_low,
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.0}% | {} | {} |",
            escape::markdown(&r.key()),
            escape::markdown(&r.metric),
            r.change
                .map_or("from zero".into(), |x| format!("{:+.1}%", x * 100.0)),
            reach.map_or("?".into(), |x| format!("{:+.1}%", x * 100.0)),
            r.allowed_change * 100.0,
            r.noise
                .map_or("?".into(), |n| format!("±{:.1}% per {per}", n * 100.0)),
            r.needed.map_or("–".into(), |n| format!("~{n} {per}s"))
        );
    }
    out.push('\n');
    out
}

fn correction_name(c: &Comparison) -> &'static str {
    match c.correction {
        perflab_analysis::Correction::None => "no",
        perflab_analysis::Correction::Holm => "Holm",
        perflab_analysis::Correction::Bh => "Benjamini-Hochberg",
    }
}

/// Markdown tables of a comparison, ready for a pull-request comment.
pub fn compare_markdown(c: &Comparison) -> String {
    let mut out = inconclusive_markdown(c);
    out.push_str(&compare_markdown_tables(c));
    out.push_str(&gate_line_md(c));
    out
}

/// The gate's verdict line in Markdown (`**gate: FAILED** …` or `gate: passed …`).
pub fn compare_gate_markdown(c: &Comparison) -> String {
    gate_line_md(c)
}

/// A comparison for a job summary: the gate's verdict first, then the tables.
pub fn compare_summary_markdown(c: &Comparison) -> String {
    format!(
        "{}\n{} → {}\n\n{}{}",
        gate_line_md(c),
        escape::markdown(c.rows.first().map_or("base", |r| r.base_label.as_str())),
        escape::markdown(
            c.rows
                .first()
                .map_or("current", |r| r.current_label.as_str())
        ),
        inconclusive_markdown(c),
        compare_markdown_tables(c)
    )
}

/// The tables of [`compare_markdown`], without the gate's line.
pub fn compare_markdown_tables(c: &Comparison) -> String {
    let mut out = String::new();
    let mut notes = Notes(Vec::new());
    for g in CompareView::of(c).groups {
        let first = g.first;
        let _ = writeln!(
            out,
            "**{}** ({}, {} is better){}\n",
            first.metric,
            first.unit,
            first.better.as_str(),
            describe_common(&g.common)
                .map_or(String::new(), |s| format!(" · `{}`", s.replace('`', "'")))
        );
        let _ = writeln!(
            out,
            "| benchmark | {} | {} | change | p |\n|---|---:|---:|---:|---:|",
            escape::markdown(&first.base_label),
            escape::markdown(&first.current_label)
        );
        for r in g.rows {
            let (mark, corrected_out) = gated_mark(r.row, c.alpha);
            let change = if corrected_out {
                format!("{} (not significant after correction)", r.change)
            } else if mark.is_empty() {
                r.change
            } else {
                format!("{} {mark}", r.change)
            };
            let name = format!(
                "{}{}",
                escape::markdown(&r.name),
                notes.mark(&r.row.warnings)
            );
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {change} | {} |",
                r.base, r.current, r.p
            );
        }
        if let Some(m) = g.geomean {
            let _ = writeln!(
                out,
                "| **geomean** | {} | {} | {} | |",
                m.base, m.current, m.change
            );
        }
        out.push('\n');
    }
    for (i, n) in notes.0.iter().enumerate() {
        let _ = writeln!(out, "{} {}  ", superscript(i + 1), escape::markdown(n));
    }
    if !notes.0.is_empty() {
        out.push('\n');
    }
    if let Some(t) = detectable_table(c, escape::markdown) {
        let _ = write!(out, "**{DETECTABLE_TITLE}**\n\n{}\n", t.render_markdown());
    }
    out
}

/// The comparison as `perflab.compare.v1` JSON.
pub fn compare_json(c: &Comparison) -> String {
    let mut s = serde_json::to_string_pretty(c).expect("invariant: a comparison serialises");
    s.push('\n');
    s
}

/// One CSV line per row, full precision, base units.
pub fn compare_csv(c: &Comparison) -> String {
    let mut out = String::from(
        "benchmark,params,metric,unit,better,base_label,base_n,base_median,base_ci_low,base_ci_high,current_label,current_n,current_median,current_ci_low,current_ci_high,change,p_value,p_adjusted,verdict,gate_p,role\n",
    );
    let num = |v: f64| {
        if v.is_finite() {
            v.to_string()
        } else {
            String::new()
        }
    };
    let opt = |v: Option<f64>| v.map_or(String::new(), num);
    for r in &c.rows {
        let params: Vec<String> = r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let fields = [
            r.benchmark.clone(),
            params.join(";"),
            r.metric.clone(),
            r.unit.to_string(),
            r.better.as_str().into(),
            r.base_label.clone(),
            r.base.n.to_string(),
            num(r.base.median),
            num(r.base.ci_low),
            num(r.base.ci_high),
            r.current_label.clone(),
            r.current.n.to_string(),
            num(r.current.median),
            num(r.current.ci_low),
            num(r.current.ci_high),
            opt(r.change),
            opt(r.p_value),
            opt(r.p_adjusted),
            r.verdict.as_str().into(),
            opt(r.gate_p),
            serde_json::to_value(r.role)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Terminal table of a run's results: each benchmark and metric with median ± CI, range, n.
pub fn run_text(run: &Run) -> String {
    let mut t = Table::new(vec![
        "benchmark".into(),
        "metric".into(),
        "median ± CI".into(),
        "min … max".into(),
        "n".into(),
    ]);
    for b in &run.benchmarks {
        for m in &b.metrics {
            let s = perflab_stats::summarize(&m.samples, 0.95);
            let (lo, hi) = m
                .samples
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, z), &v| {
                    (a.min(v), z.max(v))
                });
            t.row(vec![
                b.key(),
                m.name.clone(),
                median_pm(&m.unit, s.center, s.ci_low, s.ci_high),
                format!("{} … {}", m.unit.format(lo), m.unit.format(hi)),
                m.samples.len().to_string(),
            ]);
        }
    }
    let mut out = t.render_text();
    if run
        .benchmarks
        .iter()
        .flat_map(|b| &b.metrics)
        .any(|m| m.samples.len() < 6)
    {
        let _ = writeln!(out, "note: {NO_INTERVAL_NOTE}");
    }
    if run.interrupted {
        out.push_str("note: interrupted: these results are partial\n");
    }
    out
}

/// Markdown table of target checks (the report's summary, and `check` in a CI summary).
pub fn check_markdown(results: &[TargetResult]) -> String {
    let mut t = Table::new(vec![
        "Benchmark".into(),
        "Metric".into(),
        "Value".into(),
        "Target".into(),
        "Status".into(),
    ]);
    for r in results {
        let target = match &r.critical {
            Some(c) => format!("{} (critical {c})", r.target),
            None => r.target.clone(),
        };
        t.row(vec![
            r.benchmark.clone(),
            r.metric.clone(),
            r.unit.format(r.value),
            target,
            r.status.emoji().into(),
        ]);
    }
    t.render_markdown()
}

/// Terminal table of target checks.
pub fn check_text(results: &[TargetResult]) -> String {
    check_text_styled(results, Style::Plain)
}

/// [`check_text`] with each status coloured.
pub fn check_text_styled(results: &[TargetResult], style: Style) -> String {
    let mut t = Table::new(vec![
        "benchmark".into(),
        "metric".into(),
        "value".into(),
        "target".into(),
        "critical".into(),
        "status".into(),
    ]);
    for r in results {
        t.row(vec![
            r.benchmark.clone(),
            r.metric.clone(),
            r.unit.format(r.value),
            r.target.clone(),
            r.critical.clone().unwrap_or_else(|| "-".into()),
            format!("{} {}", r.status.emoji(), status_name(r.status)),
        ]);
        let tone = match r.status {
            Status::Pass => Tone::Good,
            Status::Warn => Tone::Warn,
            Status::Fail => Tone::Bad,
        };
        t.tone_last(5, tone);
    }
    t.render_styled(style)
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Warn => "warn",
        Status::Fail => "fail",
    }
}

/// Everything a report shows.
#[derive(Debug, Clone, Serialize)]
pub struct ReportInput<'a> {
    /// The run reported on.
    pub run: &'a Run,
    /// Targets checked against it (empty when none are configured).
    pub targets: Vec<TargetResult>,
    /// Comparison with an earlier run, with a description of what it is.
    pub comparison: Option<(String, Comparison)>,
    /// The history of the run's series (HTML trends; empty when the run is not stored).
    #[serde(skip)]
    pub history: Vec<perflab_model::history::Series>,
}

/// The seeds' Markdown report: header, summary against targets, significant changes first,
/// then the full comparison folded under `<details>`.
pub fn report_markdown(input: &ReportInput<'_>) -> String {
    let run = input.run;
    let mut out = String::from("# 📊 Benchmark Report\n\n");
    let _ = writeln!(out, "**Date**: {}  ", escape::markdown(&run.started_at));
    if let Some(g) = &run.git {
        let short = escape::markdown(&g.commit.chars().take(12).collect::<String>());
        let _ = writeln!(
            out,
            "**Commit**: {short}{}  ",
            if g.dirty { " (dirty)" } else { "" }
        );
        if let Some(b) = &g.branch {
            let _ = writeln!(out, "**Branch**: {}  ", escape::markdown(b));
        }
    }
    let _ = writeln!(
        out,
        "**Run**: `{}` ({})  ",
        run.id.replace('`', "'"),
        run.kind.as_str()
    );
    if let Some(h) = &run.host {
        let _ = writeln!(
            out,
            "**Host**: {} · {} {} · {} cores{}  ",
            escape::markdown(&h.hostname),
            escape::markdown(&h.os),
            escape::markdown(&h.arch),
            h.cores,
            h.cpu
                .as_deref()
                .map_or(String::new(), |c| format!(" · {}", escape::markdown(c)))
        );
    }
    if run.interrupted {
        out.push_str("\n> ⚠️ This run was interrupted: its results are partial.\n");
    }
    out.push_str("\n## 🎯 Summary\n\n");
    if input.targets.is_empty() {
        out.push_str("No targets are configured (add `[[target]]` entries to `perflab.toml`).\n\n");
        let mut t = Table::new(vec![
            "Benchmark".into(),
            "Metric".into(),
            "Median".into(),
            "n".into(),
        ]);
        for b in &run.benchmarks {
            for m in &b.metrics {
                let s = perflab_stats::summarize(&m.samples, 0.95);
                t.row(vec![
                    b.key(),
                    m.name.clone(),
                    median_pm(&m.unit, s.center, s.ci_low, s.ci_high),
                    m.samples.len().to_string(),
                ]);
            }
        }
        out.push_str(&t.render_markdown());
        if run
            .benchmarks
            .iter()
            .flat_map(|b| &b.metrics)
            .any(|m| m.samples.len() < 6)
        {
            let _ = writeln!(out, "\n{NO_INTERVAL_NOTE}.");
        }
    } else {
        out.push_str(&check_markdown(&input.targets));
    }
    match &input.comparison {
        None => out.push_str("\n## 📈 Comparison\n\nNo earlier run to compare with.\n"),
        Some((what, c)) => {
            let _ = writeln!(out, "\n## 📈 Comparison with {what}\n");
            // The headline lists what the gate's corrected test stands behind.
            let significant: Vec<&Row> = c
                .rows
                .iter()
                .filter(|r| r.significant() && !gated_mark(r, c.alpha).1)
                .collect();
            if significant.is_empty() {
                out.push_str("No significant changes.\n\n");
            } else {
                let mut sorted = significant.clone();
                // Regressions first, then by size of change.
                sorted.sort_by(|a, b| {
                    let rank = |r: &Row| match r.verdict {
                        Verdict::Regression | Verdict::Error => 0,
                        Verdict::Worse => 1,
                        _ => 2,
                    };
                    rank(a).cmp(&rank(b)).then(
                        b.change
                            .unwrap_or(0.0)
                            .abs()
                            .total_cmp(&a.change.unwrap_or(0.0).abs()),
                    )
                });
                let _ = writeln!(
                    out,
                    "| Benchmark | Metric | {} | {} | Delta | p |\n|---|---|---:|---:|---:|---:|",
                    escape::markdown(&sorted[0].base_label),
                    escape::markdown(&sorted[0].current_label)
                );
                for r in sorted {
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} | {} {} | {} |",
                        escape::markdown(&r.key()),
                        escape::markdown(&r.metric),
                        r.unit.format(r.base.median),
                        r.unit.format(r.current.median),
                        change_text(r),
                        verdict_mark(r.verdict),
                        p_text(r)
                    );
                }
                out.push('\n');
            }
            out.push_str(&gate_line_md(c));
            let _ = writeln!(
                out,
                "\n<details><summary>All {} comparisons</summary>\n\n{}\n</details>",
                c.rows.len(),
                compare_markdown(c)
            );
        }
    }
    if let Some(load) = &run.load {
        out.push_str(&load::load_markdown(load));
    }
    if !run.profiles.is_empty() {
        out.push_str(&profile_markdown(&run.profiles));
    }
    out
}

/// The report as JSON (`perflab.report.v1`).
pub fn report_json(input: &ReportInput<'_>) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        schema: &'static str,
        #[serde(flatten)]
        input: &'a ReportInput<'a>,
    }
    let mut s = serde_json::to_string_pretty(&Doc {
        schema: "perflab.report.v1",
        input,
    })
    .expect("invariant: a report serialises");
    s.push('\n');
    s
}
