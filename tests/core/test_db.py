"""Group commit (core/db.py): batches form under load, nothing is lost or answered early."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from gsmbridge.core.db import StoreClosed
from gsmbridge.core.store import Store
from tests.core.conftest import new_job


def _record_batches(store: Store) -> list[int]:
    sizes: list[int] = []
    db = store.backend  # the SQLite backend's group commit
    run = db._run_batch

    def recording(conn, batch):
        sizes.append(len(batch))
        return run(conn, batch)

    db._run_batch = recording  # type: ignore[method-assign,attr-defined]
    return sizes


def _busy(store: Store, delay: float = 0.3) -> threading.Thread:
    """A write that holds the lead for ``delay`` seconds; others queue behind it."""
    started = threading.Event()
    slow = threading.Thread(target=store._write, args=(_insert_contact("slow", delay, started),))
    slow.start()
    assert started.wait(5)  # inside its transaction: the lead is taken
    return slow


def _interrupted_write(delay: float):
    """A write fn that takes the lead, then is hit by Ctrl-C after ``delay`` seconds."""
    started = threading.Event()

    def interrupted(conn: sqlite3.Connection) -> None:
        started.set()
        time.sleep(delay)
        raise KeyboardInterrupt

    return interrupted, started


def _insert_contact(uid: str, delay: float = 0.0, started: threading.Event | None = None):
    def fn(conn: sqlite3.Connection) -> str:
        if started is not None:
            started.set()
        if delay:
            time.sleep(delay)
        conn.execute("INSERT INTO contacts(uid, number, updated_at) VALUES (?, '+1', 0)", (uid,))
        return uid

    return fn


def test_writes_arriving_during_a_commit_share_the_next_one(tmp_path) -> None:
    store = Store(tmp_path / "g.db")
    sizes = _record_batches(store)
    slow = _busy(store, 1.0)  # the first write is being committed
    results: list[str] = []
    followers = [
        threading.Thread(target=lambda n=n: results.append(store._write(_insert_contact(f"f{n}"))))
        for n in range(10)
    ]
    for t in followers:
        t.start()
    for t in [slow, *followers]:
        t.join(timeout=5)
    assert sorted(results) == sorted(f"f{n}" for n in range(10))
    assert sizes == [1, 10], "the ten writes queued behind the first should commit together"
    store.close()


def test_a_write_returns_only_once_committed(tmp_path) -> None:
    # Seen from another connection the moment _write returns: the row is there.
    store = Store(tmp_path / "v.db")
    seen: list[bool] = []

    def write(n: int) -> None:
        other = sqlite3.connect(tmp_path / "v.db")
        for i in range(20):
            uid = f"t{n}-{i}"
            store._write(_insert_contact(uid))
            row = other.execute("SELECT 1 FROM contacts WHERE uid=?", (uid,)).fetchone()
            seen.append(row is not None)
        other.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(seen) == 160 and all(seen)
    store.close()


def test_concurrent_duplicates_make_one_job(tmp_path) -> None:
    store = Store(tmp_path / "d.db")
    barrier = threading.Barrier(16)
    answers: list[tuple[int, bool]] = []

    def deliver() -> None:
        barrier.wait()
        job_id, _, duplicate = store.enqueue(new_job("same", key="k-1"))
        answers.append((job_id, duplicate))

    threads = [threading.Thread(target=deliver) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len({job_id for job_id, _ in answers}) == 1
    assert sorted(d for _, d in answers) == [False] + [True] * 15
    assert store.count_jobs() == 1
    store.close()


def test_writes_queued_without_waiting_are_committed_too(tmp_path) -> None:
    # _write_soon behind a commit under way: nobody waits for it, so the leader
    # commits it before giving up the lead.
    store = Store(tmp_path / "s.db")
    slow = _busy(store)
    store._write_soon(_insert_contact("passenger"))
    slow.join(timeout=5)
    assert store.get_contact("passenger") is not None
    store.close()


def test_a_failing_write_in_a_busy_batch_fails_alone(tmp_path) -> None:
    store = Store(tmp_path / "f.db")
    slow = _busy(store)
    outcome: dict[str, object] = {}

    def good(n: int) -> None:
        outcome[f"g{n}"] = store._write(_insert_contact(f"g{n}"))

    def bad() -> None:
        try:
            store._write(lambda conn: conn.execute("INSERT INTO nowhere VALUES (1)"))
        except sqlite3.OperationalError as exc:
            outcome["bad"] = exc

    threads = [threading.Thread(target=good, args=(n,)) for n in range(4)]
    threads.insert(2, threading.Thread(target=bad))
    for t in threads:
        t.start()
    for t in [slow, *threads]:
        t.join(timeout=5)
    assert isinstance(outcome.pop("bad"), sqlite3.OperationalError)
    assert outcome == {f"g{n}": f"g{n}" for n in range(4)}
    assert all(store.get_contact(f"g{n}") for n in range(4))
    store.close()


def test_an_interrupted_leader_hands_over_and_fails_only_its_batch(tmp_path) -> None:
    store = Store(tmp_path / "i.db")
    interrupted, started = _interrupted_write(0.2)

    errors: list[BaseException] = []

    def lead() -> None:
        try:
            store._write(interrupted)
        except BaseException as exc:  # noqa: BLE001 - the test wants to see it
            errors.append(exc)

    leader = threading.Thread(target=lead)
    leader.start()
    assert started.wait(5)
    follower_result: list[str] = []
    follower = threading.Thread(
        target=lambda: follower_result.append(store._write(_insert_contact("after")))
    )
    follower.start()
    leader.join(timeout=5)
    follower.join(timeout=5)
    assert errors and isinstance(errors[0], KeyboardInterrupt)
    assert follower_result == ["after"], "the follower must lead its own commit"
    store.close()


@pytest.mark.parametrize("threads", [1, 16])
def test_many_writers_every_id_once(tmp_path, threads: int) -> None:
    store = Store(tmp_path / "m.db", max_batch=7)  # several batches per burst
    ids: list[int] = []

    def worker(n: int) -> None:
        for i in range(40):
            ids.append(store.enqueue(new_job(f"m{n}-{i}", key=f"m{n}-{i}"))[0])

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=30)
    store.close()
    assert sorted(ids) == list(range(1, 40 * threads + 1))


def test_an_interrupted_waiting_writer_does_not_stop_later_writes(tmp_path) -> None:
    # Ctrl-C while the main thread waits behind a slow commit: its write is taken
    # back, the lead still passes on, and later writes and close() go through.
    import signal

    store = Store(tmp_path / "k.db")
    slow = _busy(store, 2.0)
    main = threading.main_thread().ident
    assert threading.current_thread().ident == main
    # Well inside the slow commit; cancelled if it has not fired when the wait ends.
    # Python's own handler, even where SIGINT is ignored (a background job).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.2, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            store._write(_insert_contact("interrupted"))
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    slow.join(timeout=5)
    later = threading.Thread(target=store._write, args=(_insert_contact("later"),), daemon=True)
    later.start()
    later.join(timeout=3)
    assert not later.is_alive(), "a write after the interrupted one hangs"
    assert store.get_contact("later") is not None
    started = time.monotonic()
    store.close()
    assert time.monotonic() - started < 2


def test_writes_queued_behind_an_interrupted_batch_are_still_committed(tmp_path) -> None:
    store = Store(tmp_path / "p.db")
    interrupted, started = _interrupted_write(0.3)

    def lead() -> None:
        with pytest.raises(KeyboardInterrupt):
            store._write(interrupted)

    leader = threading.Thread(target=lead)
    leader.start()
    assert started.wait(5)
    store._write_soon(_insert_contact("passenger"))  # as Sender.record_part(wait=False)
    leader.join(timeout=5)
    assert store.get_contact("passenger") is not None
    store.close()


def test_close_never_pulls_the_connection_from_under_a_write(tmp_path) -> None:
    store = Store(tmp_path / "c.db")
    outcome: dict[str, object] = {}

    started = threading.Event()

    def write(uid: str, delay: float) -> None:
        try:
            outcome[uid] = store._write(_insert_contact(uid, delay, started if delay else None))
        except Exception as exc:  # noqa: BLE001 - the test wants to see it
            outcome[uid] = exc

    slow = threading.Thread(target=write, args=("slow", 1.0))
    slow.start()
    assert started.wait(5)
    queued = threading.Thread(target=write, args=("queued", 0.0))
    queued.start()
    deadline = time.monotonic() + 5
    while not store.backend._pending:  # the second write waits behind the first
        assert time.monotonic() < deadline
        time.sleep(0.01)
    store.close(timeout=0.2)  # gives up waiting long before the slow write ends
    slow.join(timeout=5)
    queued.join(timeout=5)
    assert outcome == {"slow": "slow", "queued": "queued"}
    reopened = Store(tmp_path / "c.db")
    assert reopened.get_contact("slow") and reopened.get_contact("queued")
    reopened.close()


@pytest.mark.slow
def test_random_interrupts_never_strand_or_misreport_a_write() -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "tests.core.db_interrupt_stress", "4"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["interrupts"] > 100 and summary["writes"] > 1000, summary
    assert summary["stuck"] == [], summary
    assert summary["returned_but_missing"] == [] and summary["failed_but_committed"] == []


def test_closing_while_others_read_does_not_crash() -> None:
    """Closing the store closed every thread's read connection, under queries other
    threads were running: a segmentation fault (the app on quit or Restart service,
    and a CI run).  Their next read now says the store is closed."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "tests.core.db_close_race", "150"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["met"] == {"StoreClosed": 4 * 150}, summary


def test_a_thread_reading_after_close_gets_store_closed(tmp_path: Path) -> None:
    """Not sqlite3's "Cannot operate on a closed database", which no caller expects."""
    from gsmbridge.core.store import Store

    store = Store(tmp_path / "q.db")
    seen: list[BaseException] = []
    ready, closed = threading.Event(), threading.Event()

    def reader() -> None:
        store.counts()
        ready.set()
        closed.wait(5)
        try:
            store.counts()
        except BaseException as exc:  # noqa: BLE001 - what it is is the test
            seen.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    ready.wait(5)
    store.close()
    closed.set()
    thread.join(5)
    assert [type(e) for e in seen] == [StoreClosed]


def test_a_new_database_is_one_log_line_not_one_per_migration(tmp_path, caplog) -> None:
    """A first start said "database schema upgraded to version N" nine times."""
    import logging

    from gsmbridge.core.store import MIGRATIONS, Store

    with caplog.at_level(logging.INFO, logger="gsmbridge.core.db"):
        Store(tmp_path / "q.db").close()
        Store(tmp_path / "q.db").close()  # opened again: nothing to say
    said = [r.getMessage() for r in caplog.records if r.name == "gsmbridge.core.db"]
    assert said == [f"Database created at {tmp_path / 'q.db'} (schema version {len(MIGRATIONS)})"]
