//! One grammar for the numbers users write: targets (`< 5ms`), thresholds (`p99<5ms`), rates
//! (`1000/s`, `10k req/s`), allowed changes (`10%`) and sizes (`< 1 MiB`). A quantity is a
//! number with an optional unit; it is turned into base units (seconds, bytes, per second,
//! fractions) here, once, so the same text means the same thing everywhere.
//!
//! Two rules remove the old ambiguities: `%` always divides by 100 (`1%` is 0.01), and a bare
//! number is unitless: compared with a time it is an error that asks for a unit, never
//! silently seconds in one place and milliseconds in another.

use serde::Serialize;

use crate::Unit;

/// What a quantity measures, from its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// No unit (`8`, `2.5`, `10k`).
    Plain,
    /// A duration (`5ms`), in seconds.
    Time,
    /// A size (`1 MiB`), in bytes.
    Bytes,
    /// Events per second (`1000/s`, `10k req/s`).
    Rate,
    /// Bytes per second (`5 MB/s`).
    ByteRate,
    /// A fraction written as a percentage (`10%` is 0.1).
    Fraction,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Plain => "a plain number",
            Kind::Time => "a duration",
            Kind::Bytes => "a size",
            Kind::Rate => "a rate",
            Kind::ByteRate => "a byte rate",
            Kind::Fraction => "a percentage",
        }
    }
}

/// A number in base units and what it measures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quantity {
    /// The value in base units.
    pub value: f64,
    /// What it measures.
    pub kind: Kind,
}

/// Why a quantity or bound could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum QuantityError {
    /// No number where one was expected.
    #[error("{text:?}: expected a number with an optional unit, like 5ms, 1 MiB, 1000/s or 10%")]
    Number {
        /// The text.
        text: String,
    },
    /// The unit is not one perflab knows.
    #[error("{text:?}: unknown unit {unit:?} (time: ns us ms s m h; size: B KB MB GB KiB MiB GiB; rate: /s k/s; %)")]
    Unit {
        /// The text.
        text: String,
        /// The unit found.
        unit: String,
    },
    /// Infinite or NaN.
    #[error("{text:?}: not a finite number")]
    NotFinite {
        /// The text.
        text: String,
    },
    /// A bound without its operator.
    #[error("{text:?}: start with <, <=, > or >=")]
    Operator {
        /// The text.
        text: String,
    },
    /// The quantity does not fit what it is compared with.
    #[error("{text:?} is {found} but {what} is {expected}{hint}")]
    Mismatch {
        /// The text.
        text: String,
        /// What the text is.
        found: &'static str,
        /// What it is compared with (`metric time`, `--rate`).
        what: String,
        /// What that needs.
        expected: &'static str,
        /// How to write it.
        hint: &'static str,
    },
}

fn time_factor(u: &str) -> Option<f64> {
    Some(match u {
        "ns" => 1e-9,
        "us" | "µs" | "μs" => 1e-6,
        "ms" => 1e-3,
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return None,
    })
}

fn bytes_factor(u: &str) -> Option<f64> {
    Some(match u {
        "B" => 1.0,
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    })
}

fn multiplier(u: &str) -> Option<f64> {
    Some(match u {
        "" | "x" => 1.0,
        "k" | "K" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        _ => return None,
    })
}

/// Parse `5ms`, `1.5 s`, `1 MiB`, `1000/s`, `10k/s`, `10k req/s`, `5 MB/s`, `10%`, `8`, `10k`
/// (`_` may group digits).
///
/// # Errors
/// [`QuantityError`] naming the text and what is wrong.
pub fn parse_quantity(text: &str) -> Result<Quantity, QuantityError> {
    let t = text.trim().replace('_', "");
    let split = t
        .char_indices()
        .find(|&(i, c)| {
            !(c.is_ascii_digit()
                || c == '.'
                || ((c == '-' || c == '+') && (i == 0 || t[..i].ends_with(['e', 'E'])))
                || ((c == 'e' || c == 'E')
                    && i > 0
                    && t[i + 1..]
                        .starts_with(|d: char| d.is_ascii_digit() || d == '-' || d == '+')))
        })
        .map_or(t.len(), |(i, _)| i);
    let (num, unit) = t.split_at(split);
    let number: f64 = num
        .parse()
        .map_err(|_| QuantityError::Number { text: text.into() })?;
    if !number.is_finite() {
        return Err(QuantityError::NotFinite { text: text.into() });
    }
    let unit = unit.trim();
    let unknown = || QuantityError::Unit {
        text: text.into(),
        unit: unit.into(),
    };
    let (factor, kind) = if unit == "%" {
        (0.01, Kind::Fraction)
    } else if let Some(per) = unit.strip_suffix("/s") {
        let per = per
            .trim()
            .trim_end_matches("req")
            .trim_end_matches("ops")
            .trim_end_matches("rps")
            .trim();
        if let Some(f) = bytes_factor(per) {
            (f, Kind::ByteRate)
        } else {
            (multiplier(per).ok_or_else(unknown)?, Kind::Rate)
        }
    } else if let Some(f) = time_factor(unit) {
        (f, Kind::Time)
    } else if let Some(f) = bytes_factor(unit) {
        (f, Kind::Bytes)
    } else if let Some(f) = multiplier(unit) {
        (f, Kind::Plain)
    } else if let Some(rest) = unit.strip_suffix("rps") {
        (multiplier(rest.trim()).ok_or_else(unknown)?, Kind::Rate)
    } else {
        return Err(unknown());
    };
    let value = if factor < 1.0 && factor > 0.0 {
        // Divide by the exact power so that 5ms is exactly 0.005.
        number / (1.0 / factor).round()
    } else {
        number * factor
    };
    Ok(Quantity { value, kind })
}

impl Quantity {
    /// The value, checked against the unit of what it is compared with (`what` names it in
    /// errors). Plain numbers fit counts and ratios but not times, sizes or rates, so `< 5` on a
    /// latency is an error with a hint, not a guess.
    ///
    /// # Errors
    /// [`QuantityError::Mismatch`].
    pub fn value_for(&self, unit: &Unit, what: &str, text: &str) -> Result<f64, QuantityError> {
        let expected = if unit.is_time() {
            Kind::Time
        } else if unit.is_bytes() {
            Kind::Bytes
        } else if unit.as_str() == "B/s" {
            Kind::ByteRate
        } else if unit.as_str().ends_with("/s") {
            Kind::Rate
        } else {
            Kind::Plain
        };
        let fits = match (self.kind, expected) {
            (a, b) if a == b => true,
            // A rate written bare (`> 10000`) and a count are the same number.
            (Kind::Plain, Kind::Rate) => true,
            (Kind::Fraction | Kind::Plain, Kind::Plain) => true,
            _ => false,
        };
        if fits {
            Ok(self.value)
        } else {
            Err(QuantityError::Mismatch {
                text: text.into(),
                found: self.kind.describe(),
                what: what.into(),
                expected: expected.describe(),
                hint: match expected {
                    Kind::Time => " (write a unit: 5ms, 1.5s)",
                    Kind::Bytes => " (write a unit: 64 B, 1 MiB)",
                    Kind::ByteRate => " (write a unit: 100 MB/s)",
                    Kind::Rate => " (write it like 1000/s)",
                    _ => "",
                },
            })
        }
    }
}

/// Comparison operator of a bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BoundOp {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
}

impl BoundOp {
    /// Whether `value op bound` holds.
    pub fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            BoundOp::Lt => value < bound,
            BoundOp::Le => value <= bound,
            BoundOp::Gt => value > bound,
            BoundOp::Ge => value >= bound,
        }
    }

    /// True for `<` and `<=` (an upper bound).
    pub fn is_upper(self) -> bool {
        matches!(self, BoundOp::Lt | BoundOp::Le)
    }
}

/// A bound such as `< 5ms` or `>= 10k/s`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bound {
    /// The operator.
    pub op: BoundOp,
    /// The quantity.
    pub quantity: Quantity,
    /// The text as written.
    pub text: String,
}

/// Split a leading operator off `text`.
pub fn split_operator(text: &str) -> Option<(BoundOp, &str)> {
    let t = text.trim_start();
    for (sym, op) in [
        ("<=", BoundOp::Le),
        (">=", BoundOp::Ge),
        ("<", BoundOp::Lt),
        (">", BoundOp::Gt),
    ] {
        if let Some(rest) = t.strip_prefix(sym) {
            return Some((op, rest));
        }
    }
    None
}

/// Parse `< 5ms`, `<=1.5s`, `> 10k/s`, `< 1 MiB`, `< 8`, `< 1%`.
///
/// # Errors
/// [`QuantityError`] naming the text.
pub fn parse_bound(text: &str) -> Result<Bound, QuantityError> {
    let (op, rest) = split_operator(text).ok_or_else(|| QuantityError::Operator {
        text: text.trim().into(),
    })?;
    Ok(Bound {
        op,
        quantity: parse_quantity(rest)?,
        text: text.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_meaning_per_text() {
        let q = |t: &str| parse_quantity(t).unwrap();
        assert_eq!(
            q("5ms"),
            Quantity {
                value: 0.005,
                kind: Kind::Time
            }
        );
        assert_eq!(q("1.5 s").value, 1.5);
        assert_eq!(q("250µs").value, 250e-6);
        assert_eq!(
            q("1 MiB"),
            Quantity {
                value: 1048576.0,
                kind: Kind::Bytes
            }
        );
        assert_eq!(
            q("1000/s"),
            Quantity {
                value: 1000.0,
                kind: Kind::Rate
            }
        );
        assert_eq!(q("10k/s").value, 10_000.0);
        assert_eq!(q("10k req/s").value, 10_000.0);
        assert_eq!(
            q("5 MB/s"),
            Quantity {
                value: 5e6,
                kind: Kind::ByteRate
            }
        );
        assert_eq!(
            q("10%"),
            Quantity {
                value: 0.1,
                kind: Kind::Fraction
            }
        );
        assert_eq!(q("1%").value, 0.01);
        assert_eq!(
            q("8"),
            Quantity {
                value: 8.0,
                kind: Kind::Plain
            }
        );
        assert_eq!(q("10k").value, 10_000.0);
        assert_eq!(q("1_000").value, 1000.0);
        assert_eq!(q("1e3").value, 1000.0);
        assert_eq!(q("-5").value, -5.0);
    }

    #[test]
    fn bad_text_says_what_is_wrong() {
        assert!(matches!(
            parse_quantity("fast"),
            Err(QuantityError::Number { .. })
        ));
        assert!(matches!(
            parse_quantity("5 parsecs"),
            Err(QuantityError::Unit { .. })
        ));
        assert!(matches!(
            parse_quantity("1e400"),
            Err(QuantityError::NotFinite { .. })
        ));
        assert!(matches!(
            parse_bound("5ms"),
            Err(QuantityError::Operator { .. })
        ));
    }

    #[test]
    fn a_bare_number_is_never_a_time() {
        let b = parse_bound("< 5").unwrap();
        let e = b
            .quantity
            .value_for(&Unit::seconds(), "metric time", &b.text)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"< 5\" is a plain number but metric time is a duration (write a unit: 5ms, 1.5s)"
        );
        assert_eq!(
            b.quantity
                .value_for(&Unit::count(), "metric allocs", &b.text),
            Ok(5.0)
        );
        let r = parse_bound("> 10000").unwrap();
        assert_eq!(
            r.quantity.value_for(&Unit::per_sec(), "rps", &r.text),
            Ok(10_000.0)
        );
        let t = parse_bound("< 5ms").unwrap();
        assert!(t
            .quantity
            .value_for(&Unit::bytes(), "metric rss", &t.text)
            .is_err());
    }
}
