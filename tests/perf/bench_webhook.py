"""Webhook intake benchmark: durable gsmbridge versus a bare Flask+waitress app.

Both servers run in their own process, side by side, and take turns (a noisy
moment on a shared machine hits both).  gsmbridge runs as a user runs it: the
app's default settings (INFO log, the default thread count) and the simulated
modem sending what comes in.  The bare app (tests/perf/bare_app.py) only
validates and answers: the ceiling of this stack.  The client is ``wrk`` when
installed (keep-alive, every request a distinct notification, so deduplication
never answers from memory); otherwise a Python client, which needs much of the
CPU itself (the table says which ran).  Every 2xx from gsmbridge must be a
committed row (WAL, synchronous=FULL): the script counts them afterwards.

    python tests/perf/bench_webhook.py [--rounds 3] [--duration 5] [--connections 32]
        [--wrk-threads 2] [--threads N (gsmbridge's waitress threads; default: the app's)]
        [--bare-threads 4] [--log-level LEVEL (default: the app's)] [--modem sim|none]
        [--client wrk|python] [--switch-interval MS] [--bare-switch-interval MS]

Comma lists (``--threads 4,8,16 --switch-interval 5,1``) start a server for every
combination; all of them take turns in each round, so settings are compared under
the same conditions.  Every ratio is against the first bare app of the same round.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
from tests.helpers import payload  # noqa: E402

AUTH = "Basic " + base64.b64encode(b"bench:bench-password").decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server for port {port} exited ({process.returncode})")
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=0.5)
        except OSError:
            time.sleep(0.05)
            continue
        # A port from the ephemeral range can connect to itself (TCP simultaneous open)
        # while nothing listens yet: that is not the server.
        itself = sock.getsockname() == sock.getpeername()
        sock.close()
        if not itself:
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def burst(
    port: int, bodies: list[bytes], concurrency: int, keep_alive: bool = False
) -> tuple[float, list[float], int]:
    """Post every body once over ``concurrency`` connections: a new connection per
    request, or (``keep_alive``) each connection kept open for many, as a tunnel does."""
    latencies: list[float] = []
    lock = threading.Lock()
    local = threading.local()
    opened: list[http.client.HTTPConnection] = []
    ok = 0

    def post(body: bytes) -> None:
        nonlocal ok
        start = time.perf_counter()
        conn = getattr(local, "conn", None) if keep_alive else None
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            local.conn = conn
            with lock:
                opened.append(conn)
        conn.request(
            "POST",
            "/webhook",
            body=body,
            headers={"Content-Type": "application/json", "Authorization": AUTH},
        )
        response = conn.getresponse()
        response.read()
        if not keep_alive:
            conn.close()
        elapsed = time.perf_counter() - start
        with lock:
            latencies.append(elapsed)
            ok += response.status == 200

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(post, bodies))
    wall = time.perf_counter() - start
    for conn in opened:
        conn.close()
    return wall, latencies, ok


def cpu_seconds(pid: int) -> float:
    """User+system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(wall: float, latencies: list[float], ok: int) -> tuple[float, float, float]:
    q = statistics.quantiles(latencies, n=100)
    return ok / wall, q[49] * 1000, q[98] * 1000


# Every request a new notification: the thread's number and a counter in the uid.
WRK_SCRIPT = """
local counter, tag = 0, ""
-- id: a global, set per thread by setup() (a local would hide it)
local template = [[%(template)s]]
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "%(auth)s"}
local threads, n = {}, 0
function setup(thread)
  n = n + 1
  thread:set("id", n)
  table.insert(threads, thread)
end
function init(args)
  tag = args[1]
end
function request()
  counter = counter + 1
  local uid = "bench-" .. tag .. "-" .. id .. "-" .. counter
  local body = string.format(template, uid, counter %% 1000)
  return wrk.format("POST", "/webhook", headers, body)
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d %%d %%.0f %%.0f\\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read + summary.errors.write, summary.errors.timeout, 0,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_script(folder: Path) -> Path:
    body = json.dumps(payload(data__to__uid="UID", data__to__phno="PHONE"))
    body = body.replace("%", "%%").replace('"UID"', '"%s"').replace('"PHONE"', '"+1212555%04d"')
    path = folder / "bench.lua"
    path.write_text(WRK_SCRIPT % {"template": body, "auth": AUTH})
    return path


def run_wrk(
    port: int, script: Path, tag: str, args: argparse.Namespace
) -> tuple[float, float, float, int, int]:
    """(2xx/s, p50 ms, p99 ms, 2xx answered, failed) from one wrk run."""
    out = subprocess.run(
        [
            "wrk",
            f"-t{args.wrk_threads}",
            f"-c{args.connections}",
            f"-d{args.duration}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/webhook",
            "--",
            tag,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"^RESULT (.*)$", out, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk said:\n{out}")
    requests, duration_us, status, connect, rw, timeout, _, p50, p99 = (
        float(x) for x in match.group(1).split()
    )
    ok = int(requests - status)
    return (
        ok / (duration_us / 1e6),
        p50 / 1000,
        p99 / 1000,
        ok,
        int(status + connect + rw + timeout),
    )


def run_python(
    port: int, tag: str, args: argparse.Namespace
) -> tuple[float, float, float, int, int]:
    bodies = [
        json.dumps(
            payload(data__to__uid=f"bench-{tag}-{i}", data__to__phno=f"+1212555{i % 1000:04d}")
        ).encode()
        for i in range(args.requests)
    ]
    wall, latencies, ok = burst(port, bodies, args.connections, keep_alive=True)
    rate, p50, p99 = summary(wall, latencies, ok)
    return rate, p50, p99, ok, len(bodies) - ok


def python_with(switch_ms: float, target: list[str]) -> list[str]:
    """The command running ``target`` (a script, or ``-m module``) with the interpreter's
    GIL switch interval set first and kept (the program's own setting of it is made a
    no-op, so 5 measures Python's default against gsmbridge's); 0: as the program sets it."""
    if not switch_ms:
        return [sys.executable, *target]
    run = (
        f"runpy.run_module({target[1]!r}, run_name='__main__', alter_sys=True)"
        if target[0] == "-m"
        else f"runpy.run_path({target[0]!r}, run_name='__main__')"
    )
    rest = target[2:] if target[0] == "-m" else target[1:]
    code = (
        f"import runpy, sys; sys.setswitchinterval({switch_ms / 1000!r});"
        f" sys.setswitchinterval = lambda interval: None; {run}"
    )
    return [sys.executable, "-c", code, *rest]


def start_bare(port: int, threads: int, switch_ms: float = 0) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        python_with(switch_ms, [str(HERE / "bare_app.py"), str(port), str(threads)])
    )


def start_gsmbridge(
    port: int,
    data: Path,
    args: argparse.Namespace,
    threads: int,
    switch_ms: float,
    tree: Path | None = None,
) -> subprocess.Popen[bytes]:
    data.mkdir()
    (data / "config.toml").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GSMBRIDGE_")}
    if tree is not None:  # gsmbridge from another source tree (an earlier commit)
        env["PYTHONPATH"] = str(tree)
    env.update(GSMBRIDGE_AUTH_USERNAME="bench", GSMBRIDGE_AUTH_PASSWORD="bench-password")
    if threads:
        env["GSMBRIDGE_SERVER_THREADS"] = str(threads)
    if args.log_level:
        env["GSMBRIDGE_LOGGING_LEVEL"] = args.log_level
    command = python_with(switch_ms, ["-m", "gsmbridge", "--headless"])
    if args.modem != "none":
        command += ["--modem", args.modem]
    command += ["--config", str(data / "config.toml"), "--data-dir", str(data)]
    # The app's own output (a line per webhook at INFO) goes to its log file, as for a
    # user; a console would cost the terminal's time too.
    return subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@dataclass
class Server:
    """One server under test and what each of its runs gave."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    data: Path | None = None  # gsmbridge's data directory (its database)
    rows: list[tuple[float, float, float, int, int]] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # server CPU seconds per request


def numbers(text: str, kind: type[float] | type[int]) -> list[float]:
    """A comma-separated option: every value is measured, side by side."""
    return [kind(x) for x in text.split(",") if x.strip()]


def durable_counts(data: Path) -> tuple[int, int]:
    """(rows of the timed runs, jobs the modem sent) in a gsmbridge's database."""
    db = sqlite3.connect(data / "gsmbridge.db")
    try:
        stored = db.execute(
            "SELECT COUNT(*) FROM jobs WHERE uid LIKE 'bench-%' AND uid NOT LIKE 'bench--%'"
        ).fetchone()[0]
        sent = db.execute(
            "SELECT COUNT(*) FROM jobs WHERE state IN ('sent', 'delivered')"
        ).fetchone()[0]
    finally:
        db.close()
    return stored, sent


def main() -> int:
    from gsmbridge.config import Settings

    defaults = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", choices=["wrk", "python"], default=None)
    parser.add_argument("--rounds", type=int, default=3, help="runs per server, alternating")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", "--concurrency", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--requests", type=int, default=3000, help="per Python-client run")
    parser.add_argument(
        "--threads",
        default="0",
        help="gsmbridge's waitress threads, e.g. 4,8,16 (0: the app's default)",
    )
    parser.add_argument("--bare-threads", default="4", help="the bare app's, e.g. 4,16")
    parser.add_argument("--log-level", default="", help="gsmbridge's (default: the app's)")
    parser.add_argument("--modem", default="sim", help="'sim' (default) or 'none': no sending")
    parser.add_argument(
        "--switch-interval",
        default="0",
        help="gsmbridge's GIL switch interval in ms, e.g. 5,1 (0: as the app sets it)",
    )
    parser.add_argument(
        "--bare-switch-interval",
        default="0",
        help="the bare app's GIL switch interval in ms (0: Python's, 5 ms)",
    )
    parser.add_argument(
        "--also-tree",
        type=Path,
        action="append",
        default=[],
        help="also run gsmbridge from this source tree (e.g. `git archive` of an earlier"
        " commit unpacked), with the first --threads and --switch-interval: code A/B",
    )
    args = parser.parse_args()
    client = args.client or ("wrk" if shutil.which("wrk") else "python")
    level = args.log_level or defaults.logging.level

    def switch_label(ms: float) -> str:
        return f", switch {ms:g} ms" if ms else ""

    servers: list[Server] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        script = wrk_script(folder)
        try:
            # The first bare app is the reference of every ratio.
            for threads in numbers(args.bare_threads, int):
                for ms in numbers(args.bare_switch_interval, float):
                    port = free_port()
                    name = f"bare Flask + waitress ({threads:g} threads{switch_label(ms)})"
                    servers.append(Server(name, port, start_bare(port, int(threads), ms)))
            for n, threads in enumerate(numbers(args.threads, int)):
                for m, ms in enumerate(numbers(args.switch_interval, float)):
                    port, data = free_port(), folder / f"gsmbridge-{n}-{m}"
                    shown = int(threads) or defaults.server.threads
                    name = f"gsmbridge ({level}, {shown} threads, modem {args.modem}"
                    name += f"{switch_label(ms)})"
                    process = start_gsmbridge(port, data, args, int(threads), ms)
                    servers.append(Server(name, port, process, data))
            for n, tree in enumerate(args.also_tree):
                port, data = free_port(), folder / f"gsmbridge-tree-{n}"
                threads, ms = numbers(args.threads, int)[0], numbers(args.switch_interval, float)[0]
                shown = int(threads) or defaults.server.threads
                name = f"gsmbridge of {tree.resolve().name} ({level}, {shown} threads"
                name += f"{switch_label(ms)})"
                process = start_gsmbridge(port, data, args, int(threads), ms, tree.resolve())
                servers.append(Server(name, port, process, data))
            for server in servers:
                wait_listening(server.port, server.process)
            warm = [json.dumps(payload(data__to__uid=f"bench--{i}")).encode() for i in range(200)]
            for server in servers:
                burst(server.port, warm, args.connections, keep_alive=True)
            reference = servers[0]
            for round_ in range(args.rounds):
                for n, server in enumerate(servers):
                    before = cpu_seconds(server.process.pid)
                    tag = f"{round_}s{n}"
                    if client == "wrk":
                        row = run_wrk(server.port, script, tag, args)
                    else:
                        row = run_python(server.port, tag, args)
                    server.rows.append(row)
                    server.cpu.append((cpu_seconds(server.process.pid) - before) / max(row[3], 1))
                line = " | ".join(
                    f"{s.rows[-1][0]:5.0f} req/s p99 {s.rows[-1][2]:5.1f} ms"
                    + (f" ({s.rows[-1][0] / reference.rows[-1][0]:.2f})" if s.data else "")
                    for s in servers
                )
                print(f"round {round_ + 1}: {line}", flush=True)
            time.sleep(0.5)  # the last commits of requests wrk gave up on at its deadline
            durable = {s.name: durable_counts(s.data) for s in servers if s.data is not None}
        finally:
            for server in servers:
                server.process.terminate()
                server.process.wait()

    how = (
        f"wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s, keep-alive"
        if client == "wrk"
        else f"Python client (wrk not found), {args.connections} keep-alive connections"
    )
    print()
    print(f"client: {how}; medians of {args.rounds} alternating runs")
    width = max(len(s.name) for s in servers)
    print(
        f"{'server':<{width}} {'2xx/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10}"
        f" {'ratio':>6}"
    )
    for server in servers:
        rate, p50, p99 = (statistics.median(r[i] for r in server.rows) for i in range(3))
        ratios = [
            a[0] / b[0] for a, b in zip(server.rows, reference.rows, strict=True)
        ]  # each run against the reference's run of the same round
        ratio = f"{statistics.median(ratios):>6.2f}" if server.data else ""
        print(
            f"{server.name:<{width}} {rate:>7.0f} {p50:>7.1f} {p99:>7.1f}"
            f" {statistics.median(server.cpu) * 1e6:>10.0f} {ratio}"
        )
    print(f"ratio: of the {reference.name}'s throughput in the same round (median of runs)")
    ok = True
    for server in servers:
        if server.data is None:
            continue
        stored, sent = durable[server.name]
        acked = sum(r[3] for r in server.rows)
        failed = sum(r[4] for r in server.rows)
        print(
            f"durable, {server.name}: {stored} rows for {acked} answered 2xx ({failed} failed"
            f" or unanswered at the deadline); {sent} sent by the modem meanwhile"
        )
        if stored < acked:  # a row more: wrk's deadline came before its answer did
            print("DURABILITY FAILURE: fewer rows than acknowledged webhooks")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
