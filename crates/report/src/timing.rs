//! The terminal summary of `perflab run`, as hyperfine prints it: per command the median with
//! its interval, the range, CPU and memory, warnings; then each command against the first.

use std::fmt::Write as _;

use perflab_analysis::{compare, CompareOptions, Verdict};
use perflab_model::{Benchmark, Better, Run};
use perflab_stats as stats;

use crate::escape;

/// hyperfine's summary of timed commands, each compared with the first.
pub fn timing_text(run: &Run, notes: &[Vec<String>]) -> String {
    timing_text_styled(run, notes, crate::Style::Plain)
}

/// [`timing_text`] with the benchmark headers bold and warnings yellow.
pub(crate) fn timing_text_styled(run: &Run, notes: &[Vec<String>], style: crate::Style) -> String {
    let mut out = String::new();
    for (i, b) in run.benchmarks.iter().enumerate() {
        let head = format!("Benchmark {}: {}", i + 1, escape::terminal(&b.key()));
        let _ = writeln!(out, "{}", style.paint(crate::Tone::Strong, &head));
        if let Some(t) = b.metric("time") {
            let s = stats::summarize(&t.samples, 0.95);
            let (lo, hi) = minmax(&t.samples);
            let ci = if s.ci_low.is_finite() && s.ci_high.is_finite() {
                format!(
                    "[{} … {}]",
                    t.unit.format(s.ci_low),
                    t.unit.format(s.ci_high)
                )
            } else {
                format!("[need >= {} runs for a CI]", s.need_for_ci.unwrap_or(6))
            };
            let _ = writeln!(
                out,
                "  Time (median, 95% CI):  {}  {ci}",
                t.unit.format(s.center)
            );
            let _ = writeln!(
                out,
                "  Range (min … max):      {} … {}    {} runs",
                t.unit.format(lo),
                t.unit.format(hi),
                t.samples.len()
            );
        }
        if let Some(m) = b.metric("instructions") {
            let (lo, hi) = minmax(&m.samples);
            let s = stats::sorted(&m.samples);
            let spread = if lo > 0.0 {
                (hi - lo) / lo * 100.0
            } else {
                0.0
            };
            let _ = writeln!(
                out,
                "  Instructions (median):  {}  (min … max: {} … {}, spread {spread:.3}%, {} runs)",
                group_digits(stats::quantile(&s, 0.5)),
                group_digits(lo),
                group_digits(hi),
                m.samples.len()
            );
        }
        let med = |name: &str| {
            b.metric(name).map(|m| {
                let s = stats::sorted(&m.samples);
                m.unit.format(stats::quantile(&s, 0.5))
            })
        };
        if let (Some(u), Some(s)) = (med("user_time"), med("sys_time")) {
            let rss = med("rss").map_or(String::new(), |r| format!(", Peak RSS: {r}"));
            let _ = writeln!(out, "  User: {u}, System: {s}{rss} (medians)");
        }
        for n in notes.get(i).into_iter().flatten() {
            let line = format!("Warning: {n}");
            let _ = writeln!(out, "  {}", style.paint(crate::Tone::Warn, &line));
        }
        out.push('\n');
    }
    if run.benchmarks.len() > 1 {
        out.push_str(&relative(run));
    }
    if run.interrupted {
        let line = "Interrupted: the results above are partial.";
        let _ = writeln!(out, "{}", style.paint(crate::Tone::Warn, line));
    }
    out
}

/// `12,345,678`: instruction counts read better whole than as `12.3M`.
fn group_digits(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn minmax(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        })
}

/// "A ran 1.84× faster than B (p=0.000)", each command against the first.
fn relative(run: &Run) -> String {
    let mut out = String::from("Summary\n");
    let first = &run.benchmarks[0];
    // Instruction counts when that is what was measured (`--measure instructions`).
    let what = if first.metric("time").is_none() && first.metric("instructions").is_some() {
        "instructions"
    } else {
        "time"
    };
    let only_time = |b: &Benchmark| -> Benchmark {
        let mut x = Benchmark::new("cmd");
        x.metrics = b
            .metrics
            .iter()
            .filter(|m| m.name == what)
            .cloned()
            .collect();
        x
    };
    let base = vec![only_time(first)];
    let _ = writeln!(out, "  {} (the reference)", escape::terminal(&first.key()));
    for b in &run.benchmarks[1..] {
        let current = vec![only_time(b)];
        let Ok(c) = compare(&base, &current, &CompareOptions::default()) else {
            continue;
        };
        let Some(r) = c.rows.first() else { continue };
        let ratio = r.current.median / r.base.median;
        let p = r
            .p_value
            .map_or(String::from("no test"), |p| format!("p={p:.3}"));
        let testable = stats::min_p_value(r.base.n, r.current.n) <= 0.05;
        let line = match r.verdict {
            _ if what == "instructions" => {
                format!("{ratio:.4}× the reference's instructions")
            }
            _ if !testable => format!(
                "{ratio:.2}× the reference's time (too few runs for a significance test: use --runs 4 or more)"
            ),
            Verdict::Same => format!("no significant difference ({ratio:.2}×, {p})"),
            _ if ratio >= 1.0 => format!("{ratio:.2}× slower ({p})"),
            _ => format!("{:.2}× faster ({p})", 1.0 / ratio),
        };
        debug_assert_eq!(r.better, Better::Lower);
        let _ = writeln!(out, "  {}: {line}", escape::terminal(&b.key()));
        // The gate's own notes (left-out samples, its test) concern `compare`, not this summary.
        let noted = |w: &&String| {
            !(w.contains("gate") || what == "instructions" && w.contains("confidence interval"))
        };
        for w in r.warnings.iter().filter(noted) {
            let _ = writeln!(out, "    note: {w}");
        }
    }
    out
}
