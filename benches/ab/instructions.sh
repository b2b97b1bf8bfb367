#!/usr/bin/env bash
# Instruction counts under the noise generator: a Go module with BenchmarkSort and BenchmarkJoin,
# three `compare --aa --measure instructions` (the spread of every count of each benchmark), then
# main..more where 2 in 100 joins happen twice (+2%: a regression at --max-change 1%), all while
# benches/ab/noise.py runs. The figures are in docs/statistics.md.
# Usage: benches/ab/instructions.sh. Needs go, valgrind, jq, python3 and a built perflab.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
perflab=${PERFLAB:-$here/target/release/perflab}
work=$(mktemp -d)
noise_pid=
trap '[ -n "$noise_pid" ] && kill "$noise_pid" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
git init -q -b main
module() {
  printf 'module example.com/gi\n\ngo 1.18\n' > go.mod
  cat > gi_test.go <<GO
package gi

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

func join(parts []string) { sink += len(strings.Join(parts, ",")) }

func BenchmarkJoin(b *testing.B) {
	parts := strings.Fields(strings.Repeat("perf lab ", 200))
	for i := 0; i < b.N; i++ {
		join(parts)
		if i%100 < $1 {
			join(parts)
		}
	}
}
GO
}
g() { git -c user.email=b@b -c user.name=b "$@"; }
module 0 && git add . && g commit -qm base
git checkout -q -b more && module 2 && g commit -qam more && git checkout -q main
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
cmd=(go test -run '^$' -bench .)
python3 "$here/benches/ab/noise.py" --seconds 1800 & noise_pid=$!
for _ in 1 2 3; do
  "$perflab" --store "$work/h.db" compare --aa --measure instructions --warmup 0 -q -- "${cmd[@]}" >/dev/null || true
  "$perflab" --store "$work/h.db" show latest |
    jq -r '(.benchmarks + .ab.base_benchmarks)[] | "\(.name) \(.metrics[0].samples | join(" "))"' >> counts.txt
done
for b in Sort Join; do
  grep "^$b " counts.txt | cut -d' ' -f2- | tr ' ' '\n' |
    awk -v b="$b" 'NR==1{lo=$1;hi=$1} {if($1<lo)lo=$1; if($1>hi)hi=$1; n++} END{printf "%s: %d counts, %.0f to %.0f per op, spread %.3f%%\n", b, n, lo, hi, (hi-lo)/lo*100}'
done
code=0
"$perflab" --store "$work/h.db" compare main..more --measure instructions --max-change 1% --warmup 0 --no-store --format json -- "${cmd[@]}" > c.json 2>/dev/null || code=$?
jq -r '.rows[] | "main..more \(.benchmark): \(.change * 10000 | round / 100)% \(.verdict)"' c.json
echo "main..more exit $code (1: the gate failed)"
