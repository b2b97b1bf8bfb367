#!/usr/bin/env bash
# The open model's CPU per request beside the closed model's, on loopback: nginx (one worker)
# on one core, perflab on the other; for each rate, an open-model run at that rate, a closed
# model paced to the same rate (64 VUs with --expected-rate, wrk2's -R), and an unpaced closed
# run with the same request count (as fast as it goes), ROUNDS times, alternated. Prints the
# median generator CPU microseconds per request of each and the open/paced ratio.
#
#   benches/load/open-cpu.sh [RATES] [SECONDS] [ROUNDS]     e.g. "2000 5000 10000" 5 3
#
# Needs: nginx (apt-get install nginx-light), taskset, python3; builds perflab in release.
set -euo pipefail
cd "$(dirname "$0")/../.."
. benches/load/nginx.sh
rates=${1:-"2000 5000 10000"}
secs=${2:-5}
rounds=${3:-3}
cargo build --release -q -p perflab
bin=$PWD/target/release/perflab
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
work=$(mktemp -d)
start_nginx "$work" "$port" 0
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
cpu_per_request() {
  taskset -c 1 "$bin" load "http://127.0.0.1:$port/" "$@" --json --no-store >"$work/out.json" 2>/dev/null || true
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["load"]; n=d["scenarios"]["all"]["requests"]; print("%.2f %d" % (d["generator_cpu_seconds"]*1e6/max(n,1), n))' "$work/out.json"
}
median() { python3 -c 'import sys,statistics; print("%.2f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
echo "rate/s  open µs/req  closed paced µs/req  closed unpaced µs/req  open/paced"
for rate in $rates; do
  open=(); paced=(); closed=(); n_open=0
  per_vu=$(python3 -c "print($rate / 64)")
  for _ in $(seq "$rounds"); do
    read -r o n_open < <(cpu_per_request --rate "${rate}/s" -d "${secs}s" --max-connections 64)
    read -r p _ < <(cpu_per_request -c 64 --expected-rate "${per_vu}/s" -d "${secs}s")
    read -r c _ < <(cpu_per_request -c 64 -n "$n_open" -d "$((secs * 4))s")
    open+=("$o"); paced+=("$p"); closed+=("$c")
  done
  mo=$(median "${open[@]}"); mp=$(median "${paced[@]}"); mc=$(median "${closed[@]}")
  echo "$rate  $mo  $mp  $mc  $(python3 -c "print('%.2f' % ($mo / $mp))")"
done
