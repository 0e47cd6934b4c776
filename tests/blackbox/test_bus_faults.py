"""Black-box: a fleet node on a bus in trouble. Starts real nats-server
(JetStream) processes itself on a free loopback port and a private store.

- a node started while NATS is down serves its own clients, says so in
  /metrics, answers publishers 503 bus_unavailable, and joins the bus by
  itself once NATS is up;
- a node that stops answering (SIGSTOP) makes publications answer
  partial:true within --bus-ack-timeout instead of a wrong count; once it
  is silent past the heartbeat's limit it is no longer waited for; once it
  runs again it receives what was published meanwhile and counts again."""
import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import herald_harness as hh

ACK_TIMEOUT = "0.5"


class Nats:
    def __init__(self) -> None:
        self.port = hh.free_port()
        self.dir = tempfile.mkdtemp(prefix="herald-nats-")
        self.proc = None

    def start(self) -> "Nats":
        self.proc = subprocess.Popen(["nats-server", "-js", "-sd", self.dir, "-p", str(self.port), "-a", "127.0.0.1"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"


def node(binary, nats, name, *extra):
    return hh.Herald(binary, "--bus", nats.url, "--node-name", name, "--bus-ack-timeout", ACK_TIMEOUT, *extra).start()


def wait_metric(h, name, value, timeout=10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hh.metric_sum(hh.parse_metrics(h.metrics()), name) == value:
            return True
        time.sleep(0.05)
    return False


def api_push(h, user, data):
    status, _, body = h.http("POST", "/api/v1/push", json.dumps({"user": user, "data": data}))
    return status, json.loads(body or b"{}")


async def node_started_without_nats(binary, c):
    nats = Nats()  # not started yet
    try:
        h = node(binary, nats, "lonely")
        c.eq("a node whose bus is down still answers /readyz 200", h.http("GET", "/readyz")[0], 200)
        m = hh.parse_metrics(h.metrics())
        c.eq("/metrics shows herald_bus_enabled 1", hh.metric_sum(m, "herald_bus_enabled"), 1)
        c.eq("/metrics shows herald_bus_connected 0", hh.metric_sum(m, "herald_bus_connected"), 0)
        async with hh.ws_connect(h.ws_url) as ws:
            await hh.register(ws, "u1", "e")
            status, _, body = await h.apush("u1", "e", "while-down")
            c.eq("a compat push while the bus is down answers 503", status, 503)
            c.check("its text says the message was not stored", b"not stored" in body, body.decode(errors="replace"))
            c.eq("the node's own client still receives it", await hh.recv(ws), "while-down")
            status, body = api_push(h, "u1", {"n": 1})
            c.eq("a native push while the bus is down answers 503", status, 503)
            c.eq("its error is bus_unavailable", body.get("error"), "bus_unavailable")
            await hh.recv(ws)  # the user envelope, delivered locally
            m = hh.parse_metrics(h.metrics())
            c.check("publish failures are counted as disconnected",
                    m.get('herald_bus_publish_failures_total{reason="disconnected"}', 0) >= 2, str(m))
            nats.start()
            c.check("the node connects by itself once NATS is up", wait_metric(h, "herald_bus_connected", 1))
            deadline = time.monotonic() + 10
            status, body = 0, {}
            while time.monotonic() < deadline:  # the stream is created right after connecting
                status, body = api_push(h, "u1", {"n": 2})
                if status == 200:
                    break
                await asyncio.sleep(0.1)
            c.eq("then a push is stored and answered 200", status, 200)
            c.check("with an offset from the stream and the count", body.get("offset", 0) > 0 and body.get("delivered") == 1,
                    str(body))
    finally:
        nats.stop()


async def stalled_node(binary, c):
    nats = Nats().start()
    try:
        n1 = node(binary, nats, "n1")
        n2 = node(binary, nats, "n2")
        c.check("two nodes see each other", wait_metric(n1, "herald_fleet_nodes", 2) and wait_metric(n2, "herald_fleet_nodes", 2))
        async with hh.ws_connect(n1.ws_url) as a, hh.ws_connect(n2.ws_url) as b:
            await hh.register(a, "u2", "e")
            await hh.register(b, "u2", "e")
            status, body = api_push(n1, "u2", {"k": "healthy"})
            c.check("with both nodes answering the count is exact and whole",
                    status == 200 and body.get("delivered") == 2 and body.get("nodes") == 2 and "partial" not in body,
                    str(body))
            await hh.recv_json(a), await hh.recv_json(b)
            status, headers, text = await n1.apush("u2", "e", "compat-whole")
            c.check("a compat push says in headers that both nodes reported, and no partial",
                    status == 200 and text == b"message sent to 2 clients" and headers.get("herald-nodes") == "2"
                    and "herald-partial" not in headers, f"{status} {headers} {text!r}")
            await hh.recv(a), await hh.recv(b)
            n2.proc.send_signal(signal.SIGSTOP)
            try:
                # Answered at all (the request has its own timeout) means the wait is bounded.
                status, body = api_push(n1, "u2", {"k": "stalled"})
                c.check("a publication while a node is stalled answers partial:true",
                        status == 200 and body.get("partial") is True and body.get("delivered") == 1
                        and body.get("nodes") == 1, str(body))
                status, headers, text = await n1.apush("u2", "e", "compat-stalled")
                c.check("a compat push while a node is stalled says Herald-Partial: true",
                        status == 200 and headers.get("herald-partial") == "true" and headers.get("herald-nodes") == "1",
                        f"{status} {headers} {text!r}")
                await hh.recv(a)
                c.check("the stalled node is dropped from the fleet after its heartbeat limit",
                        wait_metric(n1, "herald_fleet_nodes", 1, timeout=10))
                status, body = api_push(n1, "u2", {"k": "dropped"})
                c.check("then publications are whole again without it",
                        status == 200 and "partial" not in body and body.get("nodes") == 1, str(body))
                m = hh.parse_metrics(n1.metrics())
                c.check("partial answers are counted", hh.metric_sum(m, "herald_bus_partial_answers_total") >= 1)
            finally:
                n2.proc.send_signal(signal.SIGCONT)
            got = [await hh.recv(b, timeout=10) for _ in range(3)]
            c.eq("the resumed node's client receives what was published meanwhile, in order",
                 [json.loads(g).get("data", {}).get("k") if g.startswith("{") else g for g in got],
                 ["stalled", "compat-stalled", "dropped"])
            c.check("the resumed node is counted again", wait_metric(n1, "herald_fleet_nodes", 2, timeout=10))
            status, body = api_push(n1, "u2", {"k": "back"})
            c.check("and its receivers count again", status == 200 and body.get("delivered") == 2, str(body))
    finally:
        nats.stop()


async def duplicate_names(binary, c):
    nats = Nats().start()
    try:
        a = node(binary, nats, "twin")
        b = node(binary, nats, "twin")
        deadline = time.monotonic() + 10
        said = False
        while time.monotonic() < deadline and not said:
            said = "another node uses this --node-name" in a.log_tail() + b.log_tail()
            await asyncio.sleep(0.1)
        c.check("two nodes given one --node-name are told so in the log (their counts would merge)", said)
    finally:
        nats.stop()


async def body(binary, c):
    if shutil.which("nats-server") is None:
        c.check("nats-server is installed (deploy/dev.sh test installs it)", False)
        return
    for name, fn in [("node started without NATS", node_started_without_nats), ("stalled node", stalled_node),
                     ("duplicate node names", duplicate_names)]:
        async with hh.section(c, name):
            await fn(binary, c)


if __name__ == "__main__":
    hh.main(body)
