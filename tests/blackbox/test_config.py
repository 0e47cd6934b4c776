"""Configuration like the ecosystem's: every flag also comes from a
HERALD_<FLAG> environment variable and from a --config TOML file, with the
precedence flag > environment > file > default; deploy/herald.toml lists every
option `herald --help` has, with the default herald reports, and herald
accepts it; `herald --version` and herald_build_info name version and commit.

Every herald started here listens on a free loopback port and is stopped
here; every wait is bounded."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import tomllib

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import herald_harness as hh  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = os.path.join(ROOT, "deploy", "herald.toml")
# Options whose --help default is a description, not a value.
COMPUTED = {"www-dir", "node-name"}
# Not settings: they act and exit, or name the file itself.
NOT_IN_FILE = {"help", "version", "config"}


_nodes = []


class Node:
    """One herald process with its own flags, environment and log."""

    def __init__(self, binary, args, env=None):
        _nodes.append(self)
        self.log = tempfile.NamedTemporaryFile(prefix="herald-config-", suffix=".log", delete=False)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
        full_env.update(env or {})
        self.proc = subprocess.Popen([binary, "--threads", "1", "--drain-grace", "0", "--drain-spread", "0", *args],
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=full_env)

    def healthy_on(self, port, timeout=hh.WAIT):
        return hh.wait_healthy(self.proc, port, timeout)

    def exit_code(self, timeout=hh.WAIT):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def output(self):
        with open(self.log.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def listening(port):
    try:
        return hh.http(port, "GET", "/healthz", timeout=1)[0] == 200
    except OSError:
        return False


def write(text):
    f = tempfile.NamedTemporaryFile("w", prefix="herald-", suffix=".toml", delete=False)
    f.write(text)
    f.close()
    return f.name


def help_options(binary):
    """{name: default or None} for every --name in `herald --help`; flags map to False."""
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10).stdout
    options = {}
    for m in re.finditer(r"^\s+(?:-\w,)?--([a-z][a-z0-9-]*)([^\n]*)", out, re.M):
        name, rest = m.group(1), m.group(2)
        typed = re.match(r"\s+[A-Z]", rest) is not None
        default = re.search(r"=(.*?) \(Env:", rest)
        options[name] = default.group(1) if default else (None if typed else False)
    return options


def file_options(text):
    """{name: value} of every `# name = value` line (commented-out options)."""
    found = {}
    for m in re.finditer(r"^# ([a-z][a-z0-9-]*) = (.+)$", text, re.M):
        found[m.group(1)] = tomllib.loads(f"v = {m.group(2)}")["v"]
    return found


def same_default(shown, value):
    if shown is False:
        return value is False
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        try:
            return float(shown) == float(value)
        except ValueError:
            return False
    return str(value) == shown


def check_shipped_file(binary, c):
    text = open(SHIPPED).read()
    helped = help_options(binary)
    listed = file_options(text)
    settings = {k: v for k, v in helped.items() if k not in NOT_IN_FILE}
    c.check("herald --help lists its options (parsed)", "listen" in settings and "push-key" in settings, str(helped))
    c.eq("deploy/herald.toml lists every option of herald --help", sorted(set(settings) - set(listed)), [])
    c.eq("deploy/herald.toml lists no option herald does not have", sorted(set(listed) - set(settings)), [])
    wrong = {k: (listed[k], settings[k]) for k in listed.keys() & settings.keys()
             if settings[k] is not None and k not in COMPUTED and not same_default(settings[k], listed[k])}
    c.eq("every option in deploy/herald.toml shows the default herald --help reports", wrong, {})

    port = hh.free_port()
    node = Node(binary, ["--config", SHIPPED, "--listen", f"127.0.0.1:{port}"])
    c.check("herald starts with deploy/herald.toml as shipped", node.healthy_on(port), node.output()[-600:])
    node.stop()
    # The same file with every default uncommented (examples of options
    # without a default stay commented): the values herald --help reports.
    defaults = [k for k, v in settings.items() if v is not None and k not in COMPUTED]
    active = re.sub(r"^# (%s) = " % "|".join(map(re.escape, defaults)), r"\1 = ", text, flags=re.M)
    try:
        tomllib.loads(active)
        c.check("deploy/herald.toml with its defaults uncommented is valid TOML", True)
    except tomllib.TOMLDecodeError as e:
        c.check("deploy/herald.toml with its defaults uncommented is valid TOML", False, str(e))
    path = write(active.replace('listen = "0.0.0.0:8080"', f'listen = "127.0.0.1:{hh.free_port()}"'))
    port = int(re.search(r'^listen = "127.0.0.1:(\d+)"', open(path).read(), re.M).group(1))
    node = Node(binary, ["--config", path])
    ok = node.healthy_on(port)
    c.check("herald starts with every default of deploy/herald.toml uncommented", ok, node.output()[-600:])
    if ok:
        status, _, body = hh.http(port, "POST", "/push", json.dumps({"userId": "u", "event": "e", "message": "m"}))
        c.eq("... and behaves as with no file (open push API)", (status, body), (200, b"message sent to 0 clients"))
    node.stop()


def check_precedence(binary, c):
    file_port, env_port, flag_port = hh.free_port(), hh.free_port(), hh.free_port()
    config = write(f'listen = "127.0.0.1:{file_port}"\npush-key = "from-file"\nclient_publish = ["room:*"]\n')
    cases = [
        ("the file beats the default", ["--config", config], {}, file_port),
        ("the environment beats the file", ["--config", config], {"HERALD_LISTEN": f"127.0.0.1:{env_port}"}, env_port),
        ("a flag beats the environment and the file",
         ["--config", config, "--listen", f"127.0.0.1:{flag_port}"], {"HERALD_LISTEN": f"127.0.0.1:{env_port}"},
         flag_port),
        ("HERALD_CONFIG names the file when --config does not", [], {"HERALD_CONFIG": config}, file_port),
    ]
    for name, args, env, want in cases:
        node = Node(binary, args, env)
        ok = node.healthy_on(want)
        others = [p for p in (file_port, env_port, flag_port) if p != want and listening(p)]
        c.check(f"listen: {name}", ok and not others, f"listening on {others}; {node.output()[-400:]}")
        node.stop()

    # A secret from the environment, over the file's.
    port = hh.free_port()
    node = Node(binary, ["--config", config, "--listen", f"127.0.0.1:{port}"], {"HERALD_PUSH_KEY": "from-env"})
    if c.check("herald starts with HERALD_PUSH_KEY and a file's push-key", node.healthy_on(port), node.output()[-400:]):
        body = json.dumps({"userId": "u", "event": "e", "message": "m"})
        with_env = hh.http(port, "POST", "/push", body, {"Authorization": "Bearer from-env"})[0]
        with_file = hh.http(port, "POST", "/push", body, {"Authorization": "Bearer from-file"})[0]
        c.eq("push-key: HERALD_PUSH_KEY is the key, the file's is not", (with_env, with_file), (200, 401))
        c.check("the push key from the environment never reaches the log", "from-env" not in node.output())
        # client_publish (underscore spelling) came from the file: room:* only.
        pub = lambda t: hh.http(port, "POST", "/api/v1/client-publish",  # noqa: E731
                                json.dumps({"token": "u", "topic": t, "data": 1}))[0]
        c.eq("client_publish from the file (TOML spelling) allows room:* only", (pub("room:a"), pub("chat:a")),
             (200, 403))
    node.stop()

    # Lists and flags from the environment.
    port = hh.free_port()
    node = Node(binary, ["--listen", f"127.0.0.1:{port}"],
                {"HERALD_CLIENT_PUBLISH": "room:*,chat:*", "HERALD_STATUS_PAGE": "true"})
    if c.check("herald starts with list and flag options from the environment", node.healthy_on(port),
               node.output()[-400:]):
        pub = lambda t: hh.http(port, "POST", "/api/v1/client-publish",  # noqa: E731
                                json.dumps({"token": "u", "topic": t, "data": 1}))[0]
        c.eq("HERALD_CLIENT_PUBLISH takes a comma list", (pub("room:a"), pub("chat:a"), pub("news:a")),
             (200, 200, 403))
        c.eq("HERALD_STATUS_PAGE=true turns the flag on", hh.http(port, "GET", "/api/v1/status")[0], 200)
    node.stop()


def check_refusals(binary, c):
    bad = write('listen = "127.0.0.1:1"\nlisten-port = 9\n')
    node = Node(binary, ["--config", bad])
    code = node.exit_code()
    out = node.output()
    c.check("an unknown key in the file is an error that names the file and the key",
            code not in (None, 0) and bad in out and "listen-port" in out, f"exit {code}: {out[-300:]}")
    node.stop()
    node = Node(binary, ["--listen", f"127.0.0.1:{hh.free_port()}"], {"HERALD_CONFIG": "/nonexistent/herald.toml"})
    code = node.exit_code()
    c.check("a HERALD_CONFIG file that does not exist is an error", code not in (None, 0),
            f"exit {code}: {node.output()[-300:]}")
    node.stop()
    node = Node(binary, ["--listen", f"127.0.0.1:{hh.free_port()}"], {"HERALD_MAX_BODY": "many"})
    code = node.exit_code()
    c.check("a bad value in the environment is an error naming the option", code not in (None, 0)
            and "--max-body" in node.output(), f"exit {code}: {node.output()[-300:]}")
    node.stop()
    # The frame parser counts a message in 32 bits: a larger limit is refused, not cut down.
    node = Node(binary, ["--listen", f"127.0.0.1:{hh.free_port()}", "--max-message", "4294967296"])
    code = node.exit_code()
    c.check("a --max-message beyond 4294967295 is an error naming the option and its range",
            code not in (None, 0) and "--max-message" in node.output() and "4294967295" in node.output(),
            f"exit {code}: {node.output()[-300:]}")
    node.stop()
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10).stdout
    c.check("herald --help names each option's variable and the precedence",
            "HERALD_PUSH_KEY" in out and "Precedence: flag, then environment, then file" in out, out[-400:])


def check_version(binary, c):
    run = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    m = re.fullmatch(r"herald (\d+\.\d+\.\d+) \(commit ([0-9a-f]{12}(?:-dirty)?|unknown)\)\n", run.stdout)
    c.check("herald --version prints the version and the commit", run.returncode == 0 and m is not None,
            repr(run.stdout))
    if not m:
        return
    # The binary's commit is this checkout's HEAD or, if commits landed since
    # the build, one HEAD contains: never a made-up id.
    if os.path.isdir(os.path.join(ROOT, ".git")) and m.group(2) != "unknown":
        built = m.group(2).split("-")[0]
        git = subprocess.run(["git", "-C", ROOT, "merge-base", "--is-ancestor", built, "HEAD"], capture_output=True,
                             text=True, timeout=30)
        c.check("the commit is the checkout's HEAD or an ancestor of it", git.returncode == 0,
                f"{m.group(2)}: {git.stderr.strip()}")
    port = hh.free_port()
    node = Node(binary, ["--listen", f"127.0.0.1:{port}", "--node-name", "cfg-node"])
    if c.check("herald starts for a scrape", node.healthy_on(port), node.output()[-400:]):
        text = hh.http(port, "GET", "/metrics")[2].decode()
        want = f'herald_build_info{{commit="{m.group(2)}",node="cfg-node",version="{m.group(1)}"}} 1'
        c.check("herald_build_info has the same version and commit (and the node)", want in text,
                "\n".join(line for line in text.splitlines() if "build_info" in line))
    node.stop()


def body(binary, c):
    try:
        with hh.section(c, "version"):
            check_version(binary, c)
        with hh.section(c, "deploy/herald.toml"):
            check_shipped_file(binary, c)
        with hh.section(c, "precedence"):
            check_precedence(binary, c)
        with hh.section(c, "refusals"):
            check_refusals(binary, c)
    finally:
        for n in _nodes:
            n.stop()


if __name__ == "__main__":
    hh.main(body)
