//! GitHub Actions: workflow commands (`::error title=…::…`) that annotate a run with each
//! regression and failed target, and the pull-request comment body. A comment starts with
//! [`COMMENT_MARKER`], so a workflow finds its own comment and updates it instead of adding one
//! per push.

use std::fmt::Write as _;

use perflab_analysis::{Comparison, Status, TargetResult, Verdict};

/// The first line of every comment perflab writes.
pub const COMMENT_MARKER: &str = "<!-- perflab -->";

/// A workflow command's message: `%`, CR and LF are escaped as the runner expects.
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,`, which end properties.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

fn command(out: &mut String, level: &str, title: &str, message: &str) {
    let _ = writeln!(
        out,
        "::{level} title={}::{}",
        property(title),
        data(message)
    );
}

/// One `::error` per regression and row that could not be tested, one `::warning` per row that
/// got significantly worse within its allowed change, and one per benchmark on one side only
/// (an error with `--fail-on-missing`).
pub fn comparison_annotations(c: &Comparison) -> String {
    let mut out = String::new();
    for r in &c.rows {
        let title = format!("{} {}", r.key(), r.metric);
        let change = r
            .change
            .map_or("from zero".to_string(), |x| format!("{:+.2}%", x * 100.0));
        let p = r
            .p_adjusted
            .or(r.p_value)
            .map_or(String::new(), |p| format!(", p={p:.2e}"));
        match r.verdict {
            Verdict::Regression => command(
                &mut out,
                "error",
                &title,
                &format!(
                    "regression: {change} ({} → {}){p}, allowed {:.1}%",
                    r.unit.format(r.base.median),
                    r.unit.format(r.current.median),
                    r.allowed_change * 100.0
                ),
            ),
            Verdict::Error => command(
                &mut out,
                "error",
                &title,
                &format!("could not be tested: {}", r.warnings.join("; ")),
            ),
            Verdict::Worse => command(
                &mut out,
                "warning",
                &title,
                &format!(
                    "worse: {change}{p}, within the allowed {:.1}%",
                    r.allowed_change * 100.0
                ),
            ),
            _ => {}
        }
    }
    let level = if c.gate.missing_fails {
        "error"
    } else {
        "warning"
    };
    for m in &c.missing {
        let title = match &m.metric {
            Some(metric) => format!("{} {metric}", m.benchmark),
            None => m.benchmark.clone(),
        };
        command(&mut out, level, &title, &format!("only in {}", m.only_in));
    }
    out
}

/// One `::error` per failed target, one `::warning` per target missed within its critical level.
pub fn check_annotations(results: &[TargetResult]) -> String {
    let mut out = String::new();
    for r in results {
        let level = match r.status {
            Status::Fail => "error",
            Status::Warn => "warning",
            _ => continue,
        };
        let critical = r
            .critical
            .as_deref()
            .map_or(String::new(), |c| format!(", critical {c}"));
        command(
            &mut out,
            level,
            &format!("{} {}", r.benchmark, r.metric),
            &format!(
                "{} {} (target {}{critical}, median of {})",
                if level == "error" {
                    "failed:"
                } else {
                    "missed:"
                },
                r.unit.format(r.value),
                r.target,
                r.n
            ),
        );
    }
    out
}

/// The pull-request comment: the marker line, then the Markdown.
pub fn comment(markdown: &str) -> String {
    format!("{COMMENT_MARKER}\n{markdown}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_commands_escape_what_ends_them() {
        let mut out = String::new();
        command(
            &mut out,
            "error",
            "Bench/a=1,b:2 100%",
            "50% slower\nsee: x",
        );
        assert_eq!(
            out,
            "::error title=Bench/a=1%2Cb%3A2 100%25::50%25 slower%0Asee: x\n"
        );
    }
}
