#!/usr/bin/python3
"""History recovery after a node kill, for bench/fleet.sh (scenario "recovery").

N native WebSocket subscribers of one topic sit on the victim node. A publisher sends
a steady stream of `POST /api/v1/publish` to another node. After --before seconds the
victim is killed with SIGKILL; every client reconnects to one of the surviving nodes
(alternating by client index, after a uniform 0..--jitter s pause) and resubscribes
with `since` = the last offset it saw and the epoch it saw. Publishing goes on for
--after seconds, then the clients get --drain seconds to receive what is in flight.

Measured (CLOCK_MONOTONIC, which is shared by every process on the machine):
  - per client, the instant it had replayed everything it missed: the reply to the
    resubscription gives the topic's last offset S; the client is recovered once it
    holds every stored offset in (last offset seen before the close, S]. Figures are
    taken from the kill: p50, p99, max ("every client").
  - exactly once: the stored offsets (read back with GET /api/v1/history, checked
    against the publish answers) after the client's first subscription must arrive
    exactly once each, in order; duplicates, gaps, unknown and unsequenced (offset 0)
    deliveries are counted.
  - the publish answers around the kill: 503s, "partial":true, and counts below N.
  - CPU of nats-server and of the surviving herald processes over the run (/proc).

Clients run in --procs forked processes (asyncio + Debian's python3-websockets); the
parent runs the publisher and the kill. Standard library + websockets only. Loopback only.
Usage: fleet_recovery.py --victim-url ws://127.0.0.1:P3/ws --victim-pid PID
         --alt-urls ws://127.0.0.1:P1/ws,ws://127.0.0.1:P2/ws --publish-url http://127.0.0.1:P1
         [--clients 1000 --rate 10 --before 3 --after 10 --procs 2] --out FILE
"""
import argparse
import asyncio
import ipaddress
import json
import multiprocessing as mp
import os
import random
import signal
import statistics
import sys
import threading
import time
import urllib.parse

import websockets

TOPIC = "rec"


def now_ns():
    return time.monotonic_ns()


def loopback_only(url):
    host = urllib.parse.urlsplit(url).hostname
    if host == "localhost":
        return
    if not ipaddress.ip_address(host).is_loopback:
        sys.exit(f"refusing non-loopback address {url}")


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)
    except (OSError, IndexError, ValueError):
        return None


# ---------------------------------------------------------------- clients (children)

class Client:
    __slots__ = ("index", "epoch", "last", "first_offset", "msgs", "subs", "closes", "errors", "ready")

    def __init__(self, index):
        self.index = index
        self.epoch = None
        self.last = None          # highest offset seen (the first subscribe's offset at first)
        self.first_offset = None  # offset in the reply to the very first subscribe
        self.msgs = []            # (offset, t_ns)
        self.subs = []            # (t_ns, offset, recovered, url index, since)
        self.closes = []          # (t_ns, why)
        self.errors = []
        self.ready = False


async def run_client(c, urls, args, stop, on_ready):
    url_index = 0  # 0: the victim; then one survivor, fixed per client
    while not stop.is_set():
        url = urls[url_index]
        try:
            async with websockets.connect(url, open_timeout=10, ping_interval=None, close_timeout=1,
                                          max_size=2 ** 20) as ws:
                request = {"op": "subscribe", "topic": TOPIC, "id": 1}
                if c.first_offset is not None:
                    request["since"] = c.last
                    request["epoch"] = c.epoch
                since = request.get("since")
                await ws.send(json.dumps(request))
                async for raw in ws:
                    t = now_ns()
                    m = json.loads(raw)
                    op = m.get("op")
                    if op == "message":
                        off = m.get("offset", 0)
                        c.msgs.append((off, t))
                        if off > (c.last or 0):
                            c.last = off
                    elif op == "subscribed":
                        c.subs.append((t, m.get("offset"), m.get("recovered"), url_index, since))
                        c.epoch = m.get("epoch")
                        if c.first_offset is None:
                            c.first_offset = c.last = m.get("offset", 0)
                            c.ready = True
                            on_ready()
                    elif op == "error":
                        c.errors.append(m)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the victim's death, a refused connect, ...
            c.closes.append((now_ns(), f"{type(e).__name__}: {e}"[:160]))
        if stop.is_set():
            break
        if url_index == 0:
            url_index = 1 + c.index % (len(urls) - 1)
        await asyncio.sleep(random.uniform(0, args.jitter))


def child_main(slice_indices, args, conn):
    urls = [args.victim_url] + args.alt_urls.split(",")

    async def main():
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        clients = [Client(i) for i in slice_indices]
        ready = [0]
        all_ready = asyncio.Event()

        def on_ready():
            ready[0] += 1
            if ready[0] == len(clients):
                all_ready.set()

        # The parent's commands arrive on a pipe; a thread hands them to the loop.
        def reader():
            try:
                while True:
                    if conn.recv() == "stop":
                        break
            except EOFError:
                pass
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=reader, daemon=True).start()
        tasks = []
        for k, c in enumerate(clients):
            tasks.append(asyncio.create_task(run_client(c, urls, args, stop, on_ready)))
            if k % 50 == 49:
                await asyncio.sleep(0.01)  # a gentle ramp
        try:
            await asyncio.wait_for(all_ready.wait(), timeout=args.ready_timeout)
        except asyncio.TimeoutError:
            pass
        conn.send(("ready", ready[0]))
        await stop.wait()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        conn.send(("result", [(c.index, c.first_offset, c.msgs, c.subs, c.closes, c.errors[:5])
                              for c in clients]))

    asyncio.run(main())
    conn.close()


# ---------------------------------------------------------------- parent: HTTP

async def http_request(reader, writer, method, host, target, body=None):
    data = body.encode() if body is not None else b""
    head = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(data)}\r\n"
    if body is not None:
        head += "Content-Type: application/json\r\n"
    writer.write(head.encode() + b"\r\n" + data)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode().partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    payload = await reader.readexactly(length) if length else b""
    return status, payload.decode(errors="replace")


async def http_once(base, method, target, body=None):
    u = urllib.parse.urlsplit(base)
    reader, writer = await asyncio.open_connection(u.hostname, u.port)
    try:
        return await http_request(reader, writer, method, u.netloc, target, body)
    finally:
        writer.close()


async def publisher(args, t0, count, answers):
    """Publish i at t0 + i/rate over --lanes keep-alive connections (a free lane takes the
    next one, so a slow answer does not stall the schedule)."""
    u = urllib.parse.urlsplit(args.publish_url)
    next_i = [0]

    async def lane():
        reader = writer = None
        while True:
            i = next_i[0]
            if i >= count:
                break
            next_i[0] += 1
            intended = t0 + int(i * 1e9 / args.rate)
            delay = (intended - now_ns()) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
            body = json.dumps({"topic": TOPIC, "data": {"seq": i, "t": intended}})
            sent = now_ns()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(u.hostname, u.port)
                status, text = await http_request(reader, writer, "POST", u.netloc, "/api/v1/publish", body)
            except Exception as e:
                status, text = None, f"{type(e).__name__}: {e}"
                if writer is not None:
                    writer.close()
                reader = writer = None
            answers.append({"seq": i, "intended_ns": intended, "sent_ns": sent, "answered_ns": now_ns(),
                            "status": status, "body": text[:300]})
        if writer is not None:
            writer.close()

    await asyncio.gather(*(lane() for _ in range(args.lanes)))


async def watch_fleet(base, t_kill, shrunk_to, stop, out):
    """After the kill: when does the publishing node's herald_fleet_nodes drop to `shrunk_to`?"""
    while not stop.is_set():
        try:
            status, text = await http_once(base, "GET", "/metrics")
            for line in text.splitlines():
                if line.startswith("herald_fleet_nodes "):
                    value = float(line.split()[1])
                    if value <= shrunk_to and "fleet_shrunk_after_s" not in out:
                        out["fleet_shrunk_after_s"] = (now_ns() - t_kill) / 1e9
                        return
        except Exception:
            pass
        await asyncio.sleep(0.05)


async def stored_history(base, after):
    """Every stored message of the topic after offset `after`, paged."""
    out = []
    since = after
    for _ in range(100):
        status, text = await http_once(base, "GET", f"/api/v1/history?topic={TOPIC}&since={since}&limit=1000")
        if status != 200:
            return None, f"history answered {status}: {text[:200]}"
        page = json.loads(text)
        msgs = page.get("messages", [])
        out.extend(msgs)
        if not msgs or msgs[-1]["offset"] >= page.get("offset", 0):
            return out, page
        since = msgs[-1]["offset"]
    return out, "history paging did not end"


# ---------------------------------------------------------------- parent: analysis

def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100 * len(v) + 0.5)) - 1))
    return v[k]


def analyse(args, results, answers, stored, t_kill):
    stored_offsets = [m["offset"] for m in stored]
    stored_set = set(stored_offsets)
    seq_of_offset = {}
    for m in stored:
        d = m.get("data")
        if isinstance(d, dict):
            seq_of_offset[m["offset"]] = d.get("seq")
    f = {}
    # -- publish answers
    ok_offsets = []
    partial, failed, low_counts = [], [], []
    for a in answers:
        rel = (a["answered_ns"] - t_kill) / 1e9
        if a["status"] != 200:
            failed.append({"seq": a["seq"], "status": a["status"], "answered_after_kill_s": round(rel, 3),
                           "body": a["body"][:160]})
            continue
        body = json.loads(a["body"])
        ok_offsets.append(body.get("offset"))
        a["delivered"] = body.get("delivered")
        if body.get("partial"):
            partial.append({"seq": a["seq"], "answered_after_kill_s": round(rel, 3),
                            "delivered": body.get("delivered"), "nodes": body.get("nodes")})
        elif body.get("delivered") is not None and body["delivered"] != args.clients:
            low_counts.append({"seq": a["seq"], "sent_after_kill_s": round((a["sent_ns"] - t_kill) / 1e9, 3),
                               "delivered": body["delivered"], "nodes": body.get("nodes")})
    f["publishes"] = len(answers)
    f["publishes_ok"] = len(ok_offsets)
    f["publishes_failed"] = len(failed)
    f["publishes_partial"] = len(partial)
    f["publishes_count_not_n"] = len(low_counts)
    f["publish_offsets_not_stored"] = len([o for o in ok_offsets if o not in stored_set])
    f["stored_not_answered_ok"] = len(stored_set - set(ok_offsets))
    f["stored_messages"] = len(stored_offsets)
    f["stored_offsets_increasing"] = all(a < b for a, b in zip(stored_offsets, stored_offsets[1:]))
    reply_before = [(a["answered_ns"] - a["sent_ns"]) / 1e3 for a in answers if a["sent_ns"] < t_kill]
    reply_kill = [(a["answered_ns"] - a["sent_ns"]) / 1e3 for a in answers
                  if t_kill <= a["sent_ns"] < t_kill + 2e9]
    f["publish_reply_p50_us_before_kill"] = pct(reply_before, 50)
    f["publish_reply_max_us_before_kill"] = max(reply_before) if reply_before else None
    f["publish_reply_max_us_first_2s_after_kill"] = max(reply_kill) if reply_kill else None

    # -- clients
    recovered_at, resub_at, missed_counts = [], [], []
    dups = gaps = unknown = unsequenced = out_of_order = 0
    not_reconnected = not_recovered = recovered_false = errors = 0
    never_subscribed = 0
    worst = []
    for index, first_offset, msgs, subs, closes, errs in results:
        errors += len(errs)
        if first_offset is None:
            never_subscribed += 1
            continue
        expected = [o for o in stored_offsets if o > first_offset]
        got = [o for o, _ in msgs]
        seen = set()
        prev = first_offset
        anomalies = []
        for k, o in enumerate(got):
            if o == 0:
                unsequenced += 1
                anomalies.append(("unsequenced", k, o))
                continue
            if o in seen:
                dups += 1
                anomalies.append(("duplicate", k, o))
                continue
            if o not in stored_set:
                unknown += 1
                anomalies.append(("unknown", k, o))
            if o < prev:
                out_of_order += 1
                anomalies.append(("out_of_order", k, o))
            seen.add(o)
            prev = max(prev, o)
        missing = [o for o in expected if o not in seen]
        gaps += len(missing)
        if (missing or anomalies) and len(worst) < 10:
            # The whole timeline of this client, relative to the kill (ms), to find the cause.
            rel = lambda t: round((t - t_kill) / 1e6, 3)
            worst.append({"client": index, "first_offset": first_offset,
                          "anomalies": [{"kind": kind, "at_index": k, "offset": o,
                                         "arrivals_ms": [rel(t) for oo, t in msgs if oo == o],
                                         "seq": seq_of_offset.get(o)} for kind, k, o in anomalies[:10]],
                          "missing": missing[:10], "missing_count": len(missing),
                          "subs": [{"at_ms": rel(t), "offset": so, "recovered": rc, "node": ui, "since": si}
                                   for t, so, rc, ui, si in subs],
                          "closes": [{"at_ms": rel(t), "why": w} for t, w in closes],
                          "received": [(o, rel(t)) for o, t in msgs]})
        # the resubscription after the kill
        later = [s for s in subs if s[0] >= t_kill]
        if not later:
            not_reconnected += 1
            continue
        t_sub, s_offset, recovered, _, since = later[0]
        resub_at.append((t_sub - t_kill) / 1e9)
        if recovered is False:
            recovered_false += 1
        lo = since if since is not None else first_offset
        missed = [o for o in stored_offsets if lo < o <= (s_offset or 0)]
        missed_counts.append(len(missed))
        arrival = {}
        for o, t in msgs:
            arrival.setdefault(o, t)
        times = [arrival.get(o) for o in missed]
        if any(t is None for t in times):
            not_recovered += 1
            continue
        done = max([t_sub] + times)
        recovered_at.append((done - t_kill) / 1e9)
    f["clients"] = args.clients
    f["clients_never_subscribed"] = never_subscribed
    f["clients_not_reconnected"] = not_reconnected
    f["clients_not_recovered"] = not_recovered
    f["clients_recovered"] = len(recovered_at)
    f["recovered_false_answers"] = recovered_false
    f["client_errors"] = errors
    f["recovery_all_s"] = max(recovered_at) if recovered_at else None
    f["recovery_p50_s"] = pct(recovered_at, 50)
    f["recovery_p99_s"] = pct(recovered_at, 99)
    f["resubscribed_all_s"] = max(resub_at) if resub_at else None
    f["resubscribed_p50_s"] = pct(resub_at, 50)
    f["missed_per_client_mean"] = statistics.mean(missed_counts) if missed_counts else None
    f["missed_per_client_max"] = max(missed_counts) if missed_counts else None
    f["duplicates"] = dups
    f["missing"] = gaps
    f["unknown_offsets"] = unknown
    f["unsequenced_deliveries"] = unsequenced
    f["out_of_order"] = out_of_order
    f["exactly_once"] = (dups == 0 and gaps == 0 and unknown == 0 and out_of_order == 0
                         and never_subscribed == 0)
    details = {"failed_publishes": failed[:20], "partial_publishes": partial[:20],
               "count_not_n_publishes": low_counts[:20], "clients_with_gaps": worst,
               "kill_at_ms_after_first_publish": round((t_kill - answers[0]["sent_ns"]) / 1e6, 3) if answers else None,
               "publish_answers": [{"seq": a["seq"], "sent_ms": round((a["sent_ns"] - t_kill) / 1e6, 3),
                                    "answered_ms": round((a["answered_ns"] - t_kill) / 1e6, 3),
                                    "status": a["status"], "body": a["body"][:120]} for a in answers]}
    return f, details


# ---------------------------------------------------------------- parent: main

async def parent_main(args, pipes):
    loop = asyncio.get_running_loop()

    async def recv(conn):
        return await loop.run_in_executor(None, conn.recv)

    t_ready0 = now_ns()
    readies = await asyncio.gather(*(recv(c) for c in pipes))
    ready = sum(n for _, n in readies)
    ramp_s = (now_ns() - t_ready0) / 1e9
    print(f"[recovery] {ready}/{args.clients} subscribed in {ramp_s:.1f} s", file=sys.stderr)
    out = {}
    hz = os.sysconf("SC_CLK_TCK")
    pids = {"nats": args.nats_pid, **{f"herald{i}": int(p) for i, p in enumerate(args.survivor_pids.split(","))
                                      if p}}
    count = int(args.rate * (args.before + args.after))
    answers = []
    t0 = now_ns() + 50_000_000
    cpu0 = {k: cpu_ticks(p) for k, p in pids.items()}
    pub = asyncio.create_task(publisher(args, t0, count, answers))
    await asyncio.sleep((t0 - now_ns()) / 1e9 + args.before)
    t_kill = now_ns()
    os.kill(args.victim_pid, signal.SIGKILL)
    print(f"[recovery] killed {args.victim_pid}", file=sys.stderr)
    stop_watch = asyncio.Event()
    watch = asyncio.create_task(watch_fleet(args.publish_url, t_kill, args.fleet_size - 1, stop_watch, out))
    await pub
    await asyncio.sleep(args.drain)
    cpu1 = {k: cpu_ticks(p) for k, p in pids.items()}
    stop_watch.set()
    try:
        await asyncio.wait_for(watch, 2)
    except asyncio.TimeoutError:
        pass
    for c in pipes:
        c.send("stop")
    results = []
    for c in pipes:
        kind, data = await recv(c)
        results.extend(data)
    # Ground truth: what the stream holds after the first subscription of any client.
    first = min((r[1] for r in results if r[1] is not None), default=0)
    stored, page = await stored_history(args.publish_url, first)
    if stored is None:
        stored = []
        out["history_error"] = page
    figures, details = analyse(args, results, answers, stored, t_kill)
    figures.update(out)
    figures["subscribe_ramp_s"] = ramp_s
    for k in pids:
        if cpu0[k] is not None and cpu1[k] is not None:
            figures[f"{k}_cpu_seconds"] = (cpu1[k] - cpu0[k]) / hz
    figures["cpu_window_s"] = (args.before + args.after + args.drain)
    return figures, details


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--victim-url", required=True)
    p.add_argument("--victim-pid", type=int, required=True)
    p.add_argument("--alt-urls", required=True, help="comma list of the surviving nodes' ws URLs")
    p.add_argument("--publish-url", required=True, help="http://host:port of the node publishes go to")
    p.add_argument("--survivor-pids", default="", help="comma list: their CPU over the run")
    p.add_argument("--nats-pid", type=int, default=0)
    p.add_argument("--fleet-size", type=int, default=3, help="nodes before the kill")
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--rate", type=float, default=10, help="publishes per second")
    p.add_argument("--before", type=float, default=3, help="seconds of publishing before the kill")
    p.add_argument("--after", type=float, default=10, help="seconds of publishing after the kill")
    p.add_argument("--drain", type=float, default=3, help="seconds after the last publish")
    p.add_argument("--jitter", type=float, default=0.1, help="reconnect delay: uniform 0..J s")
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--lanes", type=int, default=4, help="publisher keep-alive connections")
    p.add_argument("--ready-timeout", type=float, default=30)
    p.add_argument("--label", default="")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    for u in [args.victim_url, args.publish_url] + args.alt_urls.split(","):
        loopback_only(u)
    ctx = mp.get_context("fork")
    pipes, procs = [], []
    for k in range(args.procs):
        parent_end, child_end = ctx.Pipe()
        indices = list(range(k, args.clients, args.procs))
        proc = ctx.Process(target=child_main, args=(indices, args, child_end), daemon=True)
        proc.start()
        pipes.append(parent_end)
        procs.append(proc)
    try:
        figures, details = asyncio.run(asyncio.wait_for(parent_main(args, pipes), 300))
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    failures = []
    if not figures.get("exactly_once"):
        failures.append("exactly-once violated or clients never subscribed (see figures/details)")
    if figures.get("clients_not_recovered") or figures.get("clients_not_reconnected"):
        failures.append(f"{figures.get('clients_not_reconnected')} clients did not reconnect, "
                        f"{figures.get('clients_not_recovered')} did not replay everything they missed")
    if figures.get("publishes_failed"):
        failures.append(f"{figures['publishes_failed']} publishes were not answered 200")
    u = os.uname()
    report = {"tool": "fleet_recovery.py", "scenario": "recovery", "ok": not failures, "failures": failures,
              "parameters": {k: v for k, v in vars(args).items() if k != "out"},
              "machine": {"cores": os.cpu_count(), "kernel": f"{u.sysname} {u.release}"},
              "figures": figures, "details": details}
    with open(args.out, "w") as fh:
        json.dump(report, fh)
    print(json.dumps({k: figures.get(k) for k in ("recovery_all_s", "recovery_p50_s", "resubscribed_all_s",
                                                  "missed_per_client_max", "exactly_once", "duplicates",
                                                  "missing", "publishes_partial", "publishes_failed")}),
          file=sys.stderr)
    sys.exit(0 if not failures else 2)


if __name__ == "__main__":
    main()
