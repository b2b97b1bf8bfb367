//! Rendering speed of request templates, so that it is known not to be the load engine's
//! bottleneck: the seeds' search body (a 512-float embedding and a UUID) and a templated URL.
//! Prints libtest's bench line (`perflab bench -- cargo bench -p perflab-load`).

use std::time::Instant;

use perflab_load::template::{RenderContext, Rng, Template};

fn measure(name: &str, t: &Template, iters: u64) {
    let mut rng = Rng::new(7);
    let mut out = String::with_capacity(8192);
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..9 {
        let start = Instant::now();
        for seq in 0..iters {
            out.clear();
            t.render(
                &mut RenderContext {
                    seq,
                    rng: &mut rng,
                    csv: None,
                    vars: &[],
                },
                &mut out,
            );
            bytes = out.len();
            std::hint::black_box(&out);
        }
        times.push(start.elapsed().as_nanos() as f64 / iters as f64);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let spread = times[times.len() - 1] - times[0];
    let mb_s = bytes as f64 / median * 1e3;
    println!("test {name} ... bench: {median:.0} ns/iter (+/- {spread:.0}) = {mb_s:.0} MB/s");
    eprintln!(
        "{name}: {bytes} bytes per render, {:.0} renders/s",
        1e9 / median
    );
}

fn main() {
    let body = Template::compile(
        r#"{"tenant": "t-{{rand_int(1,100)}}", "id": "{{uuid}}", "embedding": {{random_floats(512,-1,1)}}, "k": 10}"#,
        None,
        "body",
    )
    .expect("valid");
    let url = Template::compile("/api/v1/faces/{{seq}}?q={{rand_int(1,1000)}}", None, "url")
        .expect("valid");
    measure("render_search_body_512_floats", &body, 2_000);
    measure("render_url", &url, 200_000);
}
