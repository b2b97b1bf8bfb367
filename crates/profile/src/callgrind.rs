//! callgrind's output format (`callgrind.out.PID`): per-function self costs and caller→callee
//! edges with inclusive costs. Callgrind records no full stacks, so stacks are rebuilt by walking
//! the call graph from its roots and splitting each function's cost over its callers in
//! proportion to the edge costs (as gprof-style tools do). Self costs are exact; the split of a
//! function's cost between its call paths is an estimate, and the total is always conserved.

use std::collections::HashMap;

use crate::{Frame, Profile, ProfileError, ValueType};

#[derive(Default)]
struct Graph {
    names: Vec<Frame>,
    index: HashMap<String, usize>,
    self_cost: Vec<i64>,
    calls: Vec<HashMap<usize, i64>>, // caller -> callee -> inclusive cost
    called: Vec<bool>,
}

impl Graph {
    fn node(&mut self, name: &str, file: Option<&str>, object: Option<&str>) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len();
        self.names.push(Frame {
            function: crate::strip_rust_hash(name).to_string(),
            file: file.map(str::to_string),
            line: None,
            module: object.map(|o| o.rsplit('/').next().unwrap_or(o).to_string()),
            address: None,
        });
        self.index.insert(name.to_string(), i);
        self.self_cost.push(0);
        self.calls.push(HashMap::new());
        self.called.push(false);
        i
    }
}

/// Name compression: `(12) name` defines id 12, `(12)` refers to it.
fn resolve(table: &mut HashMap<String, String>, spec: &str) -> String {
    let spec = spec.trim();
    if let Some(rest) = spec.strip_prefix('(') {
        if let Some((id, name)) = rest.split_once(')') {
            let name = name.trim();
            if name.is_empty() {
                return table.get(id).cloned().unwrap_or_else(|| format!("({id})"));
            }
            table.insert(id.to_string(), name.to_string());
            return name.to_string();
        }
    }
    spec.to_string()
}

/// Read a callgrind output file; the first event (usually `Ir`, instructions) is the value.
pub fn parse(text: &str, source: &str) -> Result<Profile, ProfileError> {
    let mut g = Graph::default();
    let (mut files, mut fns, mut objs) = (HashMap::new(), HashMap::new(), HashMap::new());
    let mut positions = 1usize;
    let mut event = None::<String>;
    let mut cur_fn: Option<usize> = None;
    let (mut cur_file, mut cur_obj) = (None::<String>, None::<String>);
    let (mut cfn, mut cfile, mut cobj) = (None::<String>, None::<String>, None::<String>);
    let mut pending_call = false;
    let mut saw_header = false;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let lineno = Some(n + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let first = line.as_bytes()[0];
        if first.is_ascii_digit() || first == b'+' || first == b'-' || first == b'*' {
            let f = cur_fn.ok_or_else(|| {
                ProfileError::malformed(source, lineno, "a cost line before any fn=")
            })?;
            let mut cols = line.split_whitespace().skip(positions);
            let cost: i64 = match cols.next() {
                None => 0,
                Some(c) => c.parse().map_err(|_| {
                    ProfileError::malformed(source, lineno, format!("bad cost {c:?}"))
                })?,
            };
            if pending_call {
                pending_call = false;
                let name = cfn.clone().ok_or_else(|| {
                    ProfileError::malformed(source, lineno, "calls= without cfn=")
                })?;
                let callee = g.node(
                    &name,
                    cfile.as_deref().or(cur_file.as_deref()),
                    cobj.as_deref().or(cur_obj.as_deref()),
                );
                g.called[callee] = true;
                *g.calls[f].entry(callee).or_insert(0) += cost;
            } else {
                g.self_cost[f] += cost;
            }
            continue;
        }
        let Some((key, value)) = line.split_once([':', '=']) else {
            return Err(ProfileError::malformed(
                source,
                lineno,
                "not a callgrind line",
            ));
        };
        match key {
            "version" | "creator" | "cmd" | "pid" | "part" | "desc" | "thread" | "summary"
            | "totals" | "event" => saw_header = true,
            "positions" => positions = value.split_whitespace().count().max(1),
            "events" => {
                event = value.split_whitespace().next().map(str::to_string);
                saw_header = true;
            }
            "ob" => cur_obj = Some(resolve(&mut objs, value)),
            "fl" => {
                cur_file = Some(resolve(&mut files, value));
            }
            "fi" | "fe" => {
                resolve(&mut files, value);
            }
            "fn" => {
                let name = resolve(&mut fns, value);
                let i = g.node(&name, cur_file.as_deref(), cur_obj.as_deref());
                // The definition's file and object win over a guess made when it was a callee.
                g.names[i].file = cur_file.clone();
                if let Some(o) = &cur_obj {
                    g.names[i].module = Some(o.rsplit('/').next().unwrap_or(o).to_string());
                }
                cur_fn = Some(i);
                cfn = None;
                cfile = None;
                cobj = None;
            }
            "cob" => cobj = Some(resolve(&mut objs, value)),
            "cfi" | "cfl" => cfile = Some(resolve(&mut files, value)),
            "cfn" => cfn = Some(resolve(&mut fns, value)),
            "calls" => pending_call = true,
            "jump" | "jcnd" => {}
            _ => {
                return Err(ProfileError::malformed(
                    source,
                    lineno,
                    format!("unknown callgrind key {key:?}"),
                ))
            }
        }
    }
    if !saw_header || g.names.is_empty() {
        return Err(ProfileError::malformed(
            source,
            None,
            "not callgrind output (no events or functions)",
        ));
    }
    let kind = match event.as_deref() {
        Some("Ir") | None => "instructions".to_string(),
        Some(e) => e.to_string(),
    };
    Ok(build(g, ValueType::new(&kind, "count")))
}

/// Rebuild stacks from the call graph; see the module docs. Each function's self cost is split
/// over the paths that reach it: a path's share is the product, along it, of each edge's share of
/// its callee's incoming calls. Recursive back edges are skipped, and the result is rescaled so
/// the total equals the sum of self costs exactly.
fn build(g: Graph, vt: ValueType) -> Profile {
    let mut p = Profile::new(vec![vt]);
    let frames: Vec<u32> = g.names.iter().map(|f| p.intern(f.clone())).collect();
    let total: i64 = g.self_cost.iter().sum();
    let mut incoming = vec![0i64; g.names.len()];
    for (caller, edges) in g.calls.iter().enumerate() {
        for (&callee, &c) in edges {
            if callee != caller {
                incoming[callee] += c;
            }
        }
    }
    let mut roots: Vec<usize> = (0..g.names.len()).filter(|&i| !g.called[i]).collect();
    if roots.is_empty() {
        roots = (0..g.names.len()).collect(); // a pure cycle: start everywhere
    }
    let mut w = Walk {
        g: &g,
        incoming,
        frames,
        min_cost: (total as f64 * 1e-6).max(1.0),
        stack: Vec::new(),
        on_path: vec![false; g.names.len()],
        reached: vec![false; g.names.len()],
        out: Vec::new(),
    };
    for &r in &roots {
        w.walk(r, 1.0);
    }
    let mut out = std::mem::take(&mut w.out);
    // Functions no root reaches keep their self cost as one-frame stacks.
    for (i, &c) in g.self_cost.iter().enumerate() {
        if !w.reached[i] && c > 0 {
            out.push((vec![w.frames[i]], c as f64));
        }
    }
    let emitted: f64 = out.iter().map(|(_, v)| v).sum();
    let k = if emitted > 0.0 {
        total as f64 / emitted
    } else {
        1.0
    };
    // Largest-remainder rounding keeps the integer total exact.
    let mut rounded: Vec<(Vec<u32>, i64, f64)> = out
        .into_iter()
        .map(|(s, v)| {
            let x = v * k;
            (s, x.floor() as i64, x - x.floor())
        })
        .collect();
    let mut short = total - rounded.iter().map(|r| r.1).sum::<i64>();
    let mut order: Vec<usize> = (0..rounded.len()).collect();
    order.sort_by(|&a, &b| rounded[b].2.total_cmp(&rounded[a].2));
    for i in order {
        if short <= 0 {
            break;
        }
        rounded[i].1 += 1;
        short -= 1;
    }
    for (s, v, _) in rounded {
        if v > 0 {
            p.add(&s, &[v]);
        }
    }
    p
}

struct Walk<'a> {
    g: &'a Graph,
    incoming: Vec<i64>,
    frames: Vec<u32>,
    min_cost: f64,
    stack: Vec<u32>,
    on_path: Vec<bool>,
    reached: Vec<bool>,
    out: Vec<(Vec<u32>, f64)>,
}

impl Walk<'_> {
    fn walk(&mut self, f: usize, share: f64) {
        let g = self.g;
        self.stack.push(self.frames[f]);
        self.on_path[f] = true;
        self.reached[f] = true;
        let own = g.self_cost[f] as f64 * share;
        let below: f64 = g.calls[f].values().map(|&v| v as f64).sum::<f64>() * share;
        if below < self.min_cost || self.stack.len() > 256 {
            // Too small to split further (or too deep): keep it here so the total holds.
            self.out.push((self.stack.clone(), own + below));
        } else {
            if own > 0.0 {
                self.out.push((self.stack.clone(), own));
            }
            let mut callees: Vec<(usize, i64)> = g.calls[f]
                .iter()
                .filter(|(&c, _)| c != f && !self.on_path[c])
                .map(|(&c, &v)| (c, v))
                .collect();
            callees.sort_unstable();
            for (c, v) in callees {
                if self.incoming[c] > 0 {
                    self.walk(c, share * v as f64 / self.incoming[c] as f64);
                }
            }
        }
        self.on_path[f] = false;
        self.stack.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 7
cmd: ./hot
positions: line
events: Ir
summary: 1000

ob=(1) /tmp/hot
fl=(1) hot.c
fn=(1) main
5 10
cfn=(2) hot_loop
calls=1 3
6 900
cfn=(3) cold
calls=1 4
7 90

fn=(2)
3 900

fn=(3) cold
4 90
";

    #[test]
    fn self_costs_are_exact_and_stacks_conserve_the_total() {
        let p = parse(TEXT, "callgrind.out").unwrap();
        assert_eq!(p.sample_types[0].kind, "instructions");
        assert_eq!(p.total(0), 1000);
        let folded = p.folded(0);
        assert_eq!(
            folded,
            vec![
                ("main".to_string(), 10),
                ("main;cold".to_string(), 90),
                ("main;hot_loop".to_string(), 900)
            ]
        );
        let hot = p.frames.iter().find(|f| f.function == "hot_loop").unwrap();
        assert_eq!(hot.file.as_deref(), Some("hot.c"));
        assert_eq!(hot.module.as_deref(), Some("hot"));
    }

    #[test]
    fn a_function_called_from_two_places_splits_by_edge_cost() {
        let text = "events: Ir\nfn=a\n1 0\ncfn=c\ncalls=1 1\n1 30\nfn=b\n1 0\ncfn=c\ncalls=1 1\n1 10\nfn=root\n1 0\ncfn=a\ncalls=1 1\n1 30\ncfn=b\ncalls=1 1\n1 10\nfn=c\n1 40\n";
        let p = parse(text, "t").unwrap();
        assert_eq!(
            p.folded(0),
            vec![("root;a;c".to_string(), 30), ("root;b;c".to_string(), 10)]
        );
    }

    #[test]
    fn recursion_terminates_and_keeps_the_total() {
        let text = "events: Ir\nfn=main\n1 1\ncfn=f\ncalls=1 1\n1 100\nfn=f\n1 50\ncfn=f\ncalls=5 1\n1 50\n";
        let p = parse(text, "t").unwrap();
        assert_eq!(p.total(0), 51);
    }

    #[test]
    fn foreign_text_is_refused() {
        let e = parse("hello world\n", "x").unwrap_err().to_string();
        assert_eq!(e, "x:1: not a callgrind line");
        let e = parse("events: Ir\n5 10\n", "y").unwrap_err().to_string();
        assert_eq!(e, "y:2: a cost line before any fn=");
    }
}
