"""Harness for Herald's end-to-end fleet test (issue 7).

Everything runs on loopback with free ports under one private temporary
directory: a JetStream nats-server, herald nodes that require a PROXY v2
header on every connection, and haproxy (mode tcp, send-proxy-v2) in front.

  * Checks            one PASS/FAIL line per assertion, "N passed, M failed"
  * run()             script entry: watchdog, signal handling, guaranteed
                      cleanup of every process started (and PR_SET_PDEATHSIG
                      so that even a SIGKILLed test leaves nothing behind)
  * proxy_v2()        the PROXY protocol v2 header (PROXY/TCP4 or LOCAL)
  * request()         one HTTP/1.1 request over asyncio streams, optionally
                      preceded by a PROXY header (direct to a node)
  * HttpStream        a streaming response (SSE)
  * ws_open()         a `websockets` (10.4, asyncio) client over a socket that
                      already carried the PROXY header
  * Client            a WebSocket client that records every frame it gets
  * Nats, Node, Haproxy   the processes, with bounded readiness waits

No wait here is a bare sleep standing in for a condition: conditions are
polled against a deadline; the short sleeps are poll intervals or a
publisher's pacing.
"""
from __future__ import annotations

import asyncio
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

import websockets  # Debian python3-websockets 10.4 (asyncio API)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "blackbox"))
from herald_harness import parse_metrics  # noqa: E402  (one Prometheus text reader for every test)

WAIT = 5.0          # bound for one reply/message on loopback (never a speed claim)
READY_WAIT = 20.0   # bound for a process to become ready
ABSENT_WAIT = 5.0   # a gauge absent from /metrics this long is taken as not implemented
PROC_HTTP = 2.0     # bound for one operational HTTP request

# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------


class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.failures: list[str] = []

    def check(self, name: str, ok, detail: str = "") -> bool:
        ok = bool(ok)
        if ok:
            self.passed += 1
            print(f"PASS {name}", flush=True)
        else:
            self.failed += 1
            self.failures.append(name)
            detail = detail if len(detail) <= 1500 else detail[:1500] + "...(cut)"
            print(f"FAIL {name}" + (f" -- {detail}" if detail else ""), flush=True)
        return ok

    def eq(self, name: str, got, expected) -> bool:
        return self.check(name, got == expected, f"expected {expected!r}, got {got!r}")

    def error(self, name: str, exc: BaseException) -> None:
        self.check(name, False, f"{type(exc).__name__}: {exc}")

    def note(self, text: str) -> None:
        print(f"  .. {text}", flush=True)


class Watchdog(BaseException):
    pass


class section:
    """`async with section(c, name):` an unexpected exception inside a group
    of checks becomes one FAIL line and the script goes on."""

    def __init__(self, checks: Checks, name: str) -> None:
        self.checks, self.name = checks, name

    async def __aenter__(self):
        print(f"-- {self.name}", flush=True)
        self.t0 = time.monotonic()
        return self

    async def __aexit__(self, et, ev, tb):
        print(f"   ({time.monotonic() - self.t0:.1f}s)", flush=True)
        if ev is not None and isinstance(ev, Exception):
            traceback.print_exception(et, ev, tb, file=sys.stderr)
            self.checks.error(f"{self.name} (raised)", ev)
            return True
        return False


# --------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------
_procs: list["Proc"] = []
_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child between fork and exec. Processes are only ever started
    # from the main thread (the asyncio loop's), so "parent" is the script.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    try:
        for _ in range(n):  # held open together so the n ports differ
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


class Proc:
    """One child process with its own log file under the run's directory."""

    def __init__(self, name: str, workdir: str) -> None:
        self.name = name
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.proc: subprocess.Popen | None = None
        self.args: list[str] = []
        self.starts = 0

    def spawn(self, args: list[str]) -> None:
        assert threading_is_main(), "processes are started from the main thread only"
        self.args = list(args)
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(f"==== start {self.starts}: {' '.join(args)}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)
        log.close()
        if self not in _procs:
            _procs.append(self)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def returncode(self):
        return None if self.proc is None else self.proc.poll()

    def signal(self, sig: int) -> None:
        if self.alive():
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    async def wait_exit(self, timeout: float):
        """Bounded wait for the process to end; its exit status or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.returncode()
            if rc is not None:
                return rc
            await asyncio.sleep(0.02)
        return self.returncode()

    async def kill9(self) -> None:
        self.signal(signal.SIGKILL)
        await self.wait_exit(5)

    def log_tail(self, n: int = 3000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - n))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


def threading_is_main() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def stop_all(grace: float = 3.0) -> None:
    """SIGTERM to every live child at once, one shared bounded wait, then
    SIGKILL for whatever is left (and reap it)."""
    live = [p for p in _procs if p.alive()]
    for p in live:
        p.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in live:
        try:
            p.proc.wait(timeout=max(0.01, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for p in live:
        if p.alive():
            p.proc.kill()
            try:
                p.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


# --------------------------------------------------------------------------
# PROXY protocol v2
# --------------------------------------------------------------------------
PROXY_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
LOCAL = "local"
TCP4 = "tcp4"


def proxy_v2(kind: str = TCP4, dst: tuple[str, int] = ("127.0.0.1", 0), src: tuple[str, int] | None = None) -> bytes:
    """PROXY v2 header. TCP4: command PROXY (0x21), family TCP4 (0x11), the
    12 address bytes (src ip, dst ip, src port, dst port). LOCAL: 0x20, UNSPEC,
    no addresses (what haproxy's health checks send)."""
    if kind == LOCAL:
        return PROXY_SIG + bytes([0x20, 0x00]) + struct.pack("!H", 0)
    if src is None:
        src = ("127.0.0.1", random.randint(1024, 65535))
    addr = socket.inet_aton(src[0]) + socket.inet_aton(dst[0]) + struct.pack("!HH", src[1], dst[1])
    return PROXY_SIG + bytes([0x21, 0x11]) + struct.pack("!H", len(addr)) + addr


# --------------------------------------------------------------------------
# HTTP over asyncio streams
# --------------------------------------------------------------------------
class Response:
    def __init__(self, status: int, reason: str, headers: dict[str, str], body: bytes) -> None:
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def __repr__(self) -> str:
        b = self.text
        return f"<{self.status} {b[:300]!r}{'...' if len(b) > 300 else ''}>"


async def _open(port: int, proxy: str | None, timeout: float):
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    if proxy:
        writer.write(proxy_v2(proxy, ("127.0.0.1", port)))
    return reader, writer


def _request_bytes(method: str, path: str, body, headers) -> bytes:
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    h = {"Host": "127.0.0.1", "Connection": "close", "User-Agent": "herald-fleet-test"}
    if body is not None:
        h["Content-Length"] = str(len(body))
        h.setdefault("Content-Type", "application/json")
    h.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    return head.encode() + (body or b"")


async def _read_head(reader: asyncio.StreamReader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    return status, reason, headers


async def request(port: int, method: str, path: str, body=None, headers=None, proxy: str | None = TCP4,
                  timeout: float = WAIT) -> Response:
    """One request on a fresh connection (Connection: close). `proxy` is the
    PROXY header to send first (TCP4, LOCAL) or None (haproxy, or a test of a
    node refusing a bare connection). Raises on a connection that ends before
    a complete answer, or after `timeout`."""
    async def go():
        reader, writer = await _open(port, proxy, timeout)
        try:
            writer.write(_request_bytes(method, path, body, headers))
            await writer.drain()
            status, reason, hdrs = await _read_head(reader)
            if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
                data = b""
            elif "chunked" in hdrs.get("transfer-encoding", "").lower():
                data = b""
                while True:
                    size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
                    if size == 0:
                        await reader.readuntil(b"\r\n")
                        break
                    data += await reader.readexactly(size)
                    await reader.readexactly(2)
            elif "content-length" in hdrs:
                data = await reader.readexactly(int(hdrs["content-length"]))
            else:
                data = await reader.read()
            return Response(status, reason, hdrs, data)
        finally:
            writer.close()
    return await asyncio.wait_for(go(), timeout)


async def get_json(port, path, proxy=TCP4, timeout=WAIT):
    r = await request(port, "GET", path, proxy=proxy, timeout=timeout)
    return r, r.json()


async def post_json(port, path, body, proxy=TCP4, timeout=WAIT):
    r = await request(port, "POST", path, body, proxy=proxy, timeout=timeout)
    return r, r.json()


class HttpStream:
    """A response read as it arrives (SSE). Handles identity and chunked."""

    def __init__(self) -> None:
        self.reader = self.writer = None
        self.status = 0
        self.headers: dict[str, str] = {}
        self.chunked = False
        self.buf = b""
        self.eof = False

    @classmethod
    async def open(cls, port, path, headers=None, proxy=TCP4, timeout=WAIT) -> "HttpStream":
        s = cls()
        s.reader, s.writer = await _open(port, proxy, timeout)
        h = {"Accept": "text/event-stream"}
        h.update(headers or {})
        s.writer.write(_request_bytes("GET", path, None, h))
        await s.writer.drain()
        s.status, _, s.headers = await asyncio.wait_for(_read_head(s.reader), timeout)
        s.chunked = "chunked" in s.headers.get("transfer-encoding", "").lower()
        return s

    async def _more(self) -> None:
        if self.eof:
            raise EOFError("stream ended")
        if self.chunked:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                self.eof = True
                raise EOFError("stream ended")
            self.buf += await self.reader.readexactly(size)
            await self.reader.readexactly(2)
        else:
            data = await self.reader.read(65536)
            if not data:
                self.eof = True
                raise EOFError("stream ended")
            self.buf += data

    async def next_event(self, timeout: float = WAIT) -> dict:
        """The next SSE event as {"id":..., "data": str, "comment": bool}."""
        async def go():
            while True:
                self.buf = self.buf.replace(b"\r\n", b"\n")
                if b"\n\n" in self.buf:
                    block, _, self.buf = self.buf.partition(b"\n\n")
                    ev = {"id": None, "data": None, "comment": False, "event": None}
                    data = []
                    for line in block.decode("utf-8", "replace").split("\n"):
                        if line.startswith(":"):
                            ev["comment"] = True
                            continue
                        k, _, v = line.partition(":")
                        v = v[1:] if v.startswith(" ") else v
                        if k == "data":
                            data.append(v)
                        elif k == "id":
                            ev["id"] = v
                        elif k == "event":
                            ev["event"] = v
                    if data:
                        ev["data"] = "\n".join(data)
                    return ev
                await self._more()
        return await asyncio.wait_for(go(), timeout)

    def close(self) -> None:
        if self.writer:
            self.writer.close()


# --------------------------------------------------------------------------
# WebSocket clients
# --------------------------------------------------------------------------
async def ws_open(port: int, path: str = "/ws", proxy: str | None = TCP4, timeout: float = WAIT, **kw):
    """A websockets client connection. With `proxy`, a socket is connected and
    the PROXY v2 header written before websockets takes the socket over."""
    kw.setdefault("compression", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("close_timeout", 2)
    kw.setdefault("max_queue", None)
    kw.setdefault("max_size", 1 << 22)
    uri = f"ws://127.0.0.1:{port}{path}"
    if not proxy:
        return await websockets.connect(uri, open_timeout=timeout, **kw)
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), timeout)
        await asyncio.wait_for(loop.sock_sendall(sock, proxy_v2(proxy, ("127.0.0.1", port))), timeout)
        return await websockets.connect(uri, sock=sock, open_timeout=timeout, **kw)
    except BaseException:
        sock.close()
        raise


def decode(raw):
    if isinstance(raw, bytes):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


_ids = iter(range(1, 10**12))


def next_id() -> int:
    return next(_ids)


class Client:
    """A WebSocket client that records every frame (JSON decoded when it is
    JSON, else the raw text: compat messages). Waits are bounded."""

    def __init__(self, name: str, ws) -> None:
        self.name = name
        self.ws = ws
        self.frames: list = []
        self.closed: tuple | None = None   # (code, reason) once closed
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, name: str, port: int, proxy: str | None = TCP4, timeout: float = WAIT) -> "Client":
        return cls(name, await ws_open(port, proxy=proxy, timeout=timeout))

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.frames.append(decode(raw))
                self._changed.set()
        except websockets.exceptions.ConnectionClosed:
            pass
        except Exception as exc:  # noqa: BLE001 - recorded for the checks
            self.frames.append({"op": "_reader_error", "error": repr(exc)})
        finally:
            self.closed = (self.ws.close_code, self.ws.close_reason)
            self._changed.set()

    async def send(self, obj) -> None:
        await self.ws.send(obj if isinstance(obj, str) else json.dumps(obj))

    async def wait_for(self, pred, timeout: float = WAIT, start: int = 0):
        """First frame (from index `start`) satisfying pred, or None after timeout/close."""
        deadline = time.monotonic() + timeout
        i = start
        while True:
            while i < len(self.frames):
                if pred(self.frames[i]):
                    return self.frames[i]
                i += 1
            if self.closed is not None:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def wait_until(self, cond, timeout: float = WAIT) -> bool:
        """Bounded wait for cond(self) to become true (re-evaluated on every frame)."""
        deadline = time.monotonic() + timeout
        while True:
            if cond(self):
                return True
            if self.closed is not None:
                return bool(cond(self))
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def call(self, obj: dict, timeout: float = WAIT):
        """Send a request with a fresh id; its reply (or error) with that id, or None."""
        rid = next_id()
        obj = dict(obj, id=rid)
        start = len(self.frames)
        await self.send(obj)
        return await self.wait_for(lambda f: isinstance(f, dict) and f.get("id") == rid
                                   and f.get("op") != "message", timeout, start)

    async def barrier(self, timeout: float = WAIT) -> bool:
        """Application ping: once the pong is here, every earlier frame of this
        connection has been processed by the node."""
        reply = await self.call({"op": "ping"}, timeout)
        return isinstance(reply, dict) and reply.get("op") == "pong"

    def messages(self, topic: str | None = None, user: str | None = None) -> list[dict]:
        return [f for f in self.frames if isinstance(f, dict) and f.get("op") == "message"
                and (topic is None or f.get("topic") == topic) and (user is None or f.get("user") == user)]

    def texts(self) -> list[str]:
        return [f for f in self.frames if isinstance(f, str)]

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.ws.close(), 3)
        except Exception:  # noqa: BLE001
            pass
        self._task.cancel()


# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------
def metric(samples: dict[str, float], name: str):
    """Sum of a family's samples (None when absent)."""
    vals = [v for k, v in samples.items() if k == name or k.startswith(name + "{")]
    return sum(vals) if vals else None


# --------------------------------------------------------------------------
# nats-server
# --------------------------------------------------------------------------
class Nats(Proc):
    def __init__(self, workdir: str) -> None:
        super().__init__("nats", workdir)
        self.port, self.mport = free_ports(2)
        self.store = os.path.join(workdir, "js")
        os.makedirs(self.store, exist_ok=True)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.spawn(["nats-server", "-js", "-sd", self.store, "-p", str(self.port), "-a", "127.0.0.1",
                    "-m", str(self.mport)])

    async def start_fresh(self, attempts: int = 3) -> bool:
        """First start: on a port taken meanwhile (the server exits), try others."""
        for _ in range(attempts):
            self.start()
            if await self.wait_ready():
                return True
            if self.alive():
                return False
            self.port, self.mport = free_ports(2)
        return False

    async def wait_ready(self, timeout: float = READY_WAIT) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return False
            try:
                r = await request(self.mport, "GET", "/healthz", proxy=None, timeout=1)
                if r.status == 200:
                    return True
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
                pass
            await asyncio.sleep(0.05)
        return False


# --------------------------------------------------------------------------
# herald nodes
# --------------------------------------------------------------------------
class Node(Proc):
    def __init__(self, binary: str, name: str, workdir: str, nats: Nats, port: int, extra: list[str]) -> None:
        super().__init__(name, workdir)
        self.binary = binary
        self.port = port
        self.nats = nats
        self.extra = list(extra)

    def start(self) -> None:
        self.spawn([self.binary, "--listen", f"127.0.0.1:{self.port}", "--threads", "1",
                    "--bus", self.nats.url, "--node-name", self.name, *self.extra])

    async def start_fresh(self, attempts: int = 3) -> bool:
        """First start: wait for /healthz; if the process exits first (its port
        was taken meanwhile), try another port. Later restarts reuse the port."""
        for _ in range(attempts):
            self.start()
            deadline = time.monotonic() + READY_WAIT
            while time.monotonic() < deadline and self.alive():
                try:
                    r = await request(self.port, "GET", "/healthz", proxy=LOCAL, timeout=1)
                    if r.status == 200:
                        return True
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
                    pass
                await asyncio.sleep(0.05)
            if self.alive():
                return False
            self.port = free_port()
        return False

    async def metrics(self) -> dict[str, float] | None:
        try:
            r = await request(self.port, "GET", "/metrics", proxy=LOCAL, timeout=PROC_HTTP)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            return None
        return parse_metrics(r.text) if r.status == 200 else None

    async def wait_gauges(self, bus: float | None, fleet: float | None, timeout: float = READY_WAIT):
        """Bounded wait for herald_bus_connected == bus and herald_fleet_nodes
        == fleet (None: don't care). Returns (ok, last seen (bus, fleet))."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        last = (None, None)
        present_since = None   # when /metrics first answered
        while True:
            if not self.alive():
                return False, ("process exited", self.returncode())
            m = await self.metrics()
            last = (None, None) if m is None else (metric(m, "herald_bus_connected"), metric(m, "herald_fleet_nodes"))
            if (bus is None or last[0] == bus) and (fleet is None or last[1] == fleet):
                return True, last
            now = time.monotonic()
            if m is not None:
                present_since = present_since or now
                absent = [k for k, want in (("herald_bus_connected", bus), ("herald_fleet_nodes", fleet))
                          if want is not None and metric(m, k) is None]
                if absent and now - present_since >= ABSENT_WAIT:
                    return False, last + (f"{absent} absent from /metrics for {ABSENT_WAIT:.0f}s",)
            if now >= deadline:
                return False, last
            await asyncio.sleep(0.1)

    async def wait_ready(self, fleet: int = 3, timeout: float = READY_WAIT):
        return await self.wait_gauges(1, fleet, timeout)

    # direct API calls (PROXY TCP4 header first)
    async def get(self, path, timeout=WAIT) -> Response:
        return await request(self.port, "GET", path, proxy=TCP4, timeout=timeout)

    async def post(self, path, body, timeout=WAIT) -> Response:
        return await request(self.port, "POST", path, body, proxy=TCP4, timeout=timeout)

    async def client(self, name: str, timeout: float = WAIT) -> Client:
        return await Client.open(name, self.port, TCP4, timeout)


# --------------------------------------------------------------------------
# haproxy
# --------------------------------------------------------------------------
class Haproxy(Proc):
    def __init__(self, workdir: str, nodes: list[Node], shutdown_sessions: bool) -> None:
        super().__init__("haproxy", workdir)
        self.port = free_port()
        self.nodes = nodes
        self.sock_path = os.path.join(workdir, "haproxy.sock")
        self.cfg_path = os.path.join(workdir, "haproxy.cfg")
        self.shutdown_sessions = shutdown_sessions
        self.cfg = ""

    def write_cfg(self) -> None:
        """The configuration for the current ports (nodes may have moved to a
        new port at first start, see Node.start_fresh)."""
        marked_down = " on-marked-down shutdown-sessions" if self.shutdown_sessions else ""
        servers = "".join(f"  server {n.name} 127.0.0.1:{n.port}\n" for n in self.nodes)
        self.cfg = f"""global
  maxconn 4000
  stats socket {self.sock_path} mode 600 level admin
  stats timeout 10s

defaults
  mode tcp
  timeout connect 1s
  timeout client 1h
  timeout server 1h
  timeout tunnel 1h
  timeout client-fin 10s
  timeout server-fin 10s
  timeout check 1s
  retries 3
  option redispatch 1

frontend fleet
  bind 127.0.0.1:{self.port}
  default_backend herald

backend herald
  balance leastconn
  option httpchk
  http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host gw
  http-check expect status 200
  default-server send-proxy-v2 check inter 300ms fall 2 rise 2{marked_down}
{servers}"""
        with open(self.cfg_path, "w") as f:
            f.write(self.cfg)

    def validate(self) -> tuple[bool, str]:
        self.write_cfg()
        r = subprocess.run(["haproxy", "-c", "-f", self.cfg_path], capture_output=True, timeout=20)
        return r.returncode == 0, (r.stdout + r.stderr).decode("utf-8", "replace")

    def start(self) -> None:
        self.write_cfg()
        self.spawn(["haproxy", "-f", self.cfg_path, "-db"])

    async def start_fresh(self, attempts: int = 3) -> bool:
        """First start: on a port taken meanwhile (haproxy exits), try another."""
        for _ in range(attempts):
            self.start()
            ok, _ = await self.wait_status({}, 3)
            if ok:
                return True
            if self.alive():
                return False
            self.port = free_port()
        return False

    async def command(self, cmd: str, timeout: float = PROC_HTTP) -> str:
        async def go():
            reader, writer = await asyncio.open_unix_connection(self.sock_path)
            try:
                writer.write(cmd.encode() + b"\n")
                await writer.drain()
                return (await reader.read()).decode("utf-8", "replace")
            finally:
                writer.close()
        return await asyncio.wait_for(go(), timeout)

    async def servers(self) -> dict[str, dict] | None:
        """server name -> {"status": "UP"/"DOWN"/..., "scur": current sessions}."""
        try:
            text = await self.command("show stat")
        except (OSError, asyncio.TimeoutError):
            return None
        lines = [ln for ln in text.splitlines() if ln]
        if not lines or not lines[0].startswith("# "):
            return None
        cols = lines[0][2:].split(",")
        out = {}
        for ln in lines[1:]:
            row = dict(zip(cols, ln.split(",")))
            if row.get("pxname") == "herald" and row.get("svname") not in ("FRONTEND", "BACKEND"):
                out[row["svname"]] = {"status": row.get("status", ""), "scur": int(row.get("scur") or 0)}
        return out

    async def wait_status(self, want: dict[str, str], timeout: float = READY_WAIT):
        """Bounded wait until every named server's status starts with want[name]."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            if not self.alive():
                return False, "haproxy exited"
            last = await self.servers()
            if last and all(last.get(k, {}).get("status", "").startswith(v) for k, v in want.items()):
                return True, last
            if time.monotonic() >= deadline:
                return False, last
            await asyncio.sleep(0.05)

    async def sessions(self) -> dict[str, int]:
        s = await self.servers() or {}
        return {k: v["scur"] for k, v in s.items()}


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------
def run(body, script_timeout: int) -> None:
    """run(body): body(binary, checks, workdir) is a coroutine. Always kills
    every process, prints the summary line last, exits non-zero on failure."""
    if len(sys.argv) < 2:
        print(f"usage: {sys.argv[0]} <path-to-herald-binary>", file=sys.stderr)
        sys.exit(2)
    binary = os.path.abspath(sys.argv[1])
    checks = Checks()
    workdir = tempfile.mkdtemp(prefix="herald-fleet-")

    def on_alarm(signum, frame):
        raise Watchdog(f"script exceeded its {script_timeout}s watchdog")

    def on_term(signum, frame):
        raise Watchdog(f"terminated by signal {signum}")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.alarm(script_timeout)
    t0 = time.monotonic()
    try:
        missing = [t for t in ("nats-server", "haproxy") if shutil.which(t) is None]
        if not os.access(binary, os.X_OK):
            checks.check("the herald binary is executable", False, binary)
        elif missing:
            checks.check("nats-server and haproxy are installed", False, f"missing: {missing}")
        else:
            asyncio.run(body(binary, checks, workdir))
    except BaseException as exc:  # Watchdog, bugs in the test itself
        traceback.print_exc()
        checks.error("the fleet test script ran to its end", exc)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        stop_all()
    if checks.failed:
        for p in _procs:
            tail = p.log_tail()
            if tail:
                print(f"--- log tail of {p.name} ---\n{tail}", file=sys.stderr)
    if os.environ.get("HERALD_FLEET_KEEP"):
        print(f"(kept {workdir})", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"(took {time.monotonic() - t0:.1f}s)", file=sys.stderr, flush=True)
    print(f"{checks.passed} passed, {checks.failed} failed", flush=True)
    sys.exit(0 if checks.failed == 0 and checks.passed > 0 else 1)
