"""Desktop app benchmark: a big queue and a webhook burst must not freeze the window.

With 100,000 jobs already in the database (inserted with one executemany
before launch) it measures, in one process running the real app offscreen:

* launch -> queue view painted with rows (from the first line of this script);
* the event loop's longest stall while 1,000 webhooks arrive as fast as the
  server takes them (a 10 ms QTimer records the gaps between its ticks; the
  webhooks come from a separate process so its threads do not share our GIL);
* the page read at the deepest offset (scrolling to the end), and resident memory.

    QT_QPA_PLATFORM=offscreen python tests/perf/bench_gui.py [--jobs 100000] [--webhooks 1000]
"""

from __future__ import annotations

import time

T0 = time.perf_counter()  # "launch": before Qt or gsmbridge is imported

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

USER, PASSWORD = "bench", "bench-password"


def seed(db: Path, n: int) -> None:
    """Create the schema through the Store, then insert n jobs in one transaction."""
    from gsmbridge.core.store import Store

    Store(db).close()  # migrations
    rng = random.Random(1)
    now = time.time()
    states = ["delivered"] * 80 + ["sent"] * 10 + ["failed"] * 5 + ["cancelled"] * 3
    states += ["needs-number"] * 2
    rows = []
    for i in range(n):
        state = rng.choice(states)
        created = now - (n - i) * 30.0
        uid = f"cometchat-uid-{i % 500}"
        number = None if state == "needs-number" else f"+1212555{i % 10000:04d}"
        text = f"You've received new messages from Susan Marie! ({i}) Read them at example.com"
        body = json.dumps({"trigger": "sms-notification-payload-generated", "n": i})
        rows.append(
            (
                created,
                created + 5,
                state,
                uid,
                f"User {i % 500}",
                number,
                number or "",
                text,
                body,
                "",
                1,
                created,
                "+CMS ERROR: 38" if state == "failed" else "",
                created + 5 if state in ("sent", "delivered") else None,
            )
        )
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany(
            "INSERT INTO jobs(created_at, updated_at, state, uid, name, number, raw_number, text,"
            " payload, dedup_key, attempts, next_attempt_at, last_error, sent_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    conn.close()


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory in MiB, from /proc (Linux) or getrusage."""
    try:
        fields = dict(
            line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines()
        )
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return peak, peak


def post_burst(port: int, n: int, concurrency: int) -> None:
    """Child process: post n distinct webhooks over concurrent connections."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.helpers import Client, payload

    client = Client(port, USER, PASSWORD)

    def post(i: int) -> int:
        body = payload(data__smsContent=f"Burst message {i}", data__to__uid=f"burst-{i % 50}")
        return client.post("/webhook", body, timeout=60)[0]

    with ThreadPoolExecutor(concurrency) as pool:
        codes = list(pool.map(post, range(n)))
    bad = [c for c in codes if c >= 300]
    print(json.dumps({"posted": n, "errors": len(bad)}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--webhooks", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--switch-ms", type=float, help="sys.setswitchinterval, in ms")
    parser.add_argument("--post", type=int, help=argparse.SUPPRESS)  # child mode: the port
    args = parser.parse_args()
    if args.post:
        post_burst(args.post, args.webhooks, args.concurrency)
        return

    from PySide6.QtCore import QElapsedTimer, QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    from gsmbridge.config import Settings
    from gsmbridge.gui.app import GuiApp
    from gsmbridge.logs import setup_logging
    from gsmbridge.service import DB_NAME, Bridge
    from gsmbridge.simulator import fast_options

    tmp = Path(tempfile.mkdtemp(prefix="gsmbridge-bench-"))
    data_dir = tmp / "data"
    t_seed = time.perf_counter()
    seed(data_dir / DB_NAME, args.jobs)
    seed_s = time.perf_counter() - t_seed
    launch = time.perf_counter()  # the app starts here (seeding is not the app's time)
    import_s = launch - T0 - seed_s

    if args.switch_ms:
        sys.setswitchinterval(args.switch_ms / 1000)
    app = QApplication(sys.argv[:1])
    setup_logging(data_dir, "INFO", stderr=False)
    settings = Settings()
    settings.server.port = 0
    settings.auth.username, settings.auth.password = USER, PASSWORD
    settings.modem.port = ["sim"]
    settings.limits.per_minute = 0

    def factory(s: Settings, d: Path) -> Bridge:
        return Bridge(s, d, simulator_options=fast_options())

    gui = GuiApp(
        settings,
        data_dir,
        config_path=tmp / "config.toml",
        bridge_factory=factory,
        route_qt_messages=False,
        use_tray=False,
    )
    table = gui.window.queue.table
    model = gui.window.queue.model
    slot_ms: dict[str, list[float]] = {}

    def timed(owner: object, name: str) -> None:
        """Record how long a GUI-thread method takes (what the event loop pays for it)."""
        original = getattr(owner, name)

        def wrapper(*a: object) -> object:
            t = time.perf_counter()
            try:
                return original(*a)
            finally:
                slot_ms.setdefault(name, []).append((time.perf_counter() - t) * 1000)

        setattr(owner, name, wrapper)

    # Timers call these by attribute lookup at connect time, so wrap before start().
    window = gui.window
    for owner, name in (
        (model, "_update_one"),
        (window.log_view, "_append"),
        (window.header, "set_counts"),
        (window.header, "set_today"),
        (window.queue.details, "show_job"),
    ):
        timed(owner, name)
    painted: dict[str, float] = {}

    class PaintWatch(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
            if event.type() == QEvent.Type.Paint and model.rowCount() and "at" not in painted:
                painted["at"] = time.perf_counter()
            return False

    watch = PaintWatch()
    table.viewport().installEventFilter(watch)
    gui.start()
    while "at" not in painted:
        app.processEvents()
        time.sleep(0.001)
    launch_to_paint = painted["at"] - launch
    rows_at_paint, total = model.rowCount(), model.total

    # -- the burst, measured by a 10 ms ticker -------------------------------------------
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def tick() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now

    ticker = QTimer()
    ticker.setInterval(10)
    ticker.timeout.connect(tick)
    ticker.start()
    port = gui.ctx.bridge.web.port
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--post",
            str(port),
            "--webhooks",
            str(args.webhooks),
            "--concurrency",
            str(args.concurrency),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    burst_start = time.perf_counter()
    while child.poll() is None:
        app.processEvents()
        time.sleep(0.001)
    burst_s = time.perf_counter() - burst_start
    result = json.loads(child.stdout.read() or "{}")
    expected = total + args.webhooks
    settle_start = time.perf_counter()
    while model.total < expected and time.perf_counter() - settle_start < 10:
        app.processEvents()
        time.sleep(0.001)
    shown_after_s = time.perf_counter() - burst_start
    end = time.perf_counter() + 1.0  # keep measuring while the sender works through them
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)
    ticker.stop()
    gaps.sort()
    final_total = model.total

    # -- deepest page (what scrolling to the end reads) ------------------------------------
    store = gui.ctx.store
    t = time.perf_counter()
    store.list_jobs(limit=200, offset=max(0, store.count_jobs() - 200))
    deep_page_ms = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    model.set_filter(None, "Burst message 99")
    search_block_ms = (time.perf_counter() - t) * 1000  # what the GUI thread paid
    while model.loading:
        app.processEvents()
        time.sleep(0.001)
    search_ms = (time.perf_counter() - t) * 1000
    rss, peak = rss_mb()
    sent = store.counts()
    gui.shutdown()

    print(f"jobs in database            {total:,} (seeded {args.jobs:,} in {seed_s:.1f} s)")
    print(f"imports before launch       {import_s * 1000:.0f} ms (Python, PySide6, gsmbridge)")
    print(
        f"launch -> queue painted     {launch_to_paint * 1000:.0f} ms "
        f"({rows_at_paint} rows loaded of {total:,}); target <= 1000 ms"
    )
    print(
        f"webhooks posted             {result.get('posted')} in {burst_s:.2f} s "
        f"({result.get('posted', 0) / burst_s:.0f}/s), errors {result.get('errors')}"
    )
    print(f"all rows in the view after  {shown_after_s:.2f} s (model total {final_total:,})")
    p99 = gaps[int(len(gaps) * 0.99)] if gaps else 0
    print(
        f"event loop during burst     longest gap {gaps[-1]:.0f} ms, p99 {p99:.0f} ms, "
        f"{sum(g > 50 for g in gaps)} gaps > 50 ms of {len(gaps)} ticks (10 ms timer)"
    )
    for name, times in sorted(slot_ms.items()):
        print(
            f"  GUI work {name:<14} {len(times):>5} calls, total {sum(times):6.0f} ms, "
            f"longest {max(times):5.1f} ms"
        )
    print(
        f"deepest page read           {deep_page_ms:.1f} ms; search over all jobs "
        f"{search_ms:.0f} ms on a worker ({search_block_ms:.1f} ms on the GUI thread)"
    )
    print(
        f"sent during the run         {sent.get('sent', 0) + sent.get('delivered', 0):,} "
        "(including seeded)"
    )
    print(f"resident memory             {rss:.0f} MiB now, {peak:.0f} MiB peak")
    QApplication.quit()


if __name__ == "__main__":
    main()
