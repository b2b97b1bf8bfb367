# Histories for the change-point cross-check: seeded synthetic series of medians, and the change
# points Apache Otava finds in them (otava.analysis.compute_change_points, its defaults:
# window_len=50, max_pvalue=0.001, min_magnitude=0). Run: python3 make.py > histories.json
import json
import numpy as np
from otava.analysis import compute_change_points

rng = np.random.default_rng(20261201)
cases = []
def add(name, values):
    cps, _ = compute_change_points(list(values))
    cases.append({"name": name, "series": [float(v) for v in values],
                  "change_points": [int(c.index) for c in cps],
                  "pvalues": [float(c.stats.pvalue) for c in cps]})
for k in range(6):
    add(f"noise-{k}", 100 * np.exp(rng.normal(0, 0.03, 80)))
for k in range(4):
    s = np.concatenate([rng.normal(100, 2, 40), rng.normal(115, 2, 40)])
    add(f"step-up-{k}", s)
for k in range(3):
    s = np.concatenate([rng.normal(50, 1, 30), rng.normal(40, 1, 35), rng.normal(45, 1, 35)])
    add(f"two-steps-{k}", s)
for k in range(3):
    s = np.concatenate([rng.normal(10, 0.5, 120), rng.normal(10.8, 0.5, 80)])
    add(f"long-small-{k}", s)
s = np.concatenate([rng.normal(200, 5, 25), rng.normal(260, 5, 10), rng.normal(200, 5, 25)])
add("spike-block", s)
print(json.dumps({"otava_version": "0.8.0", "cases": cases}, indent=1))
