"""Webhook intake benchmark: durable gsmbridge versus a bare Flask+waitress app.

Posts a burst of webhooks over concurrent connections to each server (both in
their own process, same thread count) and prints acknowledged throughput,
p50/p99 latency and the ratio.  Every gsmbridge acknowledgement is a committed
SQLite row (WAL, synchronous=FULL); the script checks the count afterwards.

    python tests/perf/bench_webhook.py [--requests 2000] [--concurrency 32]
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


def burst(port: int, bodies: list[bytes], concurrency: int) -> tuple[float, list[float], int]:
    """Post every body once, a new connection per request (as CometChat's webhooks)."""
    latencies: list[float] = []
    lock = threading.Lock()
    ok = 0

    def post(body: bytes) -> None:
        nonlocal ok
        start = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(
            "POST",
            "/webhook",
            body=body,
            headers={"Content-Type": "application/json", "Authorization": AUTH},
        )
        response = conn.getresponse()
        response.read()
        conn.close()
        elapsed = time.perf_counter() - start
        with lock:
            latencies.append(elapsed)
            ok += response.status == 200

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(post, bodies))
    return time.perf_counter() - start, latencies, ok


def report(name: str, wall: float, latencies: list[float], ok: int) -> float:
    q = statistics.quantiles(latencies, n=100)
    rate = ok / wall
    print(
        f"{name:<12} {ok:>6} acked  {rate:>8.0f} req/s  p50 {q[49] * 1000:6.1f} ms"
        f"  p99 {q[98] * 1000:6.1f} ms  max {max(latencies) * 1000:6.1f} ms"
    )
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--threads", type=int, default=16, help="server worker threads")
    args = parser.parse_args()
    bodies = [
        json.dumps(
            payload(data__to__uid=f"bench-{i}", data__to__phno=f"+1212555{i % 1000:04d}")
        ).encode()
        for i in range(args.requests)
    ]
    warmup = bodies[:50]

    # The ceiling: validates and answers, nothing stored.
    port = free_port()
    bare = subprocess.Popen(
        [sys.executable, str(HERE / "bare_app.py"), str(port), str(args.threads)]
    )
    try:
        wait_listening(port)
        burst(port, warmup, args.concurrency)
        bare_rate = report("bare", *burst(port, bodies, args.concurrency))
    finally:
        bare.terminate()
        bare.wait()

    # gsmbridge, durable, with the simulated modem sending in the background.
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        (data / "config.toml").write_text("")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GSMBRIDGE_")}
        env.update(
            GSMBRIDGE_AUTH_USERNAME="bench",
            GSMBRIDGE_AUTH_PASSWORD="bench-password",
            GSMBRIDGE_SERVER_THREADS=str(args.threads),
            GSMBRIDGE_SENDING_DEDUP_WINDOW_S="600",
            GSMBRIDGE_LOGGING_LEVEL="WARNING",
        )
        app = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gsmbridge",
                "--headless",
                "--modem",
                "sim",
                "--config",
                str(data / "config.toml"),
                "--data-dir",
                str(data),
                "--port",
                str(port),
            ],
            env=env,
        )
        try:
            wait_listening(port)
            burst(port, [payload_bytes(b, "warm") for b in warmup], args.concurrency)
            wall, latencies, ok = burst(port, bodies, args.concurrency)
            durable_rate = report("gsmbridge", wall, latencies, ok)
            stored = (
                sqlite3.connect(data / "gsmbridge.db")
                .execute("SELECT COUNT(*) FROM jobs WHERE uid LIKE 'bench-%'")
                .fetchone()[0]
            )
        finally:
            app.terminate()
            app.wait()
    print(f"ratio        {durable_rate / bare_rate:.2f} of the bare app's throughput")
    print(f"durable      {stored} of {ok} acknowledged notifications are in the database")
    return 0 if stored == ok else 1


def payload_bytes(body: bytes, prefix: str) -> bytes:
    data = json.loads(body)
    data["data"]["to"]["uid"] = prefix + data["data"]["to"]["uid"]
    return json.dumps(data).encode()


if __name__ == "__main__":
    sys.exit(main())
