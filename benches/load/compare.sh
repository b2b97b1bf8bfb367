#!/usr/bin/env bash
# perflab load against wrk (and oha, when installed) on loopback, side by side: the same
# server, the same connection count, runs alternated, the server pinned to one core and the
# load generators to the other. Prints each tool's median req/s over the rounds, the ratios to
# wrk, and the median CPU seconds of the generator and of the server per run.
#
#   benches/load/compare.sh [CONNECTIONS] [SECONDS] [ROUNDS] [SERVER]
#
# SERVER: nginx (one worker, `return 200 "ok"`, no access log), nginx-close (the same, closing
# each connection after its response: every request pays a TCP handshake, which measures the
# generators' connect path), perflab (its own test server, one thread), or auto (the default:
# nginx when installed). A server that is slower than the
# generators caps every tool at the server's speed and hides their differences; the server's
# CPU seconds show when that happens (close to SECONDS means saturated).
#
# Needs: a release build of perflab (built here), wrk (apt-get install wrk), taskset
# (util-linux), python3; optional: nginx (apt-get install nginx-light), oha (cargo install oha).
set -euo pipefail
cd "$(dirname "$0")/../.."
. benches/load/nginx.sh
conns=${1:-64}
secs=${2:-5}
rounds=${3:-5}
server_kind=${4:-auto}
if [ "$server_kind" = auto ]; then
  if command -v nginx >/dev/null 2>&1; then server_kind=nginx; else server_kind=perflab; fi
fi
cargo build --release -q -p perflab -p perflab-testkit
bin=target/release/perflab
testserver=target/release/perflab-testserver
cores=$(nproc)
server_cpu=0
load_cpu=$(( cores > 1 ? 1 : 0 ))

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
work=$(mktemp -d)
case "$server_kind" in
  nginx)
    start_nginx "$work" "$port" "$server_cpu"
    ;;
  nginx-close)
    start_nginx "$work" "$port" "$server_cpu" off
    ;;
  perflab)
    taskset -c "$server_cpu" "$testserver" --addr "127.0.0.1:$port" --threads 1 >/dev/null &
    ;;
  *)
    echo "unknown server '$server_kind' (nginx, nginx-close, perflab or auto)" >&2
    exit 2
    ;;
esac
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$port/"

server_cpu_seconds() { awk '{print ($14 + $15) / 100}' "/proc/$server/stat"; }
# Each runner prints "REQ_PER_S GENERATOR_CPU_SECONDS".
run_perflab() {
  taskset -c "$load_cpu" "$bin" load "$url" -c "$conns" -d "${secs}s" --json --no-store \
    | python3 -c 'import json,sys; d=json.load(sys.stdin)["load"]; print(d["scenarios"]["all"]["rps"], d["generator_cpu_seconds"])'
}
# bash's `time` with TIMEFORMAT gives the CPU time of tools that do not report their own.
timed() {
  local TIMEFORMAT='%U %S'
  { time "$@" >"$work/out"; } 2>&1 | awk '{print $1 + $2}'
}
run_wrk() {
  local cpu
  cpu=$(timed taskset -c "$load_cpu" wrk -t1 -c "$conns" -d "${secs}s" "$url")
  echo "$(awk '/Requests\/sec/ {print $2}' "$work/out") $cpu"
}
run_oha() {
  local cpu
  cpu=$(timed taskset -c "$load_cpu" oha --no-tui --output-format json -c "$conns" -z "${secs}s" "$url")
  echo "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["requestsPerSec"])' "$work/out") $cpu"
}
tools=(perflab wrk)
command -v oha >/dev/null 2>&1 && tools+=(oha)
declare -A results gen_cpu srv_cpu
for r in $(seq "$rounds"); do
  for t in "${tools[@]}"; do
    before=$(server_cpu_seconds)
    read -r v cpu < <("run_$t")
    after=$(server_cpu_seconds)
    s=$(python3 -c "print(round($after - $before, 2))")
    results[$t]+="$v "
    gen_cpu[$t]+="$cpu "
    srv_cpu[$t]+="$s "
    echo "round $r: $t $v req/s (cpu s: generator $cpu, server $s)" >&2
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
wrk_median=$(echo "${results[wrk]}" | median)
echo "server=$server_kind connections=$conns seconds=$secs rounds=$rounds (server on cpu $server_cpu, generators on cpu $load_cpu)"
for t in "${tools[@]}"; do
  m=$(echo "${results[$t]}" | median)
  printf '%-8s median %10.0f req/s   ratio to wrk %.3f   cpu s per run: generator %.2f server %.2f\n' \
    "$t" "$m" "$(python3 -c "print($m/$wrk_median)")" \
    "$(echo "${gen_cpu[$t]}" | median)" "$(echo "${srv_cpu[$t]}" | median)"
done
