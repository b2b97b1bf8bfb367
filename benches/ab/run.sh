#!/usr/bin/env bash
# compare A..B measured: its A/A false-alarm rate on a real Go project (the same commit on both
# sides, TRIALS times) and the time it adds beyond the runs themselves (a compare of ROUNDS
# rounds against 2×ROUNDS plain runs of the same command, side by side on this machine).
# Usage: benches/ab/run.sh [TRIALS] [ROUNDS]. Needs go and a built perflab (cargo build --release).
set -euo pipefail
trials=${1:-20}
rounds=${2:-5}
here=$(cd "$(dirname "$0")/../.." && pwd)
perflab=${PERFLAB:-$here/target/release/perflab}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
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

func BenchmarkJoin(b *testing.B) {
	parts := strings.Fields(strings.Repeat("perf lab ", 200))
	for i := 0; i < b.N; i++ {
		sink += len(strings.Join(parts, ","))
	}
}
GO
git add . && git -c user.email=b@b -c user.name=b commit -qm bench
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
cmd=(go test -run '^$' -bench . -benchtime 20000x -count 1)
"${cmd[@]}" >/dev/null  # compile once, as CI's cache would
alarms=0
for t in $(seq 1 "$trials"); do
  code=0
  "$perflab" --store "$work/h.db" compare HEAD..HEAD --rounds "$rounds" --warmup 0 --no-store -- "${cmd[@]}" \
    >"$work/out.txt" 2>/dev/null || code=$?
  [ "$code" = 1 ] && alarms=$((alarms + 1))
  [ "$code" = 2 ] && { cat "$work/out.txt"; exit 2; }
done
echo "A/A: $alarms false alarm(s) in $trials compares of HEAD..HEAD ($rounds rounds, 2 benchmarks × 3 metrics)"
start=$(date +%s.%N)
for _ in $(seq 1 $((2 * rounds))); do "${cmd[@]}" >/dev/null; done
plain=$(echo "$(date +%s.%N) - $start" | bc)
start=$(date +%s.%N)
"$perflab" --store "$work/h.db" compare HEAD..HEAD --rounds "$rounds" --warmup 0 --no-store -- "${cmd[@]}" >/dev/null 2>&1 || true
ab=$(echo "$(date +%s.%N) - $start" | bc)
echo "time: $((2 * rounds)) plain runs ${plain}s, compare HEAD..HEAD --rounds $rounds ${ab}s (ratio $(echo "scale=3; $ab / $plain" | bc))"
