"""History retention: old finished jobs and replies go; nothing still to send does."""

from __future__ import annotations

import pytest

from gsmbridge import config
from gsmbridge.core.housekeeping import DAY_S, Housekeeping
from gsmbridge.core.models import State
from gsmbridge.core.store import Store
from tests.core.conftest import new_job
from tests.helpers import FakeClock


def finished(store: Store, uid: str, state: str) -> int:
    job_id, _, _ = store.enqueue(new_job(uid))
    claimed = store.claim_next()
    assert claimed is not None and claimed.id == job_id
    if state == "failed":
        store.mark_failed(job_id, "CMS 38")
    elif state == "cancelled":
        store.cancel([job_id])
    else:
        store.mark_sent(job_id, parts_total=1)
    return job_id


def test_prune_removes_old_finished_jobs_with_their_history(store: Store, clock: FakeClock):
    old = [finished(store, f"old-{s}", s) for s in ("sent", "failed")]
    waiting = store.enqueue(new_job("waiting"))[0]  # queued, however old
    store.claim_next()
    store.schedule_retry(waiting, "CMS 332", clock.now + 365 * DAY_S)  # not due for a year
    no_number = store.enqueue(new_job("nobody", number=None))[0]
    clock.now += 100 * DAY_S
    recent = finished(store, "recent", "sent")
    assert store.prune(clock.now - 90 * DAY_S) == 2
    assert all(store.get(i) is None for i in old)
    assert (
        store._reader()
        .execute("SELECT COUNT(*) FROM job_events WHERE job_id IN (?, ?)", old)
        .fetchone()[0]
        == 0
    )
    assert {store.get(i).state for i in (waiting, no_number, recent)} == {
        State.QUEUED,
        State.NEEDS_NUMBER,
        State.SENT,
    }
    assert store.prune(clock.now - 90 * DAY_S) == 0


def test_a_carrier_goes_with_its_members_and_stays_while_one_stays(store: Store, clock: FakeClock):
    carrier = store.enqueue(new_job("c", number="+12125550199"))[0]
    member = store.enqueue(new_job("m", number="+12125550199"))[0]
    job = store.claim_next()
    assert job is not None and job.id == carrier
    assert store.merge_waiting(job, window_s=600) == [member]
    store.mark_sent(carrier, parts_total=1)
    # A member still waiting (here: edited back to the queue) keeps its carrier.
    store._write(lambda c: c.execute("UPDATE jobs SET state='queued' WHERE id=?", (member,)))
    clock.now += 100 * DAY_S
    assert store.prune(clock.now - 90 * DAY_S) == 0
    store._write(lambda c: c.execute("UPDATE jobs SET state='sent' WHERE id=?", (member,)))
    assert store.prune(clock.now - 90 * DAY_S) == 2


def test_housekeeping_prunes_jobs_and_replies_and_says_so(store: Store, clock: FakeClock):
    keep = [90]
    pruned: list[bool] = []
    house = Housekeeping(lambda: store, lambda: keep[0], lambda: pruned.append(True), clock=clock)
    finished(store, "a", "sent")
    store.add_incoming("+12125550123", "old reply")
    clock.now += 10 * DAY_S
    assert house.run_once() == (0, 0) and not pruned
    clock.now += 81 * DAY_S
    kept = store.add_incoming("+12125550123", "new reply")
    keep[0] = 0  # keep everything
    assert house.run_once() == (0, 0)
    keep[0] = 90
    assert house.run_once() == (1, 1) and pruned == [True]
    assert [m.id for m in store.list_incoming()] == [kept.id]


def test_housekeeping_thread_runs_at_start_and_stops(store: Store, clock: FakeClock):
    finished(store, "a", "sent")
    clock.now += 91 * DAY_S
    house = Housekeeping(lambda: store, lambda: 90, lambda: None, clock=clock)
    house.start()
    house.stop()
    assert store.count_jobs() == 0


def test_keep_days_from_the_environment_and_checked(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("")
    loaded = config.load_settings(path, environ={"GSMBRIDGE_HISTORY_KEEP_DAYS": "30"})
    assert loaded.history.keep_days == 30
    with pytest.raises(config.ConfigError, match="history.keep_days"):
        config.load_settings(path, environ={"GSMBRIDGE_HISTORY_KEEP_DAYS": "-1"})


def test_prune_works_in_small_batches(store: Store, clock: FakeClock):
    for i in range(7):
        finished(store, f"u{i}", "sent")
        store.add_incoming("+12125550123", f"reply {i}")
    clock.now += 91 * DAY_S
    assert store.prune(clock.now - 90 * DAY_S, batch=3) == 7
    assert store.prune_incoming(clock.now - 90 * DAY_S, batch=3) == 7
    assert store.count_jobs() == 0 and store.count_incoming() == 0


def test_lowering_keep_days_prunes_at_once_not_within_the_hour(settings, tmp_path):
    """The setting said "older than N days go", but a lowered N waited for the next
    hourly clean-up without a word; now the running service prunes as it applies."""
    import copy
    import sqlite3
    import time

    from gsmbridge.service import DB_NAME, Bridge

    settings.history.keep_days = 90
    bridge = Bridge(settings, tmp_path / "data")
    bridge.start()
    try:
        old = finished(bridge.store, "old", "sent")
        recent = finished(bridge.store, "recent", "sent")
        with sqlite3.connect(tmp_path / "data" / DB_NAME) as db:  # finished 40 days ago
            db.execute(
                "UPDATE jobs SET updated_at = ? WHERE id = ?", (time.time() - 40 * DAY_S, old)
            )
        bridge._housekeeping.run_once()  # what the hourly run does: 40 < 90 days, kept
        assert bridge.store.get(old) is not None
        new = copy.deepcopy(bridge.settings)
        new.history.keep_days = 30
        assert bridge.live.apply(new) == []
        deadline = time.monotonic() + 5
        while bridge.store.get(old) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert bridge.store.get(old) is None
        assert bridge.store.get(recent) is not None
    finally:
        bridge.stop()
