#!/usr/bin/env bash
# Paced generation's CPU per request, perflab's open model beside oha's rate limit (-q), on
# loopback: nginx (one worker) on core 0, the generator on core 1, the same rate, duration and
# connections, runs alternated ROUNDS times. Prints each one's median CPU microseconds per
# request (user + system of the generator process, from its rusage) and the ratio.
#
#   benches/load/paced-vs-oha.sh [RATES] [SECONDS] [ROUNDS] [CONNECTIONS]   e.g. "2000 5000" 5 3 64
#
# Needs: nginx (apt-get install nginx-light), oha (cargo install oha), taskset, python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
. benches/load/nginx.sh
rates=${1:-"2000 5000"}
secs=${2:-5}
rounds=${3:-3}
conns=${4:-64}
oha=${OHA:-$(command -v oha)}
cargo build --release -q -p perflab
bin=${PERFLAB_BIN:-$PWD/target/release/perflab}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
work=$(mktemp -d)
start_nginx "$work" "$port" 0
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$port/"
# CPU µs per request of one generator run: its rusage over the requests it reports.
measure() {
  python3 - "$@" <<'PY'
import json, resource, subprocess, sys
kind, cmd = sys.argv[1], sys.argv[2:]
out = subprocess.run(["taskset", "-c", "1"] + cmd, capture_output=True, text=True).stdout
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = ru.ru_utime + ru.ru_stime
if kind == "perflab":
    n = json.loads(out)["load"]["scenarios"]["all"]["requests"]
else:
    n = sum(json.loads(out)["statusCodeDistribution"].values())
print("%.2f %d" % (cpu * 1e6 / max(n, 1), n))
PY
}
median() { python3 -c 'import sys,statistics; print("%.2f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
echo "rate/s  perflab µs/req  oha µs/req  perflab/oha  (requests: perflab, oha)"
for rate in $rates; do
  p=(); o=(); np=0; no=0
  for _ in $(seq "$rounds"); do
    read -r x np < <(measure perflab "$bin" load "$url" --rate "${rate}/s" -d "${secs}s" --max-connections "$conns" --json --no-store)
    read -r y no < <(measure oha "$oha" "$url" -z "${secs}s" -q "$rate" -c "$conns" --no-tui --output-format json)
    p+=("$x"); o+=("$y")
  done
  mp=$(median "${p[@]}"); mo=$(median "${o[@]}")
  echo "$rate  $mp  $mo  $(python3 -c "print('%.2f' % ($mp / $mo))")  ($np, $no)"
done
