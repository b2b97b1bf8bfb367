//! The top table, pprof's `-top`: per function, `flat` (the function itself) and `cum` (itself and
//! all it called; a recursive function counts once per stack).

use std::collections::HashMap;

use crate::Profile;

/// One function's costs in one value column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Function name.
    pub function: String,
    /// The most frequent source file (or module) of its frames.
    pub location: Option<String>,
    /// Value with the function at the leaf.
    pub flat: i64,
    /// Value with the function anywhere on the stack.
    pub cum: i64,
}

/// Every function of column `index`, hottest `flat` first (then `cum`, then name).
pub fn table(p: &Profile, index: usize) -> Vec<Row> {
    // Frames of one function (several lines, several modules) are one row.
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    let mut frame_row: Vec<usize> = Vec::with_capacity(p.frames.len());
    let mut rows: Vec<Row> = Vec::new();
    let mut where_: Vec<HashMap<String, i64>> = Vec::new();
    for f in &p.frames {
        let r = *by_name.entry(f.function.as_str()).or_insert_with(|| {
            rows.push(Row {
                function: f.function.clone(),
                location: None,
                flat: 0,
                cum: 0,
            });
            where_.push(HashMap::new());
            rows.len() - 1
        });
        frame_row.push(r);
    }
    let mut seen: Vec<u32> = vec![u32::MAX; rows.len()];
    for (k, s) in p.samples.iter().enumerate() {
        let v = s.values.get(index).copied().unwrap_or(0);
        if v == 0 {
            continue;
        }
        if let Some(&leaf) = s.stack.last() {
            let r = frame_row[leaf as usize];
            rows[r].flat += v;
            if let Some(loc) = location(p, leaf) {
                *where_[r].entry(loc).or_insert(0) += v;
            }
        }
        for &f in &s.stack {
            let r = frame_row[f as usize];
            if seen[r] != k as u32 {
                seen[r] = k as u32;
                rows[r].cum += v;
            }
        }
    }
    for (r, w) in rows.iter_mut().zip(where_) {
        r.location = w
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(l, _)| l);
    }
    // Name the location of functions that are never a leaf from their frames.
    for (i, &r) in frame_row.iter().enumerate() {
        if rows[r].location.is_none() {
            rows[r].location = location(p, i as u32);
        }
    }
    rows.retain(|r| r.cum != 0);
    rows.sort_by(|a, b| {
        b.flat
            .cmp(&a.flat)
            .then(b.cum.cmp(&a.cum))
            .then(a.function.cmp(&b.function))
    });
    rows
}

fn location(p: &Profile, f: u32) -> Option<String> {
    let f = &p.frames[f as usize];
    f.file.clone().or_else(|| f.module.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Frame, ValueType};

    #[test]
    fn flat_and_cum_follow_pprof() {
        let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
        let m = p.intern(Frame::function("main"));
        let f = p.intern(Frame::function("f"));
        let g = p.intern(Frame::function("g"));
        p.add(&[m, f, g], &[5]);
        p.add(&[m, f], &[3]);
        p.add(&[m, f, f, f], &[2]); // recursion counts once in cum
        p.add(&[m], &[1]);
        let t = table(&p, 0);
        let row = |n: &str| t.iter().find(|r| r.function == n).unwrap().clone();
        assert_eq!((row("f").flat, row("f").cum), (5, 10));
        assert_eq!((row("g").flat, row("g").cum), (5, 5));
        assert_eq!((row("main").flat, row("main").cum), (1, 11));
        assert_eq!(t.iter().map(|r| r.flat).sum::<i64>(), p.total(0));
        assert_eq!(t[0].function, "f"); // ties on flat break on cum
    }
}
