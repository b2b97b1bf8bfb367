//! Units and directions. A unit is a short string in base units (`s`, `B`, `count`, `B/s`,
//! `1/s`, `%`, `ratio`, or a harness's own such as `widgets/op`); the direction of a metric follows
//! from it unless a config says otherwise.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Smaller is better (time, bytes, allocations).
    Lower,
    /// Larger is better (throughput).
    Higher,
}

impl Better {
    /// `lower` or `higher`.
    pub fn as_str(self) -> &'static str {
        match self {
            Better::Lower => "lower",
            Better::Higher => "higher",
        }
    }
}

/// A unit in base units.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Unit(pub String);

impl Unit {
    /// Seconds.
    pub fn seconds() -> Unit {
        Unit("s".into())
    }
    /// Bytes.
    pub fn bytes() -> Unit {
        Unit("B".into())
    }
    /// A plain count.
    pub fn count() -> Unit {
        Unit("count".into())
    }
    /// Bytes per second.
    pub fn bytes_per_sec() -> Unit {
        Unit("B/s".into())
    }
    /// A fraction of a whole (an error rate, a share of checks), shown as a percentage.
    pub fn ratio() -> Unit {
        Unit("ratio".into())
    }
    /// Events per second.
    pub fn per_sec() -> Unit {
        Unit("1/s".into())
    }

    /// The unit as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Rates (`…/s`) are higher-is-better; everything else (time, bytes, counts) is lower.
    pub fn default_better(&self) -> Better {
        if self.0.ends_with("/s") || self.0.ends_with("/sec") || self.0 == "ops" {
            Better::Higher
        } else {
            Better::Lower
        }
    }

    /// Whether values are durations in seconds.
    pub fn is_time(&self) -> bool {
        self.0 == "s" || self.0.starts_with("s/")
    }

    /// Whether a negative value is impossible: times, sizes, counts and rates.
    pub fn cannot_be_negative(&self) -> bool {
        self.is_time()
            || self.is_bytes()
            || matches!(self.0.as_str(), "count" | "B/s" | "1/s" | "ratio")
    }

    /// Whether values are byte counts.
    pub fn is_bytes(&self) -> bool {
        self.0 == "B" || self.0.starts_with("B/") && !self.0.ends_with("/s")
    }

    /// Format a value of this unit with a readable prefix: `1.42ms`, `3.1 MiB`, `12.5k/s`.
    pub fn format(&self, value: f64) -> String {
        if !value.is_finite() {
            return format!("{value}");
        }
        let u = self.0.as_str();
        if u == "s" {
            return format_duration(value);
        }
        if let Some(rest) = u.strip_prefix("s/") {
            return format!("{}/{rest}", format_duration(value));
        }
        if u == "B" || u == "B/op" {
            return format!("{}{}", format_binary(value), &u[1..]);
        }
        if u == "B/s" {
            return format!("{}/s", format_binary(value));
        }
        if u == "count" {
            return format_si(value, "");
        }
        if u == "1/s" {
            return format_si(value, "/s");
        }
        if u == "%" {
            return format!("{}%", sig3(value));
        }
        if u == "ratio" {
            return format!("{}%", sig3(value * 100.0));
        }
        format_si(value, &format!(" {u}"))
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Three significant digits, no exponent.
pub(crate) fn sig3(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn format_duration(secs: f64) -> String {
    let a = secs.abs();
    if a == 0.0 {
        "0s".into()
    } else if a < 1e-6 {
        format!("{}ns", sig3(secs * 1e9))
    } else if a < 1e-3 {
        format!("{}µs", sig3(secs * 1e6))
    } else if a < 1.0 {
        format!("{}ms", sig3(secs * 1e3))
    } else if a < 60.0 {
        format!("{}s", sig3(secs))
    } else {
        let m = (secs / 60.0).floor();
        format!("{m}m{}s", sig3(secs - m * 60.0))
    }
}

fn format_binary(v: f64) -> String {
    let a = v.abs();
    const K: f64 = 1024.0;
    if a < K {
        format!("{} B", sig3(v))
    } else if a < K * K {
        format!("{} KiB", sig3(v / K))
    } else if a < K * K * K {
        format!("{} MiB", sig3(v / (K * K)))
    } else {
        format!("{} GiB", sig3(v / (K * K * K)))
    }
}

fn format_si(v: f64, suffix: &str) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{}G{suffix}", sig3(v / 1e9))
    } else if a >= 1e6 {
        format!("{}M{suffix}", sig3(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k{suffix}", sig3(v / 1e3))
    } else if a >= 100.0 || a == a.trunc() {
        format!("{v:.0}{suffix}")
    } else {
        format!("{}{suffix}", sig3(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_follow_units() {
        assert_eq!(Unit::seconds().default_better(), Better::Lower);
        assert_eq!(Unit::bytes_per_sec().default_better(), Better::Higher);
        assert_eq!(Unit::per_sec().default_better(), Better::Higher);
        assert_eq!(Unit("widgets/op".into()).default_better(), Better::Lower);
    }

    #[test]
    fn formats_pick_a_readable_prefix() {
        assert_eq!(Unit::seconds().format(1.718e-6), "1.72µs");
        assert_eq!(Unit::seconds().format(0.25), "250ms");
        assert_eq!(Unit::seconds().format(90.0), "1m30.0s");
        assert_eq!(Unit::bytes().format(3.0 * 1024.0 * 1024.0), "3.00 MiB");
        assert_eq!(Unit::per_sec().format(12_500.0), "12.5k/s");
        assert_eq!(Unit::count().format(8.0), "8");
        assert_eq!(Unit("allocs/op".into()).format(8.0), "8 allocs/op");
    }
}
