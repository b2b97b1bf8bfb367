//! The report of one commit (`perflab_analysis::commit::CommitReport`) as Markdown, HTML and
//! JSON: the same view in every format, so they cannot disagree.

use perflab_analysis::commit::CommitReport;
use perflab_model::Unit;

use crate::escape;
use crate::table::Table;

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn status(s: Option<perflab_analysis::Status>) -> &'static str {
    s.map_or("–", |s| s.emoji())
}

fn change(c: Option<f64>) -> String {
    c.map_or("–".into(), |c| format!("{:+.1}%", c * 100.0))
}

fn verdict(v: perflab_analysis::Verdict) -> &'static str {
    match v {
        perflab_analysis::Verdict::Same => "~",
        perflab_analysis::Verdict::Improvement => "improvement",
        perflab_analysis::Verdict::Worse => "worse (within the allowed change)",
        perflab_analysis::Verdict::Regression => "❌ regression",
        perflab_analysis::Verdict::Inconclusive => "❔ inconclusive (too noisy to tell)",
        perflab_analysis::Verdict::Error => "error",
    }
}

/// The tables of the report, each with its heading, as (heading, header, rows).
#[allow(clippy::type_complexity)]
fn sections(r: &CommitReport) -> Vec<(&'static str, Vec<String>, Vec<Vec<String>>)> {
    let mut out = Vec::new();
    out.push((
        "Summary",
        [
            "Metric",
            "Value",
            "Target",
            "Critical",
            "Status",
            "Measured in",
        ]
        .map(String::from)
        .to_vec(),
        r.summary
            .iter()
            .map(|s| {
                vec![
                    s.label.clone(),
                    s.unit.format(s.value),
                    s.target.clone().unwrap_or_else(|| "–".into()),
                    s.critical.clone().unwrap_or_else(|| "–".into()),
                    status(s.status).into(),
                    s.source.clone(),
                ]
            })
            .collect(),
    ));
    out.push((
        "Hot Paths",
        [
            "Function",
            "% CPU (self)",
            "% CPU (with callees)",
            "Location",
            "Profile",
        ]
        .map(String::from)
        .to_vec(),
        r.hot_paths
            .iter()
            .map(|h| {
                vec![
                    h.function.clone(),
                    pct(h.flat_share),
                    pct(h.cum_share),
                    h.location.clone().unwrap_or_default(),
                    h.profile.clone(),
                ]
            })
            .collect(),
    ));
    out.push((
        "Memory Hotspots",
        ["Site", "Bytes", "Allocations", "Share", "Location"]
            .map(String::from)
            .to_vec(),
        r.memory_hotspots
            .iter()
            .map(|m| {
                vec![
                    m.function.clone(),
                    Unit::bytes().format(m.bytes as f64),
                    m.blocks.to_string(),
                    pct(m.share),
                    m.location.clone().unwrap_or_default(),
                ]
            })
            .collect(),
    ));
    out.push((
        "Comparison with the previous commit",
        ["Benchmark", "Metric", "Before", "Now", "Change", "Verdict"]
            .map(String::from)
            .to_vec(),
        r.changes
            .iter()
            .map(|c| {
                vec![
                    c.benchmark.clone(),
                    c.metric.clone(),
                    c.unit.format(c.before),
                    c.unit.format(c.now),
                    change(c.change),
                    verdict(c.verdict).into(),
                ]
            })
            .collect(),
    ));
    out
}

fn header_lines(r: &CommitReport) -> Vec<String> {
    let commit: String = r.commit.chars().take(12).collect();
    let mut l = vec![
        format!("Commit: {commit}"),
        format!("Branch: {}", r.branch.as_deref().unwrap_or("–")),
        format!("Date: {}", r.date),
        format!("Host: {}", r.host.as_deref().unwrap_or("–")),
    ];
    let mut kinds: Vec<&str> = r.runs.iter().map(|run| run.kind.as_str()).collect();
    kinds.sort();
    let mut counted: Vec<String> = Vec::new();
    for k in kinds.iter().copied() {
        let n = kinds.iter().filter(|x| **x == k).count();
        let s = format!("{n} {k}");
        if !counted.contains(&s) {
            counted.push(s);
        }
    }
    l.push(format!("Runs: {}", counted.join(", ")));
    l
}

fn empty_note(heading: &str, r: &CommitReport) -> String {
    match heading {
        "Summary" => {
            "No figures were recorded for this commit (perflab bench, load or profile).".into()
        }
        "Hot Paths" => {
            "No CPU profile of this commit (perflab scan, perflab profile SCOPE).".into()
        }
        "Memory Hotspots" => {
            "No allocation profile of this commit (perflab scan, perflab profile SCOPE).".into()
        }
        _ => match &r.compared_with {
            None => "No earlier commit of the base branch in the history to compare with.".into(),
            Some(_) => "No P99, throughput, time or allocs/op figure in common with it.".into(),
        },
    }
}

/// Markdown, for a pull request or a file in the repository.
pub fn commit_markdown(r: &CommitReport) -> String {
    let mut out = String::from("# Performance report\n\n");
    for l in header_lines(r) {
        out.push_str(&format!("- {}\n", escape::markdown(&l)));
    }
    for (heading, header, rows) in sections(r) {
        out.push_str(&format!("\n## {heading}\n\n"));
        if heading.starts_with("Comparison") {
            if let Some(w) = &r.compared_with {
                let gate = match r.gate_passed {
                    Some(true) => "gate passed",
                    Some(false) => "gate failed",
                    None => "",
                };
                out.push_str(&format!("Against {} ({gate}).\n\n", escape::markdown(w)));
            }
        }
        if rows.is_empty() {
            out.push_str(&format!("{}\n", empty_note(heading, r)));
            continue;
        }
        let mut t = Table::new(header);
        for row in rows {
            // The table escapes its cells itself.
            t.row(row);
        }
        out.push_str(&t.render_markdown());
    }
    if !r.unmatched_targets.is_empty() {
        out.push_str("\nTargets that matched nothing: ");
        let list: Vec<String> = r
            .unmatched_targets
            .iter()
            .map(|t| escape::markdown(t))
            .collect();
        out.push_str(&list.join("; "));
        out.push('\n');
    }
    out.push_str("\n## Recommendations\n\n");
    if r.recommendations.is_empty() {
        out.push_str("None: no profile of this commit gave evidence for one.\n");
    }
    for a in &r.recommendations {
        out.push_str(&format!(
            "- **{}** Evidence: {}",
            escape::markdown(&a.advice),
            escape::markdown(&a.evidence)
        ));
        if let Some(e) = &a.estimate {
            out.push_str(&format!(
                " Current: {} · expected: {} · impact: {}",
                escape::markdown(&e.current),
                escape::markdown(&e.expected),
                escape::markdown(&e.impact)
            ));
        }
        out.push('\n');
    }
    out
}

/// One self-contained page.
pub fn commit_html(r: &CommitReport) -> String {
    let h = escape::html;
    let mut out = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Performance report</title>\
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}th{background:#f4f4f4}</style></head><body>\
<h1>Performance report</h1><ul>",
    );
    for l in header_lines(r) {
        out.push_str(&format!("<li>{}</li>", h(&l)));
    }
    out.push_str("</ul>");
    for (heading, header, rows) in sections(r) {
        out.push_str(&format!("<h2>{}</h2>", h(heading)));
        if rows.is_empty() {
            out.push_str(&format!("<p>{}</p>", h(&empty_note(heading, r))));
            continue;
        }
        out.push_str("<table><tr>");
        for c in header {
            out.push_str(&format!("<th>{}</th>", h(&c)));
        }
        out.push_str("</tr>");
        for row in rows {
            out.push_str("<tr>");
            for c in row {
                out.push_str(&format!("<td>{}</td>", h(&c)));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
    }
    out.push_str("<h2>Recommendations</h2><ul>");
    for a in &r.recommendations {
        out.push_str(&format!(
            "<li><b>{}</b> Evidence: {}",
            h(&a.advice),
            h(&a.evidence)
        ));
        if let Some(e) = &a.estimate {
            out.push_str(&format!(
                " Current: {} · expected: {} · impact: {}",
                h(&e.current),
                h(&e.expected),
                h(&e.impact)
            ));
        }
        out.push_str("</li>");
    }
    out.push_str("</ul></body></html>\n");
    out
}

/// `perflab.commit-report.v1`.
pub fn commit_json(r: &CommitReport) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_default();
    s.push('\n');
    s
}
