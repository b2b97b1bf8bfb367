//! Merging the results of segments (`--segment i/n`) run at the same time on several machines:
//! counts add, rates add, histograms add without loss, so percentiles of the merge are exactly
//! those of one big run.

use std::collections::BTreeMap;

use perflab_model::load::{LoadSummary, ScenarioSummary, SecondPoint};

use crate::record::{decode_histogram, encode_histogram, new_histogram, percentiles};
use crate::LoadError;

fn merge_scenario(
    a: &mut ScenarioSummary,
    b: &ScenarioSummary,
    seconds: f64,
) -> Result<(), LoadError> {
    let mut lat = if a.latency_histogram.is_empty() {
        new_histogram()
    } else {
        decode_histogram(&a.latency_histogram)?
    };
    let mut svc = if a.service_time_histogram.is_empty() {
        new_histogram()
    } else {
        decode_histogram(&a.service_time_histogram)?
    };
    if !b.latency_histogram.is_empty() {
        let h = decode_histogram(&b.latency_histogram)?;
        lat.add(&h).map_err(|e| LoadError::Merge {
            reason: format!("{e:?}"),
        })?;
    }
    if !b.service_time_histogram.is_empty() {
        let h = decode_histogram(&b.service_time_histogram)?;
        svc.add(&h).map_err(|e| LoadError::Merge {
            reason: format!("{e:?}"),
        })?;
    }
    let mut failed_h = if a.failed_latency_histogram.is_empty() {
        new_histogram()
    } else {
        decode_histogram(&a.failed_latency_histogram)?
    };
    if !b.failed_latency_histogram.is_empty() {
        let h = decode_histogram(&b.failed_latency_histogram)?;
        failed_h.add(&h).map_err(|e| LoadError::Merge {
            reason: format!("{e:?}"),
        })?;
    }
    a.failed += b.failed;
    let failed = a.error_rate * a.requests as f64 + b.error_rate * b.requests as f64;
    a.requests += b.requests;
    for (k, v) in &b.errors {
        *a.errors.entry(k.clone()).or_default() += v;
    }
    for (k, v) in &b.status {
        *a.status.entry(k.clone()).or_default() += v;
    }
    a.bytes_in += b.bytes_in;
    a.bytes_out += b.bytes_out;
    for c in &b.checks {
        match a.checks.iter_mut().find(|x| x.name == c.name) {
            Some(x) => {
                x.passed += c.passed;
                x.total += c.total;
            }
            None => a.checks.push(c.clone()),
        }
    }
    a.error_rate = if a.requests > 0 {
        (failed / a.requests as f64 * 1e12).round() / 1e12
    } else {
        0.0
    };
    a.rps = if seconds > 0.0 {
        a.requests as f64 / seconds
    } else {
        0.0
    };
    a.latency = percentiles(&lat);
    a.service_time = percentiles(&svc);
    a.latency_histogram = encode_histogram(&lat);
    a.failed_latency = percentiles(&failed_h);
    a.failed_latency_histogram = if failed_h.is_empty() {
        String::new()
    } else {
        encode_histogram(&failed_h)
    };
    a.service_time_histogram = encode_histogram(&svc);
    Ok(())
}

/// Merge segment summaries into one.
///
/// # Errors
/// Mixed load models, or histograms that do not decode.
pub fn merge(parts: &[LoadSummary]) -> Result<LoadSummary, LoadError> {
    let first = parts.first().ok_or_else(|| LoadError::Merge {
        reason: "nothing to merge".into(),
    })?;
    if parts.iter().any(|p| p.model != first.model) {
        return Err(LoadError::Merge {
            reason: "open-model and closed-model results do not mix".into(),
        });
    }
    merge_any(parts, first)
}

/// The executors of one test, run side by side (each its own model): counts, histograms and
/// the per-second series add as segments' do; the target rate is the open executors' sum only
/// when every executor is open (a closed one has none, so a shortfall could not be told).
///
/// # Errors
/// Histograms that do not decode.
pub fn combine(parts: &[LoadSummary], model: &str) -> Result<LoadSummary, LoadError> {
    let first = parts.first().ok_or_else(|| LoadError::Merge {
        reason: "nothing to combine".into(),
    })?;
    let mut out = merge_any(parts, first)?;
    out.model = model.to_string();
    if parts.iter().any(|p| p.target_rate.is_none()) {
        out.target_rate = None;
    }
    Ok(out)
}

fn merge_any(parts: &[LoadSummary], first: &LoadSummary) -> Result<LoadSummary, LoadError> {
    // Segments run side by side: the merged test lasted as long as the longest segment.
    let seconds = parts.iter().map(|p| p.measured_seconds).fold(0.0, f64::max);
    let mut out = LoadSummary {
        // One segment stopped early makes the whole partial.
        ending: (parts.iter().map(|p| p.ending))
            .find(|e| *e != perflab_model::load::Ending::Completed)
            .unwrap_or_default(),
        description: first.description.clone(),
        warmup_seconds: first.warmup_seconds,
        spectrum: Vec::new(),
        distribution: Vec::new(),
        model: first.model.clone(),
        latency_is: first.latency_is.clone(),
        target_rate: None,
        achieved_rate: 0.0,
        // Segments run side by side: their VUs add up.
        peak_vus: parts.iter().map(|p| p.peak_vus).sum(),
        dropped: 0,
        generator_late: 0,
        send_lag: first.send_lag,
        connects: None,
        generator_cpu_seconds: 0.0,
        measured_seconds: seconds,
        segment: None,
        plan: first.plan.clone(),
        scenarios: BTreeMap::new(),
        series: Vec::new(),
        thresholds: Vec::new(),
        target_process: None,
        target_metrics: None,
    };
    let mut series: BTreeMap<u64, SecondPoint> = BTreeMap::new();
    let mut connect_times = Vec::new();
    for p in parts {
        out.target_rate = match (out.target_rate, p.target_rate) {
            (None, x) => x,
            (Some(a), Some(b)) => Some(a + b),
            (a, None) => a,
        };
        out.achieved_rate += p.achieved_rate;
        out.dropped += p.dropped;
        out.generator_late += p.generator_late;
        out.generator_cpu_seconds += p.generator_cpu_seconds;
        out.send_lag.max = out.send_lag.max.max(p.send_lag.max);
        connect_times.push(p.connects.as_ref());
        for (name, s) in &p.scenarios {
            let entry = out.scenarios.entry(name.clone()).or_default();
            merge_scenario(entry, s, seconds)?;
        }
        for pt in &p.series {
            let e = series.entry(pt.t).or_insert(SecondPoint {
                t: pt.t,
                ..SecondPoint::default()
            });
            e.requests += pt.requests;
            e.errors += pt.errors;
            // Each segment runs its share of the VUs and of the rate: the whole is their sum.
            let add_u = |a: Option<u64>, b: Option<u64>| a.map_or(b, |x| Some(x + b.unwrap_or(0)));
            let add_f =
                |a: Option<f64>, b: Option<f64>| a.map_or(b, |x| Some(x + b.unwrap_or(0.0)));
            e.vus = add_u(e.vus, pt.vus);
            e.target_rate = add_f(e.target_rate, pt.target_rate);
            // Per-second percentiles do not add: the merge keeps the worst segment's value.
            e.p50 = e.p50.max(pt.p50);
            e.p90 = e.p90.max(pt.p90);
            e.p99 = e.p99.max(pt.p99);
            e.max = e.max.max(pt.max);
            e.checks_failed += pt.checks_failed;
            for (code, n) in &pt.status {
                *e.status.entry(code.clone()).or_default() += n;
            }
        }
    }
    out.series = series.into_values().collect();
    out.connects = merge_connects(&connect_times)?;
    // The segments' thresholds, checked again on the whole.
    let names: Vec<String> = out
        .scenarios
        .keys()
        .filter(|k| *k != "all")
        .cloned()
        .collect();
    let mut seen = Vec::new();
    for t in parts.iter().flat_map(|p| &p.thresholds) {
        if seen.contains(&t.expression) {
            continue;
        }
        seen.push(t.expression.clone());
        let th = crate::threshold::Threshold::parse(&t.expression, &names)?;
        let r = th.evaluate_load(&out);
        out.thresholds.push(r);
    }
    out.spectrum = crate::spectrum(&out);
    out.distribution = crate::distribution(&out);
    Ok(out)
}

/// The segments' connections together: their histograms add, so the percentiles are exact;
/// the connects given up add, and so do the slow ones the histograms do not hold.
fn merge_connects(
    parts: &[Option<&perflab_model::load::Connects>],
) -> Result<Option<perflab_model::load::Connects>, LoadError> {
    let add = |all: &mut hdrhistogram::Histogram<u64>, encoded: &str| {
        if encoded.is_empty() {
            return Ok(());
        }
        all.add(&decode_histogram(encoded)?)
            .map_err(|e| LoadError::Merge {
                reason: format!("{e:?}"),
            })
    };
    let mut all = crate::record::ConnectStats::new();
    for c in parts.iter().flatten() {
        add(&mut all.tcp, &c.histogram)?;
        if let Some(t) = &c.tls {
            add(&mut all.tls, &t.histogram)?;
        }
        all.incomplete += c.incomplete;
        // A part's slow connects are its histogram's slow ones plus its slow given-up ones.
        let finished_slow = if c.histogram.is_empty() {
            0
        } else {
            crate::record::slow_connects(&decode_histogram(&c.histogram)?)
        };
        all.incomplete_slow += c.slow.saturating_sub(finished_slow);
    }
    Ok(all.summary())
}

/// Check that named segment results make one whole test: the same plan, each segment of the
/// same split once, none missing.
///
/// # Errors
/// [`LoadError::Merge`] naming the files at fault.
pub fn check_segments(parts: &[(String, LoadSummary)]) -> Result<(), LoadError> {
    let bad = |reason: String| Err(LoadError::Merge { reason });
    if let Some((a, pa)) = parts.first() {
        for (b, pb) in &parts[1..] {
            if let (Some(x), Some(y)) = (&pa.plan, &pb.plan) {
                if x != y {
                    return bad(format!("{a} and {b} were made from different plans (flags or scenario file differ)"));
                }
            }
        }
    }
    let mut split: Option<usize> = None;
    let mut owner: BTreeMap<usize, &str> = BTreeMap::new();
    for (name, p) in parts {
        let Some(seg) = &p.segment else {
            return bad(format!(
                "{name} is a whole test, not a segment (--segment I/N)"
            ));
        };
        let (i, n) = seg
            .split_once('/')
            .and_then(|(i, n)| Some((i.parse::<usize>().ok()?, n.parse::<usize>().ok()?)))
            .filter(|(i, n)| *i >= 1 && i <= n)
            .ok_or_else(|| LoadError::Merge {
                reason: format!("{name}: segment {seg:?} is not I/N"),
            })?;
        match split {
            Some(m) if m != n => {
                return bad(format!("{name} is segment {i}/{n}, the others are of {m}"))
            }
            _ => split = Some(n),
        }
        if let Some(other) = owner.insert(i, name) {
            return bad(format!(
                "segment {i}/{n} is given twice ({other} and {name})"
            ));
        }
    }
    if let Some(n) = split {
        let missing: Vec<String> = (1..=n)
            .filter(|i| !owner.contains_key(i))
            .map(|i| format!("{i}/{n}"))
            .collect();
        if !missing.is_empty() {
            return bad(format!("segment {} missing", missing.join(", ")));
        }
    }
    Ok(())
}

/// Read segment result files, check that they make one test, and merge them.
///
/// # Errors
/// A file that does not read or is not a load run; [`check_segments`]; [`merge`].
pub fn merge_files(files: &[std::path::PathBuf]) -> Result<LoadSummary, LoadError> {
    let mut parts = Vec::new();
    for f in files {
        let name = f.display().to_string();
        let fail = |reason: String| LoadError::Merge {
            reason: format!("{name}: {reason}"),
        };
        let text = std::fs::read_to_string(f).map_err(|e| fail(e.to_string()))?;
        let run = perflab_model::Run::from_json(&text).map_err(|e| fail(e.to_string()))?;
        let Some(load) = run.load else {
            return Err(fail(format!(
                "not a load-test result (kind {})",
                run.kind.as_str()
            )));
        };
        damaged_histogram(&load).map_or(Ok(()), |e| Err(fail(e)))?;
        parts.push((name, load));
    }
    check_segments(&parts)?;
    let parts: Vec<LoadSummary> = parts.into_iter().map(|(_, p)| p).collect();
    merge(&parts)
}

/// The first histogram of a segment that does not decode, named: merging it would fail with
/// no word of which file or histogram is at fault.
fn damaged_histogram(load: &LoadSummary) -> Option<String> {
    let mut all: Vec<(String, &str)> = Vec::new();
    for (name, s) in &load.scenarios {
        all.push((format!("scenario {name}'s latency"), &s.latency_histogram));
        all.push((
            format!("scenario {name}'s service time"),
            &s.service_time_histogram,
        ));
        all.push((
            format!("scenario {name}'s failed latency"),
            &s.failed_latency_histogram,
        ));
    }
    if let Some(c) = &load.connects {
        all.push(("connect time".into(), &c.histogram));
        if let Some(t) = &c.tls {
            all.push(("TLS handshake".into(), &t.histogram));
        }
    }
    all.into_iter()
        .filter(|(_, h)| !h.is_empty())
        .find_map(|(what, h)| {
            decode_histogram(h).err().map(|e| match e {
                LoadError::Histogram { reason } => format!("{what} histogram is damaged: {reason}"),
                e => format!("{what} histogram: {e}"),
            })
        })
}
