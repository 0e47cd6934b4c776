#!/usr/bin/env bash
# The fleet figures (issue 7): a 3-node Herald fleet on one nats-server with JetStream,
# against a standalone node (no --bus), same session, interleaved, RUNS runs each:
#
#   latency   unicast push->receive at LAT_RATE/s: standalone | same-node (receivers on
#             n1, pushes to n1) | cross-node (receivers on n2, pushes to n1)
#   fanout    FAN_N connections of one user: on one standalone node | round-robin over
#             n1,n2,n3 (herald-bench --targets); CPU summed over the heralds, nats apart
#   wrk       /push requests/s, no receiver (as run.sh): standalone | n1 of the fleet
#   recovery  REC_CLIENTS native subscribers on n3, a publish stream to n1, kill -9 n3,
#             clients resubscribe on n1/n2 with since/epoch (fleet_recovery.py)
#
# Writes bench/results/<date>-<commit>[-dirty]-fleet.md and the raw JSON beside it in
# bench/results/<date>-<commit>[-dirty]-fleet/. Every process is started fresh per run
# (a new nats-server store each time) on free loopback ports; every step is bounded in
# time. Overrides come from the environment, e.g.
#   RUNS=1 SCENARIOS="latency" bench/fleet.sh
#   SKIP_BUILD=1 HERALD_BIN=/path/herald BENCH_BIN=/path/herald-bench bench/fleet.sh
set -euo pipefail

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$bench_dir/.." && pwd)
# The command as given (environment overrides included), for the report.
given_env=""
for _v in BUILD_DIR JOBS HERALD_BIN BENCH_BIN NATS_BIN RUNS SCENARIOS NODES HERALD_THREADS HERALD_ARGS \
          LAT_N LAT_USERS LAT_RATE LAT_DURATION LAT_API FAN_N FAN_RATE FAN_DURATION FAN_API \
          WRK_THREADS WRK_CONNECTIONS WRK_DURATION REC_CLIENTS REC_RATE REC_BEFORE REC_AFTER REC_DRAIN \
          REC_JITTER REC_PROCS REC_HISTORY_SIZE MESSAGE_SIZE BENCH_ARGS RESULTS_DIR SKIP_BUILD HERALD_BUILT_FROM; do
  [[ -n ${!_v+x} ]] && given_env+="$_v=$(printf %q "${!_v}") "
done
: "${BUILD_DIR:=$repo/build-release}"
: "${JOBS:=1}"
: "${HERALD_BIN:=$BUILD_DIR/gateway/herald}"
: "${BENCH_BIN:=$BUILD_DIR/bench/herald-bench}"
: "${NATS_BIN:=nats-server}"
: "${RUNS:=3}"
: "${SCENARIOS:=latency fanout wrk recovery}"
: "${NODES:=3}"
: "${HERALD_THREADS:=2}"
# Shutdown only: no readiness grace or spread when a run's processes are stopped.
: "${HERALD_ARGS:=--drain-grace 0 --drain-spread 0}"
: "${LAT_N:=3000}" "${LAT_USERS:=3000}" "${LAT_RATE:=1000}" "${LAT_DURATION:=10}" "${LAT_API:=compat}"
: "${FAN_N:=15000}" "${FAN_RATE:=5}" "${FAN_DURATION:=10}" "${FAN_API:=compat}"
: "${WRK_THREADS:=2}" "${WRK_CONNECTIONS:=64}" "${WRK_DURATION:=10}"
: "${REC_CLIENTS:=1000}" "${REC_RATE:=10}" "${REC_BEFORE:=3}" "${REC_AFTER:=10}" "${REC_DRAIN:=3}"
: "${REC_JITTER:=0.1}" "${REC_PROCS:=2}"
: "${REC_HISTORY_SIZE:=100}"         # recovery replays at most --history-size messages
: "${MESSAGE_SIZE:=64}"
: "${BENCH_ARGS:=}"
: "${RESULTS_DIR:=$bench_dir/results}"
: "${HERALD_BUILT_FROM:=the working tree}"  # free text for the report, e.g. "git archive a1cf3b4"

py=/usr/bin/python3
[[ -x $py ]] || py=python3
log() { echo "[fleet.sh] $(date +%H:%M:%S) $*" >&2; }

build() {
  [[ ${SKIP_BUILD:-0} == 1 ]] && return
  log "building Release in $BUILD_DIR (-j$JOBS)"
  cmake -S "$repo" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j "$JOBS" --target herald herald-bench
}

free_port() {
  "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cpu_ticks() {  # utime + stime of a pid, in clock ticks (0 when it is gone)
  if [[ -r /proc/$1/stat ]]; then
    sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
  else
    echo 0
  fi
}

# ---------------------------------------------------------------- processes
# Only processes started here are ever stopped, by their pid.
declare -A node_pid=() node_port=()
nats_pid="" nats_port="" nats_dir=""
started_pids=()

start_nats() {
  nats_dir=$(mktemp -d "$work/nats.XXXXXX")
  local logf="$out_dir/nats-$tag.log"
  for _attempt in 1 2 3; do
    nats_port=$(free_port)
    "$NATS_BIN" -js -sd "$nats_dir" -p "$nats_port" -a 127.0.0.1 >"$logf" 2>&1 &
    nats_pid=$!
    started_pids+=("$nats_pid")
    for _ in $(seq 100); do
      grep -q "Server is ready" "$logf" 2>/dev/null && kill -0 "$nats_pid" 2>/dev/null && return 0
      kill -0 "$nats_pid" 2>/dev/null || break
      sleep 0.1
    done
    log "nats-server did not start on $nats_port (attempt $_attempt)"
    kill -KILL "$nats_pid" 2>/dev/null || true
  done
  return 1
}

start_node() {  # name, then extra herald flags
  local name=$1; shift
  local logf="$out_dir/herald-$tag-$name.log"
  for _attempt in 1 2 3; do
    local port; port=$(free_port)
    # shellcheck disable=SC2086
    "$HERALD_BIN" --listen "127.0.0.1:$port" --threads "$HERALD_THREADS" --log-level warn \
      "$@" $HERALD_ARGS >>"$logf" 2>&1 &
    local pid=$!
    started_pids+=("$pid")
    for _ in $(seq 100); do
      # Our pid must still be alive: a port taken meanwhile makes herald exit at once,
      # and the /metrics answer would then come from someone else's process.
      if curl -sf "http://127.0.0.1:$port/metrics" >/dev/null 2>&1 && kill -0 "$pid" 2>/dev/null; then
        sleep 0.2
        if kill -0 "$pid" 2>/dev/null; then
          node_pid[$name]=$pid node_port[$name]=$port
          echo "$name pid=$pid: $HERALD_BIN --listen 127.0.0.1:$port --threads $HERALD_THREADS --log-level warn $* $HERALD_ARGS" \
            >>"$out_dir/commands-$tag.txt"
          return 0
        fi
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    log "herald $name did not start on $port (attempt $_attempt)"
    kill -KILL "$pid" 2>/dev/null || true
  done
  return 1
}

metric() {  # port name -> value (empty when absent)
  curl -sf "http://127.0.0.1:$1/metrics" 2>/dev/null | awk -v n="$2" '$1 == n {print $2; exit}'
}

start_fleet() {  # extra herald flags for every node
  start_nats || return 1
  echo "nats pid=$nats_pid: $NATS_BIN -js -sd $nats_dir -p $nats_port -a 127.0.0.1" >>"$out_dir/commands-$tag.txt"
  for i in $(seq "$NODES"); do
    start_node "n$i" --bus "nats://127.0.0.1:$nats_port" --node-name "n$i" "$@" || return 1
  done
  # The fleet is formed when every node is on the bus and sees every other (bounded).
  local t0=$SECONDS
  while (( SECONDS - t0 < 30 )); do
    local formed=1
    for i in $(seq "$NODES"); do
      [[ $(metric "${node_port[n$i]}" herald_bus_connected) == 1 ]] || formed=0
      [[ $(metric "${node_port[n$i]}" herald_fleet_nodes) == "$NODES" ]] || formed=0
    done
    if [[ $formed == 1 ]]; then
      log "fleet formed in $((SECONDS - t0)) s"
      return 0
    fi
    sleep 0.2
  done
  log "fleet did not form within 30 s"
  return 1
}

stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_all() {
  # Heralds first (a nats-server going away first makes them log a bus loss), then nats.
  local name
  # Each node's counters as the run left them (bus order gaps, partial answers, drops ...).
  for name in "${!node_pid[@]}"; do
    curl -sf -m 5 "http://127.0.0.1:${node_port[$name]}/metrics" >"$out_dir/metrics-$tag-$name.txt" 2>/dev/null || true
  done
  # A marker in each log, so the report tells lines logged at shutdown from the run's.
  for name in "${!node_pid[@]}"; do
    echo "### fleet.sh: stopping (SIGTERM) $(date -u +%H:%M:%S.%N)" >>"$out_dir/herald-$tag-$name.log"
  done
  for name in "${!node_pid[@]}"; do kill -TERM "${node_pid[$name]}" 2>/dev/null || true; done
  for name in "${!node_pid[@]}"; do stop_pid "${node_pid[$name]}"; done
  node_pid=() node_port=()
  if [[ -n $nats_pid ]]; then stop_pid "$nats_pid"; nats_pid=""; fi
  [[ -n $nats_dir ]] && rm -rf "$nats_dir"
  nats_dir=""
  local pid
  for pid in "${started_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  started_pids=()
}

cleanup() {
  stop_all
  [[ -n ${work:-} ]] && rm -rf "$work"
}
trap cleanup EXIT

fleet_pids() {
  local out="" i
  for i in $(seq "$NODES"); do out+="${out:+,}${node_pid[n$i]}"; done
  echo "$out"
}
fleet_urls() {  # scheme path
  local out="" i
  for i in $(seq "$NODES"); do out+="${out:+,}$1://127.0.0.1:${node_port[n$i]}$2"; done
  echo "$out"
}

# ---------------------------------------------------------------- scenarios

bench() {  # json-file, then herald-bench arguments
  local json=$1; shift
  echo "herald-bench $* --message-size $MESSAGE_SIZE $BENCH_ARGS --out $json" >>"$out_dir/commands-$tag.txt"
  # shellcheck disable=SC2086
  timeout 600 "$BENCH_BIN" "$@" --message-size "$MESSAGE_SIZE" $BENCH_ARGS --out "$json" \
    >/dev/null 2>>"$out_dir/bench-$tag.log" || log "$tag reported failures (see $json)"
}

push_path() { [[ $1 == compat ]] && echo /push || echo /api/v1/push; }

latency_args() {
  echo "--scenario unicast --api $LAT_API --connections $LAT_N --users $LAT_USERS --rate $LAT_RATE --duration $LAT_DURATION"
}

run_latency() {  # run
  local r=$1 pp; pp=$(push_path "$LAT_API")
  tag="latency_standalone-$r"; log "$tag"
  start_node s
  # shellcheck disable=SC2046
  bench "$out_dir/$tag.json" $(latency_args) --target "ws://127.0.0.1:${node_port[s]}/ws" \
    --server-pid "${node_pid[s]}" --label "standalone run $r"
  stop_all
  local variant recv
  for variant in same cross; do
    tag="latency_$variant-$r"; log "$tag"
    if start_fleet; then
      [[ $variant == same ]] && recv=n1 || recv=n2
      # shellcheck disable=SC2046
      bench "$out_dir/$tag.json" $(latency_args) --target "ws://127.0.0.1:${node_port[$recv]}/ws" \
        --push-url "http://127.0.0.1:${node_port[n1]}$pp" --metrics-urls "$(fleet_urls http /metrics)" \
        --server-pids "$(fleet_pids)" --extra-pids "$nats_pid" --label "$variant-node run $r"
    fi
    stop_all
  done
}

fanout_args() {
  echo "--scenario fanout --api $FAN_API --connections $FAN_N --rate $FAN_RATE --duration $FAN_DURATION"
}

run_fanout() {
  local r=$1
  tag="fanout_standalone-$r"; log "$tag"
  start_node s
  # shellcheck disable=SC2046
  bench "$out_dir/$tag.json" $(fanout_args) --target "ws://127.0.0.1:${node_port[s]}/ws" \
    --server-pid "${node_pid[s]}" --label "standalone run $r"
  stop_all
  tag="fanout_fleet-$r"; log "$tag"
  if start_fleet; then
    # shellcheck disable=SC2046
    bench "$out_dir/$tag.json" $(fanout_args) --targets "$(fleet_urls ws /ws)" \
      --server-pids "$(fleet_pids)" --extra-pids "$nats_pid" --label "fleet run $r"
  fi
  stop_all
}

# wrk has no JSON output: its summary line and the CPU read around it become a report.
wrk_once() {  # json, url, herald pids (comma), nats pid or ""
  local json=$1 url=$2 pids=$3 npid=$4 text="${1%.json}.txt"
  local before=() after=() p
  IFS=, read -r -a plist <<<"$pids"
  for p in "${plist[@]}"; do before+=("$(cpu_ticks "$p")"); done
  local nb=0; [[ -n $npid ]] && nb=$(cpu_ticks "$npid")
  echo "wrk -t $WRK_THREADS -c $WRK_CONNECTIONS -d ${WRK_DURATION}s -s $bench_dir/wrk_push.lua $url" \
    >>"$out_dir/commands-$tag.txt"
  timeout $((WRK_DURATION + 60)) wrk -t "$WRK_THREADS" -c "$WRK_CONNECTIONS" -d "${WRK_DURATION}s" \
    -s "$bench_dir/wrk_push.lua" "$url" >"$text" 2>&1 || true
  for p in "${plist[@]}"; do after+=("$(cpu_ticks "$p")"); done
  local na=0; [[ -n $npid ]] && na=$(cpu_ticks "$npid")
  "$py" - "$text" "$json" "$tag" "${before[*]}" "${after[*]}" "$nb" "$na" "$(getconf CLK_TCK)" "$npid" "$url" <<'PY'
import json, re, sys
text, out, tag, before, after, nb, na, hz, npid, url = sys.argv[1:]
raw = open(text).read()
m = re.search(r"wrk_summary (.*)", raw)
num = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())} if m else {}
errors = sum(v for k, v in num.items() if k.startswith("errors_"))
failures = [] if m else ["wrk produced no summary: " + raw[-300:]]
if errors:
    failures.append(f"{errors} wrk errors (connect/read/write/timeout/non-2xx): {num}")
secs = num.get("duration_us", 0) / 1e6
reqs = num.get("requests", 0)
hz = int(hz)
herald_cpu = [(int(a) - int(b)) / hz for a, b in zip(after.split(), before.split())]
nats_cpu = (int(na) - int(nb)) / hz if npid else None
f = {"push_requests_per_s": reqs / secs if secs else None, "p50_us": num.get("p50_us"), "p99_us": num.get("p99_us"),
     "requests": reqs, "errors": errors, "errors_status": num.get("errors_status"),
     "server_cpu_seconds": sum(herald_cpu), "server_cpu_us_per_request": sum(herald_cpu) * 1e6 / reqs if reqs else None,
     "extra_cpu_seconds": nats_cpu,
     "extra_cpu_us_per_request": nats_cpu * 1e6 / reqs if reqs and nats_cpu is not None else None}
for i, c in enumerate(herald_cpu):
    f[f"server{i}_cpu_seconds"] = c
json.dump({"tool": "wrk", "scenario": tag.rsplit("-", 1)[0], "ok": not failures, "failures": failures,
           "parameters": {"url": url}, "figures": f}, open(out, "w"))
PY
}

run_wrk() {
  local r=$1
  tag="wrk_standalone-$r"; log "$tag"
  start_node s
  wrk_once "$out_dir/$tag.json" "http://127.0.0.1:${node_port[s]}/push" "${node_pid[s]}" ""
  stop_all
  tag="wrk_fleet-$r"; log "$tag"
  if start_fleet; then
    wrk_once "$out_dir/$tag.json" "http://127.0.0.1:${node_port[n1]}/push" "$(fleet_pids)" "$nats_pid"
  fi
  stop_all
}

run_recovery() {
  local r=$1
  tag="recovery-$r"; log "$tag"
  if start_fleet --history-size "$REC_HISTORY_SIZE"; then
    local victim=n$NODES alt="" survivors="" i
    for i in $(seq $((NODES - 1))); do
      alt+="${alt:+,}ws://127.0.0.1:${node_port[n$i]}/ws"
      survivors+="${survivors:+,}${node_pid[n$i]}"
    done
    local args=(--victim-url "ws://127.0.0.1:${node_port[$victim]}/ws" --victim-pid "${node_pid[$victim]}"
                --alt-urls "$alt" --publish-url "http://127.0.0.1:${node_port[n1]}"
                --survivor-pids "$survivors" --nats-pid "$nats_pid" --fleet-size "$NODES"
                --clients "$REC_CLIENTS" --rate "$REC_RATE" --before "$REC_BEFORE" --after "$REC_AFTER"
                --drain "$REC_DRAIN" --jitter "$REC_JITTER" --procs "$REC_PROCS" --label "run $r"
                --out "$out_dir/$tag.json")
    echo "fleet_recovery.py ${args[*]}" >>"$out_dir/commands-$tag.txt"
    timeout 400 "$py" "$bench_dir/fleet_recovery.py" "${args[@]}" 2>>"$out_dir/bench-$tag.log" ||
      log "$tag reported failures (see $out_dir/$tag.json)"
    { wait "${node_pid[$victim]}"; } 2>/dev/null || true  # reap the killed node
    unset "node_pid[$victim]"
  fi
  stop_all
}

# ---------------------------------------------------------------- main

main() {
  build
  [[ -x $HERALD_BIN ]] || { log "no herald binary at $HERALD_BIN"; exit 1; }
  [[ -x $BENCH_BIN ]] || { log "no herald-bench binary at $BENCH_BIN"; exit 1; }
  command -v "$NATS_BIN" >/dev/null || { log "no $NATS_BIN (apt-get install nats-server)"; exit 1; }
  [[ $SCENARIOS != *wrk* ]] || command -v wrk >/dev/null || { log "no wrk (apt-get install wrk)"; exit 1; }
  local commit dirty=""
  commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
  [[ -n $(git -C "$repo" status --porcelain 2>/dev/null) ]] && dirty="-dirty"
  local stamp; stamp="$(date +%Y-%m-%d)-$commit$dirty-fleet"
  [[ -e $RESULTS_DIR/$stamp.md ]] && stamp="$stamp-$(date +%H%M%S)"
  out_dir="$RESULTS_DIR/$stamp"
  mkdir -p "$out_dir"
  work=$(mktemp -d /tmp/herald-fleet.XXXXXX)
  log "results in $out_dir"
  # What produced the figures: the command, every parameter, the tree, the machine.
  {
    echo "command=${given_env}bench/fleet.sh"
    echo "commit=$commit$dirty"
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc=$(nproc)"
    echo "kernel=$(uname -sr)"
    echo "cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "nats_version=$("$NATS_BIN" --version 2>&1 | head -1)"
    echo "wrk_version=$(wrk -v 2>&1 | head -1 || true)"
    echo "python_websockets=$("$py" -c 'import websockets; print(websockets.__version__)' 2>/dev/null)"
    echo "herald_bin=$HERALD_BIN"
    echo "herald_built_from=$HERALD_BUILT_FROM"
    echo "bench_bin=$BENCH_BIN"
    for v in RUNS SCENARIOS NODES HERALD_THREADS HERALD_ARGS LAT_N LAT_USERS LAT_RATE LAT_DURATION LAT_API \
             FAN_N FAN_RATE FAN_DURATION FAN_API WRK_THREADS WRK_CONNECTIONS WRK_DURATION REC_CLIENTS REC_RATE \
             REC_BEFORE REC_AFTER REC_DRAIN REC_JITTER REC_PROCS REC_HISTORY_SIZE MESSAGE_SIZE BENCH_ARGS; do
      echo "$v=${!v}"
    done
    git -C "$repo" status --porcelain 2>/dev/null | sed 's/^/dirty_path=/'
  } >"$out_dir/meta.txt"
  for run in $(seq "$RUNS"); do
    for scenario in $SCENARIOS; do
      "run_$scenario" "$run"
    done
  done
  "$py" "$bench_dir/fleet_report.py" "$out_dir" "$RESULTS_DIR/$stamp.md"
  log "report: $RESULTS_DIR/$stamp.md"
}

main "$@"
