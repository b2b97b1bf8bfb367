// A Rust program whose hottest function is known: `checksum` takes almost all the CPU.
use std::hint::black_box;

#[inline(never)]
fn checksum(data: &[u8], rounds: u32) -> u64 {
    let mut h: u64 = 1469598103934665603;
    for _ in 0..rounds {
        for &b in data {
            h = (h ^ u64::from(b)).wrapping_mul(1099511628211);
        }
    }
    h
}

fn main() {
    let rounds: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(4000);
    let data: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
    println!("{}", checksum(black_box(&data), rounds));
}
