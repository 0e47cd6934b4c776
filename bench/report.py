#!/usr/bin/env python3
"""Summarise a directory of herald-bench JSON results into a Markdown report.

Usage: report.py <results dir with *.json> <output .md> [--plot PNG] [--peers DIR]

Every scenario ran several times; the table shows the median of each figure, every
run's value, the target from the issue and a verdict. Failures of any run are listed,
never hidden. The plot shows the latency percentile spectrum (HdrHistogram style) of
the median unicast, fan-out, long-poll and SSE runs. Runs are grouped by the file
name run.sh gives them (<entry>-<run>.json). With --peers, DIR/<peer>/*.json are the
same-run peers (run.sh's PEERS): a section shows each figure of Herald beside each
peer's, with the ratio Herald/peer; peer failures are listed there and do not change
the exit status (which is Herald's). Standard library only.
"""
import glob
import json
import os
import statistics
import subprocess
import sys

# (scenario, figure, label, unit, target, goal, direction): direction "max" means the
# figure must stay at or below the target, "min" at or above it, None: no target.
FIGURES = [
    ("idle", "server_rss_bytes_per_conn", "server RSS per idle connection", "KiB", 4, 3, "max"),
    ("idle", "server_cpu_us_per_conn_per_s", "server CPU per idle connection (heartbeats)", "us/conn/s", None, None, None),
    ("idle", "ramp_conns_per_s", "ramp rate (handshake + register)", "conn/s", 15000, 25000, "min"),
    ("fanout", "server_cpu_us_per_delivery", "server CPU per fan-out delivery", "us", 8, 6, "max"),
    ("fanout", "deliveries_per_s", "fan-out deliveries/s", "1/s", None, None, None),
    ("fanout", "latency_p50_us", "fan-out latency p50 (per delivery)", "us", None, None, None),
    ("fanout", "latency_p99_us", "fan-out latency p99 (per delivery)", "us", None, None, None),
    ("fanout", "last_receiver_p99_us", "fan-out latency p99 to the last receiver", "us", None, None, None),
    ("unicast", "server_cpu_us_per_push", "server CPU per unicast /push", "us", 40, 25, "max"),
    ("unicast", "latency_p50_us", "unicast latency p50", "us", None, None, None),
    ("unicast", "latency_p99_us", "unicast latency p99", "us", 1000, 200, "max"),
    ("unicast", "latency_p999_us", "unicast latency p99.9", "us", None, None, None),
    ("unicast", "latency_max_us", "unicast latency max", "us", None, None, None),
    ("unicast", "pushes_per_s", "unicast pushes/s achieved", "1/s", None, None, None),
    ("wrk_push", "push_requests_per_s", "/push requests/s (wrk, 64 conns, no receiver)", "1/s", 100000, 150000, "min"),
    ("wrk_push", "server_cpu_us_per_request", "server CPU per /push request (wrk)", "us", None, None, None),
    ("churn", "churn_reconnects_per_s", "churn reconnects/s", "1/s", None, None, None),
    ("churn", "connections_leaked", "connections left open after churn", "conns", 0, 0, "max"),
    ("churn", "unexpected_closes", "unexpected closes during churn", "conns", 0, 0, "max"),
    ("longpoll_memory", "server_rss_bytes_per_waiting_poll", "server RSS per waiting long-poll", "KiB", None, None, None),
    ("longpoll_memory", "server_cpu_us_per_connect", "server CPU per long-poll client start (2 polls)", "us", None, None, None),
    ("longpoll_latency", "latency_p50_us", "long-poll push->delivery p50", "us", None, None, None),
    ("longpoll_latency", "latency_p99_us", "long-poll push->delivery p99", "us", None, None, None),
    ("longpoll_latency", "latency_p999_us", "long-poll push->delivery p99.9", "us", None, None, None),
    ("longpoll_latency", "latency_max_us", "long-poll push->delivery max", "us", None, None, None),
    ("longpoll_latency", "last_receiver_p99_us", "long-poll p99 to the last receiver", "us", None, None, None),
    ("longpoll_latency", "server_cpu_us_per_delivery", "server CPU per long-poll delivery (answer + re-poll)", "us", None, None, None),
    ("sse_memory", "server_rss_bytes_per_sse_stream", "server RSS per open SSE stream", "KiB", None, None, None),
    ("sse_memory", "server_cpu_us_per_connect", "server CPU per SSE stream opened", "us", None, None, None),
    ("sse_latency", "latency_p50_us", "SSE push->delivery p50", "us", None, None, None),
    ("sse_latency", "latency_p99_us", "SSE push->delivery p99", "us", None, None, None),
    ("sse_latency", "latency_p999_us", "SSE push->delivery p99.9", "us", None, None, None),
    ("sse_latency", "latency_max_us", "SSE push->delivery max", "us", None, None, None),
    ("sse_latency", "last_receiver_p99_us", "SSE p99 to the last receiver", "us", None, None, None),
    ("sse_latency", "server_cpu_us_per_delivery", "server CPU per SSE delivery", "us", None, None, None),
]
SCALE = {"KiB": 1 / 1024}


def load(results_dir):
    runs = {}
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        with open(path) as f:
            doc = json.load(f)
        doc["_file"] = os.path.basename(path)
        # run.sh names files <suite entry>-<run>.json; one scenario may have several
        # entries (longpoll_memory and longpoll_latency are both "longpoll").
        runs.setdefault(doc["_file"][:-len(".json")].rsplit("-", 1)[0], []).append(doc)
    return runs


def fmt(v):
    if v is None:
        return "n/a"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def verdict(median, target, goal, direction):
    if direction is None or median is None:
        return ""
    ok = (lambda v, t: v <= t) if direction == "max" else (lambda v, t: v >= t)
    if ok(median, goal):
        return "meets goal"
    return "meets target" if ok(median, target) else "**MISSES target**"


def table(runs):
    rows = ["| figure | median | runs | target (goal) | verdict |", "|---|---|---|---|---|"]
    for scen, key, label, unit, target, goal, direction in FIGURES:
        docs = runs.get(scen, [])
        if not docs:
            continue
        scale = SCALE.get(unit, 1)
        values = [d["figures"].get(key) for d in docs]
        values = [v * scale if v is not None else None for v in values]
        present = [v for v in values if v is not None]
        median = statistics.median(present) if present else None
        bound = "" if direction is None else f"{'≤' if direction == 'max' else '≥'} {fmt(target)} ({fmt(goal)})"
        rows.append(f"| {label} [{unit}] | {fmt(median)} | {', '.join(fmt(v) for v in values)} "
                    f"| {bound} | {verdict(median, target, goal, direction)} |")
    return "\n".join(rows)


def failures(runs):
    lines = []
    for scen, docs in sorted(runs.items()):
        for d in docs:
            for f in d.get("failures", []):
                lines.append(f"- **FAILURE** {scen} ({d['_file']}): {f}")
            for w in d.get("warnings", []):
                lines.append(f"- warning {scen} ({d['_file']}): {w}")
    return "\n".join(lines) if lines else "None: every run delivered everything it was expected to."


def client_share(runs):
    lines = []
    for scen, docs in sorted(runs.items()):
        vals = [(d["figures"].get("client_cpu_seconds"), d["figures"].get("server_cpu_seconds_total")) for d in docs]
        vals = [(c, s) for c, s in vals if c is not None and s]
        if vals:
            c, s = statistics.median(v[0] for v in vals), statistics.median(v[1] for v in vals)
            lines.append(f"- {scen}: harness {c:.2f} s CPU, server {s:.2f} s CPU")
    return "\n".join(lines)


def median_run(docs, key):
    ranked = sorted((d for d in docs if d["figures"].get(key) is not None), key=lambda d: d["figures"][key])
    return ranked[len(ranked) // 2] if ranked else None


def plot(runs, png, work_dir):
    series = []
    for scen, hist in (("unicast", "per_delivery"), ("fanout", "per_delivery"), ("fanout", "last_receiver"),
                       ("longpoll_latency", "per_delivery"), ("sse_latency", "per_delivery")):
        d = median_run(runs.get(scen, []), "latency_p99_us")
        if not d or hist not in d.get("latency", {}):
            continue
        points = [(p, v) for p, v in d["latency"][hist]["spectrum"] if p < 100]
        if not points:
            continue
        data = os.path.join(work_dir, f"spectrum-{scen}-{hist}.dat")
        with open(data, "w") as f:
            for p, v in points:
                f.write(f"{1 / (1 - p / 100):.6g} {v:.6g}\n")
        series.append((data, f"{scen} {hist.replace('_', ' ')}"))
    if not series:
        return False
    script = [
        f"set terminal pngcairo noenhanced size 900,560 font ',10'", f"set output '{png}'",
        "set logscale x", "set logscale y", "set grid",
        "set xtics ('0%%' 1, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, '99.999%%' 100000)",
        "set xlabel 'percentile'", "set ylabel 'latency from intended send time [us]'",
        "set title 'herald-bench latency by percentile (median run, coordinated omission corrected)'",
        "set key top left",
        "plot " + ", ".join(f"'{p}' using 1:2 with linespoints title '{t}'" for p, t in series),
    ]
    subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True)
    return True


def parameters(runs):
    lines = []
    for scen, docs in sorted(runs.items()):
        p = docs[0].get("parameters", {})
        keep = {
            "idle": ["connections", "duration_s", "workers", "client_threads"],
            "churn": ["api", "connections", "users", "rate_per_s", "churn_rate_per_s", "duration_s", "workers"],
            "wrk_push": ["wrk_threads", "wrk_connections", "duration_s", "herald_threads"],
            "longpoll_memory": ["connections", "poll_timeout_s", "memory_only", "workers"],
            "sse_memory": ["connections", "memory_only", "workers"],
            "longpoll_latency": ["connections", "rate_per_s", "duration_s", "message_size", "poll_timeout_s", "workers"],
            "sse_latency": ["connections", "rate_per_s", "duration_s", "message_size", "workers"],
        }.get(scen, ["api", "connections", "users", "rate_per_s", "duration_s", "message_size", "workers",
                     "client_threads", "push_connections"])
        desc = ", ".join(f"{k}={p[k]}" for k in keep if k in p)
        lines.append(f"- **{scen}** ({len(docs)} runs): {desc}")
    return "\n".join(lines)


def median_of(docs, key, scale=1):
    present = [d["figures"].get(key) for d in docs]
    present = [v * scale for v in present if v is not None]
    return statistics.median(present) if present else None


# How a peer's figure differs from Herald's in meaning, shown under the table.
PEER_NOTES = {
    "nchan": [
        "nginx + Nchan 1.3.6, 2 workers (`bench/peers/nchan/nginx.conf`); CPU and RSS are summed over "
        "the master and both workers (RSS counts Nchan's shared-memory pages in every process that touched them).",
        "One channel per user named in the URL, as Herald has one user per connection: subscribers on "
        "`/sub/<user>` (fanout: `/sub/fan`), pushes `POST /pub/<user>` whose body is the message itself "
        "(`--push-body raw`), recipient count from the reply's `active subscribers: N`. A subscriber sends no "
        "frame (`--no-register`), so the ramp counts upgrades, not acknowledged registrations: ramp rates "
        "are not comparable. wrk: `POST /pub/wrk-nobody`, a channel nobody subscribes to (Nchan still stores "
        "the message).",
    ],
    "uws": [
        "uWebSockets (one loop, one thread), `bench/peers/uws/main.cpp`, the wserver compat API on uWS "
        "topics (`numSubscribers` + `publish`), automatic pings; built outside the repository "
        "(`bench/peers/uws/README.md`), used when `UWS_BIN` is set.",
    ],
    "gorilla": [
        "Go 1.19 + gorilla/websocket (Debian), `bench/peers/gorilla/main.go`: the wserver compat API, "
        "a read/write goroutine pair per connection, a server ping every 25 s; GOMAXPROCS = all cores.",
    ],
}


def peers_section(runs, peers_dir):
    peers = {}
    for d in sorted(glob.glob(os.path.join(peers_dir, "*"))):
        if os.path.isdir(d):
            r = load(d)
            if r:
                peers[os.path.basename(d)] = r
    if not peers:
        return ["## Same-run peers", "", f"No peer results in `{peers_dir}`.", ""]
    names = sorted(peers)
    head = "| figure | Herald | " + " | ".join(f"{n} | Herald/{n}" for n in names) + " |"
    rows = [head, "|---|---|" + "---|---|" * len(names)]
    for scen, key, label, unit, *_ in FIGURES:
        if not any(scen in peers[n] for n in names):
            continue
        scale = SCALE.get(unit, 1)
        h = median_of(runs.get(scen, []), key, scale)
        cells = []
        for n in names:
            v = median_of(peers[n].get(scen, []), key, scale)
            ratio = f"{h / v:.2f}" if h is not None and v else "n/a"
            cells += [fmt(v), ratio]
        rows.append(f"| {label} [{unit}] | {fmt(h)} | " + " | ".join(cells) + " |")
    parts = ["## Same-run peers", "",
             "Medians; every peer ran right after Herald in each run of a scenario, fresh, on the same "
             "machine, driven by the same herald-bench command (with the peer's target). "
             "Herald/peer < 1 means Herald spent less (or, for rates, achieved less).", "",
             "\n".join(rows), ""]
    for n in names:
        parts += [f"**{n}**: " + " ".join(PEER_NOTES.get(n, [])), ""]
        lines = []
        for scen, docs in sorted(peers[n].items()):
            runs_desc = ", ".join(f"{fmt(d['figures'].get('server_cpu_seconds_total'))} s" for d in docs)
            lines.append(f"- {scen}: {len(docs)} runs, server CPU per run {runs_desc}")
            for d in docs:
                for f in d.get("failures", []):
                    lines.append(f"  - **FAILURE** ({d['_file']}): {f}")
                for w in d.get("warnings", []):
                    lines.append(f"  - warning ({d['_file']}): {w}")
        parts += lines + [""]
    return parts


def main():
    args = sys.argv[1:]
    opts = {}
    for flag in ("--plot", "--peers"):
        if flag in args:
            i = args.index(flag)
            opts[flag] = args[i + 1]
            del args[i:i + 2]
    results_dir, out_md = args[0], args[1]
    png = opts.get("--plot")
    runs = load(results_dir)
    any_doc = next(iter(next(iter(runs.values()))), {}) if runs else {}
    machine = any_doc.get("machine", {})
    parts = [
        f"# Herald benchmark {os.path.basename(out_md)[:-3]}", "",
        f"Commit `{machine.get('git_commit', '?')}`, {machine.get('cores', '?')} cores, "
        f"{machine.get('kernel', '?')}, compiler {machine.get('compiler', '?')}. "
        "Client and server share the same cores: figures are upper bounds of server cost.", "",
        "## Figures (median of the runs)", "", table(runs), "",
        "## Failures and warnings", "", failures(runs), "",
        "## Parameters", "", parameters(runs), "",
        "## CPU of the harness vs the server (whole run, median)", "", client_share(runs), "",
        f"Raw JSON: `{os.path.relpath(results_dir, os.path.dirname(out_md))}/`.", "",
    ]
    if "--peers" in opts:
        parts += peers_section(runs, opts["--peers"])
    if png and plot(runs, png, results_dir):
        parts += ["## Latency", "", f"![latency by percentile]({os.path.relpath(png, os.path.dirname(out_md))})", ""]
    with open(out_md, "w") as f:
        f.write("\n".join(parts))
    failed = any(d.get("failures") for docs in runs.values() for d in docs)
    print(f"wrote {out_md}" + (" (with FAILURES)" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
