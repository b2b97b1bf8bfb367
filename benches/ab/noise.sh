#!/usr/bin/env bash
# compare A..B on a busy machine, for real: a Go module with two benchmarks, compared with itself
# (A/A) and with a commit that makes BenchmarkJoin 1.3x slower, TRIALS times each, while
# benches/ab/noise.py runs CPU bursts of 50-500 ms with 50-500 ms gaps on every core. Prints the
# gate's outcomes with the defaults (10 rounds, more while a row is inconclusive). The simulated
# version with hundreds of compares is crates/analysis/tests/noise_rounds.rs.
# Usage: benches/ab/noise.sh [TRIALS]. Needs go, python3 and a built perflab (cargo build --release).
set -euo pipefail
trials=${1:-10}
here=$(cd "$(dirname "$0")/../.." && pwd)
perflab=${PERFLAB:-$here/target/release/perflab}
work=$(mktemp -d)
noise_pid=
trap '[ -n "$noise_pid" ] && kill "$noise_pid" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
git init -q -b main
cat > go.mod <<'GO'
module example.com/ab

go 1.18
GO
cat > ab_test.go <<'GO'
package ab

import (
	"sort"
	"strings"
	"testing"
)

var sink int

// extra is the share of iterations that do the work twice: 0 on main, 3 in 10 on "slow".
const extra = 0

func BenchmarkSort(b *testing.B) {
	for i := 0; i < b.N; i++ {
		v := make([]int, 2000)
		for j := range v {
			v[j] = (j * 7919) % 2003
		}
		sort.Ints(v)
		sink += v[0]
	}
}

func join(parts []string) { sink += len(strings.Join(parts, ",")) }

func BenchmarkJoin(b *testing.B) {
	parts := strings.Fields(strings.Repeat("perf lab ", 200))
	for i := 0; i < b.N; i++ {
		join(parts)
		if i%10 < extra {
			join(parts)
		}
	}
}
GO
g() { git -c user.email=b@b -c user.name=b "$@"; }
git add . && g commit -qm bench
git checkout -q -b slow && sed -i 's/^const extra = 0/const extra = 3/' ab_test.go && g commit -qam slower && git checkout -q main
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
cmd=(go test -run '^$' -bench . -benchtime 2000x -count 1)
"${cmd[@]}" >/dev/null  # compile once, as CI's cache would
python3 "$here/benches/ab/noise.py" --seconds 3600 & noise_pid=$!
tally() { # range label
  local failed=0 join=0 sort=0 inconclusive=0 rounds=0
  for _ in $(seq 1 "$trials"); do
    code=0
    "$perflab" --store "$work/h.db" compare "$1" --no-store --format json -- "${cmd[@]}" >"$work/c.json" 2>/dev/null || code=$?
    [ "$code" = 2 ] && { echo "compare failed"; exit 2; }
    [ "$code" = 1 ] && failed=$((failed + 1))
    join=$((join + $(jq '[.rows[] | select(.benchmark=="Join" and .metric=="time" and .verdict=="regression")] | length' "$work/c.json")))
    sort=$((sort + $(jq '[.rows[] | select(.benchmark=="Sort" and .metric=="time" and .verdict=="regression")] | length' "$work/c.json")))
    inconclusive=$((inconclusive + $(jq '.gate.inconclusive > 0 | if . then 1 else 0 end' "$work/c.json")))
    rounds=$((rounds + $(jq '[.rows[] | .gate_rounds // 0] | max' "$work/c.json")))
  done
  echo "| $2 | $trials | $failed | $join | $sort | $inconclusive | $(echo "scale=1; $rounds / $trials" | bc) |"
}
echo "| compare | compares | gate failed | Join flagged | Sort flagged | some row inconclusive | mean rounds |"
echo "|---|---:|---:|---:|---:|---:|---:|"
tally main..main "A/A (main..main), noise on"
tally main..slow "Join 1.3x slower (main..slow), noise on"
