#!/usr/bin/python3
"""The history part of bench/soak.sh: subscribers of history topics that count every
offset, publishers, churn with resume, and the loss verdict.

--subscribers WebSocket connections (native API) each subscribe to one of --topics
history topics (<prefix>0, <prefix>1, ...; round-robin). Every message offset is checked
against the last one the connection saw: on a standalone node a topic's offsets are
contiguous (proto/PROTOCOL.md, "Topics, offsets and recovery"), so a jump is a loss and
an offset at or below the last is a duplicate. Churn: --churn-rate connections per second
(round-robin over all subscribers) close with a WebSocket close (1000) and reconnect at
once, subscribing with since=<last offset>&epoch, so a message published while a
subscriber was away must be replayed; a gap after a resume is a loss too, and so is a
reply with "recovered":false.

Publishes go at --publish-rate in total (topics round-robin): the share
--client-publish-share as {"op":"publish"} frames from one authenticated WebSocket
connection (needs herald's --client-publish matching the topics), the rest as
POST /api/v1/publish over --lanes keep-alive connections. The reply's offset is recorded.

At the end (publishing stopped, --drain seconds later) every subscriber's last offset must
equal its topic's last offset (GET /api/v1/history?topic=T&limit=1): a shortfall is a loss
at the tail. lost = gaps + tail shortfalls; expected = sum over subscribers of
(topic's last offset - offset at its first subscribe); received = distinct offsets seen.

A close the client did not start (any ConnectionClosed or error on a connection not being
churned, or a churned close that did not end with code 1000) is unexpected; the connection
then resumes like a churned one and is counted.

Every --status-every seconds a small JSON status is written to --status (the sampler
reads it); the full result goes to --out. Exit 0 if nothing was lost, duplicated or
closed unexpectedly, else 2. Standard library + Debian's python3-websockets. Loopback
only.
"""
import argparse
import asyncio
import json
import os
import sys
import time
import urllib.parse

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet_recovery import http_request, loopback_only  # noqa: E402


class Subscriber:
    __slots__ = ("index", "topic", "epoch", "last", "first", "received", "gaps", "lost_in_gaps",
                 "duplicates", "unrecovered", "resumes", "unexpected", "cycle", "closing", "ready")

    def __init__(self, index, topic):
        self.index, self.topic = index, topic
        self.epoch = self.last = self.first = None
        self.received = self.gaps = self.lost_in_gaps = self.duplicates = 0
        self.unrecovered = self.resumes = 0
        self.unexpected = []   # (t_s, why)
        self.cycle = asyncio.Event()
        self.closing = False
        self.ready = False

    def on_message(self, off):
        if self.last is not None and off <= self.last:
            self.duplicates += 1
            return
        if self.last is not None and off != self.last + 1:
            self.gaps += 1
            self.lost_in_gaps += off - self.last - 1
        self.received += 1
        self.last = off

    def on_subscribed(self, m, resumed):
        if resumed:
            self.resumes += 1
            if m.get("recovered") is not True or m.get("epoch") != self.epoch:
                self.unrecovered += 1
        self.epoch = m.get("epoch")
        if self.first is None:
            self.first = self.last = m.get("offset", 0)


def subscribe_frame(s):
    req = {"op": "subscribe", "topic": s.topic, "id": 1}
    if s.first is not None:
        req["since"], req["epoch"] = s.last, s.epoch
    return json.dumps(req)


async def serve_one(s, ws, on_ready):
    """Reads until the connection ends or the churn asks for a close; True if we closed it."""
    resumed = s.first is not None
    await ws.send(subscribe_frame(s))
    cycle = asyncio.create_task(s.cycle.wait())
    try:
        while True:
            recv = asyncio.create_task(ws.recv())
            recv.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved: no warning
            done, _ = await asyncio.wait({recv, cycle}, return_when=asyncio.FIRST_COMPLETED)
            if recv not in done:
                recv.cancel()
                s.closing = True
                await ws.close(1000)
                return ws.close_code == 1000
            m = json.loads(recv.result())
            op = m.get("op")
            if op == "message":
                s.on_message(m.get("offset", 0))
            elif op == "subscribed":
                s.on_subscribed(m, resumed)
                if not s.ready:
                    s.ready = True
                    on_ready()
            elif op == "error":
                s.unexpected.append((time.time(), "error frame: " + json.dumps(m)[:120]))
    finally:
        cycle.cancel()


async def run_subscriber(s, args, stop, on_ready):
    """Keeps subscriber s connected until stop; every (re)connect resumes from its last offset."""
    while not stop.is_set():
        s.cycle.clear()
        s.closing = False
        try:
            async with websockets.connect(args.url, open_timeout=10, ping_interval=None, close_timeout=5,
                                          max_size=2 ** 20, local_addr=(args.source_addr, 0)) as ws:
                clean = await serve_one(s, ws, on_ready)
                if not clean and not stop.is_set():
                    s.unexpected.append((time.time(), f"churn close ended with {ws.close_code}"))
        except asyncio.CancelledError:
            raise
        except Exception as e:
            if not stop.is_set():
                s.unexpected.append((time.time(), f"{type(e).__name__}: {e}"[:160]))
                await asyncio.sleep(0.2)


async def churn(subs, rate, stop, counter):
    period, n, next_t = 1.0 / rate, 0, time.monotonic()
    while not stop.is_set():
        next_t += period
        await asyncio.sleep(max(0.0, next_t - time.monotonic()))
        subs[n % len(subs)].cycle.set()
        n += 1
        counter[0] = n


class Publishes:
    def __init__(self):
        self.sent = self.ok = self.failed = self.client_ok = 0
        self.max_offset = {}   # topic -> highest offset a reply gave
        self.first_error = ""

    def answered(self, topic, offset, client=False):
        self.ok += 1
        self.client_ok += client
        self.max_offset[topic] = max(self.max_offset.get(topic, 0), offset or 0)

    def fail(self, why):
        self.failed += 1
        self.first_error = self.first_error or why[:200]


def schedule(args, i, t0):
    """Publish i: its topic and its intended time; every k-th goes by client frame."""
    topic = f"{args.prefix}{i % args.topics}"
    by_client = args.client_publish_share > 0 and i % round(1 / args.client_publish_share) == 0
    return topic, t0 + i / args.publish_rate, by_client


async def http_lane(args, jobs, pubs):
    u = urllib.parse.urlsplit(args.api)
    reader = writer = None
    while True:
        job = await jobs.get()
        if job is None:
            break
        topic, i = job
        body = json.dumps({"topic": topic, "data": {"seq": i, "t": time.time()}})
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(u.hostname, u.port, local_addr=(args.source_addr, 0))
            status, text = await http_request(reader, writer, "POST", u.netloc, "/api/v1/publish", body)
            if status == 200:
                pubs.answered(topic, json.loads(text).get("offset"))
            else:
                pubs.fail(f"HTTP {status}: {text}")
        except Exception as e:
            pubs.fail(f"{type(e).__name__}: {e}")
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def client_publisher(args, queue, pubs, stop):
    """One authenticated connection publishing with {"op":"publish"}; replies carry the id."""
    async with websockets.connect(args.url, open_timeout=10, ping_interval=None, close_timeout=5,
                                  local_addr=(args.source_addr, 0)) as ws:
        await ws.send(json.dumps({"op": "auth", "token": "soak-publisher", "id": "a"}))
        pending = {}

        async def reader():
            async for raw in ws:
                m = json.loads(raw)
                topic = pending.pop(m.get("id"), None)
                if m.get("op") == "published" and topic is not None:
                    pubs.answered(topic, m.get("offset"), client=True)
                elif m.get("op") == "error":
                    pending.pop(m.get("id"), None)
                    pubs.fail("client publish: " + json.dumps(m)[:160])

        task = asyncio.create_task(reader())
        while (job := await queue.get()) is not None:
            topic, i = job
            pending[i] = topic
            await ws.send(json.dumps({"op": "publish", "topic": topic, "data": {"seq": i}, "id": i}))
        await asyncio.sleep(args.drain)
        pubs.failed += len(pending)
        await ws.close(1000)
        await asyncio.gather(task, return_exceptions=True)


async def publish(args, pubs, stop):
    http_jobs, client_jobs = asyncio.Queue(), asyncio.Queue()
    lanes = [asyncio.create_task(http_lane(args, http_jobs, pubs)) for _ in range(args.lanes)]
    client = asyncio.create_task(client_publisher(args, client_jobs, pubs, stop))
    t0, i = time.monotonic(), 0
    while not stop.is_set():
        topic, at, by_client = schedule(args, i, t0)
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        await (client_jobs if by_client else http_jobs).put((topic, i))
        pubs.sent += 1
        i += 1
    for _ in lanes:
        await http_jobs.put(None)
    await client_jobs.put(None)
    for r in await asyncio.gather(*lanes, client, return_exceptions=True):
        if isinstance(r, Exception):
            pubs.fail(f"publisher ended with {type(r).__name__}: {r}")


async def topic_offsets(args):
    u = urllib.parse.urlsplit(args.api)
    out = {}
    reader, writer = await asyncio.open_connection(u.hostname, u.port, local_addr=(args.source_addr, 0))
    for k in range(args.topics):
        topic = f"{args.prefix}{k}"
        q = urllib.parse.urlencode({"topic": topic, "limit": 1})
        status, text = await http_request(reader, writer, "GET", u.netloc, f"/api/v1/history?{q}")
        out[topic] = json.loads(text).get("offset") if status == 200 else None
    writer.close()
    return out


def totals(subs, pubs, churned, final=None):
    t = {"subscribers": len(subs), "ready": sum(s.ready for s in subs),
         "received": sum(s.received for s in subs), "gaps": sum(s.gaps for s in subs),
         "lost_in_gaps": sum(s.lost_in_gaps for s in subs), "duplicates": sum(s.duplicates for s in subs),
         "unrecovered_resumes": sum(s.unrecovered for s in subs), "resumes": sum(s.resumes for s in subs),
         "unexpected_closes": sum(len(s.unexpected) for s in subs), "churn_requested": churned[0],
         "publishes_sent": pubs.sent, "publishes_ok": pubs.ok, "publishes_failed": pubs.failed,
         "client_publishes_ok": pubs.client_ok}
    if final is not None:
        tail = sum(max(0, (final.get(s.topic) or 0) - (s.last or 0)) for s in subs)
        t["lost_at_tail"] = tail
        t["lost"] = t["lost_in_gaps"] + tail
        t["expected"] = sum((final.get(s.topic) or 0) - (s.first or 0) for s in subs)
        t["topic_last_offsets"] = final
        t["publisher_max_offsets"] = pubs.max_offset
        t["offsets_beyond_publishes"] = sum(max(0, (final.get(k) or 0) - v) for k, v in pubs.max_offset.items())
    return t


async def write_status(args, subs, pubs, churned, stop):
    while not stop.is_set():
        t = totals(subs, pubs, churned)
        t["t"] = time.time()
        with open(args.status + ".tmp", "w") as f:
            json.dump(t, f)
        os.replace(args.status + ".tmp", args.status)
        try:
            await asyncio.wait_for(stop.wait(), args.status_every)
        except asyncio.TimeoutError:
            pass


async def ramp(args, subs, stop):
    ready = [0]
    all_ready = asyncio.Event()

    def on_ready():
        ready[0] += 1
        if ready[0] == len(subs):
            all_ready.set()

    tasks = []
    for k, s in enumerate(subs):
        tasks.append(asyncio.create_task(run_subscriber(s, args, stop, on_ready)))
        if k % 50 == 49:
            await asyncio.sleep(0.02)
    try:
        await asyncio.wait_for(all_ready.wait(), 60)
    except asyncio.TimeoutError:
        pass
    return tasks, ready[0]


async def main_async(args):
    subs = [Subscriber(i, f"{args.prefix}{i % args.topics}") for i in range(args.subscribers)]
    pubs, churned = Publishes(), [0]
    stop_subs, stop_pub = asyncio.Event(), asyncio.Event()
    status = asyncio.create_task(write_status(args, subs, pubs, churned, stop_subs))
    tasks, ready = await ramp(args, subs, stop_subs)
    print(f"[soak_history] {ready}/{len(subs)} subscribed", file=sys.stderr, flush=True)
    t_start = time.time()
    publisher = asyncio.create_task(publish(args, pubs, stop_pub))
    churner = asyncio.create_task(churn(subs, args.churn_rate, stop_pub, churned)) if args.churn_rate > 0 else None
    await asyncio.sleep(args.duration)
    stop_pub.set()
    await publisher
    if churner:
        await churner
    await asyncio.sleep(args.drain)
    final = await topic_offsets(args)
    result = totals(subs, pubs, churned, final)
    stop_subs.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, status, return_exceptions=True)
    result.update({"duration_s": time.time() - t_start, "first_publish_error": pubs.first_error,
                   "unexpected_close_samples": [w for s in subs for w in s.unexpected][:20],
                   "parameters": vars(args)})
    return result


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True, help="ws://127.0.0.1:PORT/ws")
    p.add_argument("--api", required=True, help="http://127.0.0.1:PORT")
    p.add_argument("--subscribers", type=int, default=1000)
    p.add_argument("--topics", type=int, default=20)
    p.add_argument("--prefix", default="soak:h")
    p.add_argument("--publish-rate", type=float, default=50)
    p.add_argument("--client-publish-share", type=float, default=0.2)
    p.add_argument("--churn-rate", type=float, default=2)
    p.add_argument("--duration", type=float, default=60)
    p.add_argument("--drain", type=float, default=3)
    p.add_argument("--lanes", type=int, default=4)
    p.add_argument("--source-addr", default="127.0.0.6")
    p.add_argument("--status", required=True)
    p.add_argument("--status-every", type=float, default=5)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    for u in (args.url, args.api):
        loopback_only(u)
    return args


def main():
    args = parse_args()
    result = asyncio.run(main_async(args))
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    bad = result["lost"] or result["duplicates"] or result["unexpected_closes"] or result["unrecovered_resumes"] \
        or result["publishes_failed"] or result["ready"] < result["subscribers"]
    print("[soak_history] " + json.dumps({k: v for k, v in result.items() if isinstance(v, (int, float))}),
          file=sys.stderr)
    sys.exit(2 if bad else 0)


if __name__ == "__main__":
    main()
