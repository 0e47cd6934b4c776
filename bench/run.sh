#!/usr/bin/env bash
# The standard benchmark suite: builds Release, then for every scenario and run starts a
# fresh herald, drives it with herald-bench (or wrk for the /push figure), and writes
# bench/results/<date>-<commit>.md with medians, targets, a latency plot and raw JSON.
#
# Every parameter can be overridden from the environment, e.g.
#   RUNS=5 UNICAST_RATE=8000 bench/run.sh
#   SKIP_BUILD=1 HERALD_BIN=/path/herald BENCH_BIN=/path/herald-bench bench/run.sh
#   SCENARIOS="unicast fanout" bench/run.sh
#   PEERS="" bench/run.sh            # Herald only (default PEERS="nchan gorilla", plus uws
#                                    # when UWS_BIN names a built bench/peers/uws binary)
# bench/sweep.sh sources this file for its functions (main runs only when executed).
# Load goes to 127.0.0.1 only; every run is bounded in time.
set -euo pipefail

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$bench_dir/.." && pwd)
: "${BUILD_DIR:=$repo/build-release}"
: "${JOBS:=1}"                       # we share 2 cores with whoever else is compiling
: "${HERALD_BIN:=$BUILD_DIR/gateway/herald}"
: "${BENCH_BIN:=$BUILD_DIR/bench/herald-bench}"
: "${RUNS:=3}"
: "${SCENARIOS:=idle fanout unicast wrk churn longpoll_memory longpoll_latency sse_memory sse_latency}"
: "${HERALD_THREADS:=2}"
: "${HERALD_ARGS:=}"                 # extra server flags, e.g. "--ping-interval 10"
: "${PORT:=}"
: "${IDLE_N:=15000}" "${IDLE_DURATION:=30}"      # > 25 s ping interval: heartbeats included
: "${FANOUT_N:=15000}" "${FANOUT_RATE:=5}" "${FANOUT_DURATION:=10}" "${FANOUT_API:=compat}"
: "${UNICAST_N:=15000}" "${UNICAST_USERS:=15000}" "${UNICAST_RATE:=4000}" "${UNICAST_DURATION:=10}"
: "${UNICAST_API:=compat}"
: "${CHURN_N:=1000}" "${CHURN_RATE:=100}" "${CHURN_PUSH_RATE:=200}" "${CHURN_DURATION:=10}"
: "${LONGPOLL_MEMORY_N:=10000}" "${LONGPOLL_N:=1000}" "${LONGPOLL_RATE:=2}" "${LONGPOLL_DURATION:=10}"
: "${LONGPOLL_TIMEOUT:=30}"          # timeout= of each poll (the server allows 1..60 s)
: "${SSE_MEMORY_N:=10000}" "${SSE_N:=1000}" "${SSE_RATE:=2}" "${SSE_DURATION:=10}"
: "${MESSAGE_SIZE:=64}"
: "${WRK_THREADS:=1}" "${WRK_CONNECTIONS:=64}" "${WRK_DURATION:=10}"   # 1 thread: issue 8's table
: "${BENCH_ARGS:=}"                  # extra herald-bench flags for every scenario
: "${RESULTS_DIR:=$bench_dir/results}"
# Same-run peers (bench/peers/<peer>/run.sh PORT), each started fresh per run right after
# Herald's run of the same scenario and driven by the same herald-bench command (wrk:
# the same wrk command at the peer's publish URL); only the scenarios a peer can serve
# (peer_scenarios). "" = Herald only. uws needs UWS_BIN (bench/peers/uws/README.md).
: "${UWS_BIN:=}"
if [[ -z ${PEERS+set} ]]; then PEERS="nchan gorilla${UWS_BIN:+ uws}"; fi  # PEERS="" means none

py=/usr/bin/python3
[[ -x $py ]] || py=python3
log() { echo "[run.sh] $*" >&2; }

# The suite also needs wrk (the /push figure) and gnuplot (the plot), which
# the test set-up does not install: get them from Debian when missing.
ensure_tools() {
  local missing=()
  if [[ ${need_wrk:-1} == 1 ]]; then command -v wrk >/dev/null || missing+=(wrk); fi
  if [[ ${need_gnuplot:-1} == 1 ]]; then command -v gnuplot >/dev/null || missing+=(gnuplot-nox); fi
  if [[ " $PEERS " == *" nchan "* ]]; then
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    [[ -f /usr/lib/nginx/modules/ngx_nchan_module.so ]] || missing+=(libnginx-mod-nchan)
  fi
  if [[ " $PEERS " == *" uws "* && ! -x $UWS_BIN ]]; then
    log "PEERS has uws but UWS_BIN ('$UWS_BIN') is not an executable: see bench/peers/uws/README.md"
    exit 1
  fi
  if [[ " $PEERS " == *" gorilla "* ]]; then
    command -v go >/dev/null || missing+=(golang-go)
    [[ -d /usr/share/gocode/src/github.com/gorilla/websocket ]] || missing+=(golang-github-gorilla-websocket-dev)
  fi
  [[ ${#missing[@]} -eq 0 ]] && return
  log "installing ${missing[*]}"
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}

build() {
  [[ ${SKIP_BUILD:-0} == 1 ]] && return
  log "building Release in $BUILD_DIR (-j$JOBS)"
  cmake -S "$repo" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j "$JOBS" --target herald herald-bench
}

free_port() {
  if [[ -n $PORT ]]; then echo "$PORT"; return; fi
  "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

herald_pid=""
start_herald() {  # [more herald flags, after $HERALD_ARGS]
  port=$(free_port)
  # shellcheck disable=SC2086
  "$HERALD_BIN" --listen "127.0.0.1:$port" --threads "$HERALD_THREADS" --log-level warn $HERALD_ARGS "$@" \
    >>"$out_dir/herald.log" 2>&1 &
  herald_pid=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/metrics" >/dev/null 2>&1 && return 0
    kill -0 "$herald_pid" 2>/dev/null || { log "herald failed to start"; return 1; }
    sleep 0.1
  done
  log "herald did not answer /metrics within 10 s"
  return 1
}

stop_herald() {
  [[ -z $herald_pid ]] && return
  kill -TERM "$herald_pid" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$herald_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$herald_pid" 2>/dev/null || true
  wait "$herald_pid" 2>/dev/null || true
  herald_pid=""
}

# --- same-run peers ---------------------------------------------------------------
peer_pid="" peer_pids="" peer_dir=""
peer_scenarios() {
  case $1 in
    gorilla|uws|nchan) echo "idle fanout unicast wrk" ;;
  esac
}

serves() {  # peer scenario
  [[ " $(peer_scenarios "$1") " == *" $2 "* ]]
}

start_peer() {  # peer
  port=$(free_port)
  local log="$out_dir/peers/$1.log"
  mkdir -p "$out_dir/peers"
  case $1 in
    nchan)
      peer_dir=$(mktemp -d "${TMPDIR:-/tmp}/herald-peer-nchan.XXXXXX")
      NCHAN_DIR=$peer_dir "$bench_dir/peers/nchan/run.sh" "$port" >>"$log" 2>&1 & ;;
    gorilla)
      GORILLA_BIN=$gorilla_bin "$bench_dir/peers/gorilla/run.sh" "$port" >>"$log" 2>&1 & ;;
    uws)
      UWS_BIN=$UWS_BIN "$bench_dir/peers/uws/run.sh" "$port" >>"$log" 2>&1 & ;;
    *) log "unknown peer $1"; return 1 ;;
  esac
  peer_pid=$!  # the peer's run.sh execs the server: this is the server (nginx: the master)
  for _ in $(seq 100); do
    if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
      # CPU and RSS of every process of the server: nginx's master and its workers.
      local children
      children=$(cat /proc/"$peer_pid"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . | paste -sd, || true)
      peer_pids=$peer_pid${children:+,$children}
      # nginx: wait until both workers exist, or their CPU would be missed.
      if [[ $1 != nchan || $(tr ',' '\n' <<<"$children" | grep -c .) -ge 2 ]]; then return 0; fi
    fi
    kill -0 "$peer_pid" 2>/dev/null || { log "peer $1 failed to start (see $log)"; peer_pid=""; return 1; }
    sleep 0.1
  done
  log "peer $1 did not answer /health within 10 s"
  return 1
}

stop_peer() {
  [[ -z $peer_pid ]] && return
  kill -TERM "$peer_pid" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$peer_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$peer_pid" 2>/dev/null || true
  wait "$peer_pid" 2>/dev/null || true
  local p  # nginx workers outlive a killed master: end them by their recorded pids
  for p in ${peer_pids//,/ }; do kill -KILL "$p" 2>/dev/null || true; done
  if [[ -n $peer_dir ]]; then
    [[ -s $peer_dir/error.log ]] && cat "$peer_dir/error.log" >>"$out_dir/peers/nchan-error.log"
    rm -rf "$peer_dir"
  fi
  peer_pid="" peer_pids="" peer_dir=""
}

# How herald-bench addresses a peer (the scenario's own flags come first; later flags win).
peer_args() {  # peer scenario
  local ws="ws://127.0.0.1:$port" http="http://127.0.0.1:$port"
  case $1 in
    gorilla|uws)  # the compat API, with {"op":"ping"} answered: registration is acknowledged
      echo "--api compat --target $ws/ws --push-url $http/push --metrics-url none" ;;
    nchan)
      # One channel per user, named in the URL (/sub/u17, /pub/u17; fanout: "fan"), so
      # no frame is sent after the upgrade and the ramp is not acknowledged; the push
      # body is the message itself, which is what Nchan delivers.
      echo "--api compat --target $ws/sub/{user} --push-url $http/pub/{user} --no-register --push-body raw --metrics-url none" ;;
  esac
}

# Where wrk pushes for nobody: Herald's and the compat peers' /push, Nchan's /pub/<id>
# of a channel nobody subscribes to.
wrk_url() {  # server
  case $1 in
    nchan) echo "http://127.0.0.1:$port/pub/wrk-nobody" ;;
    *) echo "http://127.0.0.1:$port/push" ;;
  esac
}

run_peer_bench() {  # peer scenario run
  local json="$out_dir/peers/$1/$2-$3.json"
  mkdir -p "$out_dir/peers/$1"
  if [[ $2 == wrk ]]; then run_wrk "$3" "$(wrk_url "$1")" "$out_dir/peers/$1" "$peer_pids"; return; fi
  # shellcheck disable=SC2046,SC2086
  timeout 900 "$BENCH_BIN" $(scenario_args "$2") --message-size "$MESSAGE_SIZE" \
    $(peer_args "$1" "$2") --server-pids "$peer_pids" --label "$1 run $3" $BENCH_ARGS \
    --out "$json" >/dev/null || log "$1 $2 run $3 reported failures (see $json)"
}

trap 'stop_herald; stop_peer' EXIT

scenario_args() {
  case $1 in
    idle) echo "--scenario idle --connections $IDLE_N --duration $IDLE_DURATION" ;;
    fanout) echo "--scenario fanout --api $FANOUT_API --connections $FANOUT_N --rate $FANOUT_RATE --duration $FANOUT_DURATION" ;;
    unicast) echo "--scenario unicast --api $UNICAST_API --connections $UNICAST_N --users $UNICAST_USERS --rate $UNICAST_RATE --duration $UNICAST_DURATION" ;;
    churn) echo "--scenario churn --connections $CHURN_N --churn-rate $CHURN_RATE --rate $CHURN_PUSH_RATE --duration $CHURN_DURATION" ;;
    # Memory per held request at the large N (no publishes), latency at the small one.
    longpoll_memory) echo "--scenario longpoll --memory-only --connections $LONGPOLL_MEMORY_N --poll-timeout $LONGPOLL_TIMEOUT" ;;
    longpoll_latency) echo "--scenario longpoll --connections $LONGPOLL_N --rate $LONGPOLL_RATE --duration $LONGPOLL_DURATION --poll-timeout $LONGPOLL_TIMEOUT" ;;
    sse_memory) echo "--scenario sse --memory-only --connections $SSE_MEMORY_N" ;;
    sse_latency) echo "--scenario sse --connections $SSE_N --rate $SSE_RATE --duration $SSE_DURATION" ;;
  esac
}

run_bench() {  # scenario run  (report.py groups runs by the file name before "-<run>")
  local json="$out_dir/$1-$2.json"
  # shellcheck disable=SC2046,SC2086
  timeout 900 "$BENCH_BIN" $(scenario_args "$1") --message-size "$MESSAGE_SIZE" \
    --target "ws://127.0.0.1:$port/ws" --server-pid "$herald_pid" --label "run $2" $BENCH_ARGS \
    --out "$json" >/dev/null || log "$1 run $2 reported failures (see $json)"
}

# CPU seconds (user+sys) of a comma list of pids, from /proc/<pid>/stat; "" if unreadable.
cpu_of_pids() {  # pids
  local total=0 p f
  for p in ${1//,/ }; do
    f=$(cut -d')' -f2- "/proc/$p/stat" 2>/dev/null) || { echo ""; return; }
    total=$((total + $(awk '{print $12 + $13}' <<<"$f")))
  done
  echo "$total $(getconf CLK_TCK)" | awk '{printf "%.3f", $1 / $2}'
}

# wrk has no JSON output: its summary line is turned into a report of the same shape,
# with the server's CPU (all its processes) over the wrk run.
run_wrk() {  # run [url] [dir] [server pids]
  local url=${2:-http://127.0.0.1:$port/push} dir=${3:-$out_dir} pids=${4:-$herald_pid}
  local text="$dir/wrk_push-$1.txt" cpu0 cpu1
  mkdir -p "$dir"
  cpu0=$(cpu_of_pids "$pids")
  wrk -t "$WRK_THREADS" -c "$WRK_CONNECTIONS" -d "${WRK_DURATION}s" -s "$bench_dir/wrk_push.lua" \
    "$url" >"$text" 2>&1 || true
  cpu1=$(cpu_of_pids "$pids")
  "$py" - "$text" "$dir/wrk_push-$1.json" "$WRK_THREADS" "$WRK_CONNECTIONS" "$WRK_DURATION" \
    "$commit" "$HERALD_THREADS" "$url" "$cpu0" "$cpu1" <<'PY'
import json, os, re, sys
text, out, threads, conns, duration, commit, herald_threads, url, cpu0, cpu1 = sys.argv[1:]
raw = open(text).read()
m = re.search(r"wrk_summary (.*)", raw)
fields = dict(kv.split("=") for kv in m.group(1).split()) if m else {}
num = {k: int(v) for k, v in fields.items()}
errors = sum(v for k, v in num.items() if k.startswith("errors_"))
failures = [] if m else ["wrk produced no summary: " + raw[-300:]]
if errors:
    failures.append(f"{errors} wrk errors (connect/read/write/timeout/non-2xx): {fields}")
rps = num["requests"] / (num["duration_us"] / 1e6) if m and num.get("duration_us") else None
cpu = float(cpu1) - float(cpu0) if cpu0 and cpu1 else None
u = os.uname()
json.dump({"tool": "wrk", "scenario": "wrk_push", "ok": not failures, "failures": failures, "warnings": [],
           "parameters": {"wrk_threads": int(threads), "wrk_connections": int(conns),
                          "duration_s": float(duration), "herald_threads": int(herald_threads), "url": url},
           "machine": {"cores": os.cpu_count(), "kernel": f"{u.sysname} {u.release}", "git_commit": commit},
           "figures": {"push_requests_per_s": rps, "p50_us": num.get("p50_us"), "p99_us": num.get("p99_us"),
                       "server_cpu_seconds_total": cpu,
                       "server_cpu_us_per_request": cpu * 1e6 / num["requests"] if cpu is not None and m and num["requests"] else None}},
          open(out, "w"))
PY
}

# The commit measured: short hash, "-dirty" when the working tree differs from it.
git_commit() {
  local c
  c=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
  [[ -n $(git -C "$repo" status --porcelain 2>/dev/null) ]] && c="$c-dirty"
  echo "$c"
}

build_peers() {  # before anything is measured
  if [[ " $PEERS " == *" gorilla "* ]]; then
    gorilla_bin=${GORILLA_BIN:-${TMPDIR:-/tmp}/herald-peer-gorilla/gorilla-peer}  # rebuilt when main.go is newer
    mkdir -p "$out_dir/peers"
    GORILLA_BIN=$gorilla_bin BUILD_ONLY=1 "$bench_dir/peers/gorilla/run.sh" 0 >>"$out_dir/peers/gorilla.log" 2>&1 ||
      { log "gorilla peer does not build (see $out_dir/peers/gorilla.log)"; exit 1; }
  fi
  return 0
}

main() {
  ensure_tools
  build
  [[ -x $HERALD_BIN ]] || { log "no herald binary at $HERALD_BIN"; exit 1; }
  [[ -x $BENCH_BIN ]] || { log "no herald-bench binary at $BENCH_BIN"; exit 1; }
  commit=$(git_commit)
  local stamp; stamp="$(date +%Y-%m-%d)-$commit"
  [[ -e $RESULTS_DIR/$stamp.md ]] && stamp="$stamp-$(date +%H%M%S)"
  out_dir="$RESULTS_DIR/$stamp"
  mkdir -p "$out_dir"
  log "results in $out_dir"
  build_peers
  for scenario in $SCENARIOS; do
    for run in $(seq "$RUNS"); do
      log "$scenario run $run/$RUNS"
      start_herald
      if [[ $scenario == wrk ]]; then run_wrk "$run"; else run_bench "$scenario" "$run"; fi
      stop_herald
      for peer in $PEERS; do
        serves "$peer" "$scenario" || continue
        log "$scenario run $run/$RUNS: peer $peer"
        if start_peer "$peer"; then run_peer_bench "$peer" "$scenario" "$run"; fi
        stop_peer
      done
    done
  done
  local peer_opts=()
  [[ -d $out_dir/peers ]] && peer_opts=(--peers "$out_dir/peers")
  "$py" "$bench_dir/report.py" "$out_dir" "$RESULTS_DIR/$stamp.md" --plot "$out_dir/latency.png" "${peer_opts[@]}"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
