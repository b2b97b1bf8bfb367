#!/usr/bin/env bash
# Peak RSS of perflab load beside wrk at many connections, on loopback against perflab's own
# test server (one thread), runs alternated: each tool's median peak over the rounds and the
# ratio. Raise the open-files limit first (`ulimit -n 25000` where the hard limit allows).
#
#   benches/load/memory.sh [CONNECTIONS] [SECONDS] [ROUNDS]    e.g. 10000 5 3
#
# Needs: wrk (apt-get install wrk), GNU time (apt-get install time), python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
conns=${1:-10000}
secs=${2:-5}
rounds=${3:-3}
cargo build --release -q -p perflab -p perflab-testkit
bin=target/release/perflab
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/release/perflab-testserver --addr "127.0.0.1:$port" --threads 1 >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$port/"
peak() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }
median() { python3 -c 'import sys,statistics; print(statistics.median(int(x) for x in sys.argv[1:]))' "$@"; }
p=(); w=()
for _ in $(seq "$rounds"); do
  p+=("$(peak "$bin" load "$url" -c "$conns" -d "${secs}s" --no-store -q)")
  w+=("$(peak wrk -t1 -c "$conns" -d "${secs}s" "$url")")
done
mp=$(median "${p[@]}"); mw=$(median "${w[@]}")
echo "connections $conns: perflab ${mp} KB, wrk ${mw} KB, perflab/wrk $(python3 -c "print('%.2f' % ($mp / $mw))")"
echo "  perflab: ${p[*]}   wrk: ${w[*]}"
