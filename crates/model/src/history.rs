//! What the history keeps of each run for trends and alerts: one summary point per run ×
//! benchmark × metric, and the series they form.

/// One run × benchmark × metric summary: what trends and alerts read.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Point {
    /// The run.
    pub run_id: String,
    /// Benchmark key (`Search/n=1000`).
    pub benchmark: String,
    /// Metric name.
    pub metric: String,
    /// Unit of the values.
    pub unit: String,
    /// `lower` or `higher`.
    pub better: String,
    /// Number of samples.
    pub n: usize,
    /// Median.
    pub median: f64,
    /// Lower bound of the median's 95% CI (`None` when unbounded).
    pub ci_low: Option<f64>,
    /// Upper bound.
    pub ci_high: Option<f64>,
    /// Run start, Unix milliseconds.
    pub time_unix_ms: i64,
    /// Git commit.
    pub commit: Option<String>,
    /// Git branch.
    pub branch: Option<String>,
    /// The machine class it ran on, when the run says (its `testbed` label): a series is
    /// benchmark × metric × branch × testbed, so a faster runner is not a change point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub testbed: Option<String>,
}

/// One benchmark × metric over time.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Series {
    /// Benchmark key.
    pub benchmark: String,
    /// Metric name.
    pub metric: String,
    /// `lower` or `higher`.
    pub better: String,
    /// Its points, oldest first.
    pub points: Vec<Point>,
}
