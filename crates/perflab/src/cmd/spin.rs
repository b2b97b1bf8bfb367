//! `perflab spin --work N`: a fixed amount of CPU work, so the demo and tests time something
//! that exists on every machine and scales with N.

use anyhow::Result;

use crate::cli::SpinArgs;
use crate::Outcome;

pub(crate) fn run(args: SpinArgs) -> Result<Outcome> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..args.work.saturating_mul(100_000) {
        // xorshift: cheap, and the data dependency keeps the optimiser from skipping it.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    std::hint::black_box(x);
    Ok(Outcome::Ok)
}
