//! `perflab report --format prometheus`: the text exposition format, checked by the real
//! `promtool check metrics`, with label values escaped.

mod common;

use common::{data, have, stderr, Lab};

#[test]
fn report_in_prometheus_text_passes_promtool_with_escaped_labels() {
    if !have("promtool") {
        common::skip(
            "promtool",
            "promtool (Debian package prometheus) is not installed",
        );
        return;
    }
    let lab = Lab::new();
    let odd = lab.write(
        "odd.txt",
        "BenchmarkQ\"uote\\back-2 10 100 ns/op\nBenchmarkQ\"uote\\back-2 10 110 ns/op\n",
    );
    for f in [data("gobench/base.txt"), odd.display().to_string()] {
        let out = lab.cmd().args(["import", &f]).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    lab.write(
        "perflab.toml",
        "[[target]]\nbenchmark = \"Q*\"\nmetric = \"time\"\ntarget = \"< 1ms\"\n",
    );
    let out = lab
        .cmd()
        .args(["report", "--format", "prometheus", "-o", "r.prom"])
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let text = std::fs::read_to_string(lab.path("r.prom")).unwrap();
    assert!(
        text.contains(r#"perflab_benchmark_median{benchmark="Q\"uote\\back/procs=2",metric="time",unit="s",better="lower"} 0.000000105"#),
        "{text}"
    );
    assert!(text.contains("perflab_target_status{"), "{text}");
    let check = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(lab.path("r.prom")).unwrap())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}
