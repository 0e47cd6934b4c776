#!/usr/bin/env bash
# bench/peers/uws/run.sh PORT: exec the uWebSockets peer ($UWS_BIN, built by build.sh
# outside this repository) on 127.0.0.1:PORT; $! of the caller is the server's pid.
set -euo pipefail
port=${1:?usage: run.sh PORT}
[[ -n ${UWS_BIN:-} && -x $UWS_BIN ]] ||
  { echo "uws peer: set UWS_BIN to a binary built with bench/peers/uws/build.sh (see README.md)" >&2; exit 1; }
exec "$UWS_BIN" "$port"
