#!/usr/bin/env bash
# Smoke test of bench/sweep.sh and sweep_report.py: a tiny sweep over connections and
# unicast rates against Herald alone (PEERS="", no wrk: neither nginx nor wrk is a test
# package), then checks the report's shape: both sweeps' tables and plots, no failure.
# Asserts behaviour only, never timings.
# Usage: bench/tests/sweep_smoke.sh <herald-bench binary> <herald binary>
set -euo pipefail
bench_bin=${1:?usage: sweep_smoke.sh <herald-bench> <herald>}
herald_bin=${2:?usage: sweep_smoke.sh <herald-bench> <herald>}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d /tmp/herald-sweep-smoke.XXXXXX)
trap 'rm -rf "$work"' EXIT

RUNS=1 SKIP_BUILD=1 PEERS="" HERALD_BIN=$herald_bin BENCH_BIN=$bench_bin RESULTS_DIR=$work \
  SWEEP_PARTS="conns rates" SWEEP_CONNS="10 20" SWEEP_RATES="20 40" SWEEP_RATE_N=20 \
  SWEEP_UNICAST_RATE=20 SWEEP_FANOUT_DELIVERIES=200 SWEEP_DURATION=1 SWEEP_IDLE_DURATION=0.5 \
  BENCH_ARGS="--warmup 0.2 --settle-timeout 5" \
  "$here/sweep.sh" >"$work/sweep.log" 2>&1 || { echo "FAIL sweep.sh exited non-zero"; tail -30 "$work/sweep.log"; exit 1; }

report=$(ls "$work"/*-sweep.md)
dir=${report%.md}
fail=0
check() {  # description command...
  local what=$1; shift
  if "$@"; then echo "PASS $what"; else echo "FAIL $what"; fail=1; fi
}
check "report has the connection sweep" grep -q '^## Over connections' "$report"
check "report has the rate sweep" grep -q '^## Over unicast push rates' "$report"
check "report states where the client saturates (or that it did not)" grep -q 'The client \(saturates\|did not saturate\)' "$report"
check "every run of every point is ok" grep -q '^No run failed.' "$report"
check "a median row per N and per rate" test "$(grep -c '^| 10 |\|^| 20 |\|^| 40 |' "$report")" -ge 8
for svg in conns-rss conns-fanout-cpu conns-unicast-cpu conns-unicast-p99 rates-cpu rates-p99; do
  check "plot $svg.svg is an SVG with Herald's line" grep -q '<polyline' "$dir/$svg.svg"
done
check "every point recorded the machine around its run" test "$(tail -n +2 "$dir/machine.tsv" | wc -l)" -eq 7
check "the parameters name the commit" grep -q '^commit=' "$dir/meta.txt"
[[ $fail -eq 0 ]] || { echo "--- sweep.log"; tail -30 "$work/sweep.log"; }
exit $fail
