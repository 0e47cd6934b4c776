#!/usr/bin/python3
"""Samples a running herald for bench/soak.sh, one JSON line per --interval seconds.

Each line: t (Unix s), rss_kb (/proc/PID/status VmRSS), fds (entries of /proc/PID/fd),
threads, cpu_s (utime+stime), tcp_time_wait (sockets in TIME-WAIT to or from herald's
port, from /proc/net/tcp), the /metrics counters the soak judges (herald_connections_open summed
over shards, accepted, delivered, dropped{reason}, closed{reason}, slow-consumer closes,
client errors{code}, push requests{endpoint,status}), and the history client's last
status file (--history-status) as "history". Runs until SIGTERM/SIGINT or until the
process is gone; the sample in flight is finished first. Standard library only.
"""
import argparse
import json
import os
import re
import signal
import sys
import time
import urllib.parse
import urllib.request

LINE = re.compile(r'^(herald_[a-z_]+)(?:\{([^}]*)\})?\s+(\S+)$')
WANTED = {"herald_connections_open", "herald_connections_accepted_total", "herald_messages_delivered_total",
          "herald_messages_dropped_total", "herald_connections_closed_total", "herald_slow_consumer_closes_total",
          "herald_client_errors_total", "herald_push_requests_total", "herald_connections_refused_total",
          "herald_held_requests"}


def parse_metrics(text):
    """{name: value} for label-less series, {name: {"k=v,...": value}} for labelled ones
    (herald_connections_open is summed over its shards)."""
    out = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if not m or m.group(1) not in WANTED:
            continue
        name, labels, value = m.group(1), m.group(2), float(m.group(3))
        if name == "herald_connections_open" or not labels:
            out[name] = out.get(name, 0) + value
        else:
            key = ",".join(f"{k}={v}" for k, v in re.findall(r'(\w+)="([^"]*)"', labels))
            out.setdefault(name, {})[key] = value
    return out


def proc_figures(pid):
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return {"rss_kb": int(status["VmRSS"].split()[0]), "threads": int(status["Threads"]),
            "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "cpu_s": (int(fields[11]) + int(fields[12])) / ticks}


def time_wait_sockets(port):
    """TCP sockets in TIME-WAIT to or from herald's port (other benches share loopback)."""
    n, hexport = 0, f":{port:04X}"
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                for line in f:
                    fields = line.split()
                    if fields[3:4] == ["06"] and (fields[1].endswith(hexport) or fields[2].endswith(hexport)):
                        n += 1
        except OSError:
            pass
    return n


def sample(args):
    s = {"t": time.time()}
    s.update(proc_figures(args.pid))
    s["tcp_time_wait"] = time_wait_sockets(urllib.parse.urlsplit(args.metrics).port)
    try:
        with urllib.request.urlopen(args.metrics, timeout=5) as r:
            s["metrics"] = parse_metrics(r.read().decode())
    except OSError as e:
        s["metrics_error"] = str(e)
    try:
        with open(args.history_status) as f:
            s["history"] = json.load(f)
    except (OSError, ValueError, TypeError):
        pass
    return s


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--metrics", required=True, help="http://127.0.0.1:PORT/metrics")
    p.add_argument("--interval", type=float, default=10)
    p.add_argument("--history-status", default=None)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.append(1))
    next_t = time.monotonic()
    with open(args.out, "a") as out:
        while not stopping:
            try:
                s = sample(args)
            except (OSError, KeyError):
                print("[soak_sample] herald is gone", file=sys.stderr)
                return
            out.write(json.dumps(s) + "\n")
            out.flush()
            next_t += args.interval
            while not stopping and time.monotonic() < next_t:
                time.sleep(min(0.5, next_t - time.monotonic()))


if __name__ == "__main__":
    main()
