#!/usr/bin/python3
"""Judges a bench/soak.sh directory and writes its Markdown report (with rss.svg, fds.svg).

Usage: soak_report.py <soak dir> <output .md> [--commit C]

Reads phases.json, samples.jsonl (soak_sample.py), held.json and churn.json
(herald-bench), history.json (soak_history.py). The steady phase runs from the moment
every client was started (t_clients_started) to the moment the first one finished.
With S its length, the reference window is [min(300, S/4), min(600, S/2)] s into it
(minutes 5-10 of a 30-minute run) and the end window its last min(300, S/4) s.

Criteria (each printed with its figures):
- RSS drift = (median VmRSS of the end window - median of the reference window)
  / median of the reference window; pass if < 5 %.
- fds flat: max - min of the fd count over the reference window's start to the end of the
  steady phase <= the reconnects of one second (churn + history churn, rounded up): the
  most connections that may be between close and reopen at a sample.
- no leak: once every client has closed, herald_connections_open = 0 and the fd count is
  back at the baseline sample's (before any client).
- lost history messages = 0 (offset gaps + tail shortfalls), duplicates = 0, every resume
  "recovered":true, every publish answered.
- unexpected closes = 0: the clients' (herald-bench's unexpected_closes, soak_history's)
  and the server's closes for any reason other than "peer" while clients ran.
- every unicast push delivered: held deliveries received >= expected, no failed push.
Exit status 0 if all pass, 2 otherwise.
"""
import json
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import fmt  # noqa: E402
from sweep_report import svg_plot  # noqa: E402


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def load_samples(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def metric(s, name, key=None):
    v = s.get("metrics", {}).get(name)
    if key is not None:
        v = (v or {}).get(key)
    return v


def closes(s):
    return {k.split("=", 1)[1]: v for k, v in (metric(s, "herald_connections_closed_total") or {}).items()}


def windows(ph):
    t0, t1 = ph["t_clients_started"], ph["t_first_client_end"]
    span = t1 - t0
    ref = (t0 + min(300, span / 4), t0 + min(600, span / 2))
    end = (t1 - min(300, span / 4), t1)
    return (t0, t1), ref, end


def within(samples, w):
    return [s for s in samples if w[0] <= s["t"] <= w[1]]


def bench_summary(doc):
    """What a herald-bench JSON says about pushes, deliveries and closes."""
    if not doc:
        return {"missing": True}
    c = doc.get("counts", {})
    return {"ok": doc.get("ok"), "failures": doc.get("failures", []), "warnings": doc.get("warnings", []),
            "opened": c.get("opened"), "open_failed": c.get("open_failed"),
            "unexpected_closes": c.get("unexpected_closes"), "received": c.get("received"),
            "expected": c.get("expected_deliveries"), "pushes": c.get("pushes_sent"),
            "push_failures": c.get("pushes_failed"), "warmup_pushes": c.get("warmup_pushes_sent"),
            "received_warmup": c.get("received_warmup"), "reconnects": c.get("churn_opens"),
            "duplicates": c.get("duplicates"), "internal_errors": c.get("internal_errors"),
            "first_client_error": c.get("first_client_error")}


def rss_criterion(samples, ref, end):
    a = [s["rss_kb"] for s in within(samples, ref)]
    b = [s["rss_kb"] for s in within(samples, end)]
    if not a or not b:
        return None, "no samples in a window", False
    ma, mb = statistics.median(a), statistics.median(b)
    drift = (mb - ma) / ma * 100
    text = f"reference median {ma / 1024:.1f} MiB, end median {mb / 1024:.1f} MiB: drift {drift:+.2f} %"
    return drift, text, drift < 5


def fd_criterion(samples, ref, steady, ph):
    fds = [s["fds"] for s in samples if ref[0] <= s["t"] <= steady[1]]
    bound = math.ceil(ph["churn_rate"] + ph["history_churn"])
    spread = max(fds) - min(fds) if fds else None
    ok = spread is not None and spread <= bound
    return spread, f"min {min(fds)}, max {max(fds)}, spread {spread} (bound {bound})" if fds else "no samples", ok


def leak_criterion(samples, ph):
    base, last = samples[0], samples[-1]
    after = [s for s in samples if s["t"] > ph["t_clients_end"]]
    if not after:
        return "no sample after the clients closed", False
    last = after[-1]
    conns = metric(last, "herald_connections_open")
    ok = conns == 0 and last["fds"] == base["fds"]
    return f"after close: {fmt(conns)} connections open, {last['fds']} fds (baseline {base['fds']})", ok


def server_closes(samples, steady):
    """Closes by reason from the baseline sample to the last sample of the steady phase."""
    base = closes(samples[0])
    last = within(samples, (steady[0], steady[1] + 1))[-1]
    return {k: v - base.get(k, 0) for k, v in closes(last).items()}


def criteria(d, samples, ph, held, churn, hist):
    steady, ref, end = windows(ph)
    out = []
    drift, text, ok = rss_criterion(samples, ref, end)
    out.append(("RSS drift < 5 %", text, ok))
    _, text, ok = fd_criterion(samples, ref, steady, ph)
    out.append(("open fds flat", text, ok))
    text, ok = leak_criterion(samples, ph)
    out.append(("nothing left after the clients closed", text, ok))
    h = hist or {}
    out.append(("lost history messages = 0",
                f"{fmt(h.get('lost'))} lost ({fmt(h.get('lost_in_gaps'))} in {fmt(h.get('gaps'))} gaps, "
                f"{fmt(h.get('lost_at_tail'))} at the tail) of {fmt(h.get('expected'))} expected; "
                f"{fmt(h.get('received'))} received, {fmt(h.get('duplicates'))} duplicates, "
                f"{fmt(h.get('unrecovered_resumes'))} of {fmt(h.get('resumes'))} resumes not recovered, "
                f"{fmt(h.get('publishes_failed'))} of {fmt(h.get('publishes_sent'))} publishes failed",
                bool(hist) and h.get("lost") == 0 and h.get("duplicates") == 0 and h.get("unrecovered_resumes") == 0
                and h.get("publishes_failed") == 0 and h.get("ready") == h.get("subscribers")))
    sc = server_closes(samples, steady)
    other = {k: v for k, v in sc.items() if k != "peer" and v}
    unexpected = [held.get("unexpected_closes"), churn.get("unexpected_closes"), h.get("unexpected_closes")]
    out.append(("unexpected closes = 0",
                f"clients: held {fmt(unexpected[0])}, churn {fmt(unexpected[1])}, history {fmt(unexpected[2])}; "
                f"server closes other than peer: {other or 'none'}",
                all(u == 0 for u in unexpected) and not other))
    out.append(("every unicast push delivered",
                f"{fmt(held.get('pushes'))} pushes, {fmt(held.get('push_failures'))} failed; "
                f"{fmt(held.get('received'))} deliveries received of {fmt(held.get('expected'))} expected",
                held.get("ok") is not False and held.get("received") is not None
                and held.get("expected") is not None and held["received"] >= held["expected"]
                and not held.get("push_failures")))
    out.append(("herald-bench runs ok", f"held failures: {held.get('failures')}; churn failures: {churn.get('failures')}",
                held.get("ok") is True and churn.get("ok") is True))
    return out, sc, (steady, ref, end)


def sample_rows(samples, ph, step_s):
    rows, last_t, prev = [], None, None
    t0 = ph["t_clients_started"]
    for s in samples:
        if last_t is not None and s["t"] - last_t < step_s - 1 and s is not samples[-1]:
            continue
        d = metric(s, "herald_messages_delivered_total") or 0
        rate = (d - prev[1]) / (s["t"] - prev[0]) if prev else None
        cpu = (s["cpu_s"] - prev[2]) / (s["t"] - prev[0]) * 100 if prev else None
        h = s.get("history", {})
        rows.append(f"| {(s['t'] - t0) / 60:+.1f} | {s['rss_kb'] / 1024:.1f} | {s['fds']} | "
                    f"{fmt(metric(s, 'herald_connections_open'))} | {fmt(rate)} | {fmt(cpu)} | "
                    f"{fmt(closes(s).get('peer'))} | {fmt(h.get('received'))} | {fmt(h.get('lost_in_gaps'))} | "
                    f"{fmt(h.get('unexpected_closes'))} | {s.get('tcp_time_wait', '')} |")
        last_t, prev = s["t"], (s["t"], d, s["cpu_s"])
    return rows


def plots(d, samples, ph):
    t0 = ph["t_clients_started"]
    pts = [((s["t"] - t0) / 60, s) for s in samples]
    svg_plot(os.path.join(d, "rss.svg"), "herald VmRSS during the soak", "minutes since the clients started", "MiB",
             [("herald", [(x, s["rss_kb"] / 1024, s["rss_kb"] / 1024, s["rss_kb"] / 1024) for x, s in pts])],
             x_ticks=[t for t in range(-1, int(pts[-1][0]) + 2, 5 if pts[-1][0] > 10 else 1)])
    svg_plot(os.path.join(d, "fds.svg"), "herald open file descriptors", "minutes since the clients started", "fds",
             [("herald", [(x, s["fds"], s["fds"], s["fds"]) for x, s in pts])],
             x_ticks=[t for t in range(-1, int(pts[-1][0]) + 2, 5 if pts[-1][0] > 10 else 1)])


def main():
    d, out_md = sys.argv[1], sys.argv[2]
    commit = sys.argv[sys.argv.index("--commit") + 1] if "--commit" in sys.argv else "unknown"
    ph = load_json(os.path.join(d, "phases.json"))
    samples = load_samples(os.path.join(d, "samples.jsonl"))
    held = bench_summary(load_json(os.path.join(d, "held.json")))
    churn = bench_summary(load_json(os.path.join(d, "churn.json")))
    hist = load_json(os.path.join(d, "history.json"))
    crit, sc, (steady, ref, end) = criteria(d, samples, ph, held, churn, hist)
    plots(d, samples, ph)
    lines = render(d, out_md, commit, ph, samples, held, churn, hist, crit, sc, steady, ref, end)
    with open(out_md, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(f"[soak_report] {'PASS' if ok else 'FAIL'} {name}: {text}" for name, text, ok in crit),
          file=sys.stderr)
    sys.exit(0 if all(ok for _, _, ok in crit) else 2)


def totals_text(samples, steady):
    """What /metrics counted from the baseline sample to the end of the steady phase."""
    a, b = samples[0], within(samples, (steady[0], steady[1] + 1))[-1]

    def delta(name):
        va, vb = metric(a, name), metric(b, name)
        if isinstance(vb, dict):
            return {k: v - (va or {}).get(k, 0) for k, v in vb.items() if v - (va or {}).get(k, 0)}
        return None if vb is None else vb - (va or 0)

    return (f"Server counters over the steady phase (/metrics, baseline → its last sample): "
            f"{fmt(delta('herald_connections_accepted_total'))} connections accepted, "
            f"{fmt(delta('herald_messages_delivered_total'))} messages delivered, dropped {delta('herald_messages_dropped_total') or 'none'}, "
            f"slow-consumer closes {fmt(delta('herald_slow_consumer_closes_total'))}, "
            f"refused {delta('herald_connections_refused_total') or 'none'}, client errors {delta('herald_client_errors_total') or 'none'}, "
            f"push requests {delta('herald_push_requests_total')}; herald CPU {b['cpu_s'] - a['cpu_s']:.0f} s.")


def svg_href(d, out_md, name):
    return os.path.relpath(os.path.join(d, name), os.path.dirname(os.path.abspath(out_md)))


def render(d, out_md, commit, ph, samples, held, churn, hist, crit, sc, steady, ref, end):
    t0 = ph["t_clients_started"]
    rel = lambda w: f"{(w[0] - t0) / 60:.1f}–{(w[1] - t0) / 60:.1f} min"  # noqa: E731
    lines = [f"# Soak: {ph['held'] + ph['churn_n'] + ph['history_n']:,} connections for {ph['duration']:.0f} s (issue 9)",
             "", f"- Commit: `{commit}`", f"- Steady phase: {rel(steady)} after the clients started; "
             f"RSS reference window {rel(ref)}, end window {rel(end)}",
             f"- Verdict: **{'PASS' if all(ok for _, _, ok in crit) else 'FAIL'}**", "",
             "| criterion | figures | verdict |", "|---|---|---|"]
    lines += [f"| {n} | {t} | {'pass' if ok else '**FAIL**'} |" for n, t, ok in crit]
    lines += ["", totals_text(samples, steady)]
    lines += ["", "Server closes by reason while the clients ran (baseline → end of the steady phase): " +
              ", ".join(f"{k} {fmt(v)}" for k, v in sc.items() if v) + ".", "",
              "## Samples", "", f"![RSS]({svg_href(d, out_md, 'rss.svg')}) ![fds]({svg_href(d, out_md, 'fds.svg')})", "",
              "| min | RSS MiB | fds | conns open | delivered/s | herald CPU % | closes (peer) | history received | "
              "history lost (gaps) | history unexpected closes | TIME-WAIT |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    step = max(ph["interval"], math.ceil((samples[-1]["t"] - samples[0]["t"]) / 40 / 60) * 60)
    lines += sample_rows(samples, ph, step)
    lines += ["", "## Clients", "", "```", "held:    " + json.dumps(held), "churn:   " + json.dumps(churn),
              "history: " + json.dumps({k: v for k, v in (hist or {}).items() if k != "parameters"}), "```",
              "", "Parameters: `" + json.dumps(ph) + "`"]
    return lines


if __name__ == "__main__":
    main()
