// A malloc-heavy program without frame pointers in its own code (`rustc -O`): half its time is
// inside glibc's allocator (`_int_malloc`, `_int_free`, `malloc_consolidate`), whose frames perf
// must unwind through DWARF to reach `main`.
use std::collections::BTreeMap;

fn churn(n: usize) -> usize {
    let mut total = 0;
    let mut keep: Vec<Vec<String>> = Vec::new();
    for round in 0..n {
        let words: Vec<String> = (0..2000).map(|i| format!("w{}-{}", i * 7 + round, i)).collect();
        let map: BTreeMap<&str, usize> = words.iter().map(|w| (w.as_str(), w.len())).collect();
        total += map.values().sum::<usize>();
        if round % 3 == 0 {
            keep.push(words);
        }
        if keep.len() > 8 {
            keep.remove(0);
        }
    }
    total
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(300);
    println!("{}", churn(n));
}
