//! Request templates: text with `{{generator}}` placeholders, compiled once into segments and
//! rendered per request into a reused buffer, so rendering stays far off the hot path's
//! critical cost (see the `render` benchmark).
//!
//! Generators: `seq` (a per-run sequence number), `rand_int(a,b)`, `rand_float(a,b)`,
//! `random_floats(n,a,b)` (a JSON array), `uuid` (v4), `env.NAME` and `env.NAME:-default` (read
//! once at compile time),
//! `csv.COLUMN` (the rows of the scenario's CSV file, in turn).

use std::fmt::Write as _;

use crate::LoadError;

/// A small, fast PRNG (xorshift64*): one per worker, no locking, reproducible per seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is replaced: xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Seq,
    RandInt(i64, i64),
    RandFloat(f64, f64),
    RandomFloats(usize, f64, f64),
    Uuid,
    Csv(usize),
    /// A value the virtual user extracted from an earlier response (`var.NAME`).
    Var(String),
}

/// Rows of a CSV file shared by a scenario's templates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CsvData {
    /// Column names from the header.
    pub columns: Vec<String>,
    /// The rows.
    pub rows: Vec<Vec<String>>,
}

impl CsvData {
    /// Parse simple CSV (a header line, comma-separated, double quotes for fields with commas).
    ///
    /// # Errors
    /// An empty file, or a row with a different number of fields than the header.
    pub fn parse(text: &str, source: &str) -> Result<CsvData, LoadError> {
        let err = |message: String| LoadError::Config { message };
        // The csv crate: RFC 4180 quoting, CRLF, and the line of a ragged row.
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(text.as_bytes());
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| err(format!("{source}: {e}")))?
            .iter()
            .map(str::to_string)
            .collect();
        if columns.is_empty() || columns.iter().all(String::is_empty) {
            return Err(err(format!(
                "{source}: empty CSV file (it needs a header line)"
            )));
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    pos: Some(pos),
                    expected_len,
                    len,
                } => err(format!(
                    "{source}:{}: {len} fields, the header has {expected_len}",
                    pos.line()
                )),
                _ => err(format!("{source}: {e}")),
            })?;
            if record.iter().all(str::is_empty) {
                continue;
            }
            rows.push(record.iter().map(str::to_string).collect());
        }
        if rows.is_empty() {
            return Err(err(format!("{source}: no rows after the header")));
        }
        Ok(CsvData { columns, rows })
    }
}

/// A compiled template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    segments: Vec<Segment>,
}

/// What a render may draw on.
pub struct RenderContext<'a> {
    /// The request's sequence number.
    pub seq: u64,
    /// The worker's random generator.
    pub rng: &'a mut Rng,
    /// CSV rows, if the scenario has them.
    pub csv: Option<&'a CsvData>,
    /// The virtual user's extracted values (`var.NAME`), name and value.
    pub vars: &'a [(String, String)],
}

impl Template {
    /// Compile `text`; `csv` resolves `csv.COLUMN` names.
    ///
    /// # Errors
    /// An unclosed `{{`, an unknown generator, bad arguments, a missing environment variable or
    /// CSV column: each named with its position.
    pub fn compile(text: &str, csv: Option<&CsvData>, what: &str) -> Result<Template, LoadError> {
        let err = |m: String| LoadError::Config {
            message: format!("{what}: {m}"),
        };
        let mut segments = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                segments.push(Segment::Literal(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| err(format!("unclosed {{{{ at byte {}", offset + start)))?;
            let expr = after[..end].trim();
            segments.push(parse_generator(expr, csv).map_err(|m| {
                err(format!(
                    "{{{{{expr}}}}} at byte {}: {}",
                    offset + start,
                    m.0
                ))
            })?);
            let consumed = start + 2 + end + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Literal(rest.to_string()));
        }
        Ok(Template { segments })
    }

    /// Whether the template is plain text (rendered once, reused for every request).
    pub fn is_static(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Literal(_)))
    }

    /// Append the rendering to `out`.
    pub fn render(&self, ctx: &mut RenderContext<'_>, out: &mut String) {
        for s in &self.segments {
            match s {
                Segment::Literal(l) => out.push_str(l),
                Segment::Seq => {
                    let _ = write!(out, "{}", ctx.seq);
                }
                Segment::RandInt(a, b) => {
                    let _ = write!(out, "{}", rand_int(ctx.rng, *a, *b));
                }
                Segment::RandFloat(a, b) => {
                    let _ = write!(out, "{}", a + (b - a) * ctx.rng.next_f64());
                }
                Segment::RandomFloats(n, a, b) => {
                    out.push('[');
                    for i in 0..*n {
                        if i > 0 {
                            out.push(',');
                        }
                        let v = a + (b - a) * ctx.rng.next_f64();
                        push_fixed6(out, v);
                    }
                    out.push(']');
                }
                Segment::Uuid => {
                    let hi = ctx.rng.next_u64();
                    let lo = ctx.rng.next_u64();
                    let hi = (hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x4000;
                    let lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
                    let _ = write!(
                        out,
                        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                        hi >> 32,
                        (hi >> 16) & 0xFFFF,
                        hi & 0xFFFF,
                        lo >> 48,
                        lo & 0xFFFF_FFFF_FFFF
                    );
                }
                Segment::Var(name) => {
                    // Not extracted yet: empty, as an unset k6 variable renders.
                    if let Some((_, v)) = ctx.vars.iter().find(|(n, _)| n == name) {
                        out.push_str(v);
                    }
                }
                Segment::Csv(col) => {
                    if let Some(csv) = ctx.csv {
                        let row = &csv.rows[(ctx.seq as usize) % csv.rows.len()];
                        out.push_str(&row[*col]);
                    }
                }
            }
        }
    }
}

/// Write `v` with six decimals, as `{v:.6}` would but several times faster: embeddings of
/// hundreds of floats per request made float formatting the cost of rendering.
fn push_fixed6(out: &mut String, v: f64) {
    let scaled = (v * 1e6).round();
    if !scaled.is_finite() || scaled.abs() >= 9e15 {
        let _ = write!(out, "{v:.6}");
        return;
    }
    let mut n = scaled as i64;
    if n < 0 {
        out.push('-');
        n = -n;
    }
    let (int, frac) = (n / 1_000_000, n % 1_000_000);
    let mut buf = [0u8; 32];
    let mut i = buf.len();
    let mut f = frac;
    for _ in 0..6 {
        i -= 1;
        buf[i] = b'0' + (f % 10) as u8;
        f /= 10;
    }
    i -= 1;
    buf[i] = b'.';
    let mut k = int;
    loop {
        i -= 1;
        buf[i] = b'0' + (k % 10) as u8;
        k /= 10;
        if k == 0 {
            break;
        }
    }
    // Only ASCII digits, '.' were written.
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}

/// A generator that cannot be read; the caller adds where it is.
#[derive(Debug)]
struct GeneratorError(String);

impl From<&str> for GeneratorError {
    fn from(s: &str) -> Self {
        GeneratorError(s.to_string())
    }
}

impl From<String> for GeneratorError {
    fn from(s: String) -> Self {
        GeneratorError(s)
    }
}

/// A uniform integer in `a..=b`, any bounds of i64 (the span is counted in 128 bits, so
/// `rand_int(-9223372036854775808, 9223372036854775807)` neither overflows nor divides by zero).
fn rand_int(rng: &mut Rng, a: i64, b: i64) -> i64 {
    let span = (i128::from(b) - i128::from(a) + 1) as u128;
    let r = u128::from(rng.next_u64());
    if span > u128::from(u64::MAX) {
        // The whole range of i64: every 64-bit value is one of it.
        return rng.next_u64() as i64;
    }
    (i128::from(a) + (r % span) as i128) as i64
}

fn args<const N: usize>(inner: &str) -> Result<[f64; N], GeneratorError> {
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    if parts.len() != N {
        return Err(format!("expected {N} arguments, got {}", parts.len()).into());
    }
    let mut out = [0.0; N];
    for (o, p) in out.iter_mut().zip(&parts) {
        *o = p.parse().map_err(|_| format!("{p:?} is not a number"))?;
    }
    Ok(out)
}

/// `text` with every `{{env.…}}` replaced by its value, the other placeholders left as they
/// are: a URL's scheme and host may come from the environment (`{{env.BASE_URL:-http://…}}`),
/// and must be known before the URL is parsed.
///
/// # Errors
/// An unset variable without a default, named with `what`.
pub fn expand_env(text: &str, what: &str) -> Result<String, LoadError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start + 2..].find("}}") else {
            break;
        };
        let expr = rest[start + 2..start + 2 + end].trim();
        out.push_str(&rest[..start]);
        if expr.starts_with("env.") {
            match parse_generator(expr, None) {
                Ok(Segment::Literal(v)) => out.push_str(&v),
                Ok(_) => unreachable!("env.* is always a literal"),
                Err(e) => {
                    return Err(LoadError::Config {
                        message: format!("{what}: {{{{{expr}}}}}: {}", e.0),
                    })
                }
            }
        } else {
            out.push_str(&rest[start..start + 2 + end + 2]);
        }
        rest = &rest[start + 2 + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn parse_generator(expr: &str, csv: Option<&CsvData>) -> Result<Segment, GeneratorError> {
    if expr == "seq" {
        return Ok(Segment::Seq);
    }
    if expr == "uuid" {
        return Ok(Segment::Uuid);
    }
    if let Some(rest) = expr.strip_prefix("env.") {
        // `env.NAME:-default`, as in the shell: the default when NAME is unset or empty.
        let (name, default) = match rest.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (rest, None),
        };
        return match (std::env::var(name), default) {
            (Ok(v), Some(d)) if v.is_empty() => Ok(Segment::Literal(d.to_string())),
            (Ok(v), _) => Ok(Segment::Literal(v)),
            (Err(_), Some(d)) => Ok(Segment::Literal(d.to_string())),
            (Err(_), None) => Err(format!(
                "environment variable {name} is not set (give a default: {{{{env.{name}:-VALUE}}}})"
            )
            .into()),
        };
    }
    if let Some(name) = expr.strip_prefix("var.") {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err("var.NAME: letters, digits and _ only".into());
        }
        return Ok(Segment::Var(name.to_string()));
    }
    if let Some(col) = expr.strip_prefix("csv.") {
        let csv = csv.ok_or("csv.* needs a csv file in the scenario")?;
        return csv
            .columns
            .iter()
            .position(|c| c == col)
            .map(Segment::Csv)
            .ok_or_else(|| {
                format!("no column {col:?} (columns: {})", csv.columns.join(", ")).into()
            });
    }
    let (name, inner) = expr
        .split_once('(')
        .and_then(|(n, r)| r.strip_suffix(')').map(|i| (n.trim(), i)))
        .ok_or("unknown generator (use seq, uuid, rand_int(a,b), rand_float(a,b), random_floats(n,a,b), env.NAME, csv.COLUMN, var.NAME)")?;
    match name {
        "rand_int" => {
            // Integers are read as integers: an f64 cannot hold i64's bounds.
            let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
            let [a, b] = parts[..] else {
                return Err(format!("expected 2 arguments, got {}", parts.len()).into());
            };
            let int = |p: &str| {
                p.parse::<i64>().map_err(|_| {
                    format!("{p:?} is not an integer from {} to {}", i64::MIN, i64::MAX)
                })
            };
            let (a, b) = (int(a)?, int(b)?);
            if b < a {
                return Err("rand_int needs integers a <= b".into());
            }
            Ok(Segment::RandInt(a, b))
        }
        "rand_float" => {
            let [a, b] = args::<2>(inner)?;
            Ok(Segment::RandFloat(a, b))
        }
        "random_floats" => {
            let [n, a, b] = args::<3>(inner)?;
            if n < 0.0 || n.fract() != 0.0 || n > 1e6 {
                return Err("random_floats needs a count between 0 and 1000000".into());
            }
            Ok(Segment::RandomFloats(n as usize, a, b))
        }
        other => Err(format!("unknown generator {other:?}").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &Template, seq: u64) -> String {
        let mut rng = Rng::new(1);
        let mut out = String::new();
        t.render(
            &mut RenderContext {
                seq,
                rng: &mut rng,
                csv: None,
                vars: &[],
            },
            &mut out,
        );
        out
    }

    #[test]
    fn rand_int_takes_any_bounds_of_i64() {
        let full = Template::compile(
            "{{rand_int(-9223372036854775808,9223372036854775807)}}",
            None,
            "url",
        )
        .unwrap();
        let mut rng = Rng::new(7);
        for _ in 0..1000 {
            let mut out = String::new();
            full.render(
                &mut RenderContext {
                    seq: 0,
                    rng: &mut rng,
                    csv: None,
                    vars: &[],
                },
                &mut out,
            );
            assert!(out.parse::<i64>().is_ok(), "{out}");
        }
        let edge = Template::compile(
            "{{rand_int(9223372036854775806,9223372036854775807)}}",
            None,
            "url",
        )
        .unwrap();
        let v: i64 = render(&edge, 0).parse().unwrap();
        assert!(v >= i64::MAX - 1);
        let one = Template::compile("{{rand_int(-5,-5)}}", None, "url").unwrap();
        assert_eq!(render(&one, 0), "-5");
        for bad in [
            "{{rand_int(1.5,3)}}",
            "{{rand_int(3,1)}}",
            "{{rand_int(1,99999999999999999999)}}",
        ] {
            assert!(Template::compile(bad, None, "url").is_err(), "{bad}");
        }
    }

    #[test]
    fn generators_render() {
        let t = Template::compile("/item/{{seq}}?n={{rand_int(1,3)}}", None, "url").unwrap();
        let s = render(&t, 42);
        assert!(s.starts_with("/item/42?n="), "{s}");
        let n: i64 = s.rsplit('=').next().unwrap().parse().unwrap();
        assert!((1..=3).contains(&n));
        let t = Template::compile("{{random_floats(512,-1,1)}}", None, "body").unwrap();
        let v: Vec<f64> = serde_json::from_str(&render(&t, 0)).unwrap();
        assert_eq!(v.len(), 512);
        assert!(v.iter().all(|x| (-1.0..1.0).contains(x)));
        let t = Template::compile("{{uuid}}", None, "h").unwrap();
        let u = render(&t, 0);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(Template::compile("plain", None, "x").unwrap().is_static());
    }

    #[test]
    fn fixed_point_matches_std_formatting() {
        let mut rng = Rng::new(3);
        for _ in 0..10_000 {
            let v = -2.0 + 4.0 * rng.next_f64();
            let mut fast = String::new();
            push_fixed6(&mut fast, v);
            let std = format!("{v:.6}");
            // Both round to six decimals; they may differ only on exact ties in binary.
            let a: f64 = fast.parse().unwrap();
            let b: f64 = std.parse().unwrap();
            assert!((a - b).abs() <= 1.01e-6, "{fast} vs {std}");
        }
        let mut s = String::new();
        push_fixed6(&mut s, -0.5);
        push_fixed6(&mut s, 0.0);
        push_fixed6(&mut s, 12.25);
        assert_eq!(s, "-0.5000000.00000012.250000");
    }

    #[test]
    fn csv_rows_in_turn() {
        let csv = CsvData::parse("id,name\n1,a\n2,\"b,c\"\n", "users.csv").unwrap();
        let t = Template::compile("{{csv.name}}", Some(&csv), "body").unwrap();
        let mut rng = Rng::new(1);
        let mut out = String::new();
        for seq in 0..3 {
            t.render(
                &mut RenderContext {
                    seq,
                    rng: &mut rng,
                    csv: Some(&csv),
                    vars: &[],
                },
                &mut out,
            );
            out.push('|');
        }
        assert_eq!(out, "a|b,c|a|");
        let e = CsvData::parse("a,b\n1\n", "f.csv").unwrap_err();
        assert_eq!(e.to_string(), "f.csv:2: 1 fields, the header has 2");
    }

    #[test]
    fn bad_templates_say_where() {
        let e = Template::compile("/x/{{nope}}", None, "url").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("url: {{nope}} at byte 3: unknown generator"),
            "{e}"
        );
        let e = Template::compile("/x/{{seq", None, "url").unwrap_err();
        assert_eq!(e.to_string(), "url: unclosed {{ at byte 3");
        let t = Template::compile(
            "{{env.PERFLAB_SURELY_UNSET:-http://127.0.0.1:8080}}/x",
            None,
            "h",
        )
        .unwrap();
        assert_eq!(render(&t, 0), "http://127.0.0.1:8080/x");
        assert_eq!(
            expand_env(
                "{{env.PERFLAB_SURELY_UNSET:-http://h:1}}/a?x={{seq}}",
                "url"
            )
            .unwrap(),
            "http://h:1/a?x={{seq}}"
        );
        assert!(expand_env("{{env.PERFLAB_SURELY_UNSET}}/a", "url").is_err());
        let e = Template::compile("{{env.PERFLAB_SURELY_UNSET}}", None, "h").unwrap_err();
        assert!(e.to_string().contains("PERFLAB_SURELY_UNSET is not set"));
        let e = Template::compile("{{rand_int(5,1)}}", None, "b").unwrap_err();
        assert!(e.to_string().contains("a <= b"));
    }
}
