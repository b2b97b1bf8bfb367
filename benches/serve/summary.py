#!/usr/bin/env python3
"""One line from `perflab load --json` on stdin: achieved req/s, p50, p99, errors."""
import json
import sys

d = json.load(sys.stdin)["load"]
s = next(iter(d["scenarios"].values()))
lat = s["latency"]
errors = sum(s["errors"].values())
print(f"{d['achieved_rate']:.0f} req/s, p50 {lat['p50'] * 1e3:.3f} ms, "
      f"p99 {lat['p99'] * 1e3:.3f} ms, errors {errors}")
