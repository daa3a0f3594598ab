"""A delivery report goes to the job that was sent last with that reference."""

from __future__ import annotations

from gsmbridge.core.models import State
from gsmbridge.core.store import Store
from tests.helpers import NUMBER, FakeClock
from tests.helpers import add_job as add


def test_report_after_reference_wrap_goes_to_the_latest_send(location: str) -> None:
    clock = FakeClock()
    store = Store(location, clock=clock)
    try:
        older_id = add(store, "first")
        newer_id = add(store, "second")
        job = store.claim_next(modem="m")
        assert job is not None and job.id == older_id
        store.schedule_retry(older_id, "network timeout", clock.now + 600)  # backs off
        clock.now += 1
        job = store.claim_next(modem="m")
        assert job is not None and job.id == newer_id
        store.record_part(newer_id, 1, 5, 1)
        store.mark_sent(newer_id, parts_total=1)
        # Its report never comes.  256 messages later the modem's reference wraps
        # and the older job, retried, goes out with reference 5 too.
        clock.now += 600
        job = store.claim_next(modem="m")
        assert job is not None and job.id == older_id
        store.record_part(older_id, 1, 5, 2)
        store.mark_sent(older_id, parts_total=1)
        clock.now += 5
        assert store.record_report("m", 5, NUMBER[1:], delivered=True, detail="ok") == (
            older_id,
            "delivered",
        )
        assert store.get(newer_id).state is State.SENT
    finally:
        store.close()


def test_report_for_a_part_sent_before_a_failover_finds_its_job(location: str) -> None:
    clock = FakeClock()
    store = Store(location, clock=clock)
    try:
        job_id = add(store, "x" * 400)
        store.claim_next(modem="m1")
        store.record_part(job_id, 1, 7, concat_ref=3)  # part 1 through m1, then m1 dropped
        store.schedule_retry(job_id, "modem unavailable", clock.now, count_attempt=False)
        store.claim_next(modem="m2")
        store.record_part(job_id, 2, 40, concat_ref=3)
        store.record_part(job_id, 3, 41, concat_ref=3)
        store.mark_sent(job_id, parts_total=3)
        digits = NUMBER.lstrip("+")
        assert store.record_report("m2", 40, digits, delivered=True, detail="ok")[1] == "sent"
        assert store.record_report("m2", 41, digits, delivered=True, detail="ok")[1] == "sent"
        # m1's report for part 1 still reaches the job, now sent by m2.
        assert store.record_report("m1", 7, digits, delivered=True, detail="ok") == (
            job_id,
            "delivered",
        )
    finally:
        store.close()
