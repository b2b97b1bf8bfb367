//! Profiles for people: the terminal summary of `perflab profile` and `perflab scan`, and the
//! report's "Hot Paths", "Memory Hotspots" and "Recommendations" sections.

use std::fmt::Write as _;

use perflab_model::profile::{AllocSummary, ProfileSummary};
use perflab_model::Unit;

use crate::table::Table;

fn unit_of(s: &ProfileSummary) -> Unit {
    match s.unit.as_str() {
        "s" => Unit::seconds(),
        "bytes" => Unit::bytes(),
        _ => Unit::count(),
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn secs(x: f64) -> String {
    Unit::seconds().format(x)
}

/// The top table with pprof's columns.
pub fn top_table(s: &ProfileSummary) -> Table {
    let unit = unit_of(s);
    let mut t = Table::new(
        [
            "flat", "flat%", "sum%", "cum", "cum%", "function", "location",
        ]
        .iter()
        .map(|h| h.to_string())
        .collect(),
    )
    .left_align_from(5);
    for r in &s.top {
        t.row(vec![
            unit.format(r.flat),
            pct(r.flat_share),
            pct(r.sum_share),
            unit.format(r.cum),
            pct(r.cum_share),
            r.function.clone(),
            r.location.clone().unwrap_or_default(),
        ]);
    }
    t
}

fn alloc_table(a: &AllocSummary, by_count: bool, n: usize) -> Table {
    let mut sites = a.sites.clone();
    if by_count {
        sites.sort_by(|x, y| y.blocks.cmp(&x.blocks).then(x.function.cmp(&y.function)));
    }
    let mut t = Table::new(
        ["bytes", "blocks", "leaked", "temporary", "site", "location"]
            .iter()
            .map(|h| h.to_string())
            .collect(),
    )
    .left_align_from(4);
    for s in sites.iter().take(n) {
        t.row(vec![
            Unit::bytes().format(s.bytes as f64),
            s.blocks.to_string(),
            if s.leaked_blocks > 0 {
                format!(
                    "{} blocks, {}",
                    s.leaked_blocks,
                    Unit::bytes().format(s.leaked_bytes as f64)
                )
            } else {
                "-".into()
            },
            s.temporary_blocks
                .map(|t| t.to_string())
                .unwrap_or_else(|| "-".into()),
            s.function.clone(),
            s.location.clone().unwrap_or_default(),
        ]);
    }
    t
}

/// The terminal summary of one profiled target.
pub fn profile_text(s: &ProfileSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", s.target);
    facts_and_backend(&mut out, s);
    growth(&mut out, s);
    top(&mut out, s);
    allocations(&mut out, s);
    closing(&mut out, s);
    out
}

/// CPU, wall, memory and off-CPU time; how the profile was taken.
fn facts_and_backend(out: &mut String, s: &ProfileSummary) {
    let mut facts = Vec::new();
    if let Some(c) = s.cpu_time_s {
        let sys = s
            .sys_time_s
            .map(|x| format!(" ({} system)", secs(x)))
            .unwrap_or_default();
        facts.push(format!("CPU {}{sys}", secs(c)));
    }
    if let Some(w) = s.wall_time_s {
        facts.push(format!("wall {}", secs(w)));
    }
    if let Some(r) = s.peak_rss_bytes.filter(|&r| r > 0) {
        facts.push(format!("peak RSS {}", Unit::bytes().format(r as f64)));
    }
    if let Some(o) = s.off_cpu_s {
        facts.push(format!("off-CPU {}", secs(o)));
    }
    if !facts.is_empty() {
        let _ = writeln!(out, "  {}", facts.join(" · "));
    }
    let mut how = format!("  backend {}", s.backend);
    if let Some(u) = &s.unwinding {
        let _ = write!(how, " ({u} unwinding)");
    }
    if s.samples > 0 {
        let what = if s.backend == "dhat" {
            "allocations"
        } else {
            "samples"
        };
        let _ = write!(how, " · {} {what}", s.samples);
    }
    if let Some(r) = s.rate_hz {
        let _ = write!(how, " · {r:.0} Hz effective");
    }
    if let Some(c) = s.complete_stacks {
        let _ = write!(how, " · {} of stacks complete", pct(c));
    }
    let _ = writeln!(out, "{how}");
    if let Some(n) = &s.backend_note {
        let _ = writeln!(out, "  note: {n}");
    }
}

/// Against a baseline profile: the stacks that grew or shrank most.
fn growth(out: &mut String, s: &ProfileSummary) {
    if !s.growth.is_empty() {
        let _ = writeln!(out, "\n  Against the baseline ({} per stack):", s.value);
        let mut t = Table::new(
            ["before", "now", "change", "stack (… → leaf)"]
                .map(String::from)
                .to_vec(),
        )
        .left_align_from(3);
        for g in &s.growth {
            let frames: Vec<&str> = g.stack.split(';').collect();
            let tail = frames[frames.len().saturating_sub(3)..].join(" → ");
            t.row(vec![
                format!("{}", g.before),
                format!("{}", g.after),
                format!("{:+}", g.after - g.before),
                crate::escape::terminal(&tail),
            ]);
        }
        for line in t.render_text().lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
}

/// The top table.
fn top(out: &mut String, s: &ProfileSummary) {
    if !s.top.is_empty() {
        let _ = writeln!(
            out,
            "\n  Top {} by {} (total {}):",
            s.top.len(),
            s.value,
            unit_of(s).format(s.total)
        );
        for line in top_table(s).render_text().lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
}

/// The allocation summary and its top sites by bytes and by count.
fn allocations(out: &mut String, s: &ProfileSummary) {
    if let Some(a) = &s.alloc {
        let _ = writeln!(
            out,
            "\n  Allocations: {} in {} blocks{} · live at {}: {} blocks, {}{}",
            Unit::bytes().format(a.total_bytes as f64),
            a.total_blocks,
            a.peak_bytes
                .map(|p| format!(" · peak heap {}", Unit::bytes().format(p as f64)))
                .unwrap_or_default(),
            a.live_at,
            a.leaked_blocks,
            Unit::bytes().format(a.leaked_bytes as f64),
            a.temporary_blocks
                .map(|t| format!(" · temporary: {t} blocks"))
                .unwrap_or_default()
        );
        let _ = writeln!(out, "  Top allocation sites by bytes:");
        for line in alloc_table(a, false, 5).render_text().lines() {
            let _ = writeln!(out, "  {line}");
        }
        let _ = writeln!(out, "  Top allocation sites by count:");
        for line in alloc_table(a, true, 5).render_text().lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
}

/// Warnings, recommendations and the files written.
fn closing(out: &mut String, s: &ProfileSummary) {
    for w in &s.warnings {
        let _ = writeln!(out, "\n  warning: {w}");
    }
    if !s.recommendations.is_empty() {
        let _ = writeln!(out, "\n  Recommendations:");
        for r in &s.recommendations {
            let _ = writeln!(out, "  - {} ({})", r.advice, r.evidence);
        }
    }
    if !s.files.is_empty() {
        let _ = writeln!(out);
        for (role, path) in &s.files {
            let _ = writeln!(out, "  {role}: {path}");
        }
    }
}

/// The report sections for a run's profiles: Hot Paths, Memory Hotspots, Recommendations.
pub fn profile_markdown(profiles: &[ProfileSummary]) -> String {
    let mut out = String::from("\n## 🔥 Hot Paths\n\n");
    for s in profiles {
        let _ = writeln!(
            out,
            "### `{}`\n\n{} backend{}, {} samples{}{}\n",
            s.target,
            s.backend,
            s.unwinding
                .as_deref()
                .map(|u| format!(" ({u} unwinding)"))
                .unwrap_or_default(),
            s.samples,
            s.cpu_time_s
                .map(|c| format!(", CPU {}", secs(c)))
                .unwrap_or_default(),
            s.files
                .get("flamegraph")
                .map(|f| format!(", [flamegraph]({f})"))
                .unwrap_or_default()
        );
        if s.top.is_empty() {
            out.push_str("No samples.\n");
        } else {
            out.push_str(&top_table(s).render_markdown());
        }
        for w in &s.warnings {
            let _ = writeln!(out, "\n> ⚠️ {w}");
        }
    }
    let allocs: Vec<&ProfileSummary> = profiles.iter().filter(|s| s.alloc.is_some()).collect();
    if !allocs.is_empty() {
        out.push_str("\n## 🧠 Memory Hotspots\n\n");
        for s in allocs {
            let Some(a) = &s.alloc else { continue };
            let _ = writeln!(
                out,
                "### `{}`\n\n{} allocated in {} blocks; {} blocks ({}) live at {}{}\n",
                s.target,
                Unit::bytes().format(a.total_bytes as f64),
                a.total_blocks,
                a.leaked_blocks,
                Unit::bytes().format(a.leaked_bytes as f64),
                a.live_at,
                a.peak_bytes
                    .map(|p| format!("; peak heap {}", Unit::bytes().format(p as f64)))
                    .unwrap_or_default()
            );
            out.push_str(&alloc_table(a, false, 10).render_markdown());
        }
    }
    let recs: Vec<(&str, &perflab_model::profile::Recommendation)> = profiles
        .iter()
        .flat_map(|s| {
            s.recommendations
                .iter()
                .map(move |r| (s.target.as_str(), r))
        })
        .collect();
    out.push_str("\n## 💡 Recommendations\n\n");
    if recs.is_empty() {
        out.push_str("None: nothing in the profiles calls for one.\n");
    }
    for (target, r) in recs {
        let _ = writeln!(
            out,
            "- **{target}**: {} _Evidence: {}._",
            r.advice, r.evidence
        );
    }
    out
}

/// The terminal summary of `perflab scan`: each target, then all targets with the delta
/// against the baseline.
pub fn scan_text(run: &perflab_model::Run) -> String {
    let mut out = String::new();
    for s in &run.profiles {
        if s.target == "all" {
            out.push_str("\n== all targets ==\n");
            out.push_str(&profile_text(s));
            if !s.baseline_delta.is_empty() {
                out.push_str("\n  Against the baseline (flat share of the total):\n");
                let mut t = Table::new(
                    ["base", "now", "delta", "function"]
                        .iter()
                        .map(|h| h.to_string())
                        .collect(),
                )
                .left_align_from(3);
                for d in &s.baseline_delta {
                    t.row(vec![
                        format!("{:.1}%", d.base_share * 100.0),
                        format!("{:.1}%", d.current_share * 100.0),
                        format!("{:+.1} pp", (d.current_share - d.base_share) * 100.0),
                        crate::escape::terminal(&d.function),
                    ]);
                }
                for line in t.render_text().lines() {
                    out.push_str("  ");
                    out.push_str(line);
                    out.push('\n');
                }
            }
        } else {
            out.push_str(&format!("\n== {} ==\n", crate::escape::terminal(&s.target)));
            out.push_str(&profile_text(s));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use perflab_model::profile::{FunctionCost, Recommendation};

    fn summary() -> ProfileSummary {
        ProfileSummary {
            target: "./hot".into(),
            backend: "perf".into(),
            unwinding: Some("fp".into()),
            value: "cpu".into(),
            unit: "s".into(),
            samples: 500,
            rate_hz: Some(499.0),
            total: 1.0,
            cpu_time_s: Some(1.0),
            wall_time_s: Some(1.01),
            top: vec![FunctionCost {
                function: "hot_loop".into(),
                location: Some("hot.c".into()),
                flat: 0.9,
                flat_share: 0.9,
                sum_share: 0.9,
                cum: 0.9,
                cum_share: 0.9,
            }],
            recommendations: vec![Recommendation {
                rule: "focus".into(),
                advice: "Focus.".into(),
                evidence: "hot_loop 90%".into(),
            }],
            ..ProfileSummary::default()
        }
    }

    #[test]
    fn growth_against_a_baseline_is_listed_leaf_last() {
        let mut s = summary();
        s.value = "goroutine".into();
        s.growth = vec![perflab_model::profile::StackGrowth {
            stack: "runtime.goexit;net/http.(*conn).serve;main.main.func3;main.main.func3.1".into(),
            before: 2.0,
            after: 202.0,
        }];
        let text = profile_text(&s);
        assert!(
            text.contains("Against the baseline (goroutine per stack):"),
            "{text}"
        );
        let row = text
            .lines()
            .find(|l| l.contains("+200"))
            .unwrap_or_default();
        assert!(row.contains("2  ") && row.contains("202"), "{text}");
        assert!(
            row.ends_with("net/http.(*conn).serve → main.main.func3 → main.main.func3.1"),
            "{text}"
        );
    }

    #[test]
    fn text_has_pprof_columns_and_facts() {
        let t = profile_text(&summary());
        assert!(
            t.contains("flat   flat%   sum%    cum   cum%  function  location"),
            "{t}"
        );
        assert!(t.contains("90.0%"));
        assert!(t.contains("hot_loop"));
        assert!(t.contains("backend perf (fp unwinding) · 500 samples · 499 Hz effective"));
        assert!(t.contains("- Focus. (hot_loop 90%)"));
    }

    #[test]
    fn markdown_has_the_seeds_sections() {
        let m = profile_markdown(&[summary()]);
        assert!(m.contains("## 🔥 Hot Paths"));
        assert!(m.contains("| hot_loop |") || m.contains("hot_loop"));
        assert!(m.contains("## 💡 Recommendations"));
        assert!(!m.contains("Memory Hotspots"));
    }
}
