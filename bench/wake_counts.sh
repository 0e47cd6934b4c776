#!/usr/bin/env bash
# What a unicast push costs the server in wake-ups: runs Herald at --threads N
# under herald-bench's unicast scenario (4,000 pushes/s over 15,000 users) and
# counts, with perf stat over 5 s of it (~20,000 pushes), the server's
# context switches and the syscalls of cross-thread wake-ups (futex,
# epoll_ctl: Asio's reactor interrupt) and of its loop (epoll_wait, recvfrom).
# Divide by 20,000 for per-push figures. Needs linux-perf and root (or
# perf_event_paranoid <= 1).
#
#   bench/wake_counts.sh <herald binary> <threads> [herald-bench binary]
set -euo pipefail
herald=$1
threads=$2
bench=${3:-build-release/bench/herald-bench}
port=${PORT:-18181}
out=$(mktemp)
"$herald" --listen "127.0.0.1:$port" --threads "$threads" --log-level error >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$out"' EXIT
sleep 1
( sleep 4
  perf stat -e context-switches,syscalls:sys_enter_futex,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_recvfrom \
    -p "$pid" -o "$out" -- sleep 5 ) &
counter=$!
"$bench" --scenario unicast --api compat --connections 15000 --users 15000 --rate 4000 --duration 10 \
  --target "ws://127.0.0.1:$port/ws" --server-pid "$pid" 2>/dev/null |
  python3 -c 'import json,sys; f=json.load(sys.stdin)["figures"]; print("server CPU per push [us]:", f["server_cpu_us_per_push"])'
wait "$counter"
grep -E '^ +[0-9,]+ +[a-z]' "$out"
