#!/usr/bin/env bash
# perflab serve against the seeds' targets, measured by perflab load on loopback: a history of
# RUNS runs × BENCHES benchmarks uploaded with `perflab push` (the first 100 timed), then
# GET /api/v1/series at 2,000 req/s (p99) and with 16 connections (req/s), and the dashboard
# pages' server time (first view after a write, then cached). The server is pinned to one core
# and the load to the other.
#
#   benches/serve/run.sh [RUNS] [BENCHES] [SECONDS]
#
# Needs: python3, taskset (util-linux), curl; builds perflab in release mode.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-500}
benches=${2:-100}
secs=${3:-10}
cargo build --release -q -p perflab
bin=$PWD/target/release/perflab
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"' EXIT
python3 benches/serve/history.py "$work/in" "$runs" "$benches"
export PERFLAB_STORE="$work/h.db"
token=$("$bin" token create bench 2>/dev/null)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
taskset -c 0 "$bin" serve --addr "127.0.0.1:$port" 2>"$work/serve.log" &
server=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$port"

files=("$work"/in/*.txt)
start=$(date +%s.%N)
for f in "${files[@]:0:100}"; do
  "$bin" push "$f" --server "$url" --token "$token" >/dev/null
done
end=$(date +%s.%N)
echo "upload: 100 runs of $benches benchmarks with perflab push: $(echo "$end - $start" | bc) s"
for f in "${files[@]:100}"; do
  "$bin" push "$f" --server "$url" --token "$token" >/dev/null
done
echo "history: $(curl -s "$url/metrics" | grep '^perflab_runs ')"

series="$url/api/v1/series?benchmark=Case050%2Fpkg%3Dexample.com%2Fbench%2Fprocs%3D2&metric=time"
echo "series body: $(curl -s "$series" | wc -c) bytes, $(curl -s "$series" | grep -o run_id | wc -l) points"
load() { taskset -c 1 "$bin" load "$@" --no-store --json 2>/dev/null | python3 benches/serve/summary.py; }
echo "series at 2000 req/s: $(load "$series" --rate 2000 -d "${secs}s")"
echo "series with 16 connections: $(load "$series" -c 16 -d "${secs}s")"

# Server time of the pages: the first view after a write (a miss), then cached views.
for page in "/" "/bench?benchmark=Case050%2Fpkg%3Dexample.com%2Fbench%2Fprocs%3D2&metric=time" "/alerts" "/run/$("$bin" log --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"; do
  "$bin" push "${files[0]}" --server "$url" --token "$token" >/dev/null
  miss=$(curl -s -o /dev/null -w '%{time_starttransfer}' "$url$page")
  echo "page ${page%%\?*}: first view $(echo "$miss * 1000" | bc) ms; cached: $(load "$url$page" -c 1 -d 2s)"
done
