"""Statistics benchmark: the Statistics tab, /api/stats and /metrics on 100,000 jobs.

The jobs are spread over 90 days on two modems (mostly delivered; some sent,
failed, cancelled) and inserted with one executemany before the app starts.
It measures, in one process running the real app offscreen:

* the tab's open time: from the click on "Statistics" to the figures painted
  (30 days, then 90), and the event loop's longest stall meanwhile (a 10 ms
  QTimer records the gaps between its ticks: the work is off the GUI thread);
* the figures alone (``store_stats.collect``) for 7 / 30 / 90 days, median of 5;
* GET /api/stats?days=30 and GET /metrics over HTTP, median of 5;

beside the baselines: the issue's goal (the tab open in under a second) and one
full read of the jobs table (the columns the figures use), what a query that
ignores the indexes would cost at least.

    QT_QPA_PLATFORM=offscreen python tests/perf/bench_stats.py [--jobs 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

USER, PASSWORD = "bench", "bench-password"
GOAL_MS = 1000.0
ERRORS = [
    "+CMS ERROR: 38 (network out of order)",
    "not delivered: absent subscriber",
    "+CMS ERROR: 500 (unknown error)",
    "no answer from the modem in 60 s",
]


def seed(db: Path, n: int, days: float = 90.0) -> None:
    """Create the schema through the Store, then insert n jobs over ``days`` days."""
    from gsmbridge.core.store import Store

    Store(db).close()  # migrations
    rng = random.Random(1)
    now = time.time()
    step = days * 86400 / n
    states = ["delivered"] * 85 + ["sent"] * 7 + ["failed"] * 5 + ["cancelled"] * 3
    rows = []
    for i in range(n):
        state = rng.choice(states)
        created = now - (n - i) * step
        went = state in ("sent", "delivered")
        sent = created + rng.uniform(2, 40) if went else None
        delivered = sent + rng.uniform(3, 300) if state == "delivered" and sent else None
        updated = delivered or sent or created + rng.uniform(5, 600)
        number = f"+1212555{i % 10000:04d}"
        rows.append(
            (
                created,
                updated,
                state,
                f"cometchat-uid-{i % 500}",
                f"User {i % 500}",
                number,
                number,
                f"You've received new messages from Susan Marie! ({i})",
                '{"trigger":"sms-notification-payload-generated"}',
                "",
                1,
                created,
                rng.choice(ERRORS) if state == "failed" else "",
                sent,
                delivered,
                "usb0" if i % 3 else "usb1",
                rng.choice((1, 1, 1, 2)),
            )
        )
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany(
            "INSERT INTO jobs(created_at, updated_at, state, uid, name, number, raw_number, text,"
            " payload, dedup_key, attempts, next_attempt_at, last_error, sent_at, delivered_at,"
            " modem, parts_total) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    conn.close()


def median_ms(fn, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    args = parser.parse_args()

    from PySide6.QtCore import QCoreApplication, QElapsedTimer, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from gsmbridge.config import Settings
    from gsmbridge.core import store_stats
    from gsmbridge.core.store import Store
    from gsmbridge.gui.app import GuiApp
    from gsmbridge.logs import setup_logging
    from gsmbridge.service import DB_NAME, Bridge
    from gsmbridge.simulator import fast_options
    from tests.helpers import Client

    tmp = Path(tempfile.mkdtemp(prefix="gsmbridge-bench-stats-"))
    data_dir = tmp / "data"
    data_dir.mkdir(parents=True)
    db = data_dir / DB_NAME
    t = time.perf_counter()
    seed(db, args.jobs)
    print(f"seeded {args.jobs:,} jobs over 90 days in {time.perf_counter() - t:.1f} s")

    # -- the figures alone, and the full-read baseline ----------------------------------
    store = Store(db)
    conn = sqlite3.connect(db)
    full_read = median_ms(
        lambda: conn.execute(
            "SELECT state, created_at, sent_at, delivered_at, updated_at FROM jobs"
        ).fetchall()
    )
    conn.close()
    collect = {d: median_ms(lambda d=d: store_stats.collect(store, d)) for d in (7, 30, 90)}
    store.close()

    # -- the app -------------------------------------------------------------------------
    app = QApplication.instance() or QApplication(sys.argv[:1])
    setup_logging(None, "WARNING", stderr=False)
    settings = Settings()
    settings.server.port = 0
    settings.auth.username, settings.auth.password = USER, PASSWORD
    settings.modem.port = ["sim"]
    gui = GuiApp(
        settings,
        data_dir,
        config_path=tmp / "config.toml",
        bridge_factory=lambda s, d: Bridge(s, d, simulator_options=fast_options()),
        route_qt_messages=False,
        use_tray=False,
    )
    gui.start(show=True)

    def pump_until(condition, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError(condition)
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)

    pump_until(lambda: gui.ctx.running)
    window = gui.window
    view = window.stats_view
    stall = {"max": 0.0}
    ticker = QElapsedTimer()
    timer = QTimer()
    timer.setInterval(10)

    def tick() -> None:
        stall["max"] = max(stall["max"], float(ticker.restart()))

    timer.timeout.connect(tick)

    def open_ms(days: int, *, switch: bool) -> tuple[float, float]:
        shown: list[object] = []
        view.stats_shown.connect(shown.append)
        stall["max"] = 0.0
        ticker.start()
        timer.start()
        t0 = time.perf_counter()
        if switch:
            window.tabs.setCurrentWidget(view)
        else:
            view.set_days(days)
        pump_until(lambda: bool(shown))
        view.daily.repaint()  # painted, not only set
        view.timing.repaint()
        elapsed = (time.perf_counter() - t0) * 1000
        timer.stop()
        view.stats_shown.disconnect(shown.append)
        assert view.stats is not None and len(view.stats.days) == days
        return elapsed, stall["max"]

    open_30, stall_30 = open_ms(30, switch=True)
    open_90, stall_90 = open_ms(90, switch=False)

    client = Client(gui.ctx.bridge.web.port, USER, PASSWORD)
    api = median_ms(lambda: client.get("/api/stats?days=30"))
    scrape = median_ms(lambda: client.get("/metrics"))
    assert client.get("/metrics")[0] == 200

    gui.shutdown()
    app.processEvents()

    print(f"\n{'':44}{'measured':>12}{'baseline':>12}")
    print(f"{'tab open, 30 days (click -> painted)':44}{open_30:>9.0f} ms{GOAL_MS:>9.0f} ms goal")
    print(f"{'  longest event-loop stall meanwhile':44}{stall_30:>9.0f} ms")
    print(f"{'period 90 days (choice -> painted)':44}{open_90:>9.0f} ms{GOAL_MS:>9.0f} ms goal")
    print(f"{'  longest event-loop stall meanwhile':44}{stall_90:>9.0f} ms")
    for days, ms in collect.items():
        label = f"store_stats.collect, {days} days"
        print(f"{label:44}{ms:>9.0f} ms{full_read:>9.0f} ms full read")
    print(f"{'GET /api/stats?days=30':44}{api:>9.0f} ms")
    print(f"{'GET /metrics':44}{scrape:>9.0f} ms")
    print(f"\n{args.jobs:,} jobs; 'full read': every job's state and times, no index")


if __name__ == "__main__":
    main()
