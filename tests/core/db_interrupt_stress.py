"""Ctrl-C at random moments while four threads write through one Database.

Run by test_db_interrupt_stress (slow) in a subprocess, so a hang cannot stall the
suite; prints a JSON summary.  Invariants: no writer waits forever; every write
that returned is on disk; no write reported as failed is on disk.

    python -m tests.core.db_interrupt_stress [seconds]
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import tempfile
import threading
import time

from gsmbridge.core.db import Database, StoreClosed


def main(seconds: float) -> dict[str, object]:
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even in a background job
    db = Database(tempfile.mkdtemp() + "/x.db", ["CREATE TABLE t (k TEXT PRIMARY KEY)"])
    ok: list[str] = []
    failed: list[str] = []
    progress: dict[str, float] = {}
    stop = threading.Event()

    def insert(key: str):
        return lambda conn: conn.execute("INSERT INTO t VALUES (?)", (key,))

    def write(key: str) -> None:
        try:
            db._write(insert(key))
            ok.append(key)
        except StoreClosed:
            failed.append(key)

    def worker(name: str) -> None:
        n = 0
        while not stop.is_set():
            write(f"{name}-{n}")
            n += 1
            progress[name] = time.monotonic()
            time.sleep(random.random() * 0.001)

    def interrupter() -> None:
        while not stop.is_set():
            time.sleep(random.random() * 0.003)
            os.kill(os.getpid(), signal.SIGINT)

    threads = [threading.Thread(target=worker, args=(f"w{n}",), daemon=True) for n in range(3)]
    threads.append(threading.Thread(target=interrupter, daemon=True))
    for thread in threads:
        thread.start()
    interrupts, n, stuck = 0, 0, []
    end = time.monotonic() + seconds
    while time.monotonic() < end and not stuck:
        n += 1  # a fresh key each time: an interrupted write may have committed
        try:
            write(f"main-{n}")
        except KeyboardInterrupt:
            interrupts += 1
        now = time.monotonic()
        stuck = [name for name, at in progress.items() if now - at > 3]
    stop.set()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for thread in threads:
        thread.join(timeout=5)
    returned, reported_failed = list(ok), list(failed)  # before the rows are read
    rows = {row[0] for row in db._reader().execute("SELECT k FROM t")}
    return {
        "interrupts": interrupts,
        "writes": len(returned),
        "stuck": stuck + [t.name for t in threads if t.is_alive()],
        "returned_but_missing": [k for k in returned if k not in rows][:5],
        "failed_but_committed": [k for k in reported_failed if k in rows][:5],
    }


if __name__ == "__main__":
    print(json.dumps(main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)), flush=True)
    os._exit(0)  # daemon threads may still hold the database
