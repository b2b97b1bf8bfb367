//! Interactive SVG flamegraphs (search, zoom, tooltips) through inferno, from the same folded
//! stacks the other writers use; differential graphs colour what got hotter red and what got
//! cooler blue.

use inferno::flamegraph::{self, Options, Palette};

use crate::{Profile, ProfileError};

/// How a value column is shown: counts are divided by `divisor` and named `count_name`.
fn display(p: &Profile, index: usize) -> (f64, &'static str) {
    match p
        .sample_types
        .get(index)
        .map(|t| (t.kind.as_str(), t.unit.as_str()))
    {
        Some((_, "nanoseconds")) => (1_000.0, "µs"),
        Some((_, "bytes")) => (1.0, "bytes"),
        Some(("instructions", _)) => (1.0, "instructions"),
        Some(("samples", _)) => (1.0, "samples"),
        _ => (1.0, "count"),
    }
}

fn options<'a>(title: &str, subtitle: &str, count_name: &str, palette: Palette) -> Options<'a> {
    let mut o = Options::default();
    o.title = title.to_string();
    o.subtitle = (!subtitle.is_empty()).then(|| subtitle.to_string());
    o.count_name = count_name.to_string();
    o.colors = palette;
    o.deterministic = true;
    o
}

/// The flamegraph of column `index` as SVG text. An empty profile gives a small SVG that says so
/// rather than no file.
pub fn render(
    p: &Profile,
    index: usize,
    title: &str,
    subtitle: &str,
) -> Result<Vec<u8>, ProfileError> {
    let (div, name) = display(p, index);
    let lines: Vec<String> = p
        .folded(index)
        .into_iter()
        .filter_map(|(s, v)| {
            let v = (v as f64 / div).round() as i64;
            (v > 0).then(|| format!("{s} {v}"))
        })
        .collect();
    if lines.is_empty() {
        return Ok(empty_svg(title));
    }
    let palette = match p.sample_types.get(index).map(|t| t.unit.as_str()) {
        Some("bytes") => Palette::Basic(inferno::flamegraph::color::BasicPalette::Mem),
        _ => Palette::Basic(inferno::flamegraph::color::BasicPalette::Hot),
    };
    let mut opts = options(title, subtitle, name, palette);
    let mut out = Vec::new();
    flamegraph::from_lines(&mut opts, lines.iter().map(String::as_str), &mut out)
        .map_err(|e| ProfileError::Io(std::io::Error::other(e.to_string())))?;
    Ok(out)
}

/// A differential flamegraph: the shape is `current`; colour shows the change from `base`
/// (both normalised to their totals, so a longer run is not "hotter" everywhere).
pub fn render_diff(
    base: &Profile,
    base_index: usize,
    current: &Profile,
    current_index: usize,
    title: &str,
) -> Result<Vec<u8>, ProfileError> {
    use std::collections::BTreeMap;
    let (div, name) = display(current, current_index);
    let mut rows: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (s, v) in base.folded(base_index) {
        rows.entry(s).or_default().0 += v;
    }
    for (s, v) in current.folded(current_index) {
        rows.entry(s).or_default().1 += v;
    }
    let (tb, tc) = (
        base.total(base_index).max(1),
        current.total(current_index).max(1),
    );
    let k = tc as f64 / tb as f64;
    let lines: Vec<String> = rows
        .into_iter()
        .filter_map(|(s, (b, c))| {
            let b = (b as f64 * k / div).round() as i64;
            let c = (c as f64 / div).round() as i64;
            (b > 0 || c > 0).then(|| format!("{s} {b} {c}"))
        })
        .collect();
    if lines.is_empty() {
        return Ok(empty_svg(title));
    }
    let mut opts = options(
        title,
        "red: hotter than the baseline, blue: cooler (baseline scaled to the same total)",
        name,
        Palette::Basic(inferno::flamegraph::color::BasicPalette::Hot),
    );
    let mut out = Vec::new();
    flamegraph::from_lines(&mut opts, lines.iter().map(String::as_str), &mut out)
        .map_err(|e| ProfileError::Io(std::io::Error::other(e.to_string())))?;
    Ok(out)
}

fn empty_svg(title: &str) -> Vec<u8> {
    let title = title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<?xml version=\"1.0\" standalone=\"no\"?>\n<svg version=\"1.1\" width=\"1200\" height=\"60\" \
xmlns=\"http://www.w3.org/2000/svg\"><text x=\"600\" y=\"24\" text-anchor=\"middle\" \
font-size=\"17\">{title}</text><text x=\"600\" y=\"48\" text-anchor=\"middle\">no samples</text></svg>\n"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Frame, ValueType};

    fn profile(hot: i64) -> Profile {
        let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
        let m = p.intern(Frame::function("main"));
        let h = p.intern(Frame::function("hot<&str>"));
        p.add(&[m, h], &[hot]);
        p.add(&[m], &[10]);
        p
    }

    #[test]
    fn renders_an_interactive_svg_with_title_and_escaped_names() {
        let svg =
            String::from_utf8(render(&profile(90), 0, "CPU: perf at 499 Hz", "").unwrap()).unwrap();
        assert!(svg.starts_with("<?xml"));
        assert!(svg.contains("CPU: perf at 499 Hz"));
        assert!(svg.contains("hot&lt;&amp;str&gt;"));
        assert!(svg.contains("<script"), "interactive: search and zoom");
    }

    #[test]
    fn differential_and_empty_graphs_render() {
        let svg = render_diff(&profile(10), 0, &profile(90), 0, "diff").unwrap();
        assert!(String::from_utf8(svg).unwrap().contains("<svg"));
        let empty = Profile::new(vec![ValueType::new("samples", "count")]);
        let svg = String::from_utf8(render(&empty, 0, "t", "").unwrap()).unwrap();
        assert!(svg.contains("no samples"));
    }
}
