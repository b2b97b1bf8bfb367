//! Inline SVG charts for the HTML report and the dashboard. Nothing is scripted or fetched:
//! hover text is an SVG `<title>`, a click is a plain link, and every outside string goes
//! through [`crate::escape::html`], so a chart is safe to embed in any page and to open offline.

use std::fmt::Write as _;

use perflab_model::Unit;

use crate::escape::html;

/// Colours of the lines, in order (a branch overlay cycles through them).
const COLORS: [&str; 6] = [
    "#2563eb", "#d97706", "#059669", "#9333ea", "#dc2626", "#0891b2",
];

/// A point of a [`Trend`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChartPoint {
    /// Position on the x axis (time in ms, a run's index, seconds…).
    pub x: f64,
    /// The value.
    pub y: f64,
    /// Lower bound of its interval, when known.
    pub low: Option<f64>,
    /// Upper bound.
    pub high: Option<f64>,
    /// Hover text.
    pub title: String,
    /// Where a click goes.
    pub href: Option<String>,
    /// Drawn larger (a chosen point).
    pub selected: bool,
}

/// One line of a [`Trend`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrendLine {
    /// Legend text (a branch).
    pub label: String,
    /// Its points, in x order.
    pub points: Vec<ChartPoint>,
}

/// A vertical marker on a [`Trend`] (a change point).
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// Where.
    pub x: f64,
    /// Hover text.
    pub title: String,
    /// A regression (red) or an improvement (green).
    pub regression: bool,
}

/// Lines over one x axis with their interval bands and markers.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend<'a> {
    /// Unit of the y values.
    pub unit: &'a Unit,
    /// The lines.
    pub lines: Vec<TrendLine>,
    /// Markers.
    pub marks: Vec<Mark>,
    /// Labels under the first and the last x.
    pub x_labels: (String, String),
    /// When x is a time (Unix ms): ticks at sensible dates replace the two labels.
    pub x_is_time: bool,
    /// Horizontal lines: targets and critical levels.
    pub levels: Vec<HLine>,
    /// Start the y axis at zero (counts and rates, read as amounts), not at the lowest value.
    pub from_zero: bool,
}

/// A horizontal line across a [`Trend`] (a target), labelled at its right end.
#[derive(Debug, Clone, PartialEq)]
pub struct HLine {
    /// Where, in the y values' units.
    pub y: f64,
    /// What it is (`target < 5ms`).
    pub label: String,
    /// A critical level (red) rather than a target (amber).
    pub critical: bool,
}

/// The colour of a [`Trend`]'s `i`-th line (for a legend beside the chart).
pub fn line_color(i: usize) -> &'static str {
    COLORS[i % COLORS.len()]
}

/// Ticks for a time axis from `x0` to `x1` (Unix ms): the step of hours, days, weeks or
/// months that gives at most about seven, each labelled as briefly as its step allows.
pub fn time_ticks(x0: f64, x1: f64) -> Vec<(f64, String)> {
    const HOUR: f64 = 3_600_000.0;
    const DAY: f64 = 24.0 * HOUR;
    let span = x1 - x0;
    if !(span.is_finite() && span > 0.0) {
        return Vec::new();
    }
    let steps = [
        HOUR,
        3.0 * HOUR,
        6.0 * HOUR,
        12.0 * HOUR,
        DAY,
        2.0 * DAY,
        7.0 * DAY,
        14.0 * DAY,
        30.0 * DAY,
        91.0 * DAY,
        365.0 * DAY,
    ];
    let step = steps
        .iter()
        .copied()
        .find(|s| span / s <= 7.0)
        .unwrap_or(365.0 * DAY);
    // Weeks start on Mondays (the epoch was a Thursday).
    let offset = if step == 7.0 * DAY || step == 14.0 * DAY {
        4.0 * DAY
    } else {
        0.0
    };
    let mut out = Vec::new();
    let mut t = ((x0 - offset) / step).ceil() * step + offset;
    while t <= x1 && out.len() < 12 {
        let secs = (t / 1000.0).floor() as i64;
        let iso = perflab_model::format_rfc3339(secs, 0);
        // 2026-11-03T12:00:00.000Z: the date, and the time when ticks are hours apart.
        let label = if step < DAY {
            format!("{} {}", &iso[5..10], &iso[11..16])
        } else if step < 365.0 * DAY {
            iso[..10].to_string()
        } else {
            iso[..4].to_string()
        };
        out.push((t, label));
        t += step;
    }
    out
}

const W: f64 = 860.0;
const H: f64 = 280.0;
const LEFT: f64 = 84.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 34.0;

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// `lo..hi` widened so that it is never empty.
fn domain(lo: f64, hi: f64, pad: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi > lo {
        let p = (hi - lo) * pad;
        (lo - p, hi + p)
    } else {
        let p = if lo == 0.0 { 1.0 } else { lo.abs() * 0.05 };
        (lo - p, hi + p)
    }
}

/// A line chart with interval bands, clickable points and markers.
pub fn trend(t: &Trend<'_>) -> String {
    let points = t.lines.iter().flat_map(|l| &l.points);
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    let mut n = 0;
    for p in points.filter(|p| p.x.is_finite() && p.y.is_finite()) {
        n += 1;
        x0 = x0.min(p.x);
        x1 = x1.max(p.x);
        y0 = y0.min(finite(p.low).unwrap_or(p.y)).min(p.y);
        y1 = y1.max(finite(p.high).unwrap_or(p.y)).max(p.y);
    }
    // Targets are in view too.
    for l in t.levels.iter().filter(|l| l.y.is_finite()) {
        y0 = y0.min(l.y);
        y1 = y1.max(l.y);
    }
    if t.from_zero && y0 > 0.0 {
        y0 = 0.0;
    }
    let mut out = format!(
        "<svg class=\"chart trend\" viewBox=\"0 0 {W} {H}\" role=\"img\" data-points=\"{n}\">"
    );
    if n == 0 {
        out.push_str("<text x=\"20\" y=\"40\">no points</text></svg>");
        return out;
    }
    // A legend strip above the plot when there are several lines.
    let top = if t.lines.len() > 1 { TOP + 18.0 } else { TOP };
    let (x0, x1) = domain(x0, x1, 0.02);
    // Times and sizes are never negative: the padding does not take the axis below zero.
    let non_negative = y0 >= 0.0;
    let (y0, y1) = domain(y0, y1, 0.08);
    let y0 = if non_negative { y0.max(0.0) } else { y0 };
    let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    let sy = |y: f64| top + (y1 - y) / (y1 - y0) * (H - top - BOTTOM);
    // Axes and y ticks.
    let _ = write!(
        out,
        "<g class=\"axis\"><line x1=\"{LEFT}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>",
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM
    );
    for i in 0..=4 {
        let v = y0 + (y1 - y0) * f64::from(i) / 4.0;
        let y = sy(v);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\"/>\
<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            html(&t.unit.format(v))
        );
    }
    let ticks = if t.x_is_time {
        time_ticks(x0, x1)
    } else {
        Vec::new()
    };
    if ticks.is_empty() {
        let _ = write!(
            out,
            "<text x=\"{LEFT}\" y=\"{}\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text></g>",
            H - 10.0,
            html(&t.x_labels.0),
            W - RIGHT,
            H - 10.0,
            html(&t.x_labels.1)
        );
    } else {
        for (x, label) in &ticks {
            let at = sx(*x);
            let _ = write!(
                out,
                "<line class=\"tick\" x1=\"{at:.1}\" y1=\"{}\" x2=\"{at:.1}\" y2=\"{}\"/>\
<text class=\"xtick\" x=\"{at:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                H - BOTTOM,
                H - BOTTOM + 5.0,
                H - 12.0,
                html(label)
            );
        }
        out.push_str("</g>");
    }
    for l in t.levels.iter().filter(|l| l.y.is_finite()) {
        let y = sy(l.y);
        let color = if l.critical { "#dc2626" } else { "#d97706" };
        let _ = write!(
            out,
            "<g class=\"level\"><line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"{color}\" stroke-dasharray=\"6 4\"/>\
<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"{color}\">{}</text></g>",
            W - RIGHT,
            W - RIGHT - 4.0,
            y - 4.0,
            html(&l.label)
        );
    }
    for m in t.marks.iter().filter(|m| m.x.is_finite()) {
        let x = sx(m.x);
        let class = if m.regression {
            "mark regression"
        } else {
            "mark improvement"
        };
        let _ = write!(
            out,
            "<g class=\"{class}\"><line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{}\"/>\
<path d=\"M{:.1} {top}l5 -8h-10z\"/><title>{}</title></g>",
            H - BOTTOM,
            x,
            html(&m.title)
        );
    }
    for (i, line) in t.lines.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<&ChartPoint> = line
            .points
            .iter()
            .filter(|p| p.x.is_finite() && p.y.is_finite())
            .collect();
        if pts.iter().any(|p| p.low.is_some() || p.high.is_some()) {
            let mut d = String::new();
            for p in &pts {
                let hi = finite(p.high).unwrap_or(p.y);
                let _ = write!(
                    d,
                    "{}{:.1} {:.1}",
                    if d.is_empty() { "M" } else { "L" },
                    sx(p.x),
                    sy(hi)
                );
            }
            for p in pts.iter().rev() {
                let lo = finite(p.low).unwrap_or(p.y);
                let _ = write!(d, "L{:.1} {:.1}", sx(p.x), sy(lo));
            }
            let _ = write!(
                out,
                "<path class=\"band\" d=\"{d}Z\" fill=\"{color}\" fill-opacity=\"0.15\"/>"
            );
        }
        let coords: Vec<String> = pts
            .iter()
            .map(|p| format!("{:.1},{:.1}", sx(p.x), sy(p.y)))
            .collect();
        let _ = write!(
            out,
            "<polyline class=\"line\" points=\"{}\" stroke=\"{color}\" fill=\"none\"/>",
            coords.join(" ")
        );
        for p in &pts {
            let circle = format!(
                "<circle class=\"pt{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"{}\" fill=\"{color}\"><title>{}</title></circle>",
                if p.selected { " selected" } else { "" },
                sx(p.x),
                sy(p.y),
                if p.selected { 6 } else { 3 },
                html(&p.title)
            );
            match &p.href {
                Some(h) => {
                    let _ = write!(out, "<a href=\"{}\">{circle}</a>", html(h));
                }
                None => out.push_str(&circle),
            }
        }
    }
    if t.lines.len() > 1 {
        let mut x = LEFT;
        for (i, line) in t.lines.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let _ = write!(
                out,
                "<g class=\"legend\"><rect x=\"{x:.1}\" y=\"4\" width=\"10\" height=\"10\" fill=\"{color}\"/>\
<text x=\"{:.1}\" y=\"13\">{}</text></g>",
                x + 14.0,
                html(&line.label)
            );
            x += 30.0 + 7.0 * line.label.chars().count().min(40) as f64;
        }
    }
    out.push_str("</svg>");
    out
}

/// A small line of the values, the last one dotted: a trend at a glance.
pub fn sparkline(values: &[f64]) -> String {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let (w, h) = (120.0, 28.0);
    let mut out = format!(
        "<svg class=\"spark\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" data-points=\"{}\">",
        v.len()
    );
    if let Some(&last) = v.last() {
        let lo = v.iter().copied().fold(f64::MAX, f64::min);
        let hi = v.iter().copied().fold(f64::MIN, f64::max);
        let (lo, hi) = domain(lo, hi, 0.05);
        let step = if v.len() > 1 {
            (w - 6.0) / (v.len() - 1) as f64
        } else {
            0.0
        };
        let y = |x: f64| 3.0 + (hi - x) / (hi - lo) * (h - 6.0);
        let coords: Vec<String> = v
            .iter()
            .enumerate()
            .map(|(i, &x)| format!("{:.1},{:.1}", 3.0 + step * i as f64, y(x)))
            .collect();
        let _ = write!(
            out,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\"/><circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{}\"/>",
            coords.join(" "),
            COLORS[0],
            3.0 + step * (v.len() - 1) as f64,
            y(last),
            COLORS[0]
        );
    }
    out.push_str("</svg>");
    out
}

/// A median with its interval: `(low, median, high)`.
pub type Interval = (f64, f64, f64);

/// One row of [`intervals`].
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalRow {
    /// Benchmark and metric.
    pub label: String,
    /// The base side.
    pub base: Interval,
    /// The current side.
    pub current: Interval,
    /// CSS class of the current side (`regression`, `improvement`, `same`…).
    pub class: String,
}

/// Base and current medians with their intervals, each row relative to its base median, so
/// benchmarks of any scale share one axis in percent.
pub fn intervals(rows: &[IntervalRow]) -> String {
    let rel = |base: f64, v: f64| if v.is_finite() { v / base - 1.0 } else { 0.0 };
    let rows: Vec<&IntervalRow> = rows
        .iter()
        .filter(|r| r.base.1.is_finite() && r.base.1 != 0.0 && r.current.1.is_finite())
        .collect();
    // The axis spans the changes shown (and 0), 10% wider, at least ±5%.
    let (mut lo, mut hi): (f64, f64) = (-0.05, 0.05);
    for r in &rows {
        for v in [r.base.0, r.base.2, r.current.0, r.current.1, r.current.2] {
            let f = rel(r.base.1, v);
            lo = lo.min(f);
            hi = hi.max(f);
        }
    }
    let pad = (hi - lo) * 0.05;
    let (lo, hi) = (lo - pad, hi + pad);
    let (label_w, row_h) = (300.0, 24.0);
    let h = TOP + row_h * rows.len() as f64 + BOTTOM;
    let sx = |f: f64| label_w + (f - lo) / (hi - lo) * (W - label_w - RIGHT - 24.0);
    let mut out = format!(
        "<svg class=\"chart intervals\" viewBox=\"0 0 {W} {h}\" role=\"img\" data-rows=\"{}\"><g class=\"axis\">",
        rows.len()
    );
    let mut ticks = vec![0.0];
    let step = nice_step((hi - lo) / 5.0);
    let mut t = step;
    while t < hi {
        ticks.push(t);
        t += step;
    }
    let mut t = -step;
    while t > lo {
        ticks.push(t);
        t -= step;
    }
    for f in ticks {
        let x = sx(f);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{:+.0}%</text>",
            h - BOTTOM,
            h - 12.0,
            f * 100.0
        );
    }
    out.push_str("</g>");
    for (i, r) in rows.iter().enumerate() {
        let y = TOP + row_h * i as f64 + row_h / 2.0;
        let label: String = if r.label.chars().count() > 44 {
            format!("{}…", r.label.chars().take(43).collect::<String>())
        } else {
            r.label.clone()
        };
        let _ = write!(
            out,
            "<g class=\"row\"><title>{}</title><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            html(&r.label),
            label_w - 8.0,
            y + 4.0,
            html(&label)
        );
        for (side, iv, dy, class) in [
            ("base", r.base, -4.0, "base"),
            ("current", r.current, 4.0, r.class.as_str()),
        ] {
            let (lo, mid, hi) = (
                rel(r.base.1, iv.0),
                rel(r.base.1, iv.1),
                rel(r.base.1, iv.2),
            );
            let _ = write!(
                out,
                "<g class=\"side {}\" data-side=\"{side}\"><line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>\
<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\"/></g>",
                html(class),
                sx(lo),
                y + dy,
                sx(hi),
                y + dy,
                sx(mid),
                y + dy
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// A round step (1, 2 or 5 × a power of ten) near `raw`.
fn nice_step(raw: f64) -> f64 {
    let p = 10f64.powf(raw.log10().floor());
    let f = raw / p;
    p * if f < 1.5 {
        1.0
    } else if f < 3.5 {
        2.0
    } else if f < 7.5 {
        5.0
    } else {
        10.0
    }
}

/// Horizontal bars, one per `(label, value)`, with the value written after each.
pub fn bars(unit: &Unit, items: &[(String, f64)]) -> String {
    let items: Vec<&(String, f64)> = items
        .iter()
        .filter(|(_, v)| v.is_finite() && *v >= 0.0)
        .collect();
    let max = items.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let (label_w, row_h, w) = (90.0, 22.0, 560.0);
    let h = 8.0 + row_h * items.len() as f64;
    let mut out = format!(
        "<svg class=\"chart bars\" viewBox=\"0 0 {w} {h}\" role=\"img\" data-bars=\"{}\">",
        items.len()
    );
    for (i, (label, v)) in items.iter().enumerate() {
        let y = 4.0 + row_h * i as f64;
        let len = if max > 0.0 {
            v / max * (w - label_w - 110.0)
        } else {
            0.0
        };
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
<rect class=\"bar\" x=\"{label_w}\" y=\"{:.1}\" width=\"{len:.1}\" height=\"{:.1}\" fill=\"{}\"/>\
<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            label_w - 8.0,
            y + 15.0,
            html(label),
            y + 3.0,
            row_h - 6.0,
            COLORS[0],
            label_w + len + 6.0,
            y + 15.0,
            html(&unit.format(*v))
        );
    }
    out.push_str("</svg>");
    out
}

/// Vertical columns of counts, one per `(label, count)` (a histogram: the labels are the
/// buckets' upper bounds), the first, middle and last labelled under the axis; each column's
/// label and count as hover text.
pub fn columns(items: &[(String, u64)], what: &str) -> String {
    let n = items.len();
    let mut out = format!(
        "<svg class=\"chart columns\" viewBox=\"0 0 {W} {H}\" role=\"img\" data-columns=\"{n}\">"
    );
    if n == 0 {
        out.push_str("<text x=\"20\" y=\"40\">no data</text></svg>");
        return out;
    }
    let max = items.iter().map(|(_, c)| *c).max().unwrap_or(0).max(1) as f64;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let col_w = plot_w / n as f64;
    let count = Unit::count();
    let _ = write!(
        out,
        "<g class=\"axis\"><line x1=\"{LEFT}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>",
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM
    );
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let y = H - BOTTOM - plot_h * f64::from(i) / 4.0;
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\"/>\
<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            html(&count.format(v))
        );
    }
    for (i, anchor) in [(0, "start"), (n / 2, "middle"), (n - 1, "end")] {
        let x = match anchor {
            "start" => LEFT,
            "end" => W - RIGHT,
            _ => LEFT + col_w * (i as f64 + 0.5),
        };
        let _ = write!(
            out,
            "<text class=\"xtick\" x=\"{x:.1}\" y=\"{}\" text-anchor=\"{anchor}\">≤ {}</text>",
            H - 12.0,
            html(&items[i].0)
        );
    }
    out.push_str("</g>");
    for (i, (label, c)) in items.iter().enumerate() {
        let h = *c as f64 / max * plot_h;
        // A bucket with a few requests in a tall chart is still seen.
        let h = if *c > 0 { h.max(1.5) } else { 0.0 };
        let _ = write!(
            out,
            "<rect class=\"bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>≤ {}: {c} {}</title></rect>",
            LEFT + col_w * i as f64 + 0.5,
            H - BOTTOM - h,
            (col_w - 1.0).max(0.5),
            COLORS[0],
            html(label),
            html(what)
        );
    }
    out.push_str("</svg>");
    out
}

/// A node of the flame graph: a frame, its weight and its callees (sorted by name).
#[derive(Default)]
struct FlameNode {
    weight: f64,
    children: std::collections::BTreeMap<String, FlameNode>,
}

/// The deepest row drawn: deeper frames are folded into their row-60 ancestor.
const FLAME_DEPTH: usize = 60;

/// A flame graph of stacks (`a;b;c`, root first) with their shares of the total: root at the
/// bottom, callers below callees, width by share, the frame and its share as hover text.
/// Frames narrower than half a pixel are left out.
pub fn flame(stacks: &[(String, f64)]) -> String {
    let mut root = FlameNode::default();
    let mut depth = 0;
    for (stack, w) in stacks.iter().filter(|(_, w)| w.is_finite() && *w > 0.0) {
        root.weight += w;
        let mut node = &mut root;
        for (d, frame) in stack.split(';').take(FLAME_DEPTH).enumerate() {
            depth = depth.max(d + 1);
            node = node.children.entry(frame.to_string()).or_default();
            node.weight += w;
        }
    }
    let total = root.weight.max(1e-300);
    let (row, w) = (17.0, W);
    let h = row * depth as f64 + 4.0;
    let mut body = String::new();
    let mut frames = 0usize;
    // Depth-first with an explicit stack: (node name, node, x, depth).
    let mut todo: Vec<(&str, &FlameNode, f64, usize)> = Vec::new();
    let mut x = 0.0;
    for (name, child) in &root.children {
        todo.push((name, child, x, 0));
        x += child.weight;
    }
    while let Some((name, node, x0, d)) = todo.pop() {
        let width = node.weight / total * w;
        if width < 0.5 {
            continue;
        }
        frames += 1;
        let px = x0 / total * w;
        let y = h - row * (d as f64 + 1.0);
        // A warm colour that depends only on the name, so a frame keeps it across graphs.
        let hash = name.bytes().fold(2166136261u32, |a, b| {
            (a ^ u32::from(b)).wrapping_mul(16777619)
        });
        let (r, g) = (205 + hash % 50, 80 + (hash >> 8) % 120);
        let chars = ((width - 6.0) / 6.5).max(0.0) as usize;
        let label: String = if name.chars().count() <= chars {
            name.to_string()
        } else if chars > 2 {
            format!("{}…", name.chars().take(chars - 1).collect::<String>())
        } else {
            String::new()
        };
        let _ = write!(
            body,
            "<g class=\"frame\"><title>{} ({:.1}%)</title><rect x=\"{px:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{:.1}\" rx=\"2\" fill=\"rgb({r},{g},50)\"/>\
<text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            html(name),
            node.weight / total * 100.0,
            row - 1.0,
            px + 3.0,
            y + 12.0,
            html(&label)
        );
        let mut cx = x0;
        for (n, c) in &node.children {
            todo.push((n, c, cx, d + 1));
            cx += c.weight;
        }
    }
    format!(
        "<svg class=\"chart flame\" viewBox=\"0 0 {w} {h}\" role=\"img\" data-frames=\"{frames}\">{body}</svg>"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn time_ticks_fall_on_sensible_dates() {
        let day = 86_400_000.0;
        let t0 = 1_793_491_200_000.0; // 2026-11-01T00:00:00Z
        let ticks = super::time_ticks(t0 + 3.6e6, t0 + 20.0 * day);
        let labels: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(
            labels,
            ["2026-11-02", "2026-11-09", "2026-11-16"],
            "Mondays over 20 days"
        );
        let hours = super::time_ticks(t0, t0 + day / 2.0);
        assert_eq!(hours[1].1, "11-01 03:00", "{hours:?}");
        assert!(super::time_ticks(t0, t0).is_empty());
    }

    #[test]
    fn a_trend_of_positive_values_never_goes_below_zero() {
        let unit = Unit::seconds();
        let pts = |ys: &[f64]| {
            ys.iter()
                .enumerate()
                .map(|(i, &y)| ChartPoint {
                    x: i as f64,
                    y,
                    low: Some(y * 0.2),
                    high: Some(y * 3.0),
                    ..ChartPoint::default()
                })
                .collect()
        };
        let svg = trend(&Trend {
            unit: &unit,
            lines: vec![TrendLine {
                label: "main".into(),
                points: pts(&[0.001, 1.0]),
            }],
            marks: vec![],
            x_labels: Default::default(),
            x_is_time: false,
            levels: vec![],
            from_zero: false,
        });
        assert!(!svg.contains(">-"), "{svg}");
    }

    use super::*;

    fn point(x: f64, y: f64) -> ChartPoint {
        ChartPoint {
            x,
            y,
            low: Some(y * 0.9),
            high: Some(y * 1.1),
            title: format!("<b>{x}</b>"),
            href: Some("/x?a=1&b=2".into()),
            selected: false,
        }
    }

    #[test]
    fn a_flame_graph_merges_common_callers_and_sizes_frames_by_share() {
        let stacks = [
            ("main;parse;<T as Into>::into".to_string(), 0.5),
            ("main;parse".to_string(), 0.25),
            ("main;write".to_string(), 0.25),
            ("main;tiny".to_string(), 1e-6),
        ];
        let svg = flame(&stacks);
        // main, parse, into, write; `tiny` is under half a pixel.
        assert!(svg.contains("data-frames=\"4\""), "{svg}");
        assert!(svg.contains("<title>main (100.0%)</title>"), "{svg}");
        assert!(svg.contains("<title>parse (75.0%)</title>"), "{svg}");
        assert!(svg.contains("&lt;T as Into&gt;::into (50.0%)"), "{svg}");
        assert!(!svg.contains("tiny"));
        assert!(flame(&[]).contains("data-frames=\"0\""));
    }

    #[test]
    fn a_trend_draws_every_finite_point_and_escapes_its_text() {
        let unit = Unit::seconds();
        let t = Trend {
            unit: &unit,
            lines: vec![TrendLine {
                label: "main".into(),
                points: vec![point(0.0, 1e-3), point(1.0, f64::NAN), point(2.0, 2e-3)],
            }],
            marks: vec![Mark {
                x: 2.0,
                title: "<script>".into(),
                regression: true,
            }],
            x_labels: ("a".into(), "b".into()),
            x_is_time: false,
            levels: vec![],
            from_zero: false,
        };
        let svg = trend(&t);
        assert_eq!(svg.matches("<circle class=\"pt\"").count(), 2);
        assert!(svg.contains("data-points=\"2\""));
        assert!(svg.contains("&lt;b&gt;0&lt;/b&gt;"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("href=\"/x?a=1&amp;b=2\""));
        assert!(!svg.contains("NaN"), "{svg}");
    }

    #[test]
    fn one_point_or_a_flat_series_still_has_a_scale() {
        let unit = Unit::count();
        let t = Trend {
            unit: &unit,
            lines: vec![TrendLine {
                label: String::new(),
                points: vec![point(5.0, 0.0)],
            }],
            marks: vec![],
            x_labels: Default::default(),
            x_is_time: false,
            levels: vec![],
            from_zero: false,
        };
        let svg = trend(&t);
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert_eq!(svg.matches("class=\"pt\"").count(), 1);
        assert!(sparkline(&[1.0, 1.0]).contains("polyline"));
        assert!(!sparkline(&[]).contains("polyline"));
    }

    #[test]
    fn intervals_skip_rows_without_a_base_and_bars_skip_non_finite_values() {
        let rows = [
            IntervalRow {
                label: "a".into(),
                base: (0.9, 1.0, 1.1),
                current: (1.4, 1.5, 1.6),
                class: "regression".into(),
            },
            IntervalRow {
                label: "zero".into(),
                base: (0.0, 0.0, 0.0),
                current: (1.0, 1.0, 1.0),
                class: "same".into(),
            },
        ];
        let svg = intervals(&rows);
        assert!(svg.contains("data-rows=\"1\""), "{svg}");
        // Round ticks from 0 to past the largest change (+60% at the upper bound).
        assert!(svg.contains(">+0%<") && svg.contains(">+60%<"), "{svg}");
        assert!(!svg.contains(">+80%<") && !svg.contains(">-20%<"), "{svg}");
        let b = bars(
            &Unit::seconds(),
            &[("p50".into(), 1e-3), ("bad".into(), f64::INFINITY)],
        );
        assert!(b.contains("data-bars=\"1\""));
    }
}
