#!/usr/bin/env bash
# Sweeps: how the cost grows with the work, for Herald and every same-run peer (issue 8,
# section 3). Over connections (SWEEP_CONNS: idle RSS per connection, CPU per fan-out
# delivery, unicast CPU per push and push->receive p50/p99 at SWEEP_UNICAST_RATE) and over
# unicast push rates at SWEEP_RATE_N connections (SWEEP_RATES, up to where the client
# saturates: sweep_report.py finds and states it), plus `/push` requests/s with wrk
# (1 thread, 64 connections) against each server's publish URL. Every point is run
# RUNS times; in each run every point runs Herald and then each peer, fresh, so drift
# and neighbours hit all of them alike. Medians, ratios and SVG plots go to
# bench/results/<date>-<commit>[-dirty]-sweep.md and beside it ...-sweep/ (raw JSON per
# point, meta.txt with every parameter, machine.tsv with the machine's CPU and load
# around every run).
#
#   bench/sweep.sh                                     # builds build-release, 3 runs
#   SKIP_BUILD=1 HERALD_BIN=… BENCH_BIN=… UWS_BIN=/work/peers/uws/uws-peer bench/sweep.sh
#   RUNS=1 SWEEP_CONNS="200 500" SWEEP_RATES="200 400" SWEEP_RATE_N=300 SWEEP_DURATION=2 bench/sweep.sh
#   SWEEP_PARTS="rates" bench/sweep.sh                 # only the rate sweep (conns rates wrk)
#   SWEEP_WAIT_LOAD=1.5 bench/sweep.sh                 # first wait (<= SWEEP_WAIT_MAX s) for a quiet machine
# The functions (servers, peers, herald-bench and wrk invocations) are run.sh's.
set -euo pipefail
sweep_bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=run.sh
source "$sweep_bench_dir/run.sh"

: "${SWEEP_PARTS:=conns rates wrk}"
: "${SWEEP_CONNS:=1000 5000 15000}"
: "${SWEEP_RATES:=500 1000 2000 4000 8000 16000}"
: "${SWEEP_RATE_N:=15000}"            # connections (= users) of the rate sweep
: "${SWEEP_UNICAST_RATE:=2000}"       # unicast pushes/s at each N of the connection sweep
: "${SWEEP_FANOUT_DELIVERIES:=30000}" # fan-out deliveries/s at each N: publishes/s = this / N
: "${SWEEP_DURATION:=5}"              # measured seconds of fanout and unicast points
: "${SWEEP_IDLE_DURATION:=5}"         # idle hold (RSS only: shorter than the ping interval)
: "${SWEEP_WAIT_LOAD:=}"              # wait until the 1-min load average is below this
: "${SWEEP_WAIT_MAX:=600}"

load1() { cut -d' ' -f1 /proc/loadavg; }
busy_jiffies() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }

wait_for_quiet() {
  [[ -z $SWEEP_WAIT_LOAD ]] && return
  local waited=0
  while awk -v l="$(load1)" -v t="$SWEEP_WAIT_LOAD" 'BEGIN{exit !(l >= t)}'; do
    ((waited >= SWEEP_WAIT_MAX)) && { log "load $(load1) still >= $SWEEP_WAIT_LOAD after ${waited}s: measuring anyway"; return; }
    log "load $(load1) >= $SWEEP_WAIT_LOAD, waiting ($waited s)"
    sleep 15
    waited=$((waited + 15))
  done
  log "load $(load1) < $SWEEP_WAIT_LOAD after ${waited}s"
}

# The points, as "name scenario n rate"; the unicast point of the connection sweep at
# SWEEP_RATE_N is the rate sweep's point of the same rate (listed once).
points() {
  local n r
  declare -A seen=()
  if [[ " $SWEEP_PARTS " == *" conns "* ]]; then
    for n in $SWEEP_CONNS; do
      echo "idle-n$n idle $n 0"
      echo "fanout-n$n fanout $n $(awk -v d="$SWEEP_FANOUT_DELIVERIES" -v n="$n" 'BEGIN{printf "%.6g", d / n}')"
      echo "unicast-n$n-r$SWEEP_UNICAST_RATE unicast $n $SWEEP_UNICAST_RATE"
      seen[unicast-n$n-r$SWEEP_UNICAST_RATE]=1
    done
  fi
  if [[ " $SWEEP_PARTS " == *" rates "* ]]; then
    for r in $SWEEP_RATES; do
      [[ -n ${seen[unicast-n$SWEEP_RATE_N-r$r]:-} ]] || echo "unicast-n$SWEEP_RATE_N-r$r unicast $SWEEP_RATE_N $r"
    done
  fi
  if [[ " $SWEEP_PARTS " == *" wrk "* ]]; then echo "wrk wrk 0 0"; fi
}

# Sets run.sh's scenario variables for one point.
configure_point() {  # scenario n rate
  case $1 in
    idle) IDLE_N=$2 IDLE_DURATION=$SWEEP_IDLE_DURATION ;;
    fanout) FANOUT_N=$2 FANOUT_RATE=$3 FANOUT_DURATION=$SWEEP_DURATION ;;
    unicast) UNICAST_N=$2 UNICAST_USERS=$2 UNICAST_RATE=$3 UNICAST_DURATION=$SWEEP_DURATION ;;
  esac
}

# One server's run of one point, with the machine's busy CPU and load around it.
measured() {  # point server run command...
  local point=$1 server=$2 run=$3 t0 b0 l0
  shift 3
  t0=$(date +%s.%N) b0=$(busy_jiffies) l0=$(load1)
  "$@" || true
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$point" "$server" "$run" \
    "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.3f", b - a}')" \
    "$(awk -v a="$b0" -v b="$(busy_jiffies)" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.3f", (b - a) / hz}')" \
    "$l0" "$(load1)" >>"$sweep_dir/machine.tsv"
}

run_point() {  # name scenario n rate run
  local name=$1 scenario=$2 run=$5 peer
  out_dir="$sweep_dir/$name"
  mkdir -p "$out_dir"
  configure_point "$2" "$3" "$4"
  log "$name run $run/$RUNS: herald"
  start_herald
  if [[ $scenario == wrk ]]; then measured "$name" herald "$run" run_wrk "$run"
  else measured "$name" herald "$run" run_bench "$scenario" "$run"; fi
  stop_herald
  for peer in $PEERS; do
    serves "$peer" "$scenario" || continue
    log "$name run $run/$RUNS: $peer"
    if start_peer "$peer"; then measured "$name" "$peer" "$run" run_peer_bench "$peer" "$scenario" "$run"; fi
    stop_peer
  done
}

write_meta() {
  {
    echo "command=bench/sweep.sh"
    echo "commit=$commit"
    echo "date=$(date -Is)"
    echo "machine=$(nproc) cores, $(uname -sr)"
    echo "load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "herald_bin=$HERALD_BIN ($("$HERALD_BIN" --version 2>&1 | head -1), built $(date -r "$HERALD_BIN" -Is))"
    echo "bench_bin=$BENCH_BIN"
    echo "peers=$PEERS"
    [[ -n $UWS_BIN ]] && echo "uws_bin=$UWS_BIN"
    local v
    for v in RUNS HERALD_THREADS HERALD_ARGS MESSAGE_SIZE BENCH_ARGS WRK_THREADS WRK_CONNECTIONS WRK_DURATION \
             SWEEP_PARTS SWEEP_CONNS SWEEP_RATES SWEEP_RATE_N SWEEP_UNICAST_RATE SWEEP_FANOUT_DELIVERIES \
             SWEEP_DURATION SWEEP_IDLE_DURATION SWEEP_WAIT_LOAD; do
      echo "$v=${!v}"
    done
    echo "nginx=$(/usr/sbin/nginx -v 2>&1 | head -1)"
    echo "go=$(go version 2>/dev/null || true)"
    git -C "$repo" status --porcelain 2>/dev/null | sed 's/^/dirty_path=/'
  } >"$sweep_dir/meta.txt"
}

sweep_main() {
  need_gnuplot=0  # the sweep draws its own SVG
  need_wrk=0
  if [[ " $SWEEP_PARTS " == *" wrk "* ]]; then need_wrk=1; fi
  ensure_tools
  build
  [[ -x $HERALD_BIN ]] || { log "no herald binary at $HERALD_BIN"; exit 1; }
  [[ -x $BENCH_BIN ]] || { log "no herald-bench binary at $BENCH_BIN"; exit 1; }
  commit=$(git_commit)
  local stamp; stamp="$(date +%Y-%m-%d)-$commit-sweep"
  [[ -e $RESULTS_DIR/$stamp.md ]] && stamp="$stamp-$(date +%H%M%S)"
  sweep_dir="$RESULTS_DIR/$stamp"
  out_dir=$sweep_dir
  mkdir -p "$sweep_dir"
  log "results in $sweep_dir"
  build_peers
  wait_for_quiet
  write_meta
  printf 'point\tserver\trun\twall_s\tmachine_busy_cpu_s\tload1_before\tload1_after\n' >"$sweep_dir/machine.tsv"
  local run line
  for run in $(seq "$RUNS"); do
    while read -r line; do
      # shellcheck disable=SC2086
      run_point $line "$run"
    done < <(points)
  done
  echo "load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$sweep_dir/meta.txt"
  "$py" "$bench_dir/sweep_report.py" "$sweep_dir" "$RESULTS_DIR/$stamp.md"
}

sweep_main "$@"
