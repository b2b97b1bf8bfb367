//! Commands timed into the model: a parameter sweep, one [`Benchmark`] per command with its
//! time, user and system CPU and peak RSS, and hyperfine's warnings (outliers, a cold first run).

use std::sync::atomic::AtomicBool;

use perflab_model::{Benchmark, Metric, Unit};
use perflab_stats as stats;

use crate::{
    benchmark, CommandSpec, ExecError, Executor, Launch, Progress, RunOptions, SystemExecutor,
};

fn opt(message: String) -> ExecError {
    ExecError::Options { message }
}

/// The parameter values of a sweep: `--parameter-scan NAME FROM TO` (integers, step
/// `step`) and `--parameter-list NAME A,B,C` pairs, as hyperfine takes them.
///
/// # Errors
/// [`ExecError::Options`] naming the flag.
pub fn sweep(
    scan: Option<&[String]>,
    step: i64,
    lists: &[String],
) -> Result<Vec<(String, Vec<String>)>, ExecError> {
    let mut params = Vec::new();
    if let Some(scan) = scan {
        let [name, from, to] = scan else {
            return Err(opt("--parameter-scan takes NAME FROM TO".into()));
        };
        let from: i64 = from
            .parse()
            .map_err(|_| opt(format!("--parameter-scan FROM {from:?} is not an integer")))?;
        let to: i64 = to
            .parse()
            .map_err(|_| opt(format!("--parameter-scan TO {to:?} is not an integer")))?;
        if step <= 0 || to < from {
            return Err(opt(
                "--parameter-scan needs FROM <= TO and a positive --parameter-step-size".into(),
            ));
        }
        let values: Vec<String> = (0..)
            .map(|i| from + i * step)
            .take_while(|v| *v <= to)
            .take(10_000)
            .map(|v| v.to_string())
            .collect();
        params.push((name.clone(), values));
    }
    for pair in lists.chunks(2) {
        let [name, values] = pair else {
            return Err(opt("--parameter-list takes NAME VALUES".into()));
        };
        let values: Vec<String> = values.split(',').map(str::to_string).collect();
        if values.iter().any(String::is_empty) {
            return Err(opt(format!(
                "--parameter-list {name}: empty value in {:?}",
                pair[1]
            )));
        }
        params.push((name.clone(), values));
    }
    Ok(params)
}

/// One command timed: its benchmark (None when no run was measured), warnings, and whether the
/// stop flag ended it early.
#[derive(Debug, Clone)]
pub struct Timed {
    /// The benchmark, with `time`, `user_time`, `sys_time` and (above the floor) `rss`.
    pub benchmark: Option<Benchmark>,
    /// hyperfine-style warnings about the runs.
    pub warnings: Vec<String>,
    /// Stopped by Ctrl-C.
    pub interrupted: bool,
}

/// Time one command of a sweep and turn its runs into the model.
///
/// # Errors
/// As [`benchmark`].
pub fn time_command(
    spec: &CommandSpec,
    name: String,
    opts: &RunOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<Timed, ExecError> {
    let outcome = benchmark(&mut SystemExecutor, &spec.rendered(), opts, stop, progress)?;
    let mut timed = Timed {
        benchmark: None,
        warnings: Vec::new(),
        interrupted: outcome.interrupted,
    };
    if outcome.runs.is_empty() {
        return Ok(timed);
    }
    // Measured now, as the floor follows perflab's own memory at the time of the spawn.
    let floor = rss_floor();
    let mut b = Benchmark::new(name);
    b.params = spec.params.clone();
    let col = |f: &dyn Fn(&crate::Measurement) -> f64| -> Vec<f64> {
        outcome.runs.iter().map(f).collect()
    };
    b.metrics.push(Metric::new(
        "time",
        Unit::seconds(),
        col(&|m| m.wall.as_secs_f64()),
    ));
    b.metrics.push(Metric::new(
        "user_time",
        Unit::seconds(),
        col(&|m| m.user.as_secs_f64()),
    ));
    b.metrics.push(Metric::new(
        "sys_time",
        Unit::seconds(),
        col(&|m| m.sys.as_secs_f64()),
    ));
    let rss = col(&|m| m.max_rss_bytes as f64);
    let rss_median = stats::quantile(&stats::sorted(&rss), 0.5);
    timed.warnings = warnings(&b, opts);
    if rss_median > floor * 1.05 {
        b.metrics.push(Metric::new("rss", Unit::bytes(), rss));
    } else {
        timed.warnings.push(format!(
            "peak RSS not recorded: it is at perflab's measurement floor ({}), so the \
command's own peak is smaller than perflab can see",
            Unit::bytes().format(floor)
        ));
    }
    timed.benchmark = Some(b);
    Ok(timed)
}

impl RunOptions {
    /// Check the counts make sense together.
    ///
    /// # Errors
    /// [`ExecError::Options`].
    pub fn validate(&self) -> Result<(), ExecError> {
        if self.runs == Some(0) {
            return Err(opt("--runs must be at least 1".into()));
        }
        if let Some(max) = self.max_runs {
            if max < self.min_runs {
                return Err(opt(format!(
                    "--max-runs {max} is smaller than --min-runs {}",
                    self.min_runs
                )));
            }
        }
        Ok(())
    }
}

/// The peak RSS the kernel reports for a trivial child. A spawned child is charged with the
/// memory it had before `exec`, which (vfork) is perflab's own, so peaks below this are not the
/// command's and are not recorded.
pub fn rss_floor() -> f64 {
    Executor::execute(&mut SystemExecutor, "true", &Launch::Direct, false)
        .map_or(0.0, |m| m.max_rss_bytes as f64)
}

/// hyperfine's warnings: outliers, a slow first run.
pub fn warnings(b: &Benchmark, opts: &RunOptions) -> Vec<String> {
    let mut out = Vec::new();
    let Some(t) = b.metric("time") else {
        return out;
    };
    let severe = stats::tukey_outliers(&t.samples, 3.0);
    if !severe.is_empty() {
        out.push(format!(
            "{} of {} runs are statistical outliers (beyond 3×IQR); the system may be busy: \
consider a quieter machine, --warmup or --prepare",
            severe.len(),
            t.samples.len()
        ));
    }
    if opts.warmup == 0 && t.samples.len() >= 4 {
        let first = t.samples[0];
        let rest = stats::sorted(&t.samples[1..]);
        let q3 = stats::quantile(&rest, 0.75);
        let iqr = q3 - stats::quantile(&rest, 0.25);
        if first > rest[rest.len() - 1] && first > q3 + 3.0 * iqr.max(q3 * 0.01) {
            out.push(format!(
                "the first run was much slower ({}) than the rest: caches may have been cold; \
consider --warmup",
                t.unit.format(first)
            ));
        }
    }
    out
}
