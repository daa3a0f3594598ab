"""Webhook intake benchmark: durable gsmbridge versus a bare Flask+waitress app.

Posts bursts of webhooks over concurrent connections to each server (both in
their own process, same thread count, taking turns) and prints acknowledged
throughput, p50/p99 latency and the ratio, per round and as medians.  Every
gsmbridge acknowledgement is a committed SQLite row (WAL, synchronous=FULL);
the script checks the count afterwards.

    python tests/perf/bench_webhook.py [--requests 2000] [--concurrency 32] [--rounds 5]
                                       [--keep-alive]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
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


def switches(pid: int) -> int:
    """Context switches of a process's threads so far (Linux /proc; 0 elsewhere)."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            for row in status.read_text().splitlines():
                if "ctxt_switches:" in row:  # voluntary and nonvoluntary
                    total += int(row.split()[1])
        except OSError:
            continue
    return total


def summary(wall: float, latencies: list[float], ok: int) -> tuple[float, float, float]:
    q = statistics.quantiles(latencies, n=100)
    return ok / wall, q[49] * 1000, q[98] * 1000


def line(name: str, rate: float, p50: float, p99: float) -> str:
    return f"{name:<12} {rate:>8.0f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms"


def start_bare(port: int, threads: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(HERE / "bare_app.py"), str(port), str(threads)])


def start_gsmbridge(port: int, threads: int, data: Path) -> subprocess.Popen[bytes]:
    (data / "config.toml").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GSMBRIDGE_")}
    env.update(
        GSMBRIDGE_AUTH_USERNAME="bench",
        GSMBRIDGE_AUTH_PASSWORD="bench-password",
        GSMBRIDGE_SERVER_THREADS=str(threads),
        GSMBRIDGE_SENDING_DEDUP_WINDOW_S="600",
        GSMBRIDGE_LOGGING_LEVEL="WARNING",
    )
    command = [sys.executable, "-m", "gsmbridge", "--headless", "--modem", "sim"]
    command += ["--config", str(data / "config.toml"), "--data-dir", str(data)]
    return subprocess.Popen([*command, "--port", str(port)], env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--threads", type=int, default=16, help="server worker threads")
    parser.add_argument(
        "--keep-alive",
        action="store_true",
        help="keep each connection open for many webhooks, as a tunnel does (default: a new"
        " connection per webhook, the worst case)",
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="bursts to each server, alternating; medians count"
    )
    args = parser.parse_args()

    def bodies(round_: int) -> list[bytes]:
        # Fresh recipients every round: the same body twice would be a duplicate.
        return [
            json.dumps(
                payload(
                    data__to__uid=f"bench-{round_}-{i}",
                    data__to__phno=f"+1212555{i % 1000:04d}",
                )
            ).encode()
            for i in range(args.requests)
        ]

    # Both servers run side by side and take turns, so a noisy moment on the
    # machine hits both, not one.  The bare app is the ceiling of this stack: it
    # validates and answers, nothing stored.
    bare_port, app_port = free_port(), free_port()
    acked = 0
    results: dict[str, list[tuple[float, float, float]]] = {"bare": [], "gsmbridge": []}
    cpu: dict[str, list[float]] = {"bare": [], "gsmbridge": []}  # server CPU s per request
    cs: dict[str, list[float]] = {"bare": [], "gsmbridge": []}  # server thread switches per request
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        servers = [
            start_bare(bare_port, args.threads),
            start_gsmbridge(app_port, args.threads, data),
        ]
        try:
            wait_listening(bare_port)
            wait_listening(app_port)
            warm = bodies(-1)[:100]
            burst(bare_port, warm, args.concurrency)
            burst(app_port, warm, args.concurrency)
            for round_ in range(args.rounds):
                batch = bodies(round_)
                for name, port, server in (
                    ("bare", bare_port, servers[0]),
                    ("gsmbridge", app_port, servers[1]),
                ):
                    cpu_before, cs_before = cpu_seconds(server.pid), switches(server.pid)
                    wall, latencies, ok = burst(port, batch, args.concurrency, args.keep_alive)
                    results[name].append(summary(wall, latencies, ok))
                    cpu[name].append((cpu_seconds(server.pid) - cpu_before) / max(ok, 1))
                    cs[name].append((switches(server.pid) - cs_before) / max(ok, 1))
                    if name == "gsmbridge":
                        acked += ok
                bare_r, app_r = results["bare"][-1], results["gsmbridge"][-1]
                print(
                    f"round {round_ + 1}: bare {bare_r[0]:6.0f} req/s p99 {bare_r[2]:5.1f} ms"
                    f" | gsmbridge {app_r[0]:6.0f} req/s p99 {app_r[2]:5.1f} ms"
                    f" | ratio {app_r[0] / bare_r[0]:.2f}",
                    flush=True,
                )
            stored = (
                sqlite3.connect(data / "gsmbridge.db")
                .execute(
                    "SELECT COUNT(*) FROM jobs WHERE uid LIKE 'bench-%' AND uid NOT LIKE 'bench--%'"
                )
                .fetchone()[0]
            )
        finally:
            for server in servers:
                server.terminate()
                server.wait()
    medians = {
        name: tuple(statistics.median(r[i] for r in rows) for i in range(3))
        for name, rows in results.items()
    }
    print(
        f"medians of {args.rounds} rounds of {args.requests} webhooks"
        f" over {args.concurrency} connections:"
    )
    for name, (rate, p50, p99) in medians.items():
        cpu_us = statistics.median(cpu[name]) * 1e6
        extra = f"  server CPU {cpu_us:4.0f} us/req" if cpu_us else ""
        if cs[name] and statistics.median(cs[name]):
            extra += f", {statistics.median(cs[name]):4.1f} switches/req"
        print(line(name, rate, p50, p99) + extra)
    ratios = [a[0] / b[0] for a, b in zip(results["gsmbridge"], results["bare"], strict=True)]
    print(f"ratio        {statistics.median(ratios):.2f} of the bare app's throughput (median)")
    print(f"durable      {stored} of {acked} acknowledged notifications are in the database")
    return 0 if stored == acked else 1


if __name__ == "__main__":
    sys.exit(main())
