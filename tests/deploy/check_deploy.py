"""Checks every file under deploy/ with the tool Debian ships for it, and
runs the fleet pieces for real on loopback.

    /usr/bin/python3 tests/deploy/check_deploy.py <path-to-herald-binary>

Static: haproxy -c (as shipped, and a loopback copy that must be free of
warnings), promtool check config / check rules / test rules, systemd-analyze
verify (a copy whose ExecStart is the built binary), nats-server -t for each
NATS config, YAML/JSON parse of compose, k8s, Grafana files, and the
cross-references between them (service names, ports, flags, drain timings,
the runtime packages of the Dockerfile against the binary's NEEDED libs).

Live (every process started here is ended here; every wait is bounded):
  * nats-server -js on a free port, and the shipped single-server and
    3-server cluster configs booted on loopback ports;
  * two herald nodes on that bus (plain), and one with the compose node's
    flags (--proxy-protocol) behind a loopback copy of deploy/haproxy.cfg:
    health checks, a WebSocket through the balancer, per-node metrics through
    haproxy, a plain connection refused, and haproxy marking a SIGTERMed
    node DOWN while it still drains;
  * every metric the dashboard and the alert rules query must exist in the
    live nodes' (or haproxy's) /metrics; the failure lists the missing names.

Missing tools are failures, not skips (deploy/dev.sh installs them):
haproxy, nats-server, prometheus (promtool), systemd (systemd-analyze),
python3-yaml, python3-websockets.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEPLOY = os.path.join(ROOT, "deploy")
sys.path.insert(0, os.path.join(ROOT, "tests", "blackbox"))
import herald_harness as hh  # noqa: E402  (Checks, http, free_port, ws helpers)

try:
    import yaml  # Debian python3-yaml
except ImportError:  # reported as a failed check below
    yaml = None

SCRIPT_TIMEOUT = 240  # CTest's TIMEOUT is 300
WAIT = 10.0
PROXY_V2_LOCAL = b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00"
HERALD_NODES = ["herald-1", "herald-2", "herald-3"]
# Metrics Prometheus makes itself rather than scrapes.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added",
             "scrape_samples_post_metric_relabeling"}
# Packages of debian:bookworm-slim itself (apt depends on them).
BASE_IMAGE_PACKAGES = {"libc6", "libstdc++6", "libgcc-s1", "zlib1g", "libzstd1", "liblz4-1", "libsystemd0"}
# Build dependencies the Dockerfile must install (those of deploy/dev.sh
# plus the NATS client).
BUILD_PACKAGES = ["build-essential", "cmake", "pkg-config", "libboost1.81-dev", "libboost-system1.81-dev",
                  "libboost-test1.81-dev", "libsimdjson-dev", "prometheus-cpp-dev", "libcli11-dev", "libssl-dev",
                  "libnats-dev"]


# ---------------------------------------------------------------------------
# checks, processes, helpers
# ---------------------------------------------------------------------------
class Checks(hh.Checks):
    def __init__(self) -> None:
        super().__init__()
        self.skipped = 0

    def skip(self, name: str, why: str) -> None:
        self.skipped += 1
        print(f"SKIP {name} -- {why}", flush=True)

    def summary(self) -> int:
        tail = f", {self.skipped} skipped" if self.skipped else ""
        if self.failures:
            print("failed checks:\n  " + "\n  ".join(self.failures), flush=True)
        print(f"{self.passed} passed, {self.failed} failed{tail}", flush=True)
        return 0 if self.failed == 0 and self.passed > 0 else 1


class Proc:
    """A child process with its output in a file; stopped by stop_all()."""
    started: list["Proc"] = []

    def __init__(self, name: str, args: list[str], tmp: str) -> None:
        self.name = name
        self.args = args
        self.log_path = os.path.join(tmp, f"{name}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        Proc.started.append(self)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def stop(self, grace: float = 5.0) -> None:
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        self.log.close()

    def tail(self, n: int = 1500) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    @classmethod
    def stop_all(cls) -> None:
        for p in reversed(cls.started):
            try:
                p.stop()
            except Exception:  # noqa: BLE001 - cleanup must go on
                traceback.print_exc()


def run(args: list[str], timeout: float = 60, **kw) -> tuple[int, str]:
    try:
        p = subprocess.run(args, capture_output=True, timeout=timeout, **kw)
    except FileNotFoundError as e:
        return 127, str(e)
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout}s: {' '.join(args)}"
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace").strip()


def read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def rel(path: str) -> str:
    return os.path.relpath(path, ROOT)


def free_port() -> int:
    return hh.free_port()


def wait_until(pred, timeout: float, step: float = 0.1):
    """Calls pred() until it returns something truthy or timeout passes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
        except (OSError, ValueError, KeyError):
            last = None
        if last:
            return last
        time.sleep(step)
    return last


def raw_get(port: int, path: str, proxy_local: bool = False, timeout: float = 3.0,
            host: str = "127.0.0.1") -> tuple[int, bytes]:
    """GET over a fresh socket, optionally after a PROXY v2 LOCAL header.
    Returns (status or 0, whole response)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        if proxy_local:
            s.sendall(PROXY_V2_LOCAL)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: check\r\nConnection: close\r\n\r\n".encode())
        buf = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            buf += chunk
    return hh.status_of(buf), buf


def http_body(raw: bytes) -> str:
    head, _, body = raw.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            try:
                n = int(size_line.split(b";")[0], 16)
            except ValueError:
                break
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    return body.decode("utf-8", "replace")


def load_yaml_all(path: str) -> list:
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def seconds(text) -> float:
    """'30s', '1m30s', '2m', 30 -> seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    total, n = 0.0, 0
    for num, unit in re.findall(r"([\d.]+)\s*(ms|h|m|s|)", str(text)):
        total += float(num) * {"ms": 0.001, "h": 3600, "m": 60, "s": 1, "": 1}[unit]
        n += 1
    if not n:
        raise ValueError(f"not a duration: {text!r}")
    return total


def flag_value(args: list[str], flag: str):
    """Value of --flag in an argv list (--flag V or --flag=V); None if absent."""
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(flag + "="):
            return a[len(flag) + 1:]
    return None


# ---------------------------------------------------------------------------
# PromQL: which metric names does an expression read?
# ---------------------------------------------------------------------------
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
                   "bool", "offset", "inf", "nan", "atan2"}


def promql_metric_names(expr: str) -> set[str]:
    """Metric names selected in a PromQL expression (Grafana variables allowed).
    Strings, label matchers {..}, ranges [..] and grouping label lists are
    removed first; what is left that is an identifier not followed by '('
    and not a keyword or a number is a metric name."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\$\{?\w+\}?", " ", s)  # Grafana variables outside braces
    names = set()
    for m in re.finditer(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*", s):
        tok = m.group(0)
        if re.match(r"\s*\(", s[m.end():]):
            continue  # a function
        if tok.lower() in PROMQL_KEYWORDS:
            continue
        names.add(tok)
    return names


def exposed_names(text: str) -> tuple[set[str], dict[str, str]]:
    """(names a query may select, {family: type}) from Prometheus text.
    A histogram family `f` offers f_bucket, f_sum and f_count, not `f`;
    a summary offers f, f_sum, f_count."""
    types: dict[str, str] = {}
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) >= 4:
                types[parts[2]] = parts[3]
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, 1)[0])
    for fam, t in types.items():
        if t == "histogram":
            names |= {fam + "_bucket", fam + "_sum", fam + "_count"}
        elif t == "summary":
            names |= {fam, fam + "_sum", fam + "_count"}
        else:
            names.add(fam)
    return names, types


def dashboard_queries(dash: dict) -> list[tuple[str, str]]:
    """(where, expr) for every query in a Grafana dashboard (rows nested)."""
    out = []

    def walk(panels):
        for p in panels or []:
            for t in p.get("targets", []) or []:
                if t.get("expr"):
                    out.append((f"panel '{p.get('title')}' {t.get('refId')}", t["expr"]))
            walk(p.get("panels"))

    walk(dash.get("panels"))
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if isinstance(q, str) and q:
            m = re.match(r"\s*label_values\(\s*(.*?)\s*,\s*\w+\s*\)\s*$", q)
            out.append((f"variable ${v.get('name')}", m.group(1) if m else q))
    return out


def alert_queries(rules: dict) -> list[tuple[str, str]]:
    return [(f"rule {r.get('alert') or r.get('record')}", r["expr"])
            for g in rules.get("groups", []) for r in g.get("rules", [])]


# ---------------------------------------------------------------------------
# haproxy.cfg: parse, rewrite for loopback
# ---------------------------------------------------------------------------
def haproxy_sections(text: str) -> list[tuple[str, list[str]]]:
    sections = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not line[0].isspace():
            sections.append((line.strip(), []))
        elif sections:
            sections[-1][1].append(" ".join(line.split()))
    return sections


def haproxy_loopback_copy(text: str, tmp: str, servers: dict[str, int] | None = None) -> tuple[str, dict[int, int]]:
    """The shipped config with every `bind :P` on a free loopback port, every
    server at 127.0.0.1:<servers[name]> (or an unused port), the admin socket
    in tmp. Returns (config text, {original bind port: new port})."""
    ports: dict[int, int] = {}

    def bind(m):
        orig = int(m.group(1))
        ports.setdefault(orig, free_port())
        return f"bind 127.0.0.1:{ports[orig]}"

    text = re.sub(r"bind\s+:(\d+)", bind, text)
    dead = free_port()

    def server(m):
        port = (servers or {}).get(m.group(2), dead)
        return f"{m.group(1)}127.0.0.1:{port}"

    text = re.sub(r"^(\s*server\s+(\S+)\s+)\S+:\d+", server, text, flags=re.M)
    text = re.sub(r"stats socket \S+", f"stats socket {os.path.join(tmp, 'haproxy-admin.sock')}", text)
    return text, ports


def haproxy_metric(text: str, name: str, labels: str) -> float | None:
    m = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


# ---------------------------------------------------------------------------
# static checks
# ---------------------------------------------------------------------------
def check_tools(c: Checks) -> dict[str, str | None]:
    tools = {}
    for tool, package in [("haproxy", "haproxy"), ("nats-server", "nats-server"), ("promtool", "prometheus"),
                          ("systemd-analyze", "systemd")]:
        path = shutil.which(tool) or next((p for p in (f"/usr/sbin/{tool}", f"/usr/bin/{tool}")
                                           if os.access(p, os.X_OK)), None)
        c.check(f"tool {tool} is installed", path is not None, f"apt-get install {package}")
        tools[tool] = path
    c.check("python3-yaml is importable", yaml is not None, "apt-get install python3-yaml")
    return tools


def check_haproxy_static(c: Checks, tools, tmp: str) -> None:
    cfg = os.path.join(DEPLOY, "haproxy.cfg")
    text = read(cfg)
    if tools["haproxy"]:
        rc, out = run([tools["haproxy"], "-c", "-f", cfg])
        warnings = [l for l in out.splitlines() if "[WARNING]" in l or "[ALERT]" in l]
        unexpected = [l for l in warnings
                      if not re.search(r"could not resolve address '(herald-[123])'", l)]
        c.check("haproxy -c -f deploy/haproxy.cfg (as shipped)", rc == 0 and not unexpected,
                f"rc={rc} " + " | ".join(unexpected or out.splitlines()[-5:]))
        copy, _ = haproxy_loopback_copy(text, tmp, {n: free_port() for n in HERALD_NODES})
        path = os.path.join(tmp, "haproxy-loopback.cfg")
        with open(path, "w") as f:
            f.write(copy)
        rc, out = run([tools["haproxy"], "-c", "-f", path])
        warnings = [l for l in out.splitlines() if "[WARNING]" in l or "[ALERT]" in l]
        c.check("haproxy -c on a loopback copy: valid, no warnings at all", rc == 0 and not warnings,
                f"rc={rc} " + " | ".join(warnings or out.splitlines()[-5:]))

    sections = haproxy_sections(text)
    by_name = {h: body for h, body in sections}
    defaults = next((b for h, b in sections if h.split()[0] == "defaults"), [])
    backend = by_name.get("backend herald", [])
    need = ["mode tcp", "timeout tunnel 1h", "timeout client-fin 10s", "timeout server-fin 10s"]
    c.check("haproxy defaults: mode tcp, tunnel 1h, client-fin/server-fin 10s",
            all(n in defaults for n in need), f"missing {[n for n in need if n not in defaults]}")
    need = ["balance leastconn", "option redispatch", "option httpchk",
            "http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host gw", "http-check expect status 200"]
    c.check("haproxy backend: leastconn, redispatch, httpchk GET /readyz expecting 200",
            all(n in backend for n in need), f"missing {[n for n in need if n not in backend]}")
    ds = next((l for l in backend if l.startswith("default-server ")), "")
    tokens = "send-proxy-v2 check inter 1s fastinter 500ms downinter 2s fall 2 rise 2 slowstart 10s"
    c.check("haproxy default-server has send-proxy-v2, check timings and slowstart",
            (" " + tokens + " ") in (" " + ds[len("default-server "):] + " "), ds or "no default-server line")
    # It would cut a draining node's WebSockets before herald closes them in order.
    c.check("haproxy does not cut a DOWN node's sessions (herald drains them itself)",
            "shutdown-sessions" not in ds, ds)
    servers = [l.split()[1:3] for l in backend if l.startswith("server ")]
    c.eq("haproxy backend servers are herald-1..3:8080", servers, [[n, f"{n}:8080"] for n in HERALD_NODES])
    maxconns = [int(l.split()[1]) for _, body in sections for l in body if l.startswith("maxconn ")]
    c.check("haproxy maxconn set on the frontend and none above 20000",
            bool(maxconns) and all(m <= 20000 for m in maxconns)
            and any(l.startswith("maxconn ") for l in by_name.get("frontend herald_ws", [])),
            f"maxconn values {maxconns}")


def check_prometheus_static(c: Checks, tools) -> None:
    if not tools["promtool"]:
        return
    rc, out = run([tools["promtool"], "check", "config", os.path.join(DEPLOY, "prometheus.yml")])
    c.check("promtool check config deploy/prometheus.yml", rc == 0, out[-800:])
    rc, out = run([tools["promtool"], "check", "rules", os.path.join(DEPLOY, "alerts.yml")])
    c.check("promtool check rules deploy/alerts.yml", rc == 0, out[-800:])
    rc, out = run([tools["promtool"], "test", "rules", os.path.join(HERE, "alerts_test.yml")])
    c.check("promtool test rules tests/deploy/alerts_test.yml (alert unit tests)", rc == 0, out[-1500:])


def check_systemd(c: Checks, tools, binary: str, tmp: str) -> None:
    unit = os.path.join(DEPLOY, "herald.service")
    text = read(unit)
    exec_lines = re.findall(r"^#?ExecStart=(\S+)(.*)$", text, re.M)
    c.check("herald.service has one ExecStart and a commented fleet example",
            len(re.findall(r"^ExecStart=", text, re.M)) == 1
            and any("--bus" in args and "--proxy-protocol" in args for _, args in exec_lines),
            f"{len(exec_lines)} ExecStart lines")
    c.check("herald.service keeps LimitNOFILE=1048576", re.search(r"^LimitNOFILE=1048576$", text, re.M) is not None)
    stop = re.search(r"^TimeoutStopSec=(\S+)$", text, re.M)
    ok, detail = stop is not None, "no TimeoutStopSec"
    if stop:
        limit = seconds(stop.group(1))
        for _, args in exec_lines:
            drain = flag_value(shlex.split(args), "--drain-timeout")
            drain = float(drain) if drain is not None else 10.0  # herald's default
            if not drain < limit:
                ok, detail = False, f"--drain-timeout {drain} >= TimeoutStopSec {limit}"
    c.check("herald.service TimeoutStopSec exceeds --drain-timeout of every ExecStart", ok, detail)
    if not tools["systemd-analyze"]:
        return
    copy = os.path.join(tmp, "herald.service")
    with open(copy, "w") as f:
        f.write(re.sub(r"^ExecStart=\S+", f"ExecStart={binary}", text, flags=re.M))
    rc, out = run([tools["systemd-analyze"], "verify", copy], timeout=60)
    # verify exits 0 on unknown keys and bad values: any line about the unit fails too.
    about = [l for l in out.splitlines() if "herald.service" in l or "herald" in l.lower()]
    c.check("systemd-analyze verify deploy/herald.service (ExecStart = built binary)",
            rc == 0 and not about, f"rc={rc} " + " | ".join(about or out.splitlines()[-5:]))


def nats_conf_values(text: str) -> dict:
    """The few keys the checks need, from NATS's config syntax."""
    out = {"server_name": None, "cluster_name": None, "routes": [], "store_dir": None, "jetstream": False}
    m = re.search(r"^\s*server_name\s*[:=]\s*\"?([\w.-]+)", text, re.M)
    out["server_name"] = m.group(1) if m else None
    cl = re.search(r"^\s*cluster\s*\{(.*?)^\s*\}", text, re.M | re.S)
    if cl:
        m = re.search(r"^\s*name\s*[:=]\s*\"?([\w.-]+)", cl.group(1), re.M)
        out["cluster_name"] = m.group(1) if m else None
        out["routes"] = re.findall(r"nats-route://([\w.-]+):(\d+)", cl.group(1))
    js = re.search(r"^\s*jetstream\s*(\{.*?^\s*\}|[:=]\s*(enabled|true))", text, re.M | re.S)
    out["jetstream"] = js is not None
    m = re.search(r"store_dir\s*[:=]\s*\"?([^\"\s]+)", text)
    out["store_dir"] = m.group(1) if m else None
    return out


def check_nats_static(c: Checks, tools) -> list[str]:
    single = os.path.join(DEPLOY, "nats-server.conf")
    cluster = sorted(os.path.join(DEPLOY, "nats-cluster", f) for f in os.listdir(os.path.join(DEPLOY, "nats-cluster"))
                     if f.endswith(".conf"))
    if tools["nats-server"]:
        for path in [single] + cluster:
            rc, out = run([tools["nats-server"], "-t", "-c", path])
            c.check(f"nats-server -t -c {rel(path)}", rc == 0 and "is valid" in out, out[-500:])
    v = nats_conf_values(read(single))
    c.check("nats-server.conf: JetStream with a file store dir", v["jetstream"] and bool(v["store_dir"]), str(v))
    c.check("nats-server.conf: monitoring port", re.search(r"^\s*http(_port)?\s*[:=]", read(single), re.M) is not None)
    vals = [nats_conf_values(read(p)) for p in cluster]
    names = [x["server_name"] for x in vals]
    c.check("nats-cluster/: three configs with distinct server names", len(cluster) == 3 and len(set(names)) == 3
            and None not in names, f"{[rel(p) for p in cluster]} names {names}")
    c.check("nats-cluster/: one shared cluster name, JetStream on in all",
            len({x["cluster_name"] for x in vals}) == 1 and vals[0]["cluster_name"]
            and all(x["jetstream"] and x["store_dir"] for x in vals), str([(x["cluster_name"], x["jetstream"]) for x in vals]))
    ok = all(sorted(h for h, _ in x["routes"]) == sorted(names) for x in vals)
    c.check("nats-cluster/: every server routes to all three", ok, str([x["routes"] for x in vals]))
    return cluster


def check_compose(c: Checks, compose: dict, haproxy_text: str, prom: dict, binary_flags: set[str]) -> None:
    services = compose.get("services", {})
    need = set(HERALD_NODES) | {"nats", "haproxy", "prometheus", "grafana"}
    c.check("compose: services herald-1..3, nats, haproxy, prometheus, grafana", need <= set(services),
            f"missing {sorted(need - set(services))}")
    for n in HERALD_NODES:
        s = services.get(n, {})
        cmd = s.get("command") or []
        cmd = shlex.split(cmd) if isinstance(cmd, str) else [str(a) for a in cmd]
        bus = flag_value(cmd, "--bus")
        ok = (bus == "nats://nats:4222" and flag_value(cmd, "--node-name") == n and "--proxy-protocol" in cmd)
        c.check(f"compose {n}: --bus nats://nats:4222 --node-name {n} --proxy-protocol", ok, " ".join(cmd))
        drain = float(flag_value(cmd, "--drain-timeout") or 10)
        grace = seconds(s.get("stop_grace_period", "10s"))
        c.check(f"compose {n}: stop_grace_period {grace:g}s exceeds --drain-timeout {drain:g}s", grace > drain)
        nofile = (s.get("ulimits") or {}).get("nofile")
        soft = nofile.get("soft") if isinstance(nofile, dict) else nofile
        c.check(f"compose {n}: nofile ulimit 1048576", soft == 1048576, str(nofile))
        build = s.get("build") or {}
        ctx = os.path.normpath(os.path.join(DEPLOY, build.get("context", ".")))
        c.check(f"compose {n}: build context has the Dockerfile",
                os.path.isfile(os.path.join(ctx, build.get("dockerfile", "Dockerfile"))), str(build))
    # bind mounts exist
    missing = []
    for name, s in services.items():
        for vol in s.get("volumes", []) or []:
            src = vol.split(":")[0] if isinstance(vol, str) else vol.get("source", "")
            if src.startswith((".", "/")) and not os.path.exists(os.path.normpath(os.path.join(DEPLOY, src))):
                missing.append(f"{name}: {src}")
    c.check("compose: every bind-mounted file exists", not missing, str(missing))
    # haproxy servers are compose services; Prometheus targets are haproxy listeners for the right node.
    servers = {addr.split(":")[0] for addr in re.findall(r"^\s*server\s+\S+\s+(\S+)", haproxy_text, re.M)}
    c.check("haproxy.cfg server hosts are compose services", servers <= set(services), f"{servers - set(services)}")
    listen_port = {}
    for head, body in haproxy_sections(haproxy_text):
        if head.startswith("listen "):
            port = next((l.split(":")[-1] for l in body if l.startswith("bind ")), None)
            server = next((l.split()[1] for l in body if l.startswith("server ")), None)
            listen_port[port] = server
    targets = {}
    for job in prom.get("scrape_configs", []):
        if job.get("job_name") != "herald":
            continue
        for sc in job.get("static_configs", []):
            for t in sc.get("targets", []):
                targets[t] = (sc.get("labels") or {}).get("node")
    ok = sorted(targets.values()) == HERALD_NODES and all(
        t.split(":")[0] in services and listen_port.get(t.split(":")[1]) == node for t, node in targets.items())
    c.check("prometheus.yml scrapes each node through its haproxy listener", ok,
            f"targets {targets}, haproxy listeners {listen_port}")
    used = set()
    for n in HERALD_NODES:
        cmd = services.get(n, {}).get("command") or []
        used |= {a.split("=")[0] for a in cmd if str(a).startswith("--")}
    c.check("compose: every herald flag exists in `herald --help`", used <= binary_flags,
            f"unknown {sorted(used - binary_flags)}")
    # Grafana provisioning matches the mounts.
    graf = services.get("grafana", {})
    dash_mount = next((v.split(":")[1] for v in graf.get("volumes", []) if "herald-dashboard.json" in v), "")
    prov = load_yaml_all(os.path.join(DEPLOY, "grafana", "provisioning", "dashboards", "herald.yml"))[0]
    path = prov["providers"][0]["options"]["path"]
    c.check("grafana: dashboard provider path holds the mounted dashboard",
            os.path.dirname(dash_mount) == path.rstrip("/"), f"mount {dash_mount}, provider path {path}")
    ds = load_yaml_all(os.path.join(DEPLOY, "grafana", "provisioning", "datasources", "prometheus.yml"))[0]
    url = ds["datasources"][0]["url"]
    c.check("grafana: data source points at the compose Prometheus", "//prometheus:9090" in url, url)


def check_dashboard(c: Checks, dash: dict) -> None:
    uid = load_yaml_all(os.path.join(DEPLOY, "grafana", "provisioning", "datasources",
                                     "prometheus.yml"))[0]["datasources"][0]["uid"]
    panels, ids, bad = [], [], []

    def walk(ps):
        for p in ps or []:
            panels.append(p)
            ids.append(p.get("id"))
            if p.get("type") != "row" and (p.get("datasource") or {}).get("uid") != uid:
                bad.append(p.get("title"))
            walk(p.get("panels"))

    walk(dash.get("panels"))
    c.check("dashboard: unique panel ids, every panel on the provisioned data source",
            len(ids) == len(set(ids)) and not bad, f"panels without uid {uid}: {bad}")
    exprs = " ".join(e for _, e in dashboard_queries(dash))
    wanted = ["herald_connections_open", "herald_messages_delivered_total", "herald_messages_dropped_total",
              "herald_push_duration_seconds_bucket", "herald_bus_connected", "herald_bus_cross_node_lag_seconds_bucket",
              "herald_fleet_nodes"]
    c.check("dashboard: connections, deliveries, drops, push latency, bus state, lag, fleet nodes",
            all(w in exprs for w in wanted), f"missing {[w for w in wanted if w not in exprs]}")
    c.check("dashboard: push latency is a histogram_quantile over _bucket",
            re.search(r"histogram_quantile\([^,]+,\s*sum by \([^)]*\ble\b[^)]*\)\s*\(rate\(herald_push_duration_seconds_bucket",
                      exprs) is not None)


def check_k8s(c: Checks, binary_flags: set[str], docker_uid: str | None) -> None:
    kdir = os.path.join(DEPLOY, "k8s")
    docs = []
    for f in sorted(os.listdir(kdir)):
        if f.endswith((".yaml", ".yml")):
            for d in load_yaml_all(os.path.join(kdir, f)):
                docs.append((f, d))
    kinds = {d.get("kind"): d for _, d in docs}
    need = {"Deployment", "Service", "PodDisruptionBudget", "ConfigMap"}
    c.check("k8s: Deployment, Service, PodDisruptionBudget, ConfigMap parse", need <= set(kinds),
            f"missing {sorted(need - set(kinds))}")
    if not need <= set(kinds):
        return
    kust = kinds.get("Kustomization")
    if kust:
        files = {f for f, d in docs if d.get("kind") != "Kustomization"}
        c.check("k8s: kustomization lists every manifest", set(kust.get("resources", [])) == files,
                f"{kust.get('resources')} vs {sorted(files)}")
    dep, svc, pdb, cm = kinds["Deployment"], kinds["Service"], kinds["PodDisruptionBudget"], kinds["ConfigMap"]
    spec = dep["spec"]
    tpl = spec["template"]
    labels = tpl["metadata"]["labels"]
    sel_ok = all(labels.get(k) == v for sel in (spec["selector"]["matchLabels"], svc["spec"]["selector"],
                                                pdb["spec"]["selector"]["matchLabels"]) for k, v in sel.items())
    c.check("k8s: 3 replicas; Deployment, Service and PDB selectors match the pod labels",
            spec.get("replicas") == 3 and sel_ok)
    ctr = tpl["spec"]["containers"][0]
    c.check("k8s: readiness probe GET /readyz, liveness GET /healthz",
            ctr.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz"
            and ctr.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz")
    env = set(cm.get("data", {})) if any(e.get("configMapRef", {}).get("name") == cm["metadata"]["name"]
                                        for e in ctr.get("envFrom", [])) else set()
    env |= {e["name"] for e in ctr.get("env", [])}
    args = [str(a) for a in ctr.get("args", [])]
    refs = set(re.findall(r"\$\((\w+)\)", " ".join(args)))
    c.check("k8s: every $(VAR) in the args is defined (ConfigMap or env)", refs <= env, f"undefined {sorted(refs - env)}")
    flags = {a.split("=")[0] for a in args if a.startswith("--")}
    c.check("k8s: every herald flag in the args exists in `herald --help`", flags <= binary_flags,
            f"unknown {sorted(flags - binary_flags)}")

    def resolved(flag):
        v = flag_value(args, flag)
        if v is None:
            return None
        return re.sub(r"\$\((\w+)\)", lambda m: str(cm.get("data", {}).get(m.group(1), m.group(0))), v)

    drain = resolved("--drain-timeout")
    pre = ctr.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pre_s = float(pre[1]) if len(pre) == 2 and pre[0] == "sleep" else None
    grace = tpl["spec"].get("terminationGracePeriodSeconds", 30)
    ok = drain is not None and pre_s is not None and grace > pre_s + float(drain)
    c.check("k8s: --drain-timeout set; terminationGracePeriodSeconds > preStop sleep + --drain-timeout",
            ok, f"grace {grace}, preStop {pre}, drain-timeout {drain}")
    dg = resolved("--drain-grace")
    c.check("k8s: --drain-grace and --drain-spread fit in --drain-timeout",
            dg is not None and drain is not None
            and float(dg) + float(resolved("--drain-spread") or 0) < float(drain), f"{dg}, {drain}")
    port = ctr["ports"][0]["containerPort"]
    c.check("k8s: container port is the --listen port", str(port) == str(resolved("--listen")).rsplit(":", 1)[-1])
    sc = tpl["spec"].get("securityContext", {})
    c.check("k8s: runs as non-root with the image's uid", sc.get("runAsNonRoot") is True
            and docker_uid is not None and str(sc.get("runAsUser")) == docker_uid,
            f"pod uid {sc.get('runAsUser')}, Dockerfile USER {docker_uid}")
    notes = read(os.path.join(kdir, "README.md")) if os.path.exists(os.path.join(kdir, "README.md")) else ""
    c.check("k8s: README.md has the LimitNOFILE / ulimit note", "LimitNOFILE" in notes and "ulimit" in notes)


def dockerfile_stages(text: str) -> list[dict]:
    text = re.sub(r"\\\n", " ", text)
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            stages.append({"from": m.group(1), "name": m.group(2), "ins": []})
        elif stages:
            stages[-1]["ins"].append((word, rest.strip()))
    return stages


def apt_installs(stage: dict) -> list[str]:
    pkgs = []
    for word, rest in stage["ins"]:
        if word != "RUN":
            continue
        for m in re.finditer(r"apt-get install\s+(.*?)(?:&&|;|$)", rest):
            pkgs += [p for p in m.group(1).split() if not p.startswith("-")]
    return pkgs


def needed_packages(binary: str) -> tuple[dict[str, str], str]:
    """{soname: Debian package} for the binary's direct NEEDED libraries."""
    rc, out = run(["readelf", "-d", binary])
    if rc != 0:
        return {}, out
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
    rc, ldd = run(["ldd", binary])
    paths = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
    pkgs = {}
    for so in needed:
        path = paths.get(so)
        if not path:
            pkgs[so] = "?"
            continue
        real = os.path.realpath(path)
        cands = {path, real}
        for p in list(cands):
            if p.startswith("/usr/"):
                cands.add(p[4:])
            else:
                cands.add("/usr" + p)
        pkg = "?"
        for p in cands:
            rc, o = run(["dpkg", "-S", p])
            if rc == 0:
                pkg = o.splitlines()[0].split(":")[0]
                break
        pkgs[so] = pkg
    return pkgs, ""


def check_dockerfile(c: Checks, binary: str, tmp: str) -> str | None:
    text = read(os.path.join(DEPLOY, "Dockerfile"))
    stages = dockerfile_stages(text)
    c.check("Dockerfile: two stages on Debian bookworm", len(stages) == 2
            and all(s["from"].startswith("debian:bookworm") for s in stages), str([s["from"] for s in stages]))
    if len(stages) != 2:
        return None
    build, runtime = stages
    bpk = apt_installs(build)
    c.check("Dockerfile build stage installs the build deps from Debian", set(BUILD_PACKAGES) <= set(bpk),
            f"missing {sorted(set(BUILD_PACKAGES) - set(bpk))}")
    runs = " ".join(r for w, r in build["ins"] if w == "RUN")
    c.check("Dockerfile build: Release, no tests, no bench, cmake --install to /opt/herald",
            all(s in runs for s in ("-DCMAKE_BUILD_TYPE=Release", "-DHERALD_BUILD_TESTS=OFF",
                                    "-DHERALD_BUILD_BENCH=OFF", "cmake --install", "/opt/herald")))
    rpk = apt_installs(runtime)
    needed, err = needed_packages(binary)
    uncovered = {so: p for so, p in needed.items() if p not in rpk and p not in BASE_IMAGE_PACKAGES}
    c.check("Dockerfile runtime stage installs the package of every library the binary links",
            bool(needed) and not uncovered, err or f"not installed: {uncovered} (binary needs {needed})")
    c.check("Dockerfile runtime stage installs no -dev package", not [p for p in rpk if p.endswith("-dev")], str(rpk))
    rc, _ = run(["apt-cache", "show", "--no-all-versions", "libc6"])
    if rc != 0:
        c.skip("Dockerfile packages exist in Debian", "apt-cache has no package lists (apt-get update)")
    else:
        unknown = [p for p in bpk + rpk if run(["apt-cache", "show", "--no-all-versions", p])[0] != 0]
        c.check("Dockerfile packages exist in Debian (apt-cache show)", not unknown, f"unknown {unknown}")
    ins = dict()
    for w, r in runtime["ins"]:
        ins.setdefault(w, []).append(r)
    user = (ins.get("USER") or [""])[-1].split(":")[0]
    c.check("Dockerfile runs as a non-root numeric user", user.isdigit() and user != "0", user)
    c.check("Dockerfile EXPOSE 8080", "8080" in " ".join(ins.get("EXPOSE", [])))
    hc = " ".join(ins.get("HEALTHCHECK", []))
    c.check("Dockerfile HEALTHCHECK probes /healthz", "/healthz" in hc, hc)
    ep = (ins.get("ENTRYPOINT") or [""])[-1]
    c.check('Dockerfile ENTRYPOINT ["/opt/herald/bin/herald"]', json.loads(ep or "null") == ["/opt/herald/bin/herald"], ep)
    srcs = [r.split()[0] for w, r in build["ins"] if w == "RUN" for r in re.findall(r"install -m \S+ (\S+)", r)]
    c.check("Dockerfile: files it installs from the tree exist", all(os.path.exists(os.path.join(ROOT, s)) for s in srcs),
            str(srcs))
    di = read(os.path.join(ROOT, ".dockerignore")).split() if os.path.exists(os.path.join(ROOT, ".dockerignore")) else []
    c.check(".dockerignore excludes build-*/ and .git", "build-*/" in di and ".git" in di, str(di))
    # The build stage's install layout, from the build tree of the binary under test.
    bdir = os.path.dirname(os.path.abspath(binary))
    while bdir != "/" and not os.path.exists(os.path.join(bdir, "CMakeCache.txt")):
        bdir = os.path.dirname(bdir)
    if bdir == "/" or not shutil.which("cmake"):
        c.skip("cmake --install layout", "binary is not in a CMake build tree")
    else:
        prefix = os.path.join(tmp, "prefix")
        rc, out = run(["cmake", "--install", bdir, "--prefix", prefix], timeout=120)
        ok = rc == 0 and os.access(os.path.join(prefix, "bin", "herald"), os.X_OK) and os.path.exists(
            os.path.join(prefix, "share", "herald", "www", "herald.js"))
        c.check("cmake --install gives bin/herald and share/herald/www (the image's /opt/herald)", ok, out[-500:])
    return user


# ---------------------------------------------------------------------------
# live checks
# ---------------------------------------------------------------------------
def start_herald(name: str, binary: str, args: list[str], tmp: str, proxy: bool = False):
    """Starts herald with `args` (which include --listen 127.0.0.1:port);
    waits for /healthz (through a PROXY v2 LOCAL header when proxy)."""
    port = int(flag_value(args, "--listen").rsplit(":", 1)[1])
    p = Proc(name, [binary, *args], tmp)
    ok = wait_until(lambda: p.alive() and raw_get(port, "/healthz", proxy_local=proxy, timeout=1)[0] == 200, WAIT, 0.1)
    return p, port, bool(ok) and p.alive()


def scrape(port: int, proxy: bool = False) -> str:
    status, raw = raw_get(port, "/metrics", proxy_local=proxy, timeout=5)
    if status != 200:
        raise OSError(f"/metrics answered {status}")
    return http_body(raw)


def check_nats_live(c: Checks, tools, cluster_files: list[str], tmp: str) -> None:
    ns = tools["nats-server"]
    if not ns:
        return
    # The single-server config, on loopback ports.
    cport, hport = free_port(), free_port()
    text = read(os.path.join(DEPLOY, "nats-server.conf"))
    text = text.replace("0.0.0.0:4222", f"127.0.0.1:{cport}").replace("0.0.0.0:8222", f"127.0.0.1:{hport}")
    text = re.sub(r'store_dir:\s*"[^"]*"', f'store_dir: "{os.path.join(tmp, "nats-single")}"', text)
    path = os.path.join(tmp, "nats-single.conf")
    with open(path, "w") as f:
        f.write(text)
    p = Proc("nats-single", [ns, "-c", path], tmp)
    ok = wait_until(lambda: hh.http(hport, "GET", "/healthz?js-enabled-only=true", timeout=1)[0] == 200, WAIT)
    c.check("deploy/nats-server.conf boots with JetStream (loopback copy)", bool(ok), p.tail())
    p.stop()
    # The cluster, on loopback ports.
    n = len(cluster_files)
    cports = [free_port() for _ in range(n)]
    hports = [free_port() for _ in range(n)]
    rports = [free_port() for _ in range(n)]
    names = [nats_conf_values(read(f))["server_name"] for f in cluster_files]
    procs = []
    for i, f in enumerate(cluster_files):
        text = read(f).replace("0.0.0.0:4222", f"127.0.0.1:{cports[i]}")
        text = text.replace("0.0.0.0:8222", f"127.0.0.1:{hports[i]}").replace("0.0.0.0:6222", f"127.0.0.1:{rports[i]}")
        for j, name in enumerate(names):
            text = re.sub(rf"nats-route://{re.escape(name)}:\d+", f"nats-route://127.0.0.1:{rports[j]}", text)
        text = re.sub(r'store_dir:\s*"[^"]*"', f'store_dir: "{os.path.join(tmp, f"nats-cluster-{i}")}"', text)
        path = os.path.join(tmp, f"nats-cluster-{i}.conf")
        with open(path, "w") as fh:
            fh.write(text)
        procs.append(Proc(f"nats-cluster-{i}", [ns, "-c", path], tmp))

    def meta():
        status, _, body = hh.http(hports[0], "GET", "/jsz", timeout=1)
        mc = json.loads(body).get("meta_cluster", {}) if status == 200 else {}
        return mc if mc.get("leader") and mc.get("cluster_size") == n else None

    started = time.monotonic()
    mc = wait_until(meta, 30, 0.25)
    c.check(f"deploy/nats-cluster/ forms a {n}-server JetStream cluster with a meta leader (loopback copy)",
            bool(mc), f"last /jsz meta_cluster: {mc}; " + procs[0].tail(600))
    if mc:
        print(f"  NOTE cluster {mc.get('name')} leader {mc.get('leader')} after {time.monotonic() - started:.1f}s",
              flush=True)
    for q in procs:
        q.stop()


async def ws_roundtrip(url: str, token: str) -> str:
    async with hh.ws_connect(url) as ws:
        await hh.register(ws, token, "deploy")
        return "ok"


async def cross_node(a_port: int, b_port: int) -> str:
    """A client on B, a push on A: did it arrive (through the bus)?"""
    async with hh.ws_connect(f"ws://127.0.0.1:{b_port}/ws") as ws:
        await hh.register(ws, "deploy-check", "deploy")
        body = json.dumps({"userId": "deploy-check", "event": "deploy", "message": "cross-node"})
        status, _, answer = await asyncio.to_thread(hh.http, a_port, "POST", "/push", body)
        try:
            got = await hh.recv(ws, 3)
        except asyncio.TimeoutError:
            got = None
        return f"push on A answered {status} {answer[:60]!r}; client on B received {got!r}"


async def drain_through_haproxy(node: "Proc", url: str, ha_metrics):
    """A WebSocket through haproxy, then SIGTERM to its node. Returns
    (taken out of rotation?, node alive at that moment?, seconds until then,
    (close code or None, seconds until the WebSocket closed))."""
    ws = await hh.ws_connect(url)
    await hh.register(ws, "drain-watch", "deploy")
    t0 = time.monotonic()
    node.signal(signal.SIGTERM)

    def out_of_rotation():
        return haproxy_metric(ha_metrics(), "haproxy_backend_active_servers", 'proxy="herald"') == 0

    async def watch_close():
        code, _, _ = await hh.expect_closed(ws, 15)
        return code, time.monotonic() - t0

    closing = asyncio.ensure_future(watch_close())
    down = await asyncio.to_thread(wait_until, out_of_rotation, 8, 0.05)
    t_down, alive = time.monotonic() - t0, node.alive()
    closed = await closing
    await ws.close()
    return down, alive, t_down, closed


def check_live(c: Checks, tools, binary: str, tmp: str, compose: dict | None, queries: dict) -> None:
    samples_text: dict[str, str] = {}
    haproxy_text = ""

    # --- bus ----------------------------------------------------------------
    nats_port = None
    if tools["nats-server"]:
        nats_port = free_port()
        nats = Proc("nats", [tools["nats-server"], "-js", "-sd", os.path.join(tmp, "js"), "-p", str(nats_port),
                             "-a", "127.0.0.1"], tmp)

        def nats_up():
            with socket.create_connection(("127.0.0.1", nats_port), timeout=1) as s:
                return s.recv(7) == b"INFO {\""[:7]
        c.check("nats-server -js starts on a free loopback port", bool(wait_until(nats_up, WAIT)), nats.tail())
    bus = ["--bus", f"nats://127.0.0.1:{nats_port}"] if nats_port else []

    # --- two plain nodes on the bus -----------------------------------------
    nodes = {}
    for name in ("check-1", "check-2"):
        args = ["--listen", f"127.0.0.1:{free_port()}", "--threads", "2", *bus, "--node-name", name]
        p, port, ok = start_herald(name, binary, args, tmp)
        c.check(f"herald {' '.join(args[2:])} becomes healthy", ok, p.tail())
        if not ok:
            p.stop()
            args = ["--listen", f"127.0.0.1:{free_port()}", "--threads", "2", "--node-name", name]
            p, port, ok = start_herald(name + "-standalone", binary, args, tmp)
            if not ok:
                c.check(f"herald {name} starts even without the bus", False, p.tail())
                continue
        nodes[name] = (p, port)

    if len(nodes) == 2:
        (_, a), (_, b) = nodes["check-1"], nodes["check-2"]
        try:
            print("  NOTE " + asyncio.run(asyncio.wait_for(cross_node(a, b), 15)), flush=True)
        except Exception as e:  # noqa: BLE001 - informational only
            print(f"  NOTE cross-node traffic failed: {type(e).__name__}: {e}", flush=True)
    for name, (p, port) in nodes.items():
        hh.http(port, "POST", "/push", json.dumps({"userId": "nobody", "event": "e", "message": "m"}))
        hh.http(port, "POST", "/api/v1/publish", json.dumps({"topic": "deploy-check", "data": {"n": 1}}))
        try:
            samples_text[name] = scrape(port)
        except OSError as e:
            c.check(f"scrape {name} /metrics", False, str(e))

    # --- the healthcheck script -----------------------------------------------
    script = os.path.join(DEPLOY, "herald-healthcheck")
    if nodes:
        _, port = next(iter(nodes.values()))
        env = dict(os.environ, HERALD_HEALTH_PORT=str(port), HERALD_HEALTH_PROXY="0")
        results = {path: run(["bash", script, path], env=env, timeout=10)[0] for path in ("/healthz", "/readyz", "/nope")}
        c.check("deploy/herald-healthcheck: 0 for /healthz and /readyz, non-zero for a 404",
                results["/healthz"] == 0 and results["/readyz"] == 0 and results["/nope"] != 0, str(results))

    # --- a node with the compose flags behind haproxy -------------------------
    cmd = [str(a) for a in ((compose or {}).get("services", {}).get("herald-1", {}).get("command") or [])]
    if not cmd:
        c.check("compose herald-1 command found", False)
        return finish_metrics(c, samples_text, haproxy_text, queries)
    cport = free_port()
    args = []
    skip = False
    for i, a in enumerate(cmd):
        if skip:
            skip = False
            continue
        if a in ("--listen", "--bus"):
            args += [a, f"127.0.0.1:{cport}" if a == "--listen" else f"nats://127.0.0.1:{nats_port}"]
            skip = True
        else:
            args.append(a)
    args += ["--drain-grace", "4"]
    pc, cport, ok = start_herald("compose-herald-1", binary, args, tmp, proxy=True)
    c.check("herald with compose herald-1's flags (--proxy-protocol) answers /healthz after a PROXY v2 LOCAL header",
            ok, "needs --proxy-protocol (being added); " + pc.tail(800))
    if ok:
        env = dict(os.environ, HERALD_HEALTH_PORT=str(cport), HERALD_HEALTH_PROXY="1")
        rc, out = run(["bash", script, "/healthz"], env=env, timeout=10)
        c.check("deploy/herald-healthcheck speaks PROXY v2 to a --proxy-protocol node", rc == 0, out)
        # As Docker's HEALTHCHECK runs it: port and PROXY mode from herald's command line.
        env = dict(os.environ, HERALD_HEALTH_PID=str(pc.proc.pid))
        for k in ("HERALD_HEALTH_PORT", "HERALD_HEALTH_PROXY", "HERALD_HEALTH_HOST"):
            env.pop(k, None)
        rc, out = run(["bash", script, "/readyz"], env=env, timeout=10)
        c.check("deploy/herald-healthcheck finds --listen and --proxy-protocol on herald's command line", rc == 0, out)
        status, raw = raw_get(cport, "/healthz", proxy_local=False, timeout=4)
        c.check("a --proxy-protocol node refuses a plain connection", status != 200, raw[:120])
        try:
            samples_text["compose-herald-1"] = scrape(cport, proxy=True)
        except OSError as e:
            c.check("scrape the --proxy-protocol node's /metrics after a LOCAL header", False, str(e))

    if not tools["haproxy"]:
        return finish_metrics(c, samples_text, haproxy_text, queries)
    text, ports = haproxy_loopback_copy(read(os.path.join(DEPLOY, "haproxy.cfg")), tmp,
                                        {n: cport for n in HERALD_NODES})
    path = os.path.join(tmp, "haproxy-live.cfg")
    with open(path, "w") as f:
        f.write(text)
    ha = Proc("haproxy", [tools["haproxy"], "-f", path, "-db"], tmp)
    front, stats = ports[8080], ports[8404]

    def ha_metrics():
        status, _, body = hh.http(stats, "GET", "/metrics", timeout=2)
        return body.decode() if status == 200 else ""

    def all_up():
        t = ha_metrics()
        return t if haproxy_metric(t, "haproxy_backend_active_servers", 'proxy="herald"') == 3 else None

    up = wait_until(all_up, WAIT, 0.2)
    haproxy_text = up or wait_until(ha_metrics, 3) or ""
    active = haproxy_metric(haproxy_text, "haproxy_backend_active_servers", 'proxy="herald"')
    events = [l for l in ha.tail(20000).splitlines() if "Server herald/" in l or "ALERT" in l][-4:]
    c.check("haproxy (loopback copy of deploy/haproxy.cfg) starts and its /readyz checks mark the node UP",
            ha.alive() and bool(up), f"active servers {active}" + ("" if ok else " (the node failed its PROXY "
                                     "health check above)") + "; " + " | ".join(events))
    if ok and up:
        status, _, _ = hh.http(front, "GET", "/healthz", timeout=5)
        c.eq("GET /healthz through haproxy (PROXY v2 PROXY header) answers 200", status, 200)
        try:
            asyncio.run(asyncio.wait_for(ws_roundtrip(f"ws://127.0.0.1:{front}/ws", "via-haproxy"), 15))
            c.check("a WebSocket registers and gets its pong through haproxy", True)
        except Exception as e:  # noqa: BLE001
            c.check("a WebSocket registers and gets its pong through haproxy", False, f"{type(e).__name__}: {e}")
        try:
            status, _, body = hh.http(ports[9101], "GET", "/metrics", timeout=5)
            c.eq("node /metrics through haproxy's per-node listener (as Prometheus scrapes it)", status, 200)
            if status == 200:
                samples_text["compose-herald-1"] = body.decode()
        except OSError as e:
            c.check("node /metrics through haproxy's per-node listener (as Prometheus scrapes it)", False, str(e))
        # SIGTERM: haproxy must see /readyz 503 and take the node out while it still serves.
        # (A server that has just come UP falls at its first failed check; after
        # a few more passing checks it takes `fall 2`, as in production.)
        time.sleep(2.5)
        try:
            down, alive, t_down, closed = asyncio.run(asyncio.wait_for(
                drain_through_haproxy(pc, f"ws://127.0.0.1:{front}/ws", ha_metrics), 20))
            c.check("SIGTERM: haproxy takes the node out of rotation while it still drains (--drain-grace)",
                    bool(down) and alive, f"out={bool(down)} after {t_down:.2f}s, process alive then={alive}")
            code, t_close = closed
            c.eq("SIGTERM: a WebSocket through haproxy is closed by herald with 1001, not cut by haproxy",
                 code, 1001)
        except Exception as e:  # noqa: BLE001
            c.check("SIGTERM: haproxy takes the node out of rotation while it still drains (--drain-grace)", False,
                    f"{type(e).__name__}: {e}")
    pc.stop()
    ha.stop()
    finish_metrics(c, samples_text, haproxy_text, queries)


def finish_metrics(c: Checks, samples_text: dict[str, str], haproxy_text: str, queries: dict) -> None:
    herald_names, herald_types = set(), {}
    for text in samples_text.values():
        n, t = exposed_names(text)
        herald_names |= n
        herald_types.update(t)
    haproxy_names, _ = exposed_names(haproxy_text)
    c.check("live /metrics scraped from at least one herald node", bool(samples_text))
    missing: dict[str, list[str]] = {}
    bare_hist: dict[str, list[str]] = {}
    for name, where in sorted(queries.items()):
        if name in SYNTHETIC:
            continue
        if name.startswith("herald_"):
            if herald_types.get(name) == "histogram":
                bare_hist[name] = where
            elif name not in herald_names:
                missing[name] = where
        elif name.startswith("haproxy_"):
            if name not in haproxy_names:
                missing[name] = where
        else:
            missing[name] = where + ["(not a herald_/haproxy_ metric)"]
    herald_q = sorted(n for n in queries if n.startswith("herald_"))
    detail = "\n".join(f"    {n}  <- {', '.join(sorted(set(w)))[:200]}" for n, w in sorted(missing.items()))
    hint = ""
    if any(n.startswith(("herald_bus_", "herald_fleet_")) for n in missing):
        hint += "\n  (herald_bus_*/herald_fleet_* exist only on a node started with --bus, once the bus is built)"
    if any(n.startswith("herald_proxy_") for n in missing):
        hint += "\n  (herald_proxy_* is read from the --proxy-protocol node, scraped only once it passes its checks)"
    c.check(f"every metric the dashboard and alerts query exists in a live /metrics ({len(queries)} names, "
            f"{len(herald_q)} herald_*; nodes scraped: {', '.join(samples_text) or 'none'})",
            not missing and not bare_hist,
            (f"{len(missing)} missing:\n{detail}\n  MISSING: {' '.join(sorted(missing))}{hint}" if missing else "")
            + (f"\n  histograms queried without _bucket/_sum/_count: {sorted(bare_hist)}" if bare_hist else ""))


# ---------------------------------------------------------------------------
def body(binary: str, c: Checks, tmp: str) -> None:
    tools = check_tools(c)
    rc, help_text = run([binary, "--help"])
    binary_flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", help_text))
    c.check("herald --help lists its flags", rc == 0 and "--listen" in binary_flags, help_text[-300:])

    check_haproxy_static(c, tools, tmp)
    check_prometheus_static(c, tools)
    check_systemd(c, tools, binary, tmp)
    cluster = check_nats_static(c, tools)
    with hh.section(c, "Dockerfile"):
        docker_uid = check_dockerfile(c, binary, tmp)

    compose = prom = dash = rules = None
    if yaml is not None:
        for label, path, loader in [
            ("docker-compose.yml", os.path.join(DEPLOY, "docker-compose.yml"), "yaml"),
            ("prometheus.yml", os.path.join(DEPLOY, "prometheus.yml"), "yaml"),
            ("alerts.yml", os.path.join(DEPLOY, "alerts.yml"), "yaml"),
            ("grafana/herald-dashboard.json", os.path.join(DEPLOY, "grafana", "herald-dashboard.json"), "json"),
        ] + [(f"k8s/{f}", os.path.join(DEPLOY, "k8s", f), "yaml") for f in sorted(os.listdir(os.path.join(DEPLOY, "k8s")))
             if f.endswith((".yaml", ".yml"))] + [
            (rel(os.path.join(d, f)), os.path.join(d, f), "yaml")
            for d, _, fs in os.walk(os.path.join(DEPLOY, "grafana", "provisioning")) for f in sorted(fs)]:
            try:
                doc = json.load(open(path)) if loader == "json" else load_yaml_all(path)
                c.check(f"{label} parses ({loader.upper()})", bool(doc))
            except Exception as e:  # noqa: BLE001
                c.check(f"{label} parses ({loader.upper()})", False, f"{type(e).__name__}: {e}")
                continue
            if label == "docker-compose.yml":
                compose = doc[0]
            elif label == "prometheus.yml":
                prom = doc[0]
            elif label == "alerts.yml":
                rules = doc[0]
            elif label.endswith(".json"):
                dash = doc
        if compose and prom:
            with hh.section(c, "compose cross-references"):
                check_compose(c, compose, read(os.path.join(DEPLOY, "haproxy.cfg")), prom, binary_flags)
        if dash:
            with hh.section(c, "dashboard"):
                check_dashboard(c, dash)
        with hh.section(c, "k8s"):
            check_k8s(c, binary_flags, docker_uid)

    queries: dict[str, list[str]] = {}
    for where, expr in (dashboard_queries(dash or {}) + alert_queries(rules or {})):
        for name in promql_metric_names(expr):
            queries.setdefault(name, []).append(where)
    c.check("dashboard and alerts query herald_* metrics", any(n.startswith("herald_") for n in queries), str(queries))

    with hh.section(c, "NATS configs booted"):
        check_nats_live(c, tools, cluster, tmp)
    with hh.section(c, "live fleet"):
        check_live(c, tools, binary, tmp, compose, queries)


class Watchdog(BaseException):
    pass


def main() -> None:
    if len(sys.argv) < 2:
        print(f"usage: {sys.argv[0]} <path-to-herald-binary>", file=sys.stderr)
        sys.exit(2)
    binary = os.path.abspath(sys.argv[1])
    c = Checks()

    def alarm(signum, frame):
        raise Watchdog(f"script exceeded {SCRIPT_TIMEOUT}s")

    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(SCRIPT_TIMEOUT)
    tmp = tempfile.mkdtemp(prefix="herald-deploy-check-")
    try:
        if not os.access(binary, os.X_OK):
            c.check("herald binary is executable", False, binary)
        else:
            body(binary, c, tmp)
    except BaseException as exc:  # Watchdog, bugs in the checker
        traceback.print_exc()
        c.error("check script completed", exc)
    finally:
        signal.alarm(0)
        Proc.stop_all()
        if c.failed:
            for p in Proc.started:
                if p.name.startswith(("check-", "compose-")) and p.tail():
                    print(f"--- {p.name} log tail ---\n{p.tail(800)}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(c.summary())


if __name__ == "__main__":
    main()
