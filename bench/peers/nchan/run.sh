#!/usr/bin/env bash
# bench/peers/nchan/run.sh PORT: run nginx + Nchan on 127.0.0.1:PORT as its own
# foreground process (daemon off, master + 2 workers), with its config, pid file, logs
# and temp files in a private directory. The shell is replaced by nginx (exec), so $!
# of the caller is the master's pid; SIGTERM stops it (fast shutdown).
#   NCHAN_DIR=dir   the private directory (default: a new mktemp -d; the caller removes it)
# Needs Debian's nginx and libnginx-mod-nchan (apt-get install -y nginx libnginx-mod-nchan).
set -euo pipefail
port=${1:?usage: run.sh PORT}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
nginx=${NGINX_BIN:-/usr/sbin/nginx}
[[ -x $nginx && -f /usr/lib/nginx/modules/ngx_nchan_module.so ]] ||
  { echo "nchan peer: needs nginx and libnginx-mod-nchan (apt-get install -y nginx libnginx-mod-nchan)" >&2; exit 1; }
dir=${NCHAN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/herald-peer-nchan.XXXXXX")}
mkdir -p "$dir"
sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" "$here/nginx.conf" >"$dir/nginx.conf"
# -e: the error log before the config is read (else /var/log/nginx/error.log).
exec "$nginx" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
