"""GET /metrics: valid Prometheus text (promtool check metrics) before and
after traffic, the documented series, and values that track what we did."""
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import herald_harness as hh  # noqa: E402

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def promtool(text: str):
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace").strip()


async def wait_metric(h, pred, timeout=hh.WAIT):
    """Scrape until pred(samples) holds (bounded); returns the last samples."""
    deadline = time.monotonic() + timeout
    while True:
        samples = hh.parse_metrics(await asyncio.to_thread(h.metrics))
        if pred(samples) or time.monotonic() > deadline:
            return samples
        await asyncio.sleep(0.1)


def histogram_ok(text: str, name: str, labels: str):
    """Buckets cumulative and non-decreasing, +Inf bucket == _count, _sum present."""
    buckets = []
    for m in re.finditer(rf'^{name}_bucket\{{{labels},le="([^"]+)"\}} (\S+)$', text, re.M):
        buckets.append((float("inf") if m.group(1) == "+Inf" else float(m.group(1)), float(m.group(2))))
    count = re.search(rf"^{name}_count\{{{labels}\}} (\S+)$", text, re.M)
    total = re.search(rf"^{name}_sum\{{{labels}\}} (\S+)$", text, re.M)
    if not buckets or not count or not total:
        return False, f"buckets={len(buckets)} count={bool(count)} sum={bool(total)}"
    buckets.sort()
    values = [v for _, v in buckets]
    if values != sorted(values):
        return False, f"buckets not cumulative: {buckets}"
    if buckets[-1][0] != float("inf") or buckets[-1][1] != float(count.group(1)):
        return False, f"+Inf bucket {buckets[-1]} vs count {count.group(1)}"
    return True, ""


async def body(binary, c: hh.Checks):
    h = hh.Herald(binary).start()

    async with hh.section(c, "fresh node"):
        status, headers, raw = await h.ahttp("GET", "/metrics")
        c.eq("GET /metrics answers 200", status, 200)
        c.check("content type is Prometheus text 0.0.4", headers.get("content-type", "").startswith("text/plain"),
                headers.get("content-type", ""))
        text = raw.decode()
        rc, out = await asyncio.to_thread(promtool, text)
        c.check("promtool check metrics passes on a fresh node", rc == 0, out[:500])
        samples = hh.parse_metrics(text)
        for series in ['herald_connections_open{shard="0"}', "herald_messages_delivered_total",
                       "herald_slow_consumer_closes_total"]:
            c.check(f"{series} is exposed", series in samples, "missing")
        c.check("herald_push_duration_seconds is declared a histogram",
                "# TYPE herald_push_duration_seconds histogram" in text)
        status, _, _ = await h.ahttp("POST", "/metrics", "")
        c.eq("POST /metrics answers 405", status, 405)
        before = samples

    async with hh.section(c, "after traffic"):
        conns = [await hh.ws_connect(h.ws_url) for _ in range(3)]
        try:
            for ws in conns:
                await hh.register(ws, "mia", "ev")
            await conns[0].send(json.dumps({"op": "subscribe", "topic": "tp", "id": 1}))
            await hh.recv(conns[0])
            s = await wait_metric(h, lambda s: hh.metric_sum(s, "herald_connections_open") == 3)
            c.eq("herald_connections_open summed over shards counts 3 clients",
                 hh.metric_sum(s, "herald_connections_open"), 3)
            for i in range(5):
                status, _, _ = await h.apush("mia", "ev", f"m{i}")
            for ws in conns:
                for i in range(5):
                    await hh.recv(ws)
            await h.ahttp("POST", "/api/v1/publish", json.dumps({"topic": "tp", "data": {"a": 1}}))
            await hh.recv(conns[0])
            await h.ahttp("POST", "/api/v1/push", json.dumps({"user": "mia", "data": 1}))
            await h.ahttp("POST", "/push", "{bad json")
            await conns[1].send("not json")
            await hh.recv(conns[1])
            want = before.get("herald_messages_delivered_total", 0) + 16
            s = await wait_metric(h, lambda s: s.get("herald_messages_delivered_total", 0) >= want)
            c.check("herald_messages_delivered_total counts the 16 messages received",
                    s.get("herald_messages_delivered_total", 0) >= want,
                    f"{before.get('herald_messages_delivered_total')} -> {s.get('herald_messages_delivered_total')}")
            c.eq('herald_push_requests_total{endpoint="push",status="200"} counts 5 pushes',
                 s.get('herald_push_requests_total{endpoint="push",status="200"}'), 5.0)
            c.eq('herald_push_requests_total{endpoint="push",status="400"} counts the bad push',
                 s.get('herald_push_requests_total{endpoint="push",status="400"}'), 1.0)
            text = await asyncio.to_thread(h.metrics)
            ok, detail = histogram_ok(text, "herald_push_duration_seconds", 'endpoint="push"')
            c.check("push duration histogram is well formed and counts every push", ok, detail)
            cnt = hh.parse_metrics(text).get('herald_push_duration_seconds_count{endpoint="push"}')
            c.eq("push duration histogram _count is 6 (5 ok + 1 bad)", cnt, 6.0)
            rc, out = await asyncio.to_thread(promtool, text)
            c.check("promtool check metrics passes after traffic", rc == 0, out[:500])
            monotonic = all(s.get(k, 0) >= v for k, v in before.items()
                            if k.endswith("_total") or "_total{" in k)
            c.check("no counter went backwards", monotonic)
        finally:
            for ws in conns:
                await ws.close()
        s = await wait_metric(h, lambda s: hh.metric_sum(s, "herald_connections_open") == 0)
        c.eq("herald_connections_open returns to 0 after the clients leave",
             hh.metric_sum(s, "herald_connections_open"), 0)
        text = await asyncio.to_thread(h.metrics)
        rc, out = await asyncio.to_thread(promtool, text)
        c.check("promtool check metrics passes after disconnects", rc == 0, out[:500])

    h.stop()


if __name__ == "__main__":
    hh.main(body, timeout=90)
