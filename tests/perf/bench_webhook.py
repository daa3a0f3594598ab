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
        [--client wrk|python]
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
from tests.helpers import payload  # noqa: E402

AUTH = "Basic " + base64.b64encode(b"bench:bench-password").decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
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


def start_bare(port: int, threads: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(HERE / "bare_app.py"), str(port), str(threads)])


def start_gsmbridge(port: int, data: Path, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    (data / "config.toml").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GSMBRIDGE_")}
    env.update(GSMBRIDGE_AUTH_USERNAME="bench", GSMBRIDGE_AUTH_PASSWORD="bench-password")
    if args.threads:
        env["GSMBRIDGE_SERVER_THREADS"] = str(args.threads)
    if args.log_level:
        env["GSMBRIDGE_LOGGING_LEVEL"] = args.log_level
    command = [sys.executable, "-m", "gsmbridge", "--headless"]
    if args.modem != "none":
        command += ["--modem", args.modem]
    command += ["--config", str(data / "config.toml"), "--data-dir", str(data)]
    # The app's own output (a line per webhook at INFO) goes to its log file, as for a
    # user; a console would cost the terminal's time too.
    return subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


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
        "--threads", type=int, default=0, help="gsmbridge's waitress threads (default: the app's)"
    )
    parser.add_argument("--bare-threads", type=int, default=4)
    parser.add_argument("--log-level", default="", help="gsmbridge's (default: the app's)")
    parser.add_argument("--modem", default="sim", help="'sim' (default) or 'none': no sending")
    args = parser.parse_args()
    client = args.client or ("wrk" if shutil.which("wrk") else "python")
    threads = args.threads or defaults.server.threads
    level = args.log_level or defaults.logging.level

    bare_port, app_port = free_port(), free_port()
    rows: dict[str, list[tuple[float, float, float, int, int]]] = {"bare": [], "gsmbridge": []}
    cpu: dict[str, list[float]] = {"bare": [], "gsmbridge": []}  # server CPU s per request
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        script = wrk_script(data)
        servers = {
            "bare": (bare_port, start_bare(bare_port, args.bare_threads)),
            "gsmbridge": (app_port, start_gsmbridge(app_port, data, args)),
        }
        try:
            wait_listening(bare_port)
            wait_listening(app_port)
            warm = [json.dumps(payload(data__to__uid=f"bench--{i}")).encode() for i in range(200)]
            for port, _ in servers.values():
                burst(port, warm, args.connections, keep_alive=True)
            for round_ in range(args.rounds):
                for name, (port, server) in servers.items():
                    before = cpu_seconds(server.pid)
                    tag = f"{round_}{name[0]}"
                    if client == "wrk":
                        row = run_wrk(port, script, tag, args)
                    else:
                        row = run_python(port, tag, args)
                    rows[name].append(row)
                    cpu[name].append((cpu_seconds(server.pid) - before) / max(row[3], 1))
                bare_r, app_r = rows["bare"][-1], rows["gsmbridge"][-1]
                print(
                    f"round {round_ + 1}: bare {bare_r[0]:6.0f} req/s p99 {bare_r[2]:5.1f} ms"
                    f" | gsmbridge {app_r[0]:6.0f} req/s p99 {app_r[2]:5.1f} ms"
                    f" | ratio {app_r[0] / bare_r[0]:.2f}",
                    flush=True,
                )
            time.sleep(0.5)  # the last commits of requests wrk gave up on at its deadline
            db = sqlite3.connect(data / "gsmbridge.db")
            stored = db.execute(
                "SELECT COUNT(*) FROM jobs WHERE uid LIKE 'bench-%' AND uid NOT LIKE 'bench--%'"
            ).fetchone()[0]
            sent = db.execute(
                "SELECT COUNT(*) FROM jobs WHERE state IN ('sent', 'delivered')"
            ).fetchone()[0]
            db.close()
        finally:
            for _, server in servers.values():
                server.terminate()
                server.wait()

    how = (
        f"wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s, keep-alive"
        if client == "wrk"
        else f"Python client (wrk not found), {args.connections} keep-alive connections"
    )
    acked = sum(r[3] for r in rows["gsmbridge"])
    print()
    print(f"client: {how}; medians of {args.rounds} alternating runs")
    print(f"{'server':<44} {'2xx/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10}")
    labels = {
        "bare": f"bare Flask + waitress ({args.bare_threads} threads)",
        "gsmbridge": f"gsmbridge ({level}, {threads} threads, modem {args.modem})",
    }
    medians = {}
    for name, got in rows.items():
        rate, p50, p99 = (statistics.median(r[i] for r in got) for i in range(3))
        medians[name] = rate
        print(
            f"{labels[name]:<44} {rate:>7.0f} {p50:>7.1f} {p99:>7.1f}"
            f" {statistics.median(cpu[name]) * 1e6:>10.0f}"
        )
    ratios = [a[0] / b[0] for a, b in zip(rows["gsmbridge"], rows["bare"], strict=True)]
    failed = sum(r[4] for r in rows["gsmbridge"])
    print(f"ratio: {statistics.median(ratios):.2f} of the bare app's throughput (median of runs)")
    print(
        f"durable: {stored} rows for {acked} answered 2xx ({failed} failed or unanswered"
        f" at the deadline); {sent} sent by the modem meanwhile"
    )
    ok = stored >= acked  # a row more: wrk's deadline came before its answer did
    if not ok:
        print("DURABILITY FAILURE: fewer rows than acknowledged webhooks")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
