//! The one seam every command's output goes through: `render(format, document)`. Each document
//! lists the formats it has; asking for another is an error that names the ones it has, never
//! an empty output. Golden files in `tests/golden/` hold one rendering per document × format.

use perflab_analysis::history::Alert;
use perflab_analysis::{Comparison, TargetResult};
use perflab_model::profile::ProfileSummary;
use perflab_model::{Run, RunSummary};

use crate::{ReportInput, Style};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned text for a terminal.
    Text,
    /// Markdown for a pull-request comment or a file.
    Markdown,
    /// Versioned JSON.
    Json,
    /// One CSV line per row.
    Csv,
    /// The Go benchmark format (benchstat reads it).
    Gotest,
    /// The Prometheus text exposition format.
    Prometheus,
    /// One self-contained HTML page (inline CSS and SVG).
    Html,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 7] = [
        Format::Text,
        Format::Markdown,
        Format::Json,
        Format::Csv,
        Format::Gotest,
        Format::Prometheus,
        Format::Html,
    ];

    /// The format of this name (`text`, `markdown`, …).
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Its name, as flags spell it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Gotest => "gotest",
            Format::Prometheus => "prometheus",
            Format::Html => "html",
        }
    }
}

/// What can be rendered.
#[derive(Debug, Clone, Copy)]
pub enum Document<'a> {
    /// A result document (any kind).
    Run(&'a Run),
    /// A comparison.
    Comparison(&'a Comparison),
    /// Target results of a run (its id).
    Check(&'a str, &'a [TargetResult]),
    /// The report of a run: targets, comparison, changes.
    Report(&'a ReportInput<'a>),
    /// A load run (its summary carries what the text needs: the plan, the ending, the
    /// spectrum), fresh or stored.
    Load(&'a Run),
    /// `perflab run`: timed commands with their warnings.
    Timing(&'a Run, &'a [Vec<String>]),
    /// `perflab scan`: several profiles and the overall one.
    Scan(&'a Run),
    /// One profile summary.
    Profile(&'a ProfileSummary),
    /// The history's runs.
    Log(&'a [RunSummary]),
    /// Change-point alerts of the history.
    Alerts(&'a [Alert]),
    /// The pre-merge checklist of a commit.
    Checklist(&'a perflab_analysis::checklist::Checklist),
    /// Every run of one commit joined.
    Commit(&'a perflab_analysis::commit::CommitReport),
}

impl Document<'_> {
    fn name(&self) -> &'static str {
        match self {
            Document::Run(_) => "run",
            Document::Comparison(_) => "comparison",
            Document::Check(..) => "check",
            Document::Report(_) => "report",
            Document::Load(_) => "load run",
            Document::Timing(..) => "timing run",
            Document::Scan(_) => "scan",
            Document::Profile(_) => "profile",
            Document::Log(_) => "log",
            Document::Alerts(_) => "alert list",
            Document::Checklist(_) => "checklist",
            Document::Commit(_) => "commit report",
        }
    }

    /// The formats this document has.
    pub fn formats(&self) -> &'static [Format] {
        use Format::*;
        match self {
            Document::Run(_) => &[Text, Json, Gotest, Prometheus],
            Document::Comparison(_) => &[Text, Markdown, Json, Csv, Html],
            Document::Check(..) => &[Text, Markdown, Json],
            Document::Report(_) => &[Markdown, Json, Prometheus, Html],
            Document::Load(_) | Document::Timing(..) | Document::Scan(_) => &[Text, Json],
            Document::Profile(_) => &[Text, Markdown],
            Document::Log(_) | Document::Alerts(_) => &[Text, Json],
            Document::Checklist(_) => &[Text, Markdown, Json],
            Document::Commit(_) => &[Markdown, Json, Html],
        }
    }
}

/// A format the document does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {document} has no {format} output (it has: {available})")]
pub struct RenderError {
    /// The document.
    pub document: &'static str,
    /// What was asked.
    pub format: &'static str,
    /// What exists.
    pub available: String,
}

fn check_json(run: &str, results: &[TargetResult]) -> String {
    let mut s = serde_json::to_string_pretty(&serde_json::json!({
        "schema": "perflab.check.v1",
        "run": run,
        "results": results,
    }))
    .expect("invariant: target results serialise");
    s.push('\n');
    s
}

fn log_json(runs: &[RunSummary]) -> String {
    let rows: Vec<serde_json::Value> = runs
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id, "kind": r.kind, "started_at": r.started_at,
                "commit": r.commit, "branch": r.branch, "dirty": r.dirty,
                "interrupted": r.interrupted, "benchmarks": r.benchmarks,
                "baselines": r.baselines, "command": r.command,
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&rows).expect("invariant: rows serialise");
    s.push('\n');
    s
}

fn alerts_text(alerts: &[Alert]) -> String {
    if alerts.is_empty() {
        return "no change points in the history\n".into();
    }
    let mut t = crate::Table::new(
        [
            "benchmark",
            "metric",
            "change",
            "p",
            "direction",
            "first run after",
        ]
        .map(String::from)
        .to_vec(),
    );
    for a in alerts {
        t.row(vec![
            crate::escape::terminal(&a.benchmark),
            crate::escape::terminal(&a.metric),
            format!("{:+.1}%", a.change * 100.0),
            format!("{:.2e}", a.p_value),
            format!("{:?}", a.direction).to_lowercase(),
            a.run_id.clone(),
        ]);
    }
    t.render_text()
}

/// Render `document` as `format`.
///
/// # Errors
/// [`RenderError`] when the document has no such format.
pub fn render(format: Format, document: &Document<'_>) -> Result<String, RenderError> {
    render_styled(format, document, Style::Plain)
}

/// [`render`], with colour in the text formats when `style` says so (the others never have any).
///
/// # Errors
/// [`RenderError`] when the document has no such format.
pub fn render_styled(
    format: Format,
    document: &Document<'_>,
    style: Style,
) -> Result<String, RenderError> {
    use Format::*;
    Ok(match (document, format) {
        (Document::Comparison(c), Text) => crate::compare_text_styled(c, style),
        (Document::Check(_, t), Text) => crate::check_text_styled(t, style),
        (Document::Checklist(c), Text) => crate::checklist::checklist_text_styled(c, style),
        (Document::Timing(r, notes), Text) => crate::timing::timing_text_styled(r, notes, style),
        (Document::Run(r), Text) => crate::run_text(r),
        (
            Document::Run(r) | Document::Load(r) | Document::Timing(r, _) | Document::Scan(r),
            Json,
        ) => r.to_json(),
        (Document::Run(r), Gotest) => crate::run_gotest(r),
        (Document::Run(r), Prometheus) => crate::prometheus::run_prometheus(r),
        (Document::Report(i), Prometheus) => crate::prometheus::report_prometheus(i),
        (Document::Comparison(c), Markdown) => crate::compare_markdown(c),
        (Document::Comparison(c), Json) => crate::compare_json(c),
        (Document::Comparison(c), Csv) => crate::compare_csv(c),
        (Document::Comparison(c), Html) => crate::html::compare_html(c),
        (Document::Report(i), Html) => crate::html::report_html(i),
        (Document::Check(_, t), Markdown) => crate::check_markdown(t),
        (Document::Check(id, t), Json) => check_json(id, t),
        (Document::Report(i), Markdown) => crate::report_markdown(i),
        (Document::Report(i), Json) => crate::report_json(i),
        (Document::Load(r), Text) => crate::load_text(r),
        (Document::Scan(r), Text) => crate::scan_text(r),
        (Document::Profile(p), Text) => crate::profile_text(p),
        (Document::Profile(p), Markdown) => crate::profile_markdown(std::slice::from_ref(*p)),
        (Document::Log(runs), Text) => crate::log_text(runs),
        (Document::Checklist(c), Markdown) => crate::checklist::checklist_markdown(c),
        (Document::Checklist(c), Json) => crate::checklist::checklist_json(c),
        (Document::Commit(r), Markdown) => crate::commit::commit_markdown(r),
        (Document::Commit(r), Html) => crate::commit::commit_html(r),
        (Document::Commit(r), Json) => crate::commit::commit_json(r),
        (Document::Log(runs), Json) => log_json(runs),
        (Document::Alerts(a), Text) => alerts_text(a),
        (Document::Alerts(a), Json) => {
            let mut s = serde_json::to_string_pretty(&serde_json::json!({
                "schema": "perflab.alerts.v1",
                "alerts": a,
            }))
            .expect("invariant: alerts serialise");
            s.push('\n');
            s
        }
        (d, f) => {
            return Err(RenderError {
                document: d.name(),
                format: f.name(),
                available: d
                    .formats()
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    })
}
