#!/usr/bin/env python3
"""Summarise a bench/sweep.sh directory into a Markdown report with SVG plots.

Usage: sweep_report.py <sweep dir> <output .md>

The sweep dir holds one directory per point (idle-n<N>, fanout-n<N>, unicast-n<N>-r<R>,
wrk), each with Herald's runs (<entry>-<run>.json, as run.sh names them) and
peers/<peer>/ with every peer's, plus meta.txt and machine.tsv. Every figure is the
median over the runs; ratios are Herald/peer of those medians, measured in the same
session. The plots are written as hand-made SVG files beside the report (standard
library only: Debian's python3-matplotlib cannot be installed beside libboost1.81-dev,
its python3-fonttools pulls scipy -> pythran -> libboost1.74-dev). Exit status 0, also
when runs failed (they are listed).
"""
import csv
import glob
import math
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import fmt, load  # noqa: E402

SERVERS_ORDER = ["herald", "uws", "nchan", "gorilla"]
NAMES = {"herald": "Herald", "uws": "uWebSockets", "nchan": "nginx+Nchan", "gorilla": "Go gorilla"}
COLOURS = {"herald": "#d62728", "uws": "#1f77b4", "nchan": "#2ca02c", "gorilla": "#9467bd"}
# Below this share of the asked rate, or above this send lag (p99), the schedule was not
# kept. The lag bound tells a backlog (hundreds of ms, growing) from the scheduling jitter
# of a shared 2-core machine (a few time slices of other processes: ~10 ms at load 8).
LAG_LIMIT_US = 20000
RATE_SHARE = 0.95


def read_point(point_dir):
    """{server: [docs]} of one point (all entries of a point share one scenario)."""
    out = {}
    for docs in load(point_dir).values():
        out.setdefault("herald", []).extend(docs)
    for d in sorted(glob.glob(os.path.join(point_dir, "peers", "*"))):
        if os.path.isdir(d):
            for docs in load(d).values():
                out.setdefault(os.path.basename(d), []).extend(docs)
    return out


def med(docs, key, scale=1.0):
    vals = [d["figures"].get(key) for d in docs]
    vals = [v * scale for v in vals if v is not None]
    return (statistics.median(vals), min(vals), max(vals), len(vals)) if vals else None


def servers_of(points):
    found = {s for p in points.values() for s in p}
    return [s for s in SERVERS_ORDER if s in found] + sorted(found - set(SERVERS_ORDER))


# --- tables --------------------------------------------------------------------------

def sweep_table(rows, servers, key, scale, digits=None):
    """rows: [(x label, {server: [docs]})] -> Markdown with medians and Herald/peer ratios."""
    peers = [s for s in servers if s != "herald"]
    head = "| | " + " | ".join(NAMES.get(s, s) for s in servers) + " | " + \
        " | ".join(f"Herald/{NAMES.get(p, p)}" for p in peers) + " |"
    lines = [head, "|---|" + "---|" * (len(servers) + len(peers))]
    for label, by_server in rows:
        m = {s: med(by_server.get(s, []), key, scale) for s in servers}
        cells = [fmt(m[s][0]) if m[s] else "n/a" for s in servers]
        h = m.get("herald")
        ratios = [f"{h[0] / m[p][0]:.2f}" if h and m[p] and m[p][0] else "n/a" for p in peers]
        lines.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    return "\n".join(lines)


# --- SVG -----------------------------------------------------------------------------

def nice_ticks(lo, hi, count=5):
    if hi <= lo:
        hi = lo + 1
    step = 10 ** math.floor(math.log10((hi - lo) / count))
    for m in (1, 2, 2.5, 5, 10):
        if (hi - lo) / (step * m) <= count:
            step *= m
            break
    ticks, i = [], math.floor(lo / step)
    while True:
        ticks.append(round(i * step, 10))
        if i * step >= hi - step * 1e-9:
            return ticks
        i += 1


def svg_plot(path, title, xlabel, ylabel, series, log_x=False, x_ticks=None, log_y=False):
    """series: [(server, [(x, median, lo, hi)])]; writes a line chart with min-max bars."""
    w, h, ml, mr, mt, mb = 640, 380, 70, 150, 40, 50
    pw, ph = w - ml - mr, h - mt - mb
    xs = [p[0] for _, pts in series for p in pts]
    ys = [v for _, pts in series for p in pts for v in p[1:] if v is not None]
    if not xs or not ys:
        return False
    fx = (lambda x: math.log2(x)) if log_x else (lambda x: x)
    x0, x1 = fx(min(xs)), fx(max(xs))
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    pad = (x1 - x0) * 0.04
    x0, x1 = x0 - pad, x1 + pad
    if log_y:  # decades from below the smallest to above the largest value
        ys = [v for v in ys if v > 0]
        lo_dec, hi_dec = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
        hi_dec = max(hi_dec, lo_dec + 1)
        yt = [10.0 ** d for d in range(lo_dec, hi_dec + 1)]
    else:
        yt = nice_ticks(0, max(ys) * 1.05)
    y1 = yt[-1]

    def px(x):
        return ml + (fx(x) - x0) / (x1 - x0) * pw

    def py(y):
        if log_y:
            y = max(y, yt[0])
            return mt + ph - (math.log10(y) - math.log10(yt[0])) / (math.log10(y1) - math.log10(yt[0])) * ph
        return mt + ph - y / y1 * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{ml + pw / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>']
    for t in yt:
        out.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{ml - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{fmt(t)}</text>')
    for t in (x_ticks or sorted(set(xs))):
        out.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{mt}" y2="{mt + ph}" stroke="#eee"/>')
        out.append(f'<text x="{px(t):.1f}" y="{mt + ph + 16}" text-anchor="middle">{fmt(t)}</text>')
    out.append(f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
    out.append(f'<text x="{ml + pw / 2}" y="{h - 10}" text-anchor="middle">{xlabel}</text>')
    out.append(f'<text transform="translate(16,{mt + ph / 2}) rotate(-90)" text-anchor="middle">{ylabel}</text>')
    for i, (server, pts) in enumerate(series):
        colour = COLOURS.get(server, "#7f7f7f")
        pts = sorted(pts)
        width = 3 if server == "herald" else 1.8
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="{width}" points="'
                   + " ".join(f"{px(x):.1f},{py(m):.1f}" for x, m, _, _ in pts) + '"/>')
        for x, m, lo, hi in pts:
            out.append(f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{py(lo):.1f}" y2="{py(hi):.1f}" '
                       f'stroke="{colour}" stroke-width="1"/>')
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(m):.1f}" r="3.5" fill="{colour}"/>')
        ly = mt + 14 + i * 20
        out.append(f'<line x1="{ml + pw + 12}" x2="{ml + pw + 36}" y1="{ly}" y2="{ly}" stroke="{colour}" '
                   f'stroke-width="{width}"/>')
        out.append(f'<text x="{ml + pw + 42}" y="{ly + 4}">{NAMES.get(server, server)}</text>')
    out.append(f'<text x="{ml + pw + 12}" y="{mt + ph}" font-size="10" fill="#666">median; bar: min-max</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return True


def plot_series(rows, servers, key, scale):
    series = []
    for s in servers:
        pts = []
        for x, by_server in rows:
            m = med(by_server.get(s, []), key, scale)
            if m:
                pts.append((x, m[0], m[1], m[2]))
        if pts:
            series.append((s, pts))
    return series


# --- saturation ----------------------------------------------------------------------

def schedule_kept(doc, rate):
    f = doc["figures"]
    achieved, lag = f.get("pushes_per_s"), f.get("push_send_lag_p99_us")
    return achieved is not None and achieved >= RATE_SHARE * rate and (lag is None or lag <= LAG_LIMIT_US)


def coordinator_share(doc):
    """CPU of the harness' push thread (the coordinator) per second of the push windows."""
    f, p = doc["figures"], doc.get("parameters", {})
    window = (f.get("push_window_seconds") or 0) + p.get("warmup_s", 0)
    c = f.get("client_cpu_seconds_coordinator")
    return c / window if c is not None and window else None


def saturation(rate_rows, servers, machine):
    """Per rate: per server, runs that kept the schedule, and the client's own CPU."""
    lines = ["| pushes/s asked | " + " | ".join(
        f"{NAMES.get(s, s)}: achieved /s, send lag p99 µs, kept" for s in servers) +
        " | harness push thread (share of a core, median) | machine busy (cores, median) |",
        "|---|" + "---|" * (len(servers) + 2)]
    first_client_limit = None
    for rate, by_server in rate_rows:
        cells, kept_by = [], {}
        shares, busy = [], []
        for s in servers:
            docs = by_server.get(s, [])
            kept = sum(schedule_kept(d, rate) for d in docs)
            kept_by[s] = (kept, len(docs))
            a = med(docs, "pushes_per_s")
            lag = med(docs, "push_send_lag_p99_us")
            cells.append(f"{fmt(a[0]) if a else 'n/a'}, {fmt(lag[0]) if lag else 'n/a'}, {kept}/{len(docs)}")
            shares += [v for v in (coordinator_share(d) for d in docs) if v is not None]
            busy += machine.get((rate, s), [])
        share = statistics.median(shares) if shares else None
        b = statistics.median(busy) if busy else None
        lines.append(f"| {fmt(rate)} | " + " | ".join(cells) + f" | {fmt(share)} | {fmt(b)} |")
        # The client is the limit at the first rate no server was driven at in most of its
        # runs: then even the cheapest server's schedule slipped.
        if first_client_limit is None and kept_by and all(n > 0 and 2 * k <= n for k, n in kept_by.values()):
            best = max((med(by_server.get(s, []), "pushes_per_s") or (0,))[0] for s in servers)
            first_client_limit = (rate, best)
    return "\n".join(lines), first_client_limit


def machine_table(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    return rows


def main():
    sweep_dir, out_md = sys.argv[1], sys.argv[2]
    rel = os.path.relpath(sweep_dir, os.path.dirname(out_md))
    points = {}
    for d in sorted(glob.glob(os.path.join(sweep_dir, "*"))):
        if os.path.isdir(d):
            p = read_point(d)
            if p:
                points[os.path.basename(d)] = p
    meta = {}
    if os.path.exists(os.path.join(sweep_dir, "meta.txt")):
        for line in open(os.path.join(sweep_dir, "meta.txt")):
            k, _, v = line.rstrip("\n").partition("=")
            meta.setdefault(k, v)
    servers = servers_of(points)
    mrows = machine_table(os.path.join(sweep_dir, "machine.tsv"))

    conns = sorted({int(m.group(2)) for k in points for m in [re.match(r"(idle|fanout)-n(\d+)$", k)] if m})
    urate = int(meta.get("SWEEP_UNICAST_RATE") or 0)
    rate_n = int(meta.get("SWEEP_RATE_N") or 0)

    def rows_for(fmt_name, xs):
        return [(x, points.get(fmt_name.format(x=x), {})) for x in xs]

    idle_rows = rows_for("idle-n{x}", conns)
    fan_rows = rows_for("fanout-n{x}", conns)
    uni_rows = rows_for("unicast-n{x}-r" + str(urate), conns)
    rates = sorted(int(m.group(1)) for k in points for m in [re.match(rf"unicast-n{rate_n}-r(\d+)$", k)] if m)
    rate_rows = rows_for(f"unicast-n{rate_n}-r{{x}}", rates)

    machine = {}
    for r in mrows:
        m = re.match(rf"unicast-n{rate_n}-r(\d+)$", r["point"])
        if m:
            wall = float(r["wall_s"] or 0)
            machine.setdefault((int(m.group(1)), r["server"]), []).append(
                float(r["machine_busy_cpu_s"]) / wall if wall else None)
    machine = {k: [v for v in vs if v is not None] for k, vs in machine.items()}

    title = os.path.basename(out_md)[:-3]
    parts = [f"# Herald sweep {title}", "",
             f"Commit `{meta.get('commit', '?')}` ({meta.get('date', '?')}), {meta.get('machine', '?')}; "
             f"servers: {', '.join(NAMES.get(s, s) for s in servers)}; {meta.get('RUNS', '?')} runs per point, "
             "every figure the median over them (plots: bar = min-max). In each run every point ran Herald "
             "and then each peer, each fresh, driven by the same herald-bench (or wrk) command. "
             "Client and server share the cores: compare ratios, not absolutes.", "",
             f"Load (1-min average) at the start {meta.get('load_at_start', '?')}, at the end "
             f"{meta.get('load_at_end', '?')}; our own runs keep it near 2 (see *Machine*).", ""]

    def section(title_, rows, key, scale, unit, xlabel, fname, log_x=False, note="", log_y=False):
        if not any(rows_ for _, rows_ in rows):
            return []
        svg = os.path.join(sweep_dir, fname)
        plotted = svg_plot(svg, title_, xlabel, unit + (" (log scale)" if log_y else ""),
                           plot_series(rows, servers, key, scale), log_x=log_x, log_y=log_y)
        out = [f"### {title_} [{unit}]", ""] + ([note, ""] if note else [])
        out += [sweep_table([(fmt(x), r) for x, r in rows], servers, key, scale), ""]
        if plotted:
            out += [f"![{title_}]({rel}/{fname})", ""]
        return out

    if conns:
        parts += ["## Over connections", "",
                  f"Connections N = {', '.join(fmt(n) for n in conns)}. idle: ramp N, hold "
                  f"{meta.get('SWEEP_IDLE_DURATION', '?')} s; fanout: N connections of one user, "
                  f"{meta.get('SWEEP_FANOUT_DELIVERIES', '?')} deliveries/s (publishes/s = that / N) for "
                  f"{meta.get('SWEEP_DURATION', '?')} s; unicast: N connections over N users, {urate} pushes/s for "
                  f"{meta.get('SWEEP_DURATION', '?')} s. Rows: N.", ""]
        parts += section("RSS per idle connection", idle_rows, "server_rss_bytes_per_conn", 1 / 1024, "KiB",
                         "connections", "conns-rss.svg")
        parts += section("server CPU per fan-out delivery", fan_rows, "server_cpu_us_per_delivery", 1, "µs",
                         "connections (all of one user)", "conns-fanout-cpu.svg")
        parts += section(f"server CPU per unicast push ({urate}/s)", uni_rows, "server_cpu_us_per_push", 1, "µs",
                         "connections (= users)", "conns-unicast-cpu.svg")
        parts += section(f"unicast push→receive p50 ({urate}/s)", uni_rows, "latency_p50_us", 1, "µs",
                         "connections (= users)", "conns-unicast-p50.svg", log_y=True)
        parts += section(f"unicast push→receive p99 ({urate}/s)", uni_rows, "latency_p99_us", 1, "µs",
                         "connections (= users)", "conns-unicast-p99.svg", log_y=True)
    limit = None
    if rates:
        sat, limit = saturation(rate_rows, servers, machine)
        parts += ["## Over unicast push rates", "",
                  f"{fmt(rate_n)} connections over as many users, pushes/s = {', '.join(fmt(r) for r in rates)}, "
                  f"{meta.get('SWEEP_DURATION', '?')} s each, `--push-connections` 8 (the harness' default). "
                  "Rows: pushes/s asked.", ""]
        parts += section("server CPU per unicast push", rate_rows, "server_cpu_us_per_push", 1, "µs",
                         "pushes/s (log scale)", "rates-cpu.svg", log_x=True)
        parts += section("unicast push→receive p50", rate_rows, "latency_p50_us", 1, "µs",
                         "pushes/s (log scale)", "rates-p50.svg", log_x=True, log_y=True)
        parts += section("unicast push→receive p99", rate_rows, "latency_p99_us", 1, "µs",
                         "pushes/s (log scale)", "rates-p99.svg", log_x=True, log_y=True)
        parts += ["### Where the schedule slips: server or client", "",
                  "Latency plots have a log scale: a backlog (seconds) and jitter (ms) both stay readable. "
                  f"A run *kept* the schedule when it achieved ≥ {RATE_SHARE:.0%} of the asked rate with a send "
                  f"lag p99 ≤ {LAG_LIMIT_US} µs. The harness' pushes all come from one coordinator thread "
                  "(its CPU per second of the push window is the share column), the receivers from worker "
                  "processes; everything shares the 2 cores with the server.", "", sat, ""]
        if limit is not None:
            parts += [f"**The client saturates at {fmt(limit[0])} pushes/s**: no server, not even the cheapest, "
                      f"kept that schedule in most of its runs (the best median achieved there: {fmt(limit[1])}/s); "
                      "figures at and above it measure the harness and the machine as much as the server.", ""]
        else:
            parts += ["**The client did not saturate in this sweep**: at every rate at least one server kept "
                      "the schedule (where one did not, that server was the limit).", ""]
    if "wrk" in points:
        parts += ["## `/push` requests/s with wrk", "",
                  f"`wrk -t{meta.get('WRK_THREADS', '?')} -c{meta.get('WRK_CONNECTIONS', '?')} "
                  f"-d{meta.get('WRK_DURATION', '?')}s -s bench/wrk_push.lua URL`, a push for a user nobody is "
                  "(Herald, uWebSockets, gorilla: `POST /push`; Nchan: `POST /pub/wrk-nobody`, a channel "
                  "without subscribers, which Nchan still stores). Server CPU from /proc over the wrk run.", "",
                  "| figure | " + " | ".join(NAMES.get(s, s) for s in servers) + " | " +
                  " | ".join(f"Herald/{NAMES.get(p, p)}" for p in servers if p != "herald") + " |",
                  "|---|" + "---|" * (2 * len(servers) - 1)]
        for key, label in (("push_requests_per_s", "requests/s"), ("server_cpu_us_per_request", "server CPU per request [µs]"),
                           ("p50_us", "latency p50 [µs]"), ("p99_us", "latency p99 [µs]")):
            m = {s: med(points["wrk"].get(s, []), key) for s in servers}
            h = m.get("herald")
            parts.append(f"| {label} | " + " | ".join(fmt(m[s][0]) if m[s] else "n/a" for s in servers) + " | " +
                         " | ".join(f"{h[0] / m[p][0]:.2f}" if h and m[p] and m[p][0] else "n/a"
                                    for p in servers if p != "herald") + " |")
        parts += ["", "Every run's requests/s: " + "; ".join(
            f"{NAMES.get(s, s)} " + ", ".join(fmt(d['figures'].get('push_requests_per_s')) for d in points['wrk'][s])
            for s in servers if s in points["wrk"]), ""]

    # Failures and warnings, per point and server.
    fl = []
    for name, by_server in sorted(points.items()):
        for s, docs in sorted(by_server.items()):
            for d in docs:
                for f in d.get("failures", []):
                    fl.append(f"- **FAILURE** {name} {s} ({d['_file']}): {f}")
    warn_counts = {}
    for name, by_server in points.items():
        for s, docs in by_server.items():
            for d in docs:
                for w in d.get("warnings", []):
                    key = (s, re.sub(r"[\d.]+", "N", w))
                    warn_counts[key] = warn_counts.get(key, 0) + 1
    parts += ["## Failures and warnings", "", "\n".join(fl) if fl else "No run failed.", ""]
    if warn_counts:
        parts += ["Warnings (numbers elided, with how many runs gave them):", ""]
        parts += [f"- {NAMES.get(s, s)}: {w} (×{n})" for (s, w), n in sorted(warn_counts.items())] + [""]

    if mrows:
        by_server = {}
        for r in mrows:
            wall = float(r["wall_s"] or 0)
            if wall:
                by_server.setdefault(r["server"], []).append(float(r["machine_busy_cpu_s"]) / wall)
        loads = [float(r["load1_before"]) for r in mrows if r["load1_before"]]
        parts += ["## Machine", "",
                  f"`machine.tsv`: the machine's busy CPU (all processes, /proc/stat) and 1-min load around every "
                  f"one of {len(mrows)} runs. 1-min load before a run: median {fmt(statistics.median(loads))}, "
                  f"max {fmt(max(loads))} (our own previous run included). Median busy cores during a run: " +
                  ", ".join(f"{NAMES.get(s, s)} {fmt(statistics.median(v))}" for s, v in sorted(by_server.items())) +
                  ".", ""]
    parts += ["## Parameters", "", "```", open(os.path.join(sweep_dir, "meta.txt")).read().rstrip()
              if os.path.exists(os.path.join(sweep_dir, "meta.txt")) else "(no meta.txt)", "```", "",
              f"Raw JSON per point: `{rel}/<point>/` (Herald) and `{rel}/<point>/peers/<peer>/`.", ""]
    with open(out_md, "w") as f:
        f.write("\n".join(parts))
    print(f"wrote {out_md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
