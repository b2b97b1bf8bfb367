//! GitHub Actions: workflow commands (`::error title=…::…`) that annotate a run with each
//! regression and failed target, and the pull-request comment body. A comment starts with
//! [`COMMENT_MARKER`], so a workflow finds its own comment and updates it instead of adding one
//! per push.

use std::fmt::Write as _;

use perflab_analysis::{Comparison, Role, Status, TargetResult, Verdict};

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
/// the gate finds significantly worse within its allowed change (the gate's corrected p, the
/// one the tables show), and one per benchmark on one side only (an error with
/// `--fail-on-missing`). Derived rows (MB/s from ns/op) are gated through the row they come
/// from and never annotate a finding a second time; a row the gate did not find significant
/// is never annotated, whatever benchstat's uncorrected test says.
pub fn comparison_annotations(c: &Comparison) -> String {
    let mut out = String::new();
    for r in c.rows.iter().filter(|r| r.role != Role::Derived) {
        let title = format!("{} {}", r.key(), r.metric);
        let change = r
            .change
            .map_or("from zero".to_string(), |x| format!("{:+.2}%", x * 100.0));
        let p = r
            .p_adjusted
            .map_or(String::new(), |p| format!(", p={p:.2e}"));
        // A tested row warns only when the gate's own test is significant; an exact row (every
        // sample equal) when it moved at all.
        let significant = match r.role {
            Role::Tested => r.p_adjusted.is_some_and(|p| p <= c.alpha),
            _ => true,
        };
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
            Verdict::Inconclusive => command(
                &mut out,
                if c.gate.fail_on_inconclusive {
                    "error"
                } else {
                    "warning"
                },
                &title,
                r.warnings
                    .iter()
                    .find(|w| w.starts_with("inconclusive"))
                    .map_or("inconclusive", |w| w.as_str()),
            ),
            Verdict::Worse
                if significant && r.change.is_some_and(|x| x.abs() <= r.allowed_change) =>
            {
                command(
                    &mut out,
                    "warning",
                    &title,
                    &format!(
                        "worse: {change}{p}, within the allowed {:.1}%",
                        r.allowed_change * 100.0
                    ),
                );
            }
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

/// GitHub refuses a comment body longer than this many characters (422).
pub const COMMENT_LIMIT: usize = 65_536;

/// The pull-request comment of a comparison, within [`COMMENT_LIMIT`]: the gate's verdict, the
/// two sides and a link to the run first, then only the rows the gate flagged, then every row
/// in `<details>`, cut (with a count) when the whole would not fit; the full tables are in the
/// job's step summary.
pub fn comparison_comment(c: &Comparison, run_url: Option<&str>) -> String {
    let flagged: Vec<&perflab_analysis::Row> = c
        .rows
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Regression | Verdict::Error))
        .collect();
    let first = c.rows.first();
    let mut head = format!(
        "{COMMENT_MARKER}\n### perflab: {}\n\n{}",
        if c.gate.passed {
            match c.gate.inconclusive {
                0 => "gate passed".to_string(),
                n => format!("gate passed, {n} inconclusive"),
            }
        } else {
            format!(
                "gate FAILED ({} regression{}{})",
                c.gate.regressions,
                if c.gate.regressions == 1 { "" } else { "s" },
                if c.gate.errors > 0 {
                    format!(", {} untestable", c.gate.errors)
                } else {
                    String::new()
                } + &if c.gate.fail_on_inconclusive && c.gate.inconclusive > 0 {
                    format!(", {} inconclusive", c.gate.inconclusive)
                } else {
                    String::new()
                }
            )
        },
        crate::compare_gate_markdown(c)
    );
    let _ = writeln!(
        head,
        "\n**base** {} → **current** {}{}\n",
        crate::escape::markdown(first.map_or("base", |r| r.base_label.as_str())),
        crate::escape::markdown(first.map_or("current", |r| r.current_label.as_str())),
        run_url.map_or(String::new(), |u| format!(" · [the run]({u})"))
    );
    if !flagged.is_empty() {
        head.push_str("| benchmark | metric | base | current | change | p (gate) |\n|---|---|---:|---:|---:|---:|\n");
        for r in &flagged {
            let _ = writeln!(
                head,
                "| {} | {} | {} | {} | {} ❌ | {} |",
                crate::escape::markdown(&r.key()),
                crate::escape::markdown(&r.metric),
                r.unit.format(r.base.median),
                r.unit.format(r.current.median),
                r.change
                    .map_or("from zero".into(), |x| format!("{:+.2}%", x * 100.0)),
                r.p_adjusted.map_or("".into(), |p| format!("{p:.2e}"))
            );
        }
        head.push('\n');
    }
    head.push_str(&crate::inconclusive_markdown(c));
    let tables = crate::compare_markdown_tables(c);
    let open = format!(
        "<details><summary>All {} rows: medians, intervals and benchstat's p (rows without a mark are not significant after correction)</summary>\n\n",
        c.rows.len()
    );
    let close = "\n</details>\n";
    let whole = head.chars().count() + open.len() + tables.chars().count() + close.len();
    if whole <= COMMENT_LIMIT {
        return format!("{head}{open}{tables}{close}");
    }
    // Cut the tables at a row so that the comment, with the note, fits.
    let note_room = 200;
    let budget =
        COMMENT_LIMIT.saturating_sub(head.chars().count() + open.len() + close.len() + note_room);
    let mut kept = String::new();
    let mut used = 0;
    let mut left_out = 0;
    for line in tables.lines() {
        let n = line.chars().count() + 1;
        if used + n > budget {
            left_out += usize::from(line.starts_with("| ") && !line.starts_with("| benchmark"));
            continue;
        }
        used += n;
        kept.push_str(line);
        kept.push('\n');
    }
    format!(
        "{head}{open}{kept}\n… {left_out} more rows left out: GitHub takes comments up to {COMMENT_LIMIT} characters. The whole comparison is in the job's summary.{close}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A comparison of three benchmarks whose rows are then set as the gate could leave them.
    fn comparison() -> Comparison {
        use perflab_model::{Benchmark, Metric, Unit};
        let side = |v: f64| {
            ["a", "b", "c"]
                .iter()
                .map(|n| {
                    let mut b = Benchmark::new(*n);
                    let xs = (0..6).map(|i| v * (1.0 + f64::from(i) * 0.01)).collect();
                    b.metrics.push(Metric::new("time", Unit::seconds(), xs));
                    b
                })
                .collect::<Vec<_>>()
        };
        perflab_analysis::compare(&side(1.0), &side(1.05), &Default::default()).unwrap()
    }

    #[test]
    fn annotations_follow_the_gate_one_per_finding() {
        let mut c = comparison();
        // a: worse by benchstat's uncorrected test, not by the gate's corrected one.
        c.rows[0].verdict = Verdict::Worse;
        c.rows[0].p_adjusted = Some(1.0);
        // b: significantly worse by the gate, within its allowance: the one warning.
        c.rows[1].verdict = Verdict::Worse;
        c.rows[1].p_adjusted = Some(0.001);
        // c: a regression, and a derived row from it that must not repeat it.
        c.rows[2].verdict = Verdict::Regression;
        c.rows[2].p_adjusted = Some(0.0001);
        let mut derived = c.rows[2].clone();
        derived.metric = "throughput".into();
        derived.role = Role::Derived;
        c.rows.push(derived);
        let out = comparison_annotations(&c);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(
            lines[0].starts_with("::warning title=b time::worse: +5.00%25, p=1.00e-3"),
            "{out}"
        );
        assert!(
            lines[1].starts_with("::error title=c time::regression: +5.00%25"),
            "{out}"
        );
        assert!(
            lines[1].contains("p=1.00e-4"),
            "the gate's p, as the table: {out}"
        );
        // A worse row beyond its allowance that the gate did not flag is not 'within' anything.
        c.rows[1].allowed_change = 0.01;
        assert!(!comparison_annotations(&c).contains("title=b time"));
    }

    #[test]
    fn rows_the_corrected_test_does_not_back_carry_no_mark_in_the_comment_or_summary() {
        let mut c = comparison();
        // a: worse by benchstat's uncorrected p (as one row in twenty of an A/A compare is),
        // not after the gate's correction; b: improved, and backed by the corrected test.
        c.rows[0].verdict = Verdict::Worse;
        c.rows[0].p_adjusted = Some(0.4);
        c.rows[1].verdict = Verdict::Improvement;
        c.rows[1].p_adjusted = Some(0.001);
        c.rows[2].verdict = Verdict::Same;
        for text in [
            comparison_comment(&c, None),
            crate::compare_summary_markdown(&c),
        ] {
            let row = |name: &str| {
                text.lines()
                    .find(|l| l.starts_with(&format!("| {name} |")))
                    .unwrap_or_else(|| panic!("no row {name} in {text}"))
                    .to_string()
            };
            let a = row("a");
            assert!(!a.contains('⚠') && !a.contains('✅'), "{a}");
            assert!(a.contains("not significant after correction"), "{a}");
            assert!(row("b").contains('✅'), "{}", row("b"));
        }
    }

    #[test]
    fn inconclusive_rows_have_their_own_section_a_warning_and_fail_only_when_asked() {
        let mut c = comparison();
        // b: too noisy to tell; its section, its one warning, and the verdict line name it.
        c.rows[1].verdict = Verdict::Inconclusive;
        c.rows[1].gate_ci_high = Some(0.23);
        c.rows[1].noise = Some(0.12);
        c.rows[1].gate_rounds = Some(10);
        c.rows[1].needed = Some(40);
        c.rows[1]
            .warnings
            .push("inconclusive: the change could be as large as +23.0% (allowed 10%)".into());
        c.recount();
        assert!(c.gate.passed);
        let comment = comparison_comment(&c, None);
        assert!(
            comment.contains("### perflab: gate passed, 1 inconclusive"),
            "{comment}"
        );
        let summary = crate::compare_summary_markdown(&c);
        for text in [&comment, &summary] {
            assert!(
                text.contains("**❔ Inconclusive: too noisy to tell** (1 row; they pass the gate; --fail-on-inconclusive fails them)"),
                "{text}"
            );
            assert!(
                text.contains(
                    "| b | time | +5.0% | +23.0% | 10% | ±12.0% per round | ~40 rounds |"
                ),
                "{text}"
            );
            // Listed first: before the full tables.
            let section = text.find("Inconclusive").unwrap();
            assert!(
                section < text.find("| benchmark | ").unwrap_or(usize::MAX),
                "{text}"
            );
        }
        assert!(
            summary.contains("gate: inconclusive: 1 row(s) too noisy"),
            "{summary}"
        );
        let out = comparison_annotations(&c);
        assert!(
            out.contains(
                "::warning title=b time::inconclusive: the change could be as large as +23.0%25"
            ),
            "{out}"
        );
        c.gate.fail_on_inconclusive = true;
        c.recount();
        assert!(!c.gate.passed);
        assert!(
            comparison_comment(&c, None).contains("gate FAILED (0 regressions, 1 inconclusive)")
        );
        assert!(comparison_annotations(&c).contains("::error title=b time::inconclusive"));
    }

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
