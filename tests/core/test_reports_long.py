"""Delivery reports for long SMS: matched by part, per modem, whatever the job's state."""

from __future__ import annotations

import logging
import sqlite3
import threading

import pytest

from gsmbridge.core.db import Database
from gsmbridge.core.models import State
from gsmbridge.core.schema import MIGRATIONS
from gsmbridge.core.store import Store
from gsmbridge.modem.pdu import StatusReport
from gsmbridge.simulator import fast_options
from tests.core.test_sender import Rig, fast_settings
from tests.helpers import NUMBER, FakeClock
from tests.helpers import add_job as add

DIGITS = NUMBER.lstrip("+")


@pytest.fixture
def store(location: str):
    s = Store(location, clock=FakeClock())
    yield s
    s.close()


def _report(store: Store, modem: str, ref: int, delivered: bool = True) -> tuple[int, str] | None:
    return store.record_report(
        modem, ref, DIGITS, delivered=delivered, detail="ok" if delivered else "expired"
    )


def test_report_for_part_one_counts_while_part_two_is_going_out(store: Store) -> None:
    job_id = add(store, "x" * 300)
    store.claim_next(modem="m")
    store.record_part(job_id, 1, 17, concat_ref=4)
    # Part 2 is still being sent when part 1's report arrives.
    assert _report(store, "m", 17) == (job_id, "sending")
    store.record_part(job_id, 2, 18, concat_ref=4)
    assert store.mark_sent(job_id, parts_total=2) == "sent"
    assert _report(store, "m", 18) == (job_id, "delivered")
    job = store.get(job_id)
    assert job.state is State.DELIVERED and job.delivered_at is not None


def test_all_reports_before_the_job_is_marked_sent(store: Store) -> None:
    job_id = add(store, "x" * 300)
    store.claim_next(modem="m")
    store.record_part(job_id, 1, 3, concat_ref=4)
    store.record_part(job_id, 2, 4, concat_ref=4)
    assert _report(store, "m", 3) == (job_id, "sending")
    assert _report(store, "m", 4) == (job_id, "sending")
    assert store.mark_sent(job_id, parts_total=2) == "delivered"
    assert store.get(job_id).state is State.DELIVERED


def test_part_not_delivered_while_sending_fails_the_job_once_sent(store: Store) -> None:
    job_id = add(store, "x" * 300)
    store.claim_next(modem="m")
    store.record_part(job_id, 1, 9, concat_ref=4)
    assert _report(store, "m", 9, delivered=False) == (job_id, "sending")
    store.record_part(job_id, 2, 10, concat_ref=4)
    assert store.mark_sent(job_id, parts_total=2) == "failed"
    job = store.get(job_id)
    assert job.state is State.FAILED and job.last_error == "not delivered: expired"
    # A later "delivered" for part 2 does not revive it.
    assert _report(store, "m", 10) == (job_id, "failed")


def test_part_not_delivered_while_waiting_for_a_retry_fails_it_and_retry_starts_over(
    store: Store,
) -> None:
    job_id = add(store, "x" * 400)
    store.claim_next(modem="m")
    store.record_part(job_id, 1, 20, concat_ref=4)
    store.schedule_retry(job_id, "modem unavailable", store.clock() + 60, count_attempt=False)
    assert _report(store, "m", 20, delivered=False) == (job_id, "failed")
    assert store.claim_next(now=store.clock() + 120) is None  # not sent on
    assert store.retry([job_id]) == [job_id]
    job = store.get(job_id)
    # Part 1 never arrived: the retry sends the whole message again.
    assert (job.state, job.parts_sent, job.references) == (State.QUEUED, 0, [])


def test_the_same_reference_on_two_modems_is_two_parts(store: Store) -> None:
    a = add(store, "a")
    b = add(store, "b")
    store.claim_next(modem="m1")
    store.claim_next(modem="m2")
    store.record_part(a, 1, 5, concat_ref=1)
    store.record_part(b, 1, 5, concat_ref=2)
    store.mark_sent(a, parts_total=1)
    store.clock.now += 1  # b is the newer send
    store.mark_sent(b, parts_total=1)
    assert _report(store, "m1", 5) == (a, "delivered")
    assert store.get(b).state is State.SENT
    assert _report(store, "m2", 5) == (b, "delivered")
    assert _report(store, "m3", 5) is None


def test_a_resend_from_part_one_forgets_the_old_parts(store: Store) -> None:
    job_id = add(store, "x" * 300)
    store.claim_next(modem="m")
    store.record_part(job_id, 1, 30, concat_ref=4)
    store.record_part(job_id, 2, 31, concat_ref=4)
    store.mark_failed(job_id, "wrong number")
    assert store.set_number([job_id], "+12125550123") == [job_id]  # sends from part 1
    store.claim_next(modem="m")
    store.record_part(job_id, 1, 40, concat_ref=5)
    # Part 2 of the first send is not part of this one.
    assert _report(store, "m", 31) is None
    assert _report(store, "m", 40) == (job_id, "sending")


def test_upgrade_keeps_the_parts_of_jobs_sent_before(tmp_path) -> None:
    path = tmp_path / "old.db"
    old = Database(path, MIGRATIONS[:5])
    old._write(
        lambda c: c.execute(
            "INSERT INTO jobs(created_at, updated_at, state, uid, number, text, payload,"
            " modem, parts_total, parts_sent, refs, delivered_refs, sent_at)"
            " VALUES (1000, 1000, 'sent', 'u', ?, 'x', '{}', 'm', 2, 2, '[7, 8]', '[7]', 1000)",
            (NUMBER,),
        )
    )
    old.close()
    store = Store(path, clock=FakeClock(1100.0))
    try:
        # Part 1 was reported before the upgrade; part 2's report completes the job.
        assert _report(store, "m", 8) == (1, "delivered")
    finally:
        store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


# -- end to end: real Modems, the simulator's reports over socket:// -----------------


@pytest.fixture
def rig_factory(location: str):
    """Rigs on each backend: the folder a test passes is replaced by its store location."""
    made: list[Rig] = []

    def make(_where, *args, **kw) -> Rig:
        rig = Rig(location, *args, **kw)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.close()


def test_long_sms_is_delivered_when_reports_overtake_its_parts(tmp_path, rig_factory) -> None:
    # Inline reports (+CDS, as on a SIM800L); each part takes 0.2 s to go and its
    # report comes 10 ms after its +CMGS: parts 1 and 2 are reported while the job
    # is still sending.
    rig = rig_factory(
        tmp_path, fast_settings(), fast_options(send_latency_s=0.2, reports_inline_only=True)
    )
    job_id = rig.add("long", text="x" * 400)  # 3 parts
    rig.wait_states([job_id], {"delivered"})
    reports = [e for e in rig.store.events(job_id) if e.kind == "report"]
    kinds = [e.kind for e in rig.store.events(job_id)]
    assert kinds.index("report") < kinds.index("sent"), kinds  # one overtook the send
    assert len(reports) == 3


def test_long_sms_with_an_early_part_not_delivered_fails(tmp_path, rig_factory) -> None:
    rig = rig_factory(
        tmp_path,
        fast_settings(),
        fast_options(send_latency_s=0.2, report_fail_every=1, reports_inline_only=True),
    )
    job_id = rig.add("long", text="x" * 400)
    rig.wait_states([job_id], {"failed"})
    assert rig.store.get(job_id).last_error.startswith("not delivered:")


def test_a_report_faster_than_recording_its_part_is_matched(tmp_path, rig_factory, caplog) -> None:
    rig = rig_factory(tmp_path, fast_settings(), fast_options(reports_inline_only=True))
    record_part = rig.store.record_part
    reported = threading.Event()
    apply = rig.sender._apply_report

    def applied(url, report):
        result = apply(url, report)
        reported.set()
        return result

    rig.sender._apply_report = applied  # type: ignore[method-assign]

    def slow_record_part(*args, **kwargs) -> None:
        # The sender's thread loses the CPU between +CMGS and recording the part:
        # the report (10 ms after +CMGS) is looked up first.
        assert reported.wait(15)  # a loaded machine (four workers on two cores)
        record_part(*args, **kwargs)

    rig.store.record_part = slow_record_part  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger="gsmbridge.core.sender"):
        job_id = rig.add("short", text="hi")
        rig.wait_states([job_id], {"delivered"}, timeout=30)
    assert "unknown reference" not in caplog.text


def test_a_report_for_a_send_already_over_is_not_held(tmp_path, rig_factory, caplog) -> None:
    rig = rig_factory(tmp_path, fast_settings(), fast_options(status_reports=False))
    job_id = rig.add("short", text="hi")
    rig.wait_states([job_id], {"sent"})
    report = StatusReport(
        message_reference=99,
        recipient=NUMBER,
        status=0,
        delivered=True,
        final=True,
        status_text="delivered",
        discharge_time=None,
    )
    with caplog.at_level(logging.INFO, logger="gsmbridge.core.sender"):
        rig.sender.status_report(rig.modems[0].url, report)
    # Logged at once (no send under way that could still record it), not kept.
    assert "unknown reference 99" in caplog.text
    assert not rig.sender._workers[0].parked_reports
    assert rig.store.get(job_id).state is State.SENT


def test_a_long_sms_failing_half_way_says_how_many_parts_it_has(tmp_path, rig_factory) -> None:
    # The 2nd AT+CMGS fails for good (CMS 304, invalid PDU parameter): part 1 of 6
    # went out, and the job must say "1 of 6", not "1 of 0" as it did.
    rig = rig_factory(
        tmp_path, fast_settings(), fast_options(cms_error_every=2, cms_error_code=304)
    )
    job_id = rig.add("long", text="x" * 900)  # 6 parts of 153 characters
    rig.wait_states([job_id], {"failed"})
    job = rig.store.get(job_id)
    assert (job.parts_sent, job.parts_total) == (1, 6)
    assert job.to_dict()["parts"] == {"total": 6, "sent": 1}
