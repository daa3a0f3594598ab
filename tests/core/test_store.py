"""The queue store on each backend: a real SQLite file, a real PostgreSQL database."""

from __future__ import annotations

import sqlite3
import threading

import psycopg
import pytest

from gsmbridge.core.models import Contact, State
from gsmbridge.core.store import MIGRATIONS, Store
from tests.core.conftest import new_job
from tests.helpers import FakeClock


def test_database_is_durable_wal_full(tmp_path) -> None:
    store = Store(tmp_path / "q.db")
    conn = store._reader()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    store.close()


def test_claim_takes_due_jobs_in_order_once(store: Store, clock: FakeClock) -> None:
    a, _, _ = store.enqueue(new_job("a"))
    clock.now += 1
    b, _, _ = store.enqueue(new_job("b"))
    first = store.claim_next(modem="m1")
    assert first is not None and first.id == a and first.state is State.SENDING
    assert first.modem == "m1"
    assert store.claim_next().id == b
    assert store.claim_next() is None


def test_retry_later_is_not_claimed_before_its_time(store: Store, clock: FakeClock) -> None:
    job_id, _, _ = store.enqueue(new_job())
    store.claim_next()
    store.schedule_retry(job_id, "CMS 332 network timeout", clock.now + 60)
    assert store.claim_next() is None
    assert store.next_due_at() == clock.now + 60
    clock.now += 61
    job = store.claim_next()
    assert job.id == job_id and job.attempts == 1 and job.last_error.startswith("CMS 332")


def test_paused_retry_does_not_burn_an_attempt(store: Store, clock: FakeClock) -> None:
    job_id, _, _ = store.enqueue(new_job())
    store.claim_next()
    store.schedule_retry(job_id, "modem down", clock.now, count_attempt=False)
    assert store.get(job_id).attempts == 0


def test_sent_delivered_failed_and_parts(store: Store) -> None:
    job_id, _, _ = store.enqueue(new_job())
    store.claim_next()
    store.record_part(job_id, 1, 17, concat_ref=5)
    store.record_part(job_id, 2, 18, concat_ref=5)
    store.mark_sent(job_id, parts_total=2)
    job = store.get(job_id)
    assert (job.state, job.parts_sent, job.references, job.concat_ref) == (
        State.SENT,
        2,
        [17, 18],
        5,
    )
    assert store.record_report("", 17, "12125550123", delivered=True, detail="ok") == (
        job_id,
        "sent",
    )
    assert store.record_report("", 18, "12125550123", delivered=True, detail="ok") == (
        job_id,
        "delivered",
    )
    assert store.get(job_id).state is State.DELIVERED
    other, _, _ = store.enqueue(new_job("x"))
    store.claim_next()
    store.mark_failed(other, "CMS 1 unassigned number")
    assert store.get(other).state is State.FAILED
    kinds = [e.kind for e in store.events(job_id)]
    assert kinds == ["received", "part-sent", "part-sent", "sent", "report", "report"]


def test_an_old_report_does_not_land_on_a_newer_job_with_the_same_reference(
    store: Store, clock: FakeClock
) -> None:
    # The 8-bit reference wrapped: A and B (same number) both carry reference 5.
    def send(uid: str) -> int:
        job_id, _, _ = store.enqueue(new_job(uid))
        assert store.claim_next().id == job_id
        store.record_part(job_id, 1, 5, concat_ref=0)
        store.mark_sent(job_id, parts_total=1)
        return job_id

    first_sent = clock()
    a = send("a")
    clock.now += 3600
    b = send("b")
    # A's report, read from the modem's memory an hour later: discharged back then.
    result = store.record_report(
        "", 5, "12125550123", delivered=False, detail="expired", status_at=first_sent + 5
    )
    assert result == (a, "failed")
    assert store.get(b).state is State.SENT
    # Without a discharge time the newest job with the reference is the best guess.
    assert store.record_report("", 5, "12125550123", delivered=True, detail="ok") == (
        b,
        "delivered",
    )


def test_rate_statistics_count_parts_and_one_sms_per_coalesced_group(
    store: Store, clock: FakeClock
) -> None:
    carrier, _, _ = store.enqueue(new_job("a"))
    joined, _, _ = store.enqueue(new_job("b"))  # same number: coalesces into the carrier
    job = store.claim_next(modem="m1")
    assert job is not None and job.id == carrier
    assert store.merge_waiting(job, window_s=600) == [joined]
    store.mark_sent(carrier, parts_total=3)
    assert store.get(joined).sent_at is not None  # it follows its carrier
    assert store.sent_parts(since=clock() - 60, modem="m1") == 3
    assert store.sent_count(since=clock() - 60, number="+12125550123") == 1
    assert store.sent_parts(since=clock() - 60, modem="other") == 0
    store.delete([carrier])  # the member leaves the group but did not send an SMS itself
    assert store.get(joined).merged_into is None
    assert store.sent_count(since=clock() - 60, number="+12125550123") == 0
    clock.now += 61
    assert store.sent_parts(since=clock() - 60, modem="m1") == 0


def test_recover_interrupted_resend_and_fail(location: str, clock: FakeClock) -> None:
    path = location
    s = Store(path, clock=clock)
    a, _, _ = s.enqueue(new_job("a"))
    b, _, _ = s.enqueue(new_job("b"))
    s.claim_next()
    s.claim_next()
    s.record_part(b, 1, 40, concat_ref=9)
    s.close()  # as after a crash: both left "sending"

    s = Store(path, clock=clock)
    assert sorted(s.recover_interrupted("resend")) == [a, b]
    assert s.get(a).state is State.QUEUED
    assert "interrupted" in s.get(a).note
    assert s.get(b).parts_sent == 1  # confirmed parts are kept, not resent
    s.claim_next()
    assert s.recover_interrupted("fail") == [a]
    assert s.get(a).state is State.FAILED
    assert "may have been sent" in s.get(a).last_error
    s.close()


def test_dedup_window(store: Store, clock: FakeClock) -> None:
    first = store.enqueue(new_job(key="k"), dedup_window_s=600)
    assert store.enqueue(new_job(key="k"), dedup_window_s=600) == (first[0], State.QUEUED, True)
    clock.now += 601
    later = store.enqueue(new_job(key="k"), dedup_window_s=600)
    assert later[0] != first[0] and later[2] is False


def test_contact_releases_needs_number_jobs_for_that_uid_only(store: Store) -> None:
    waiting, state, _ = store.enqueue(new_job("alice", number=None))
    other, _, _ = store.enqueue(new_job("bob", number=None))
    assert state is State.NEEDS_NUMBER
    released = store.upsert_contact(Contact("alice", "+12125550100", "Alice"))
    assert released == [waiting]
    assert store.get(waiting).number == "+12125550100"
    assert store.get(waiting).state is State.QUEUED
    assert store.get(other).state is State.NEEDS_NUMBER
    # An update without a name keeps the old name.
    store.upsert_contact(Contact("alice", "+12125550101", ""))
    assert store.get_contact("alice") == Contact(
        "alice", "+12125550101", "Alice", store.get_contact("alice").updated_at
    )


def test_user_actions_respect_states(store: Store) -> None:
    q, _, _ = store.enqueue(new_job("q"))
    n, _, _ = store.enqueue(new_job("n", number=None))
    assert store.cancel([q, n]) == [q, n]
    assert store.cancel([q]) == []
    assert store.retry([n]) == [n]  # cancelled, and without a number: back to needs-number
    assert store.get(n).state is State.NEEDS_NUMBER
    s, _, _ = store.enqueue(new_job("s"))
    store.claim_next()
    store.claim_next()
    assert store.get(s).state is State.SENDING
    assert store.delete([s]) == 0  # the sender owns it
    assert store.set_number([n], "+12125550111") == [n]
    assert store.delete([q, n]) == 2


def test_list_search_count_and_counts(store: Store) -> None:
    for i in range(10):
        store.enqueue(new_job(f"user{i}"))
    store.enqueue(new_job("lonely", number=None))
    assert store.count_jobs() == 11
    assert store.count_jobs(states=["needs-number"]) == 1
    assert [j.uid for j in store.list_jobs(search="user7")] == ["user7"]
    assert [j.uid for j in store.list_jobs(limit=3, newest_first=False)] == [
        "user0",
        "user1",
        "user2",
    ]
    counts = store.counts()
    assert counts["queued"] == 10 and counts["needs-number"] == 1 and counts["failed"] == 0


def test_concurrent_enqueues_are_all_committed(location: str) -> None:
    store = Store(location)
    results: list[int] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for i in range(25):
            job_id, _, _ = store.enqueue(new_job(f"w{n}-{i}", key=f"{n}-{i}"))
            with lock:
                results.append(job_id)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    assert len(set(results)) == 400
    reopened = Store(location)
    assert reopened.count_jobs() == 400
    reopened.close()


def test_a_failing_write_does_not_sink_its_batch(store: Store) -> None:
    def bad(conn):
        conn.execute("INSERT INTO nowhere VALUES (1)")

    with pytest.raises((sqlite3.OperationalError, psycopg.errors.UndefinedTable)):
        store._write(bad)
    job_id, _, _ = store.enqueue(new_job())
    assert store.get(job_id) is not None


def test_refuses_a_newer_schema(tmp_path) -> None:
    path = tmp_path / "new.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this gsmbridge"):
        Store(path)


def test_closed_store_refuses_writes(location: str) -> None:
    s = Store(location)
    s.close()
    with pytest.raises(RuntimeError, match="closed"):
        s.enqueue(new_job())


def test_close_waits_for_writes_under_way_and_refuses_later_ones(location: str) -> None:
    # A write being committed when close() is called, and one waiting behind it,
    # both commit; close() returns after them, and a later write is refused.
    import time

    from gsmbridge.core.store import StoreClosed

    s = Store(location)
    outcome: list[object] = []

    def slow(conn) -> str:
        time.sleep(0.3)
        conn.execute("INSERT INTO contacts(uid, number, updated_at) VALUES ('a', '+1', 0)")
        return "slow"

    leader = threading.Thread(target=lambda: outcome.append(s._write(slow)), daemon=True)
    leader.start()
    time.sleep(0.05)  # the leader is inside its transaction
    follower = threading.Thread(target=lambda: outcome.append(s.enqueue(new_job("b"))[0]))
    follower.start()
    time.sleep(0.05)
    s.close()
    leader.join(timeout=5)
    follower.join(timeout=5)
    assert not leader.is_alive() and not follower.is_alive(), "a write hung behind close()"
    # (SQLite commits them in order; PostgreSQL lets the second commit first.)
    assert "slow" in outcome and len(outcome) == 2
    new_id = next(o for o in outcome if isinstance(o, int))
    with pytest.raises(StoreClosed):
        s.enqueue(new_job("late"))
    reopened = Store(location)
    assert reopened.get_contact("a") is not None
    assert reopened.get(new_id) is not None
    reopened.close()


def test_upgrades_a_version_3_database_in_place(tmp_path, clock: FakeClock) -> None:
    from gsmbridge.core.db import Database

    path = tmp_path / "old.db"
    Database(path, MIGRATIONS[:3]).close()  # as gsmbridge 0.1 left it
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO jobs(created_at, updated_at, state, uid, number, text, payload,"
        " next_attempt_at, modem, sent_at, parts_total)"
        " VALUES (?, ?, 'sent', 'old', '+12125550123', 'hi', '{}', 0, 'm1', ?, 2)",
        (clock(), clock(), clock()),
    )
    conn.commit()
    conn.close()
    store = Store(path, clock=clock)
    try:
        version = store._reader().execute("PRAGMA user_version").fetchone()[0]
        assert version == len(MIGRATIONS) == 9
        assert store.sent_parts(since=clock() - 60, modem="m1") == 2
        assert store.sent_count(since=clock() - 60, number="+12125550123") == 1
    finally:
        store.close()
