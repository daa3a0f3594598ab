"""Per-day figures over a real SQLite store on a fake clock, in a chosen time zone."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator

import pytest

from gsmbridge.core import store_stats
from gsmbridge.core.store import Store
from tests.core.conftest import new_job
from tests.helpers import FakeClock


@pytest.fixture
def tz() -> Iterator[None]:
    """New York time (a DST zone) for the test, the process's zone restored after."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


def at(y: int, mo: int, d: int, h: int = 12, mi: int = 0, s: int = 0) -> float:
    """A local (New York) wall-clock time as epoch seconds."""
    return dt.datetime(y, mo, d, h, mi, s).timestamp()


_refs = iter(range(1, 10_000))


def went_out(
    store: Store,
    clock: FakeClock,
    created: float,
    sent: float,
    *,
    delivered: float | None = None,
    modem: str = "m1",
    parts: int = 1,
) -> int:
    """A job through the store's own sending path: queued, claimed, its parts sent, reported."""
    clock.now = created
    job_id, _, _ = store.enqueue(new_job(f"u{created}"))
    clock.now = sent
    job = store.claim_next(modem=modem)
    assert job is not None and job.id == job_id
    refs = [next(_refs) % 256 for _ in range(parts)]
    for seq, ref in enumerate(refs, 1):
        store.record_part(job_id, seq, ref, 0)
    store.mark_sent(job_id, parts_total=parts)
    if delivered is not None:
        clock.now = delivered
        for ref in refs:
            store.record_report(modem, ref, "", delivered=True, detail="delivered")
    return job_id


def failed(store: Store, clock: FakeClock, when: float, reason: str) -> int:
    clock.now = when
    job_id, _, _ = store.enqueue(new_job(f"f{when}{reason}"))
    store.mark_failed(job_id, reason)
    return job_id


def test_days_without_traffic_are_zero_and_have_no_times(
    store: Store, clock: FakeClock, tz
) -> None:
    went_out(
        store, clock, at(2026, 5, 4, 9), at(2026, 5, 4, 9, 0, 20), delivered=at(2026, 5, 4, 9, 1)
    )
    went_out(store, clock, at(2026, 5, 7, 9), at(2026, 5, 7, 9, 0, 10))
    clock.now = at(2026, 5, 10, 15)
    stats = store_stats.collect(store, 7, clock=clock)
    assert [d.day for d in stats.days] == [dt.date(2026, 5, n) for n in range(4, 11)]
    assert [d.sent for d in stats.days] == [1, 0, 0, 1, 0, 0, 0]
    assert [d.delivered for d in stats.days] == [1, 0, 0, 0, 0, 0, 0]
    quiet = stats.days[1]
    assert (quiet.sent, quiet.failed, quiet.cancelled) == (0, 0, 0)
    assert quiet.to_sent_p50 is None and quiet.to_delivered_p90 is None
    assert stats.days[0].to_sent_p50 == pytest.approx(20)
    assert stats.days[0].to_delivered_p50 == pytest.approx(60)
    assert stats.days[3].to_sent_p90 == pytest.approx(10)
    assert stats.totals == {
        "sent": 2,
        "notifications_sent": 2,
        "delivered": 1,
        "failed": 0,
        "cancelled": 0,
    }
    # A job sent before the window is not counted.
    assert sum(d.sent for d in store_stats.collect(store, 3, clock=clock).days) == 0


def test_local_midnight_splits_the_days(store: Store, clock: FakeClock, tz) -> None:
    went_out(store, clock, at(2026, 5, 9, 23, 50), at(2026, 5, 9, 23, 59, 59))
    went_out(store, clock, at(2026, 5, 9, 23, 55), at(2026, 5, 10, 0, 0, 0))
    went_out(store, clock, at(2026, 5, 10, 0, 0, 1), at(2026, 5, 10, 0, 0, 2))
    clock.now = at(2026, 5, 10, 0, 30)
    stats = store_stats.collect(store, 2, clock=clock)
    assert [(d.day.day, d.sent) for d in stats.days] == [(9, 1), (10, 2)]
    # 23:59:59 New York is 03:59:59 UTC the next day: the local day decides.
    assert stats.days[1].start == at(2026, 5, 10, 0, 0)


def test_a_daylight_saving_day_has_23_hours(store: Store, clock: FakeClock, tz) -> None:
    # 8 March 2026: New York's clocks jump from 02:00 to 03:00.
    went_out(store, clock, at(2026, 3, 8, 23, 0), at(2026, 3, 8, 23, 30))
    went_out(store, clock, at(2026, 3, 9, 0, 10), at(2026, 3, 9, 0, 20))
    clock.now = at(2026, 3, 9, 12)
    stats = store_stats.collect(store, 3, clock=clock)
    days = stats.days
    assert [(d.day.day, d.sent) for d in days] == [(7, 0), (8, 1), (9, 1)]
    assert days[2].start - days[1].start == 23 * 3600
    assert days[1].start - days[0].start == 24 * 3600
    assert days[1].to_sent_p50 == pytest.approx(30 * 60)


def test_percentiles_are_nearest_rank(store: Store, clock: FakeClock, tz) -> None:
    base = at(2026, 5, 10, 8)
    for i, delay in enumerate([1, 2, 3, 4, 5, 6, 7, 8, 9, 100]):
        went_out(store, clock, base + i * 200, base + i * 200 + delay)
    clock.now = at(2026, 5, 10, 20)
    day = store_stats.collect(store, 1, clock=clock).days[0]
    assert (day.sent, day.to_sent_p50, day.to_sent_p90) == (10, 5, 9)
    # One job: it is its own median and p90.
    went_out(store, clock, at(2026, 5, 11, 8), at(2026, 5, 11, 8, 0, 7))
    clock.now = at(2026, 5, 11, 20)
    day = store_stats.collect(store, 1, clock=clock).days[0]
    assert (day.sent, day.to_sent_p50, day.to_sent_p90) == (1, 7, 7)


def test_failures_cancellations_and_top_reasons(store: Store, clock: FakeClock, tz) -> None:
    for _ in range(3):
        failed(store, clock, at(2026, 5, 9, 10), "CMS ERROR 38: network out of order")
    failed(store, clock, at(2026, 5, 10, 10), "not delivered: absent subscriber")
    failed(store, clock, at(2026, 5, 10, 11), "")
    clock.now = at(2026, 5, 10, 12)
    job_id, _, _ = store.enqueue(new_job("to-cancel"))
    assert store.cancel([job_id]) == [job_id]
    stats = store_stats.collect(store, 7, clock=clock)
    assert [(d.day.day, d.failed, d.cancelled) for d in stats.days[-2:]] == [(9, 3, 0), (10, 2, 1)]
    assert stats.failures[0] == ("CMS ERROR 38: network out of order", 3)
    assert sorted(stats.failures[1:]) == [
        ("(no reason recorded)", 1),
        ("not delivered: absent subscriber", 1),
    ]
    as_json = stats.to_dict()
    assert as_json["failure_reasons"][0] == {
        "reason": "CMS ERROR 38: network out of order",
        "count": 3,
    }
    assert as_json["per_day"][-1]["date"] == "2026-05-10"
    assert as_json["totals"]["cancelled"] == 1


def test_modems_today_count_parts_in_the_limits_window(store: Store, clock: FakeClock, tz) -> None:
    now = at(2026, 5, 10, 12)
    went_out(store, clock, now - 90000, now - 89990, modem="m1", parts=2)  # over 24 h ago
    went_out(store, clock, now - 3600, now - 3590, modem="m1", parts=3)
    went_out(store, clock, now - 60, now - 50, modem="m2")
    went_out(store, clock, now - 90000, now - 89000, modem="unplugged")
    clock.now = now
    stats = store_stats.collect(store, 7, clock=clock, per_day_limit=100, modems=["m3", "m1"])
    assert [m.to_dict() for m in stats.modems] == [
        {"modem": "m3", "parts": 0, "limit": 100},
        {"modem": "m1", "parts": 3, "limit": 100},
        {"modem": "m2", "parts": 1, "limit": 100},
    ]


def test_days_out_of_range_are_refused(store: Store) -> None:
    for days in (0, -1, store_stats.MAX_DAYS + 1):
        with pytest.raises(ValueError, match="days must be"):
            store_stats.collect(store, days)


def test_changes_between_and_the_oldest_due_job(store: Store, clock: FakeClock, tz) -> None:
    t0 = at(2026, 5, 10, 9)
    went_out(store, clock, t0, t0 + 5, modem="m1", parts=2, delivered=t0 + 30)
    failed(store, clock, t0 + 40, "boom")
    clock.now = t0 + 50
    store.add_incoming("+12125550123", "thanks", sent_at=None, concat=None, modem="m1")
    changes = store_stats.changes_between(store, t0, t0 + 60)
    assert changes.sent == {"m1": 1} and changes.parts == {"m1": 2}
    assert changes.delivered == {"m1": 1}
    assert changes.failed == {"": 1}  # never claimed: no modem
    assert changes.replies == 1
    later = store_stats.changes_between(store, t0 + 60, t0 + 120)
    assert (later.sent, later.delivered, later.replies) == ({}, {}, 0)
    assert store_stats.oldest_due_age(store, t0 + 100) == 0.0
    clock.now = t0 + 200
    store.enqueue(new_job("waiting"))
    assert store_stats.oldest_due_age(store, t0 + 260) == pytest.approx(60)


def test_per_day_figures_match_a_plain_computation(store: Store, clock: FakeClock, tz) -> None:
    """The database ranks the times; the same figures computed naively in Python agree."""
    import math
    import random

    rng = random.Random(4)
    expected: dict[int, list[float]] = {9: [], 10: [], 11: []}
    for day, count in ((9, 7), (10, 31), (11, 12)):
        for k in range(count):
            created = at(2026, 5, day, 6) + k * 600
            delay = round(rng.uniform(1, 500), 3)
            went_out(store, clock, created, created + delay, modem=rng.choice(["m1", "m2"]))
            expected[day].append(delay)
    clock.now = at(2026, 5, 11, 23)
    stats = store_stats.collect(store, 3, clock=clock)
    for day_stats in stats.days:
        values = sorted(expected[day_stats.day.day])
        n = len(values)
        assert day_stats.sent == n
        assert day_stats.to_sent_p50 == pytest.approx(values[math.ceil(0.5 * n) - 1])
        assert day_stats.to_sent_p90 == pytest.approx(values[math.ceil(0.9 * n) - 1])


def test_a_failure_counts_once_when_it_happens_whatever_comes_next(
    store: Store, clock: FakeClock, tz
) -> None:
    """A person cancels or retries a failed job before anyone looks: it still failed."""
    cancelled = failed(store, clock, at(2026, 5, 9, 10), "CMS ERROR 38: network out of order")
    clock.now = at(2026, 5, 9, 10, 1)
    assert store.cancel([cancelled]) == [cancelled]
    retried = failed(store, clock, at(2026, 5, 9, 11), "CMS ERROR 38: network out of order")
    clock.now = at(2026, 5, 10, 9)
    assert store.retry([retried]) == [retried]
    store.mark_failed(retried, "CMS ERROR 500: unknown error")  # fails again: a second failure
    # Interrupted while sending, failed by the crash policy, then cancelled.
    clock.now = at(2026, 5, 10, 10)
    interrupted, _, _ = store.enqueue(new_job("interrupted"))
    assert store.claim_next(modem="m1") is not None
    assert store.recover_interrupted("fail") == [interrupted]
    clock.now = at(2026, 5, 10, 10, 5)
    assert store.cancel([interrupted]) == [interrupted]
    # A part reported not delivered fails the job, in its history too: counted even
    # though it is sent again (on purpose) before anyone looks.
    reported = went_out(store, clock, at(2026, 5, 10, 11), at(2026, 5, 10, 11, 0, 5), modem="m1")
    clock.now = at(2026, 5, 10, 11, 1)
    ref = (next(_refs) - 1) % 256
    assert store.record_report("m1", ref, "", delivered=False, detail="absent subscriber")
    assert [e.kind for e in store.events(reported)][-1] == "failed"
    assert store.retry([reported]) == [reported]

    clock.now = at(2026, 5, 10, 12)
    stats = store_stats.collect(store, 7, clock=clock)
    assert [(d.day.day, d.failed) for d in stats.days[-2:]] == [(9, 2), (10, 3)]
    assert stats.totals["failed"] == 5
    assert dict(stats.failures) == {
        "CMS ERROR 38: network out of order": 2,
        "CMS ERROR 500: unknown error": 1,
        store_stats.INTERRUPTED: 1,
        "not delivered: absent subscriber": 1,
    }
    # /metrics' increments: the same failures, once each, by the modem that had the job.
    changes = store_stats.changes_between(store, at(2026, 5, 9, 0), at(2026, 5, 11, 0))
    assert changes.failed == {"": 3, "m1": 2}
    assert (
        store_stats.changes_between(store, at(2026, 5, 10, 11, 30), at(2026, 5, 11, 0)).failed == {}
    )


def test_merged_notifications_are_one_sms_sent(store: Store, clock: FakeClock, tz) -> None:
    """sending.coalesce: four webhooks to one number go out as two SMS; sent says 2."""
    t0 = at(2026, 5, 10, 9)
    ids = []
    for k in range(3):
        clock.now = t0 + k
        ids.append(store.enqueue(new_job(f"merged{k}"))[0])
    clock.now = t0 + 10
    carrier = store.claim_next(modem="m1")
    assert carrier is not None and carrier.id == ids[0]
    assert store.merge_waiting(carrier, 60) == ids[1:]
    ref = next(_refs) % 256
    store.record_part(carrier.id, 1, ref, 0)
    store.mark_sent(carrier.id, parts_total=1)
    clock.now = t0 + 20
    store.record_report("m1", ref, "", delivered=True, detail="delivered")
    went_out(store, clock, t0 + 30, t0 + 40, modem="m1", delivered=t0 + 50)  # on its own
    assert store.get(ids[2]).state.value == "delivered"  # the merged ones share the outcome

    clock.now = t0 + 3600
    stats = store_stats.collect(store, 1, clock=clock)
    today = stats.days[-1]
    assert (today.sent, today.notifications_sent, today.delivered) == (2, 4, 2)
    assert stats.totals["sent"] == 2 and stats.totals["notifications_sent"] == 4
    assert stats.to_dict()["per_day"][-1]["notifications_sent"] == 4
    # Each notification's own wait: 10, 9, 8 s for the merged ones, 10 s alone.
    assert today.to_sent_p50 == pytest.approx(9) and today.to_sent_p90 == pytest.approx(10)
    changes = store_stats.changes_between(store, t0, t0 + 60)
    assert changes.sent == {"m1": 2} and changes.parts == {"m1": 2}
    assert changes.delivered == {"m1": 2}
