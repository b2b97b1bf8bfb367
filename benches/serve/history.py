#!/usr/bin/env python3
"""Write N result files of B Go benchmarks each (count 5, -benchmem), seeded, so a history of
any size can be uploaded to `perflab serve`: benches/serve/history.py DIR N B [SEED]."""
import os
import random
import sys

out, runs, benches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
os.makedirs(out, exist_ok=True)
base = [rng.uniform(50, 50_000) for _ in range(benches)]
for r in range(runs):
    # A 20% slowdown of one benchmark in ten from the middle run on: the history has alerts.
    lines = ["goos: linux", "goarch: amd64", "pkg: example.com/bench"]
    for b in range(benches):
        shift = 1.2 if (b % 10 == 0 and r >= runs // 2) else 1.0
        for _ in range(5):
            ns = base[b] * shift * rng.lognormvariate(0, 0.02)
            lines.append(f"BenchmarkCase{b:03d}-2 \t 100000\t {ns:.1f} ns/op\t 64 B/op\t 2 allocs/op")
    lines.append("PASS")
    with open(os.path.join(out, f"run{r:04d}.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
