use super::*;
use perflab_model::Metric;

fn set(name: &str, metric: &str, unit: Unit, samples: &[f64]) -> Vec<Benchmark> {
    let mut b = Benchmark::new(name);
    b.metrics.push(Metric::new(metric, unit, samples.to_vec()));
    vec![b]
}

fn time(samples: &[f64]) -> Vec<Benchmark> {
    set("x", "time", Unit::seconds(), samples)
}

const BASE: [f64; 8] = [1.00, 1.01, 0.99, 1.02, 0.98, 1.00, 1.01, 0.99];

#[test]
fn significant_small_change_is_worse_not_regression() {
    let cur: Vec<f64> = BASE.iter().map(|v| v * 1.05).collect();
    let c = compare(&time(&BASE), &time(&cur), &CompareOptions::default()).unwrap();
    assert_eq!(c.rows[0].verdict, Verdict::Worse);
    assert!(c.gate.passed);
}

#[test]
fn large_significant_slowdown_fails_the_gate() {
    let cur: Vec<f64> = BASE.iter().map(|v| v * 1.5).collect();
    let c = compare(&time(&BASE), &time(&cur), &CompareOptions::default()).unwrap();
    let r = &c.rows[0];
    assert_eq!(r.verdict, Verdict::Regression);
    assert!((r.change.unwrap() - 0.5).abs() < 1e-12);
    assert_eq!(c.gate.regressions, 1);
}

#[test]
fn throughput_drop_is_a_regression_and_rise_an_improvement() {
    let t = |f: f64| -> Vec<Benchmark> {
        let s: Vec<f64> = BASE.iter().map(|v| v * f * 1e6).collect();
        set("x", "throughput", Unit::bytes_per_sec(), &s)
    };
    let opts = CompareOptions::default();
    assert_eq!(
        compare(&t(1.0), &t(0.5), &opts).unwrap().rows[0].verdict,
        Verdict::Regression
    );
    assert_eq!(
        compare(&t(1.0), &t(1.5), &opts).unwrap().rows[0].verdict,
        Verdict::Improvement
    );
}

#[test]
fn rules_raise_the_allowed_change_per_metric_and_benchmark() {
    let mut opts = CompareOptions::default();
    opts.rules.push(Rule {
        benchmark: None,
        metric: "time".into(),
        max_change: 0.6,
    });
    let cur: Vec<f64> = BASE.iter().map(|v| v * 1.5).collect();
    let c = compare(&time(&BASE), &time(&cur), &opts).unwrap();
    assert_eq!(c.rows[0].verdict, Verdict::Worse);
    assert_eq!(c.rows[0].allowed_change, 0.6);
    opts.rules.push(Rule {
        benchmark: Some("x*".into()),
        metric: "time".into(),
        max_change: 0.2,
    });
    opts.rules.push(Rule {
        benchmark: None,
        metric: "time".into(),
        max_change: 0.9,
    });
    assert_eq!(
        opts.max_change("x", "time"),
        0.2,
        "a benchmark rule beats a metric rule"
    );
    assert_eq!(opts.max_change("y", "time"), 0.9);
    assert_eq!(opts.max_change("y", "rss"), 0.10);
}

#[test]
fn one_sample_a_side_gates_on_the_threshold_alone_and_says_so() {
    let c = compare(&time(&[1.0]), &time(&[1.3]), &CompareOptions::default()).unwrap();
    let r = &c.rows[0];
    assert_eq!(r.verdict, Verdict::Regression);
    assert!(r.p_adjusted.is_none());
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("gated on the allowed change alone")),
        "{:?}",
        r.warnings
    );
    let c = compare(&time(&[1.0]), &time(&[1.05]), &CompareOptions::default()).unwrap();
    assert_eq!(c.rows[0].verdict, Verdict::Same);
}

#[test]
fn holm_correction_can_turn_a_regression_into_worse() {
    // Twenty rows, one barely significant slowdown: after Holm it no longer fails the gate.
    let mut base = Vec::new();
    let mut cur = Vec::new();
    for i in 0..20 {
        let mut b = Benchmark::new(format!("b{i}"));
        let samples = if i == 0 {
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        } else {
            vec![1.0, 1.01, 0.99, 1.02, 0.98, 1.0]
        };
        b.metrics
            .push(Metric::new("time", Unit::seconds(), samples));
        base.push(b.clone());
        if i == 0 {
            b.metrics[0].samples = vec![4.5, 5.5, 6.5, 7.5, 8.5, 9.5];
        }
        cur.push(b);
    }
    let mut opts = CompareOptions {
        correction: Correction::None,
        ..CompareOptions::default()
    };
    let c = compare(&base, &cur, &opts).unwrap();
    assert!(c.rows[0].p_value.unwrap() <= 0.05);
    assert_eq!(c.rows[0].verdict, Verdict::Regression);
    opts.correction = Correction::Holm;
    let c = compare(&base, &cur, &opts).unwrap();
    // +100% that the corrected test cannot confirm: the interval reaches far past the allowed
    // change, so the row is inconclusive (it passes, and says why).
    let r = &c.rows[0];
    assert_eq!(r.verdict, Verdict::Inconclusive);
    assert!(c.gate.passed);
    assert_eq!(c.gate.inconclusive, 1);
    assert!(
        r.gate_ci_high.unwrap() > 0.1 && r.gate_ci_low.unwrap() < 1.0,
        "{r:?}"
    );
    let said = r
        .warnings
        .iter()
        .find(|w| w.starts_with("inconclusive"))
        .unwrap();
    assert!(
        said.contains("allowed 10%") && said.contains("noise ±"),
        "{said}"
    );
    assert!(
        said.contains("samples a side would tell (here 6)"),
        "{said}"
    );
    assert!(r.needed.unwrap() > 6, "{r:?}");
    // The other rows are identical on both sides: decided, not inconclusive.
    assert!(c.rows[1..].iter().all(|r| r.verdict == Verdict::Same));
    opts.fail_on_inconclusive = true;
    let c = compare(&base, &cur, &opts).unwrap();
    assert!(!c.gate.passed, "--fail-on-inconclusive fails it");
    assert_eq!(c.gate.regressions, 0);
}

/// One benchmark measured in `rounds` rounds of `count` samples a side; `slow(round)` is the
/// factor on the current side in that round.
fn by_round(
    rounds: u32,
    count: usize,
    slow: impl Fn(u32) -> f64,
) -> (Vec<Benchmark>, Vec<Benchmark>) {
    let mut sides = (Benchmark::new("x"), Benchmark::new("x"));
    let mut b = Vec::new();
    let mut c = Vec::new();
    for r in 1..=rounds {
        for k in 0..count {
            // A small deterministic wobble, different on each side.
            let w = 1.0 + 0.004 * (((r as usize * 7 + k * 3) % 5) as f64 - 2.0);
            let v = 1.0 + 0.003 * (((r as usize * 5 + k * 11) % 7) as f64 - 3.0);
            b.push(w);
            c.push(v * slow(r));
            sides.0.rounds.push(r);
            sides.1.rounds.push(r);
        }
    }
    sides
        .0
        .metrics
        .push(Metric::new("time", Unit::seconds(), b));
    sides
        .1
        .metrics
        .push(Metric::new("time", Unit::seconds(), c));
    (vec![sides.0], vec![sides.1])
}

fn pooled(mut set: Vec<Benchmark>) -> Vec<Benchmark> {
    for b in &mut set {
        b.rounds.clear();
    }
    set
}

#[test]
fn a_burst_on_a_few_rounds_of_one_side_cannot_fail_the_gate_by_round() {
    // 10 rounds of 4 samples; bursts slow the current side 1.8× in rounds 3, 4, 7 and 8 (with
    // AB BA order, a burst two runs long hits one side twice).
    let (b, c) = by_round(10, 4, |r| if [3, 4, 7, 8].contains(&r) { 1.8 } else { 1.0 });
    let opts = CompareOptions::default();
    let pooled_cmp = compare(&pooled(b.clone()), &pooled(c.clone()), &opts).unwrap();
    let p = pooled_cmp.rows[0].gate_p.unwrap();
    assert!(
        p < 0.01,
        "40 'independent' samples a side make it look certain: p={p}"
    );
    let cmp = compare(&b, &c, &opts).unwrap();
    let r = &cmp.rows[0];
    assert_eq!(r.gate_rounds, Some(10));
    assert_eq!(
        r.gate_against, 0.1,
        "by round, the gate tests against the allowed change"
    );
    assert!(r.gate_p.unwrap() > 0.05, "{r:?}");
    assert_ne!(r.verdict, Verdict::Regression);
    assert!(cmp.gate.passed);
    // The same burst on every round is the code: a regression.
    let (b, c) = by_round(10, 4, |_| 1.8);
    let cmp = compare(&b, &c, &opts).unwrap();
    assert_eq!(
        cmp.rows[0].verdict,
        Verdict::Regression,
        "{:?}",
        cmp.rows[0]
    );
}

#[test]
fn by_round_a_change_within_the_allowed_one_passes_and_one_beyond_it_fails() {
    let opts = CompareOptions::default();
    // +5% in every round, little noise: decided, within the allowed 10%.
    let (b, c) = by_round(10, 1, |_| 1.05);
    let cmp = compare(&b, &c, &opts).unwrap();
    let r = &cmp.rows[0];
    assert_ne!(r.verdict, Verdict::Regression);
    assert_ne!(r.verdict, Verdict::Inconclusive, "{r:?}");
    assert!(
        r.gate_ci_high.unwrap() < 0.1 && r.gate_ci_low.unwrap() > 0.0,
        "{r:?}"
    );
    // +10.5%: beyond the allowed change but too close to it to show with 10 rounds.
    let (b, c) = by_round(10, 1, |r| 1.105 * if r % 2 == 0 { 1.03 } else { 0.97 });
    let cmp = compare(&b, &c, &opts).unwrap();
    let r = &cmp.rows[0];
    assert_eq!(r.verdict, Verdict::Inconclusive, "{r:?}");
    let said = r
        .warnings
        .iter()
        .find(|w| w.starts_with("inconclusive"))
        .unwrap();
    assert!(
        said.contains("per round") && said.contains("rounds would tell (here 10)"),
        "{said}"
    );
    // +25% with the same wobble: shown beyond the allowed change.
    let (b, c) = by_round(10, 1, |r| 1.25 * if r % 2 == 0 { 1.03 } else { 0.97 });
    let cmp = compare(&b, &c, &opts).unwrap();
    assert_eq!(
        cmp.rows[0].verdict,
        Verdict::Regression,
        "{:?}",
        cmp.rows[0]
    );
    assert!(!cmp.gate.passed);
}

#[test]
fn disjoint_sets_are_an_error_and_partial_ones_a_warning() {
    let a = time(&BASE);
    let b = set("y", "time", Unit::seconds(), &BASE);
    let err = compare(&a, &b, &CompareOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no benchmark in common between base (x) and current (y)"
    );
    let mut both = a.clone();
    both.extend(b);
    let c = compare(&both, &a, &CompareOptions::default()).unwrap();
    assert_eq!(c.warnings, vec!["y: only in base".to_string()]);
}

#[test]
fn compare_by_param_uses_the_first_value_as_base() {
    let mut all = Vec::new();
    for (backend, f) in [("memory", 1.0), ("kafka", 3.0)] {
        for op in ["get", "put"] {
            let mut b = Benchmark::new(op).with_param("backend", backend);
            let s: Vec<f64> = BASE.iter().map(|v| v * f).collect();
            b.metrics.push(Metric::new("time", Unit::seconds(), s));
            all.push(b);
        }
    }
    let c = compare_by_param(&all, "backend", &CompareOptions::default()).unwrap();
    assert_eq!(c.rows.len(), 2);
    assert_eq!(c.rows[0].base_label, "backend=memory");
    assert_eq!(c.rows[0].current_label, "backend=kafka");
    assert!((c.geomean[0].change.unwrap() - 2.0).abs() < 1e-9);
    let err = compare_by_param(&all, "nope", &CompareOptions::default()).unwrap_err();
    assert!(err.to_string().contains("params seen: backend"), "{err}");
}

#[test]
fn levels_parse_units() {
    let l = Level::parse("< 5ms").unwrap();
    assert_eq!((l.op, l.value), (LevelOp::Lt, 0.005));
    assert_eq!(Level::parse(">10k/s").unwrap().value, 10_000.0);
    assert_eq!(Level::parse("> 12.5k req/s").unwrap().value, 12_500.0);
    assert_eq!(Level::parse("<= 1 MiB").unwrap().value, 1_048_576.0);
    assert_eq!(Level::parse("< 8").unwrap().value, 8.0);
    assert_eq!(Level::parse("< 250us").unwrap().value, 250e-6);
    assert!(Level::parse("5ms")
        .unwrap_err()
        .to_string()
        .contains("start with <"));
    assert!(Level::parse("< 5 parsecs").is_err());
}

#[test]
fn check_reports_pass_warn_fail_and_unmatched() {
    let benches = time(&[0.004, 0.006, 0.007]);
    let target = |t: &str, c: Option<&str>| Target {
        benchmark: "*".into(),
        metric: "time".into(),
        target: Level::parse(t).unwrap(),
        critical: c.map(|c| Level::parse(c).unwrap()),
    };
    let (r, un) = check(
        &benches,
        &[
            target("< 10ms", None),
            target("< 5ms", Some("< 10ms")),
            target("< 5ms", Some("< 6ms")),
        ],
    );
    assert!(un.is_empty());
    let st: Vec<Status> = r.iter().map(|x| x.status).collect();
    assert_eq!(st, vec![Status::Pass, Status::Warn, Status::Fail]);
    assert_eq!(r[0].value, 0.006);
    let (_, un) = check(
        &benches,
        &[Target {
            metric: "p99".into(),
            ..target("< 5ms", None)
        }],
    );
    assert_eq!(un.len(), 1);
    assert!(un[0].contains("metrics: time"), "{}", un[0]);
    // A bare number on a time metric is refused with a hint, never read as seconds.
    let (r, un) = check(&benches, &[target("< 5", None)]);
    assert!(r.is_empty());
    assert!(
        un[0].contains("is a plain number but metric time is a duration (write a unit"),
        "{}",
        un[0]
    );
}

#[test]
fn each_column_pair_gets_its_own_geomean() {
    let mut all = Vec::new();
    for (backend, f) in [("memory", 1.0), ("kafka", 3.0), ("nats", 2.0)] {
        for op in ["get", "put"] {
            let mut b = Benchmark::new(op).with_param("backend", backend);
            let s: Vec<f64> = BASE.iter().map(|v| v * f).collect();
            b.metrics.push(Metric::new("time", Unit::seconds(), s));
            all.push(b);
        }
    }
    let c = compare_by_param(&all, "backend", &CompareOptions::default()).unwrap();
    let g: Vec<(&str, f64)> = c
        .geomean
        .iter()
        .map(|g| (g.current_label.as_str(), g.change.unwrap()))
        .collect();
    assert_eq!(g.len(), 2);
    assert_eq!(g[0].0, "backend=kafka");
    assert!((g[0].1 - 2.0).abs() < 1e-9);
    assert_eq!(g[1].0, "backend=nats");
    assert!((g[1].1 - 1.0).abs() < 1e-9);
}

#[test]
fn below_the_gate_rows_say_what_benchstat_says_and_a_gate_only_regression_says_why() {
    // Three samples a side: the rank test's smallest p is 0.1, so benchstat prints `~`.
    let base = time(&[1.00, 1.01, 0.99]);
    let small = time(&[1.05, 1.06, 1.04]);
    let c = compare(&base, &small, &CompareOptions::default()).unwrap();
    assert_eq!(
        c.rows[0].verdict,
        Verdict::Same,
        "a 5% change the rank test cannot see"
    );
    let big = time(&[1.50, 1.51, 1.49]);
    let c = compare(&base, &big, &CompareOptions::default()).unwrap();
    let r = &c.rows[0];
    assert_eq!(r.verdict, Verdict::Regression);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("rank test cannot decide this row")),
        "{:?}",
        r.warnings
    );
}
