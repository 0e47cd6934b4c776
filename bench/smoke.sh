#!/usr/bin/env bash
# Smoke test of the load harness: starts a herald on a free loopback port, runs every
# scenario tiny (20 connections or held requests, 2 s) and fails unless each JSON report
# says "ok".
# Usage: bench/smoke.sh <herald-bench binary> <herald binary>
set -euo pipefail

bench_bin=${1:?usage: smoke.sh <herald-bench> <herald>}
herald_bin=${2:?usage: smoke.sh <herald-bench> <herald>}
py=/usr/bin/python3
[[ -x $py ]] || py=python3

work=$(mktemp -d /tmp/herald-bench-smoke.XXXXXX)
herald_pid=""
cleanup() {
  if [[ -n $herald_pid ]] && kill -0 "$herald_pid" 2>/dev/null; then
    kill -TERM "$herald_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$herald_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$herald_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$herald_bin" --listen "127.0.0.1:$port" --threads 2 --log-level warn >"$work/herald.log" 2>&1 &
herald_pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/metrics" >/dev/null 2>&1 && break
  kill -0 "$herald_pid" 2>/dev/null || { echo "herald exited at start:"; cat "$work/herald.log"; exit 1; }
  sleep 0.1
done

common=(--connections 20 --duration 2 --warmup 0.5 --target "ws://127.0.0.1:$port/ws"
        --server-pid "$herald_pid" --settle-timeout 5)
declare -A extra=(
  [idle]="--scenario idle"
  [unicast]="--scenario unicast --users 7 --rate 200"
  [fanout]="--scenario fanout --rate 20"
  [fanout_native]="--scenario fanout --api native --rate 20"
  [unicast_native]="--scenario unicast --api native --rate 100"
  [churn]="--scenario churn --rate 50 --churn-rate 20"
  [longpoll]="--scenario longpoll --rate 10"
  [longpoll_memory]="--scenario longpoll --memory-only"
  [sse]="--scenario sse --rate 10"
)
passed=0
failed=0
for name in idle unicast fanout fanout_native unicast_native churn longpoll longpoll_memory sse; do
  # shellcheck disable=SC2086
  if timeout 90 "$bench_bin" ${extra[$name]} "${common[@]}" --out "$work/$name.json" \
       >/dev/null 2>"$work/$name.err" &&
     "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["ok"] else 1)' "$work/$name.json"; then
    echo "PASS $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    grep -v '^\[herald-bench\]' "$work/$name.err" | sed 's/^/    /' || true
    failed=$((failed + 1))
  fi
done
kill -0 "$herald_pid" 2>/dev/null || { echo "herald died during the smoke run"; failed=$((failed + 1)); }

# Per-user channels (--target .../sub/{user}, --push-url .../pub/{user}, --no-register,
# --push-body raw), the way run.sh drives Nchan: only where nginx and Nchan are installed
# (they are not test packages); every push must reach its user's connections.
nginx_bin=/usr/sbin/nginx
if [[ -x $nginx_bin && -f /usr/lib/nginx/modules/ngx_nchan_module.so ]]; then
  nport=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  NCHAN_DIR="$work/nchan" "$(dirname "${BASH_SOURCE[0]}")/peers/nchan/run.sh" "$nport" >"$work/nchan.log" 2>&1 &
  nchan_pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$nport/health" >/dev/null 2>&1 && break; sleep 0.1; done
  if timeout 60 "$bench_bin" --scenario unicast --connections 20 --users 7 --rate 100 --duration 2 --warmup 0.5 \
       --target "ws://127.0.0.1:$nport/sub/{user}" --push-url "http://127.0.0.1:$nport/pub/{user}" \
       --no-register --push-body raw --metrics-url none --server-pid "$nchan_pid" \
       --out "$work/nchan_unicast.json" >/dev/null 2>"$work/nchan_unicast.err" &&
     "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); f=d["figures"]
sys.exit(0 if d["ok"] and f["deliveries_received"] == f["deliveries_expected"] > 0
         and f["push_replies_count_mismatch"] == 0 else 1)' "$work/nchan_unicast.json"; then
    echo "PASS nchan_unicast (per-user channels)"
    passed=$((passed + 1))
  else
    echo "FAIL nchan_unicast (per-user channels)"
    grep -v '^\[herald-bench\]' "$work/nchan_unicast.err" | sed 's/^/    /' || true
    failed=$((failed + 1))
  fi
  kill -TERM "$nchan_pid" 2>/dev/null || true
  wait "$nchan_pid" 2>/dev/null || true
else
  echo "SKIP nchan_unicast (nginx and libnginx-mod-nchan not installed)"
fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
