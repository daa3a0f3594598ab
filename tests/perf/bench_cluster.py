"""Several PCs on one PostgreSQL queue (issue 16): sending rate of two nodes versus one,
and webhook intake on PostgreSQL versus SQLite.

1. Sending: N jobs queued, then 1 or 2 nodes (each a Store with its own node name, a
   Sender and one simulated modem at a fixed latency, over pyserial's socket://) drain
   the one queue; messages per second, and the ratio (target: two nodes >= 1.9x one).
2. Intake: ``gsmbridge --headless`` as users run it (the simulated modem sending), once
   on its SQLite file and once on the shared store, taking turns under the same wrk load
   (keep-alive, 32 connections, every request a new notification); every 2xx must be a
   stored row.  PostgreSQL here runs durably (fsync, synchronous commit), as SQLite does
   (WAL, synchronous=FULL); both on this machine.

    python tests/perf/bench_cluster.py [--jobs 80] [--latency 0.2] [--rounds 3]
        [--duration 5] [--connections 32] [--skip-intake]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
import psycopg  # noqa: E402

from gsmbridge.config import Settings  # noqa: E402
from gsmbridge.core.events import Listener  # noqa: E402
from gsmbridge.core.models import NewJob, State  # noqa: E402
from gsmbridge.core.sender import Sender  # noqa: E402
from gsmbridge.core.store import Store  # noqa: E402
from gsmbridge.modem.gsm import Modem, ModemOptions  # noqa: E402
from gsmbridge.simulator import ModemSimulator, fast_options  # noqa: E402
from tests.perf import bench_webhook as webhook  # noqa: E402
from tests.pgcluster import PgCluster, find_bindir  # noqa: E402


def _settings() -> Settings:
    s = Settings()
    s.limits.per_minute = 0  # the modem's latency is the only limit
    return s


def send_rate(cluster: PgCluster, nodes: int, jobs: int, latency: float) -> float:
    """Messages per second with ``nodes`` nodes draining ``jobs`` queued jobs."""
    url = cluster.new_database()
    stores = [Store(url, node=f"pc{n}", lease_s=30) for n in range(nodes)]
    for i in range(jobs):
        stores[0].enqueue(
            NewJob(
                uid=f"u{i}",
                name="",
                text=f"bench {i}",
                payload={},
                dedup_key="",
                state=State.QUEUED,
                number=f"+1212555{i:04d}",
            )
        )
    sims, modems, senders = [], [], []
    for store in stores:
        sim = ModemSimulator(fast_options(send_latency_s=latency, status_reports=False))
        sim.serve_tcp()
        modem = Modem(sim.url, ModemOptions(reconnect_min_s=0.05, command_timeout_s=5, pin=None))
        modem.start()
        assert modem.wait_ready(10)
        sims.append(sim)
        modems.append(modem)
        senders.append(Sender(store, [modem], _settings(), Listener()))
    started = time.monotonic()
    for sender in senders:
        sender.start()
    while stores[0].counts()["sent"] < jobs:
        time.sleep(0.02)
    wall = time.monotonic() - started
    for sender in senders:
        sender.stop()
    for modem in modems:
        modem.stop()
    for sim in sims:
        sim.stop()
    shares = [len(sim.sent) for sim in sims]
    for store in stores:
        store.close()
    print(f"  {nodes} node(s): {jobs} SMS in {wall:.2f} s = {jobs / wall:.2f}/s, per node {shares}")
    return jobs / wall


def _start_node(port: int, data: Path, store_url: str) -> subprocess.Popen[bytes]:
    (data / "config.toml").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GSMBRIDGE_")}
    env.update(GSMBRIDGE_AUTH_USERNAME="bench", GSMBRIDGE_AUTH_PASSWORD="bench-password")
    if store_url:
        env.update(GSMBRIDGE_STORE_URL=store_url, GSMBRIDGE_STORE_NODE="bench")
    command = [sys.executable, "-m", "gsmbridge", "--headless", "--modem", "sim"]
    command += ["--config", str(data / "config.toml"), "--data-dir", str(data)]
    return subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def intake(cluster: PgCluster, args: argparse.Namespace) -> None:
    if not shutil.which("wrk"):
        print("intake: wrk is not installed (apt-get install wrk); skipped")
        return
    url = cluster.new_database()
    rows: dict[str, list[tuple[float, float, float, int, int]]] = {"sqlite": [], "postgresql": []}
    with tempfile.TemporaryDirectory() as tmp:
        folders = {name: Path(tmp) / name for name in rows}
        for folder in folders.values():
            folder.mkdir()
        script = webhook.wrk_script(Path(tmp))
        ports = {name: webhook.free_port() for name in rows}
        servers = {
            "sqlite": _start_node(ports["sqlite"], folders["sqlite"], ""),
            "postgresql": _start_node(ports["postgresql"], folders["postgresql"], url),
        }
        try:
            for port in ports.values():
                webhook.wait_listening(port)
            for round_ in range(args.rounds):
                for name, port in ports.items():
                    rows[name].append(webhook.run_wrk(port, script, f"{round_}{name[0]}", args))
                    print(f"  round {round_ + 1} {name}: {rows[name][-1][0]:.0f} 2xx/s", flush=True)
            time.sleep(0.5)
            stored = {
                "sqlite": sqlite3.connect(folders["sqlite"] / "gsmbridge.db")
                .execute("SELECT COUNT(*) FROM jobs")
                .fetchone()[0],
            }
            with psycopg.connect(url) as conn:
                stored["postgresql"] = conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
        finally:
            for server in servers.values():
                server.terminate()
                server.wait()
    print(
        f"intake, wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s keep-alive,"
        f" medians of {args.rounds} alternating runs:"
    )
    print(f"{'store':<12} {'2xx/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'rows/2xx':>12}")
    for name, got in rows.items():
        rate, p50, p99 = (statistics.median(r[i] for r in got) for i in range(3))
        acked = sum(r[3] for r in got)
        print(f"{name:<12} {rate:>7.0f} {p50:>7.1f} {p99:>7.1f} {stored[name]:>6}/{acked:<6}")
        if stored[name] < acked:
            print(f"DURABILITY FAILURE on {name}: fewer rows than acknowledged webhooks")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=80)
    parser.add_argument("--latency", type=float, default=0.2, help="simulated +CMGS latency, s")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--skip-intake", action="store_true")
    args = parser.parse_args()
    bindir = find_bindir()
    if bindir is None:
        print("PostgreSQL is not installed (apt-get install postgresql)")
        return 2
    cluster = PgCluster(bindir, durable=True)
    cluster.start()
    try:
        print(f"sending, one simulated modem per node at {args.latency} s a message:")
        one = send_rate(cluster, 1, args.jobs, args.latency)
        two = send_rate(cluster, 2, args.jobs, args.latency)
        print(f"two nodes vs one: {two / one:.2f}x (target >= 1.9x)")
        if not args.skip_intake:
            intake(cluster, args)
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
