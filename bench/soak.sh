#!/usr/bin/env bash
# Soak (issue 9): SOAK_CONNECTIONS WebSockets held for SOAK_DURATION seconds against one
# herald, with unicast pushes, history-topic publishes and churn, sampled every
# SOAK_INTERVAL seconds; soak_report.py then judges RSS drift, fd flatness, lost history
# messages, unexpected closes and unicast deliveries and writes a Markdown report.
#
#   SOAK_DURATION=1800 bench/soak.sh                 # the issue's run (15,000 x 30 min)
#   SOAK_DURATION=120 SOAK_CONNECTIONS=2000 bench/soak.sh
#
# Three kinds of client, each in its own processes and on its own source addresses:
#   held     herald-bench --scenario unicast: SOAK_HELD connections (compat register,
#            SOAK_HELD/SOAK_USERS_PER connections per user), SOAK_PUSH_RATE POST /push per
#            second; every push must reach every connection of its user (nothing churns here)
#   churn    herald-bench --scenario churn --event churn: SOAK_CHURN_N connections,
#            SOAK_CHURN_RATE reconnects/s (WebSocket close, FIN, RST in turn) and
#            SOAK_CHURN_PUSH_RATE pushes/s to them (not counted: a reconnecting client may
#            legitimately miss one); its own event, so its pushes never reach "held"
#   history  soak_history.py: SOAK_HISTORY_N native subscribers of SOAK_TOPICS history
#            topics, SOAK_PUBLISH_RATE publishes/s (HTTP and client publish op), and
#            SOAK_HISTORY_CHURN reconnects/s that resume with since/epoch; every offset gap
#            is a lost message
# Output: $OUT_DIR (samples.jsonl, the clients' JSON and logs, herald.log, rss.svg, fds.svg)
# and $SOAK_REPORT. Exit status: that of soak_report.py (0 = every criterion passed).
set -euo pipefail

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$bench_dir/.." && pwd)
: "${HERALD_BIN:=$repo/build-release/gateway/herald}" "${BENCH_BIN:=$repo/build-release/bench/herald-bench}"
: "${SOAK_DURATION:=1800}" "${SOAK_CONNECTIONS:=15000}" "${SOAK_INTERVAL:=10}"
: "${SOAK_HISTORY_N:=1000}" "${SOAK_TOPICS:=20}" "${SOAK_PUBLISH_RATE:=50}" "${SOAK_HISTORY_CHURN:=2}"
: "${SOAK_CLIENT_PUBLISH_SHARE:=0.2}" "${SOAK_HISTORY_SIZE:=10}"
: "${SOAK_CHURN_N:=$(( (SOAK_CONNECTIONS - SOAK_HISTORY_N) * 2 / 5 ))}" "${SOAK_CHURN_RATE:=18}" "${SOAK_CHURN_PUSH_RATE:=20}"
# Every push also lands in its user's log (--history-size entries each): few enough users
# that every log is full within ~2 minutes, so the logs' growth is over before the RSS
# reference window (minutes 5-10) and cannot pass for drift.
: "${SOAK_CHURN_USERS_PER:=20}"
: "${SOAK_HELD:=$(( SOAK_CONNECTIONS - SOAK_HISTORY_N - SOAK_CHURN_N ))}" "${SOAK_USERS_PER:=5}" "${SOAK_PUSH_RATE:=200}"
: "${HERALD_THREADS:=2}" "${HERALD_ARGS:=}" "${CLIENT_NICE:=5}" "${PORT:=}"
: "${OUT_DIR:=${TMPDIR:-/tmp}/herald-soak-$(date +%Y%m%d-%H%M%S)}"
: "${SOAK_REPORT:=$OUT_DIR/soak.md}"
# The herald start-up (start_herald, free_port) is run.sh's; run.sh's EXIT trap is
# replaced by cleanup below.
# shellcheck source=run.sh
source "$bench_dir/run.sh"
out_dir=$OUT_DIR
churn_users=$(( SOAK_CHURN_N / SOAK_CHURN_USERS_PER > 0 ? SOAK_CHURN_N / SOAK_CHURN_USERS_PER : 1 ))
log() { echo "[soak.sh $(date +%T)] $*" >&2; }

# Source addresses: max(2, ceil(N/6000)) workers per herald-bench, one address each, as
# herald-bench's own default would pick; the kinds never share an address.
next_addr=2
addrs_for() {  # connections -> $addrs (a comma list); no subshell, so next_addr advances
  local k=$(( ($1 + 5999) / 6000 )) i
  (( k < 2 )) && k=2
  addrs=""
  for ((i = 0; i < k; i++)); do addrs+="${addrs:+,}127.0.0.$next_addr"; next_addr=$((next_addr + 1)); done
}
addrs_for "$SOAK_HELD"; held_addrs=$addrs
addrs_for "$SOAK_CHURN_N"; churn_addrs=$addrs
history_addr=127.0.0.$next_addr

pids=()
cleanup() {  # only what this script started, by pid
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  if [[ -n ${herald_pid:-} ]]; then kill -TERM "$herald_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

start_history() {
  nice -n "$CLIENT_NICE" "$py" "$bench_dir/soak_history.py" --url "ws://127.0.0.1:$port/ws" \
    --api "http://127.0.0.1:$port" --subscribers "$SOAK_HISTORY_N" --topics "$SOAK_TOPICS" \
    --publish-rate "$SOAK_PUBLISH_RATE" --client-publish-share "$SOAK_CLIENT_PUBLISH_SHARE" \
    --churn-rate "$SOAK_HISTORY_CHURN" --duration "$SOAK_DURATION" --source-addr "$history_addr" \
    --status "$OUT_DIR/history-status.json" --out "$OUT_DIR/history.json" 2>"$OUT_DIR/history.log" &
  pids+=($!)
  # The other clients start once every subscriber holds its subscription.
  for _ in $(seq 120); do
    grep -q "subscribed" "$OUT_DIR/history.log" 2>/dev/null && return 0
    sleep 1
  done
  log "history subscribers did not come up within 120 s"; exit 1
}

bench() {  # name, herald-bench flags...
  local name=$1; shift
  nice -n "$CLIENT_NICE" "$BENCH_BIN" "$@" --target "ws://127.0.0.1:$port/ws" --server-pid "$herald_pid" \
    --metrics-url none --label "soak $name" --out "$OUT_DIR/$name.json" >/dev/null 2>"$OUT_DIR/$name.log" &
  pids+=($!)
}

# The checked-out commit, read from .git (short hash); whether the tree that built the
# binary was dirty is for the caller to say: SOAK_COMMIT=abc1234-dirty.
head_commit() {
  local head ref
  head=$(cat "$repo/.git/HEAD" 2>/dev/null) || { echo unknown; return; }
  if [[ $head == ref:* ]]; then
    ref=${head#ref: }
    head=$(cat "$repo/.git/$ref" 2>/dev/null || grep " $ref\$" "$repo/.git/packed-refs" 2>/dev/null | cut -d' ' -f1)
  fi
  echo "${head:0:7}"
}

main() {
  mkdir -p "$OUT_DIR"
  [[ -x $HERALD_BIN && -x $BENCH_BIN ]] || { log "need HERALD_BIN and BENCH_BIN"; exit 1; }
  log "out: $OUT_DIR; $SOAK_HELD held ($held_addrs), $SOAK_CHURN_N churn ($churn_addrs)," \
    "$SOAK_HISTORY_N history ($history_addr), $SOAK_DURATION s"
  start_herald --history-size "$SOAK_HISTORY_SIZE" --client-publish 'soak:*' || exit 1
  "$py" "$bench_dir/soak_sample.py" --pid "$herald_pid" --metrics "http://127.0.0.1:$port/metrics" \
    --interval "$SOAK_INTERVAL" --history-status "$OUT_DIR/history-status.json" --out "$OUT_DIR/samples.jsonl" &
  local sampler=$!
  sleep 2  # one baseline sample before any client
  local t_start; t_start=$(date +%s.%N)
  start_history
  # Metrics are read by the sampler: herald-bench's own before/after checks assume it is
  # the only client, which here it is not (--metrics-url none).
  bench churn --scenario churn --event churn --connections "$SOAK_CHURN_N" --churn-rate "$SOAK_CHURN_RATE" \
    --users "$churn_users" \
    --rate "$SOAK_CHURN_PUSH_RATE" --duration "$SOAK_DURATION" --source-addrs "$churn_addrs" --settle-timeout 1
  bench held --scenario unicast --connections "$SOAK_HELD" --users $((SOAK_HELD / SOAK_USERS_PER)) \
    --rate "$SOAK_PUSH_RATE" --duration "$SOAK_DURATION" --source-addrs "$held_addrs" --drain-timeout 10
  local t_clients; t_clients=$(date +%s.%N)
  local status=0
  wait -n "${pids[@]}" || status=$?
  local t_first_end; t_first_end=$(date +%s.%N)
  log "first client finished (status $status); waiting for the others"
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done  # exit codes: in their JSON
  pids=()
  local t_clients_end; t_clients_end=$(date +%s.%N)
  sleep $((SOAK_INTERVAL * 2))  # samples after every client closed: leaks show here
  kill -TERM "$sampler"; wait "$sampler" || true
  cat >"$OUT_DIR/phases.json" <<EOF
{"t_start": $t_start, "t_clients_started": $t_clients, "t_first_client_end": $t_first_end,
 "t_clients_end": $t_clients_end, "port": $port, "herald_pid": $herald_pid,
 "held": $SOAK_HELD, "held_users": $((SOAK_HELD / SOAK_USERS_PER)), "push_rate": $SOAK_PUSH_RATE,
 "churn_n": $SOAK_CHURN_N, "churn_users": $churn_users, "churn_rate": $SOAK_CHURN_RATE, "churn_push_rate": $SOAK_CHURN_PUSH_RATE,
 "history_n": $SOAK_HISTORY_N, "topics": $SOAK_TOPICS, "publish_rate": $SOAK_PUBLISH_RATE,
 "history_churn": $SOAK_HISTORY_CHURN, "client_publish_share": $SOAK_CLIENT_PUBLISH_SHARE,
 "history_size": $SOAK_HISTORY_SIZE, "duration": $SOAK_DURATION, "interval": $SOAK_INTERVAL,
 "herald_threads": $HERALD_THREADS, "herald_args": "$HERALD_ARGS",
 "addrs": "held $held_addrs, churn $churn_addrs, history $history_addr"}
EOF
  kill -TERM "$herald_pid"; wait "$herald_pid" || true; herald_pid=""
  "$py" "$bench_dir/soak_report.py" "$OUT_DIR" "$SOAK_REPORT" --commit "${SOAK_COMMIT:-$(head_commit)}"
}

main "$@"
