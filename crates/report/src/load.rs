//! The terminal summary of a load run: model, totals, the latency table per scenario, service
//! time and send lag for the open model, status and error counts, checks, the target's own cost,
//! the percentile spectrum and the thresholds.

use std::fmt::Write as _;

use perflab_model::load::{Ending, LoadSummary, ScenarioSummary};
use perflab_model::{Run, Unit};

use crate::{escape, Table};

/// The terminal summary of a load run.
pub fn load_text(run: &Run) -> String {
    let Some(s) = &run.load else {
        return String::new();
    };
    let all = s.scenarios.get("all").cloned().unwrap_or_default();
    let mut out = String::new();
    header(&mut out, s);
    totals_and_latency(&mut out, s, &all);
    outcomes(&mut out, s, &all);
    target(&mut out, s);
    spectrum(&mut out, s);
    thresholds(&mut out, s);
    out
}

/// The label of the latency the tables show.
fn latency_name(s: &LoadSummary) -> &'static str {
    if s.latency_is == "response_time" {
        "response time (from intended send)"
    } else {
        "latency (service time)"
    }
}

/// The plan, how long it was measured, and how it ended.
fn header(out: &mut String, s: &LoadSummary) {
    let t = |v: f64| Unit::seconds().format(v);
    let model = s.description.as_deref().unwrap_or(&s.model);
    let _ = writeln!(
        out,
        "perflab load: {model}, {} measured{}{}",
        t(s.measured_seconds),
        if s.warmup_seconds == 0.0 {
            String::new()
        } else {
            format!(" after {} warm-up", t(s.warmup_seconds))
        },
        s.segment
            .as_deref()
            .map_or(String::new(), |x| format!(", segment {x}"))
    );
    match s.ending {
        Ending::Interrupted => out.push_str("  interrupted: the results are partial\n"),
        Ending::Aborted => out.push_str("  aborted: a threshold failed (--abort-on-fail)\n"),
        Ending::Completed => {}
    }
}

/// The totals, the latency table per scenario, failed requests' latency, and for the open
/// model service time and send lag.
fn totals_and_latency(out: &mut String, s: &LoadSummary, all: &ScenarioSummary) {
    let t = |v: f64| Unit::seconds().format(v);
    let _ = writeln!(
        out,
        "  requests {}  achieved {:.1}/s{}  errors {} ({:.2}%)  dropped {}",
        all.requests,
        s.achieved_rate,
        s.target_rate
            .map_or(String::new(), |r| format!(" of {r:.1}/s target")),
        if all.failed > 0 || all.requests == 0 {
            all.failed
        } else {
            // Runs recorded before `failed` was kept.
            all.errors.values().sum::<u64>()
                + all
                    .status
                    .iter()
                    .filter(|(k, _)| k.as_str() >= "400")
                    .map(|(_, v)| v)
                    .sum::<u64>()
        },
        all.error_rate * 100.0,
        s.dropped
    );
    let latency_name = latency_name(s);
    let mut table = Table::new(vec![
        "scenario".into(),
        "requests".into(),
        "rps".into(),
        "p50".into(),
        "p90".into(),
        "p99".into(),
        "p99.9".into(),
        "max".into(),
        "errors".into(),
    ]);
    for (name, sc) in &s.scenarios {
        if name == "all" && s.scenarios.len() == 2 {
            continue;
        }
        let l = &sc.latency;
        // No request succeeded: no latency to show (not zero).
        let none = sc.failed > 0 && sc.failed >= sc.requests;
        let lt = |v: f64| if none { "-".to_string() } else { t(v) };
        table.row(vec![
            escape::terminal(name),
            sc.requests.to_string(),
            format!("{:.1}", sc.rps),
            lt(l.p50),
            lt(l.p90),
            lt(l.p99),
            lt(l.p99_9),
            lt(l.max),
            format!("{:.2}%", sc.error_rate * 100.0),
        ]);
    }
    let _ = writeln!(out, "  {latency_name}, of the requests that succeeded:");
    for line in table.render_text().lines() {
        let _ = writeln!(out, "    {line}");
    }
    if all.failed > 0 {
        let f = &all.failed_latency;
        let _ = writeln!(
            out,
            "  failed requests, apart: {}  p50 {}  p99 {}  max {}",
            all.failed,
            t(f.p50),
            t(f.p99),
            t(f.max)
        );
    }
    if let Some(n) = all.errors.get("unfinished").filter(|n| **n > 0) {
        let _ = writeln!(
            out,
            "  unfinished: {n} due and unanswered when the test ended (after the grace period); \
their latency is a lower bound: what they had waited by then (among the failed)"
        );
    }
    if s.latency_is == "response_time" {
        let v = &all.service_time;
        let _ = writeln!(
            out,
            "  service time (from actual send): p50 {}  p90 {}  p99 {}  max {}",
            t(v.p50),
            t(v.p90),
            t(v.p99),
            t(v.max)
        );
        let _ = writeln!(
            out,
            "  send lag: p50 {}  p99 {}  max {}",
            t(s.send_lag.p50),
            t(s.send_lag.p99),
            t(s.send_lag.max)
        );
    }
}

/// Statuses, errors by kind, checks, traffic and perflab's own CPU.
fn outcomes(out: &mut String, s: &LoadSummary, all: &ScenarioSummary) {
    let t = |v: f64| Unit::seconds().format(v);
    if !all.status.is_empty() {
        let st: Vec<String> = all.status.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "  status: {}", st.join(" "));
    }
    if !all.errors.is_empty() {
        let er: Vec<String> = all.errors.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "  errors: {}", er.join(" "));
    }
    for (name, sc) in &s.scenarios {
        if name == "all" {
            continue;
        }
        for c in &sc.checks {
            let _ = writeln!(
                out,
                "  check {name}: {}: {:.2}% ({}/{})",
                c.name,
                if c.total > 0 {
                    c.passed as f64 * 100.0 / c.total as f64
                } else {
                    0.0
                },
                c.passed,
                c.total
            );
        }
    }
    let _ = writeln!(
        out,
        "  traffic: {} in, {} out; perflab used {} of CPU",
        Unit::bytes().format(all.bytes_in as f64),
        Unit::bytes().format(all.bytes_out as f64),
        t(s.generator_cpu_seconds)
    );
    if let Some(c) = &s.connects {
        let _ = writeln!(
            out,
            "  connections: {} opened{}, connect p50 {}  p99 {}  max {}",
            c.opened,
            match c.incomplete {
                0 => String::new(),
                n => format!(" ({n} more given up before the handshake)"),
            },
            t(c.time.p50),
            t(c.time.p99),
            t(c.time.max)
        );
        if let Some(h) = &c.tls {
            let _ = writeln!(
                out,
                "  TLS handshakes: {}, p50 {}  p99 {}  max {}",
                h.count,
                t(h.time.p50),
                t(h.time.p99),
                t(h.time.max)
            );
        }
    }
}

/// What connections of a second or more mean: the target's listen queue overflowed, dropped
/// the first SYN, and the kernel sent it again a second later; that second is in the latency
/// of the requests that waited for them (or made them `unfinished`), and it is the target's
/// socket settings, not its code or perflab. `perflab load` says it on stderr, as its other
/// warnings; the HTML and Markdown reports carry it.
pub fn slow_connect_hint(s: &LoadSummary) -> Option<String> {
    let c = s.connects.as_ref().filter(|c| c.slow > 0)?;
    Some(format!(
        "{} of {} connections took 1 s or more to connect{}: the target's listen queue was full \
and dropped their SYN, which the kernel sent again a second later (raise the server's listen \
backlog and net.core.somaxconn, or open connections gradually with --stages)",
        c.slow,
        c.opened + c.incomplete,
        match c.incomplete {
            0 => String::new(),
            n => format!(" ({n} never connected before their timeout or the end)"),
        }
    ))
}

/// The watched target process and its own metrics.
fn target(out: &mut String, s: &LoadSummary) {
    let t = |v: f64| Unit::seconds().format(v);
    if let Some(p) = &s.target_process {
        let _ = writeln!(
            out,
            "  target pid {}: CPU {} ({} per request), RSS {} → {} (peak {}, {:+})",
            p.pid,
            t(p.cpu_seconds),
            t(p.cpu_seconds_per_request),
            Unit::bytes().format(p.rss_start_bytes as f64),
            Unit::bytes().format(p.rss_end_bytes as f64),
            Unit::bytes().format(p.rss_peak_bytes as f64),
            Unit::bytes().format(p.rss_end_bytes as f64 - p.rss_start_bytes as f64)
        );
    }
    if let Some(m) = &s.target_metrics {
        let _ = writeln!(
            out,
            "  target metrics ({}, {} scrapes, per request of {}):",
            escape::terminal(&m.url),
            m.scrapes,
            m.requests
        );
        for (k, v) in &m.derived {
            let shown = match k.as_str() {
                "memory_per_request" => Unit::bytes().format(*v),
                "allocs_per_request" => format!("{v:.2}"),
                _ => t(*v),
            };
            let _ = writeln!(out, "    {k} {shown}");
        }
        for (name, g) in m.gauges.iter().filter(|(n, _)| {
            n.starts_with("process_resident_memory_bytes") || n.starts_with("go_goroutines")
        }) {
            let fmt = |v: f64| {
                if name.contains("bytes") {
                    Unit::bytes().format(v)
                } else {
                    format!("{v:.0}")
                }
            };
            let _ = writeln!(
                out,
                "    {} {} → {} (peak {})",
                escape::terminal(name),
                fmt(g.start),
                fmt(g.end),
                fmt(g.peak)
            );
        }
        for (name, h) in &m.histograms {
            let _ = writeln!(
                out,
                "    server {}: p50 {}  p99 {}",
                escape::terminal(name),
                t(h.p50),
                t(h.p99)
            );
        }
    }
}

/// The HDR percentile spectrum of all requests.
fn spectrum(out: &mut String, s: &LoadSummary) {
    let t = |v: f64| Unit::seconds().format(v);
    let latency_name = latency_name(s);
    if s.spectrum.iter().any(|p| p.count > 0) {
        let _ = writeln!(out, "  percentile spectrum ({latency_name}):");
        for &perflab_model::load::SpectrumPoint {
            quantile: q,
            seconds: v,
            count,
        } in &s.spectrum
        {
            let _ = writeln!(out, "    {:>9.5}%  {:>10}  {count}", q * 100.0, t(v));
        }
    }
}

/// Each threshold with what was observed.
fn thresholds(out: &mut String, s: &LoadSummary) {
    for th in &s.thresholds {
        let _ = writeln!(
            out,
            "  threshold {} {} ({})",
            if th.passed { "✓" } else { "✗" },
            th.expression,
            match &th.note {
                Some(note) => escape::terminal(note),
                None => format!("observed {}", observed_text(th)),
            }
        );
    }
}

/// A threshold's observed value in its metric's unit: `586ms` beside `p99<5ms`, `0.12%` beside
/// `error_rate<1%`. Runs stored before the unit was kept fall back on the metric's name.
pub(crate) fn observed_text(th: &perflab_model::load::ThresholdResult) -> String {
    if let Some(unit) = &th.unit {
        return unit.format(th.observed);
    }
    let e = &th.expression;
    if e.contains("rate") || e.contains("checks") {
        Unit("ratio".into()).format(th.observed)
    } else if e.contains("rps") {
        Unit::per_sec().format(th.observed)
    } else if e.contains("requests") || e.contains("allocs") {
        Unit::count().format(th.observed)
    } else if e.contains("memory") {
        Unit::bytes().format(th.observed)
    } else {
        Unit::seconds().format(th.observed)
    }
}

/// The Markdown report's Load section: the plan, latency per scenario, thresholds in their
/// units, checks, and outcomes by status code and error kind.
pub(crate) fn load_markdown(s: &LoadSummary) -> String {
    let t = |v: f64| Unit::seconds().format(v);
    let md = crate::escape::markdown;
    let all = s.scenarios.get("all").cloned().unwrap_or_default();
    let mut out = String::from("\n## 🚦 Load\n\n");
    let _ = writeln!(
        out,
        "{}: {} requests over {}, {:.1} req/s achieved{}; latency is the {}.\n",
        md(s.description.as_deref().unwrap_or(&s.model)),
        all.requests,
        t(s.measured_seconds),
        s.achieved_rate,
        s.target_rate
            .map_or(String::new(), |r| format!(" of {r:.1} req/s asked")),
        if s.latency_is == "response_time" {
            "response time from each request's intended send"
        } else {
            "service time"
        }
    );
    match s.ending {
        Ending::Interrupted => out.push_str("> ⚠️ Interrupted: the results are partial.\n\n"),
        Ending::Aborted => out.push_str("> ⚠️ Aborted: a threshold failed.\n\n"),
        Ending::Completed => {}
    }
    let mut table = Table::new(
        [
            "Scenario", "Requests", "req/s", "p50", "p90", "p99", "p99.9", "max", "Errors",
        ]
        .map(String::from)
        .to_vec(),
    );
    for (name, sc) in &s.scenarios {
        if name == "all" && s.scenarios.len() == 2 {
            continue;
        }
        let none = sc.failed > 0 && sc.failed >= sc.requests;
        let l = &sc.latency;
        let cell = |v: f64| if none { "–".to_string() } else { t(v) };
        table.row(vec![
            md(name),
            sc.requests.to_string(),
            format!("{:.1}", sc.rps),
            cell(l.p50),
            cell(l.p90),
            cell(l.p99),
            cell(l.p99_9),
            cell(l.max),
            format!("{:.2}%", sc.error_rate * 100.0),
        ]);
    }
    out.push_str(&table.render_markdown());
    out.push_str("\nLatency of the requests that succeeded; failed ones are counted apart.\n");
    if let Some(c) = &s.connects {
        let _ = writeln!(
            out,
            "\n{} connections opened, TCP connect p50 {}, p99 {}, max {}{}.",
            c.opened,
            t(c.time.p50),
            t(c.time.p99),
            t(c.time.max),
            c.tls.as_ref().map_or(String::new(), |h| format!(
                "; {} TLS handshakes, p50 {}, p99 {}",
                h.count,
                t(h.time.p50),
                t(h.time.p99)
            ))
        );
    }
    if let Some(hint) = slow_connect_hint(s) {
        let _ = writeln!(out, "\n> ⚠️ {}.", md(&hint));
    }
    if !s.thresholds.is_empty() {
        out.push_str("\n| Threshold | Observed | |\n|---|---:|---|\n");
        for th in &s.thresholds {
            let observed = match &th.note {
                Some(n) => md(n),
                None => observed_text(th),
            };
            let _ = writeln!(
                out,
                "| `{}` | {observed} | {} |",
                th.expression.replace('`', "'"),
                if th.passed { "✅ pass" } else { "❌ fail" }
            );
        }
    }
    let checks: Vec<String> = s
        .scenarios
        .iter()
        .filter(|(n, _)| *n != "all" && !n.contains('='))
        .flat_map(|(n, sc)| {
            sc.checks.iter().map(move |c| {
                format!(
                    "| {} | {} | {}/{} | {:.2}% |",
                    md(n),
                    md(&c.name),
                    c.passed,
                    c.total,
                    if c.total > 0 {
                        c.passed as f64 * 100.0 / c.total as f64
                    } else {
                        100.0
                    }
                )
            })
        })
        .collect();
    if !checks.is_empty() {
        out.push_str("\n| Scenario | Check | Passed | Rate |\n|---|---|---:|---:|\n");
        for c in checks {
            let _ = writeln!(out, "{c}");
        }
    }
    if !all.status.is_empty() || !all.errors.is_empty() {
        let total = all.requests.max(1) as f64;
        out.push_str("\n| Outcome | Requests | Share |\n|---|---:|---:|\n");
        for (code, n) in &all.status {
            let _ = writeln!(
                out,
                "| HTTP {} | {n} | {:.2}% |",
                md(code),
                *n as f64 * 100.0 / total
            );
        }
        for (kind, n) in &all.errors {
            let _ = writeln!(
                out,
                "| {} | {n} | {:.2}% |",
                md(kind),
                *n as f64 * 100.0 / total
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use perflab_model::load::{Connects, Handshakes, LoadSummary};
    use perflab_model::{Run, RunKind};

    fn with(connects: Option<Connects>) -> Run {
        let mut run = Run::new(RunKind::Load);
        run.load = Some(LoadSummary {
            model: "closed".into(),
            latency_is: "service_time".into(),
            connects,
            ..LoadSummary::default()
        });
        run
    }

    #[test]
    fn connections_are_a_line_and_slow_ones_a_warning() {
        assert!(!super::load_text(&with(None)).contains("connections:"));
        let mut c = Connects {
            opened: 20,
            slow: 3,
            incomplete: 2,
            tls: Some(Handshakes {
                count: 20,
                ..Handshakes::default()
            }),
            ..Connects::default()
        };
        c.time.p50 = 50e-6;
        c.time.p99 = 1.02;
        c.time.max = 1.03;
        let run = with(Some(c.clone()));
        let text = super::load_text(&run);
        assert!(
            text.contains(
                "  connections: 20 opened (2 more given up before the handshake), connect p50 50.0µs  p99 1.02s  max 1.03s\n"
            ),
            "{text}"
        );
        assert!(text.contains("  TLS handshakes: 20, p50 "), "{text}");
        let hint = super::slow_connect_hint(run.load.as_ref().unwrap()).unwrap();
        assert!(
            hint.starts_with("3 of 22 connections took 1 s or more to connect (2 never connected"),
            "{hint}"
        );
        assert!(super::load_markdown(run.load.as_ref().unwrap()).contains("> ⚠️ 3 of 22"));
        c.slow = 0;
        assert!(super::slow_connect_hint(&with(Some(c)).load.unwrap()).is_none());
    }
}
