#!/usr/bin/env bash
# perflab load against wrk (and oha, when installed) on loopback, side by side: the same
# server (perflab's own test server, one thread), the same connection count, runs alternated,
# the server pinned to one core and the load generators to the other. Prints each tool's median
# req/s over the rounds and the ratios to wrk.
#
#   benches/load/compare.sh [CONNECTIONS] [SECONDS] [ROUNDS]
#
# Needs: a release build of perflab (built here), wrk (apt-get install wrk), taskset
# (util-linux); oha optional (cargo install oha).
set -euo pipefail
cd "$(dirname "$0")/../.."
conns=${1:-64}
secs=${2:-5}
rounds=${3:-5}
cargo build --release -q -p perflab
bin=target/release/perflab
cores=$(nproc)
server_cpu=0
load_cpu=$(( cores > 1 ? 1 : 0 ))

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
taskset -c "$server_cpu" "$bin" testserver --addr "127.0.0.1:$port" --threads 1 >/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$port/"

declare -A results
run_perflab() {
  taskset -c "$load_cpu" "$bin" load "$url" -c "$conns" -d "${secs}s" --json --no-store \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["load"]["scenarios"]["all"]["rps"])'
}
run_wrk() {
  taskset -c "$load_cpu" wrk -t1 -c "$conns" -d "${secs}s" "$url" \
    | awk '/Requests\/sec/ {print $2}'
}
run_oha() {
  taskset -c "$load_cpu" oha --no-tui --output-format json -c "$conns" -z "${secs}s" "$url" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["requestsPerSec"])'
}
tools=(perflab wrk)
command -v oha >/dev/null 2>&1 && tools+=(oha)
for r in $(seq "$rounds"); do
  for t in "${tools[@]}"; do
    v=$("run_$t")
    results[$t]+="$v "
    echo "round $r: $t $v req/s" >&2
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
wrk_median=$(echo "${results[wrk]}" | median)
echo "connections=$conns seconds=$secs rounds=$rounds (server on cpu $server_cpu, generators on cpu $load_cpu)"
for t in "${tools[@]}"; do
  m=$(echo "${results[$t]}" | median)
  printf '%-8s median %10.0f req/s   ratio to wrk %.3f\n' "$t" "$m" "$(python3 -c "print($m/$wrk_median)")"
done
