#!/usr/bin/env python3
"""Summarise a bench/fleet.sh results directory into a Markdown report.

Usage: fleet_report.py <results dir> <output .md>

Reads <scenario>_<variant>-<run>.json (herald-bench, wrk and fleet_recovery.py
reports), meta.txt and commands-*.txt, and writes medians of every run with each run's
value, the ratios between variants, the issue's bar for the cross-node latency, every
failure and warning, and the warn/error lines the servers logged. Standard library only.
"""
import glob
import json
import os
import re
import statistics
import sys


def load(d):
    runs = {}
    for path in sorted(glob.glob(os.path.join(d, "*.json"))):
        name = os.path.basename(path)[:-5]
        m = re.match(r"(.+)-(\d+)$", name)
        if not m:
            continue
        try:
            doc = json.load(open(path))
        except ValueError as e:
            doc = {"ok": False, "failures": [f"unreadable JSON: {e}"], "figures": {}}
        runs.setdefault(m.group(1), []).append((int(m.group(2)), doc))
    for v in runs.values():
        v.sort(key=lambda x: x[0])
    return runs


def meta(d):
    out, dirty = {}, []
    p = os.path.join(d, "meta.txt")
    if os.path.exists(p):
        for line in open(p):
            k, _, v = line.rstrip("\n").partition("=")
            if k == "dirty_path":
                dirty.append(v)
            else:
                out[k] = v
    return out, dirty


def fig(doc, name):
    v = doc.get("figures", {}).get(name)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def values(runs, entry, name):
    return [fig(doc, name) for _, doc in runs.get(entry, [])]


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if unit == "ms":
        return f"{v / 1000:.2f}"
    if unit == "k":
        return f"{v / 1000:.1f}k"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def each(vals, unit=""):
    return " / ".join(fmt(v, unit) for v in vals)


def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b not in (None, 0) else "n/a"


def row(cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def wrong_counts(runs, n):
    """Per run: push answers whose recipient count was not the connections the push must
    reach (herald-bench push_replies_count_mismatch), and of them how many said partial."""
    out = []
    for _, doc in runs.get(n, []):
        m, p = fig(doc, "push_replies_count_mismatch"), fig(doc, "push_replies_partial")
        out.append("n/a" if m is None else f"{m:.0f} ({p or 0:.0f})")
    return " / ".join(out)


def latency_section(runs, lines):
    names = [("latency_standalone", "standalone (no --bus)"), ("latency_same", "same-node (recv n1, push n1)"),
             ("latency_cross", "cross-node (recv n2, push n1)")]
    if not any(n in runs for n, _ in names):
        return
    lines += ["## 1. Unicast push→receive latency", "",
              "Median of the runs (each run's value after the median, in run order). Latency runs from the "
              "push's *intended* send time to receipt (coordinated omission corrected). Server CPU is summed "
              "over every herald process of the variant; nats-server's is apart.", "",
              row(["variant", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "p99 each run", "herald CPU µs/push",
                   "nats CPU µs/push", "pushes/s", "push reply p99 ms", "recipients reported / deliveries expected",
                   "answers with a wrong count (partial)"]),
              row(["---"] * 12)]
    for n, label in names:
        if n not in runs:
            continue
        rec = med(values(runs, n, "server_recipients_reported"))
        exp = med(values(runs, n, "deliveries_expected"))
        lines.append(row([label, fmt(med(values(runs, n, "latency_p50_us")), "ms"),
                          fmt(med(values(runs, n, "latency_p99_us")), "ms"),
                          fmt(med(values(runs, n, "latency_p999_us")), "ms"),
                          fmt(med(values(runs, n, "latency_max_us")), "ms"),
                          each(values(runs, n, "latency_p99_us"), "ms"),
                          fmt(med(values(runs, n, "server_cpu_us_per_push"))),
                          fmt(med(values(runs, n, "extra_cpu_us_per_push"))),
                          fmt(med(values(runs, n, "pushes_per_s"))),
                          fmt(med(values(runs, n, "push_reply_p99_us")), "ms"),
                          f"{fmt(rec)} / {fmt(exp)}", wrong_counts(runs, n)]))
    same = values(runs, "latency_same", "latency_p99_us")
    cross = values(runs, "latency_cross", "latency_p99_us")
    alone = values(runs, "latency_standalone", "latency_p99_us")
    if same and cross:
        added = med(cross) - med(same) if med(cross) is not None and med(same) is not None else None
        paired = [c - s for c, s in zip(cross, same) if c is not None and s is not None]
        verdict = "n/a" if added is None else ("**met**" if added <= 1000 else "**missed**")
        lines += ["", f"**Added p99 of cross-node over same-node: {fmt(added, 'ms')} ms** (median cross p99 − "
                  f"median same p99; per run, paired: {each(paired, 'ms')} ms). Bar: ≤ 1 ms → {verdict}."]
        if alone and med(alone) is not None and med(cross) is not None:
            lines.append(f"Cross-node p99 over standalone p99: +{fmt(med(cross) - med(alone), 'ms')} ms "
                         f"({ratio(med(cross), med(alone))}); same-node over standalone: "
                         f"+{fmt(med(same) - med(alone), 'ms')} ms.")
        p50s = [med(values(runs, "latency_same", "latency_p50_us")),
                med(values(runs, "latency_cross", "latency_p50_us"))]
        if None not in p50s:
            lines.append(f"Added p50 cross over same: {fmt(p50s[1] - p50s[0], 'ms')} ms.")
    lines.append("")


def fanout_section(runs, lines):
    names = [("fanout_standalone", "15,000 on one node (standalone)"),
             ("fanout_fleet", "15,000 over 3 nodes (5,000 each)")]
    if not any(n in runs for n, _ in names):
        return
    lines += ["## 2. Fan-out", "",
              "One compat user with every connection (or one topic with `FAN_API=native`); each publish goes to n1. "
              "CPU per delivery = CPU of every herald process in the measured window ÷ deliveries "
              "(`herald_messages_delivered_total` summed over the nodes).", "",
              row(["variant", "deliveries/s", "herald CPU µs/delivery", "each run", "per-node CPU s (n1/n2/n3)",
                   "nats CPU µs/delivery", "nats CPU s", "latency p50 ms", "p99 ms", "last receiver p99 ms",
                   "RSS/conn B", "push reply p50 ms", "recipients reported / expected",
                   "answers with a wrong count (partial), each run"]),
              row(["---"] * 14)]
    for n, label in names:
        if n not in runs:
            continue
        per_node = [med(values(runs, n, f"server{i}_cpu_seconds_measured")) for i in range(3)]
        lines.append(row([label, fmt(med(values(runs, n, "deliveries_per_s"))),
                          fmt(med(values(runs, n, "server_cpu_us_per_delivery"))),
                          each(values(runs, n, "server_cpu_us_per_delivery")),
                          "/".join(fmt(v) for v in per_node) if any(v is not None for v in per_node) else "–",
                          fmt(med(values(runs, n, "extra_cpu_us_per_delivery"))),
                          fmt(med(values(runs, n, "extra_cpu_seconds_measured"))),
                          fmt(med(values(runs, n, "latency_p50_us")), "ms"),
                          fmt(med(values(runs, n, "latency_p99_us")), "ms"),
                          fmt(med(values(runs, n, "last_receiver_p99_us")), "ms"),
                          fmt(med(values(runs, n, "server_rss_bytes_per_conn"))),
                          fmt(med(values(runs, n, "push_reply_p50_us")), "ms"),
                          f"{fmt(med(values(runs, n, 'server_recipients_reported')))} / "
                          f"{fmt(med(values(runs, n, 'deliveries_expected')))}",
                          wrong_counts(runs, n)]))
    a = med(values(runs, "fanout_standalone", "server_cpu_us_per_delivery"))
    b = med(values(runs, "fanout_fleet", "server_cpu_us_per_delivery"))
    if a is not None and b is not None:
        lines += ["", f"Herald CPU per delivery, fleet over standalone: {ratio(b, a)} "
                  f"({fmt(b)} vs {fmt(a)} µs)."]
    lines.append("")


def wrk_section(runs, lines):
    names = [("wrk_standalone", "standalone (no --bus)"), ("wrk_fleet", "fleet, to n1")]
    if not any(n in runs for n, _ in names):
        return
    lines += ["## 3. `/push` requests/s (wrk, no receiver)", "",
              "`wrk_push.lua`: a compat push to a user nobody holds, so only the HTTP push path (and, in the "
              "fleet, the JetStream publish and the fleet-wide count) is measured. CPU from /proc around the wrk "
              "run, summed over every herald process.", "",
              row(["variant", "requests/s", "each run", "p50 ms", "p99 ms", "herald CPU µs/request",
                   "nats CPU µs/request", "errors"]),
              row(["---"] * 8)]
    for n, label in names:
        if n not in runs:
            continue
        lines.append(row([label, fmt(med(values(runs, n, "push_requests_per_s"))),
                          each(values(runs, n, "push_requests_per_s")),
                          fmt(med(values(runs, n, "p50_us")), "ms"), fmt(med(values(runs, n, "p99_us")), "ms"),
                          fmt(med(values(runs, n, "server_cpu_us_per_request"))),
                          fmt(med(values(runs, n, "extra_cpu_us_per_request"))),
                          each(values(runs, n, "errors"))]))
    a = med(values(runs, "wrk_standalone", "push_requests_per_s"))
    b = med(values(runs, "wrk_fleet", "push_requests_per_s"))
    if a and b:
        lines += ["", f"Fleet over standalone: {ratio(b, a)} the requests/s."]
    lines.append("")


def recovery_section(runs, lines):
    n = "recovery"
    if n not in runs:
        return
    rows = [("every client replayed what it missed (kill → last one)", "recovery_all_s", "s"),
            ("p50 / p99 client recovered", None, None),
            ("every client resubscribed (kill → last reply)", "resubscribed_all_s", "s"),
            ("n1 saw the fleet shrink (herald_fleet_nodes)", "fleet_shrunk_after_s", "s"),
            ("messages missed per client, mean", "missed_per_client_mean", ""),
            ("messages missed per client, max", "missed_per_client_max", ""),
            ("clients recovered", "clients_recovered", ""),
            ("answers with recovered:false", "recovered_false_answers", ""),
            ("duplicates", "duplicates", ""), ("missing", "missing", ""),
            ("out of order", "out_of_order", ""), ("unsequenced (offset 0) deliveries", "unsequenced_deliveries", ""),
            ("offsets not in the stream", "unknown_offsets", ""),
            ("publishes / answered 200", None, None),
            ("publish answers with partial:true", "publishes_partial", ""),
            ("publish answers (not partial) with delivered ≠ clients", "publishes_count_not_n", ""),
            ("stored messages without a 200 answer", "stored_not_answered_ok", ""),
            ("publish reply max, first 2 s after the kill (ms)", "publish_reply_max_us_first_2s_after_kill", "ms"),
            ("nats-server CPU over the run (s)", "nats_cpu_seconds", ""),
            ("surviving heralds' CPU over the run (s, n1 / n2)", None, None)]
    docs = [doc for _, doc in runs[n]]
    lines += ["## 4. History recovery after `kill -9` of a node", "",
              "Native subscribers of one topic on n3, a publish stream to n1, `kill -9` n3; each client "
              "reconnects to n1 or n2 (alternating) and resubscribes with `since`/`epoch`. Exactly-once is "
              "checked per client against the stream's own history (`GET /api/v1/history`).", "",
              row(["figure", "median", "each run"]), row(["---"] * 3)]
    for label, key, unit in rows:
        if key:
            vals = values(runs, n, key)
            lines.append(row([label, fmt(med(vals), unit), each(vals, unit)]))
        elif label.startswith("p50"):
            lines.append(row([label, f"{fmt(med(values(runs, n, 'recovery_p50_s')))} / "
                                     f"{fmt(med(values(runs, n, 'recovery_p99_s')))} s",
                              each(values(runs, n, "recovery_p99_s"))]))
        elif label.startswith("publishes"):
            lines.append(row([label, f"{fmt(med(values(runs, n, 'publishes')))} / "
                                     f"{fmt(med(values(runs, n, 'publishes_ok')))}",
                              each(values(runs, n, "publishes_failed")) + " failed"]))
        else:
            lines.append(row([label, f"{fmt(med(values(runs, n, 'herald0_cpu_seconds')))} / "
                                     f"{fmt(med(values(runs, n, 'herald1_cpu_seconds')))}", ""]))
    eo = [d.get("figures", {}).get("exactly_once") for d in docs]
    lines += ["", f"Exactly-once by offsets, per run: {', '.join(str(x) for x in eo)}.", ""]
    for i, d in enumerate(docs, 1):
        det = d.get("details", {})
        for key, what in (("partial_publishes", "partial answers"), ("failed_publishes", "failed publishes"),
                          ("count_not_n_publishes", "answers whose count was not the client count"),
                          ("clients_with_gaps", "clients with an anomaly (gap, duplicate, order)")):
            if det.get(key) and key == "clients_with_gaps":
                for c in det[key][:3]:
                    brief = {k: c.get(k) for k in ("client", "first_offset", "anomalies", "missing", "subs", "closes")}
                    lines.append(f"- run {i}, {what}: `{json.dumps(brief)[:900]}` (full timeline in the JSON)")
            elif det.get(key):
                lines.append(f"- run {i}, {what} (first of them): `{json.dumps(det[key][:4])[:600]}`")
    lines.append("")


def nats_section(runs, lines):
    lines += ["## nats-server CPU per scenario", "",
              row(["scenario", "nats CPU s (measured window)", "herald CPU s (same window, all nodes)", "ratio"]),
              row(["---"] * 4)]
    for n, key_n, key_h in (("latency_same", "extra_cpu_seconds_measured", "server_cpu_seconds_measured"),
                            ("latency_cross", "extra_cpu_seconds_measured", "server_cpu_seconds_measured"),
                            ("fanout_fleet", "extra_cpu_seconds_measured", "server_cpu_seconds_measured"),
                            ("wrk_fleet", "extra_cpu_seconds", "server_cpu_seconds")):
        if n in runs:
            a, b = med(values(runs, n, key_n)), med(values(runs, n, key_h))
            lines.append(row([n, fmt(a), fmt(b), ratio(a, b)]))
    if "recovery" in runs:
        a = med(values(runs, "recovery", "nats_cpu_seconds"))
        b0, b1 = med(values(runs, "recovery", "herald0_cpu_seconds")), med(values(runs, "recovery", "herald1_cpu_seconds"))
        b = b0 + b1 if b0 is not None and b1 is not None else None
        lines.append(row(["recovery (whole run, survivors only)", fmt(a), fmt(b), ratio(a, b)]))
    lines.append("")


COUNTERS = [
    ("herald_bus_order_gaps_total", "bus order gaps"),
    ("herald_bus_partial_answers_total", "partial answers"),
    ("herald_bus_publish_failures_total", "publish failures"),
    ("herald_bus_history_failures_total", "history failures"),
    ("herald_bus_slow_consumer_errors_total", "NATS slow consumer"),
    ("herald_bus_disconnects_total", "bus disconnects"),
    ("herald_bus_reconnects_total", "bus reconnects"),
    ("herald_messages_dropped_total", "messages dropped"),
    ("herald_slow_consumer_closes_total", "slow-consumer closes"),
    ("push_non_200", "push answers ≠ 200"),
]


def scrape_sum(text, name):
    total, seen = 0.0, False
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if name == "push_non_200":
            if line.startswith("herald_push_requests_total{"):
                seen = True
                if 'status="200"' not in line:
                    total += float(line.rsplit(" ", 1)[1])
            continue
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1]); seen = True
    return total if seen else None


def counters_section(d, lines):
    files = sorted(glob.glob(os.path.join(d, "metrics-*.txt")))
    if not files:
        return
    per = {}  # entry -> run -> counter -> sum over nodes
    for path in files:
        m = re.match(r"metrics-(.+)-(\d+)-([^-]+)\.txt$", os.path.basename(path))
        if not m:
            continue
        text = open(path, errors="replace").read()
        slot = per.setdefault(m.group(1), {}).setdefault(int(m.group(2)), {})
        for name, _ in COUNTERS:
            v = scrape_sum(text, name)
            if v is not None:
                slot[name] = slot.get(name, 0) + v
    lines += ["## Server counters at the end of each run", "",
              "Summed over the nodes still running (scraped just before SIGTERM); each run's value.", "",
              row(["scenario"] + [label for _, label in COUNTERS]), row(["---"] * (len(COUNTERS) + 1))]
    for entry in sorted(per):
        cells = [entry]
        for name, _ in COUNTERS:
            vals = [per[entry][r].get(name) for r in sorted(per[entry])]
            cells.append(" / ".join("–" if v is None else f"{v:.0f}" for v in vals))
        lines.append(row(cells))
    lines.append("")


def problems_section(d, runs, lines):
    lines += ["## Failures, warnings and server log lines", ""]
    any_ = False
    for entry in sorted(runs):
        for r, doc in runs[entry]:
            for f in doc.get("failures", []):
                lines.append(f"- **{entry} run {r} FAILURE**: {f}")
                any_ = True
            for w in doc.get("warnings", []):
                lines.append(f"- {entry} run {r} warning: {w}")
                any_ = True
    during, shutdown = [], []
    for path in sorted(glob.glob(os.path.join(d, "herald-*.log")) + glob.glob(os.path.join(d, "nats-*.log"))):
        text = open(path, errors="replace").read().splitlines()
        stop = next((i for i, l in enumerate(text) if l.startswith("### fleet.sh: stopping")), len(text))
        for part, chunk in (("during the run", text[:stop]), ("at shutdown (after SIGTERM)", text[stop + 1:])):
            bad = [l for l in chunk if "level=warn" in l or "level=error" in l or "[ERR]" in l or "[WRN]" in l]
            if not bad:
                continue
            kinds = {}
            for l in bad:
                key = re.sub(r"^ts=\S+ |^\[\d+\] \S+ \S+ ", "", l)[:140]
                kinds[key] = kinds.get(key, 0) + 1
            (during if part.startswith("during") else shutdown).append(
                f"- `{os.path.basename(path)}` {part}: {len(bad)} warn/error lines: " +
                "; ".join(f"{k!r} ×{v}" for k, v in list(kinds.items())[:4]))
    if during or shutdown:
        any_ = True
        lines += during
        if shutdown:
            lines += ["", f"Logged after SIGTERM ({len(shutdown)} logs):"] + shutdown
    if not any_:
        lines.append("None.")
    lines.append("")


def main():
    d, out = sys.argv[1], sys.argv[2]
    runs = load(d)
    m, dirty = meta(d)
    lines = [f"# Fleet benchmark — {m.get('date', '?')} — commit {m.get('commit', '?')}", "",
             f"Produced by `{m.get('command', 'bench/fleet.sh')}`; raw JSON, wrk output, the exact command line of "
             f"every process and every log: [`{os.path.basename(d)}/`]({os.path.basename(d)}/).", "",
             f"- machine: {m.get('nproc', '?')} cores ({m.get('cpu', '?')}), {m.get('kernel', '?')}; client, "
             f"every herald and nats-server share these cores (other builds ran beside: figures are noisy, "
             f"compare variants within this report only)",
             f"- {m.get('nats_version', '')}; wrk {m.get('wrk_version', '')}; python3-websockets "
             f"{m.get('python_websockets', '')}",
             f"- runs per variant: {m.get('RUNS', '?')}, variants interleaved in each run, every process fresh "
             f"per run (new nats-server store each time)",
             f"- herald flags: `--threads {m.get('HERALD_THREADS', '?')} --log-level warn "
             f"{m.get('HERALD_ARGS', '')}`, fleet nodes add `--bus nats://127.0.0.1:PORT --node-name nX` "
             f"(recovery also `--history-size {m.get('REC_HISTORY_SIZE', '?')}`); "
             f"nats: `nats-server -js -sd DIR -p PORT -a 127.0.0.1`"]
    lines.append(f"- herald binary: `{m.get('herald_bin', '?')}`, built from {m.get('herald_built_from', '?')}; "
                 f"herald-bench: `{m.get('bench_bin', '?')}`")
    params = " ".join(f"{k}={m[k]}" for k in m if re.match(r"(LAT|FAN|WRK|REC|MESSAGE|NODES|BENCH)_?", k))
    lines.append(f"- parameters: `{params}`")
    if dirty:
        lines.append(f"- tree dirty ({len(dirty)} paths): " + ", ".join(f"`{p.strip()}`" for p in dirty[:12]) +
                     (" …" if len(dirty) > 12 else ""))
    lines.append("")
    latency_section(runs, lines)
    fanout_section(runs, lines)
    wrk_section(runs, lines)
    recovery_section(runs, lines)
    nats_section(runs, lines)
    counters_section(d, lines)
    problems_section(d, runs, lines)
    cmds = sorted(glob.glob(os.path.join(d, "commands-*-1.txt")))
    if cmds:
        lines += ["## Commands of run 1", "", "```"]
        for p in cmds:
            lines += [l.rstrip() for l in open(p)]
        lines += ["```", ""]
    open(out, "w").write("\n".join(lines))


if __name__ == "__main__":
    main()
