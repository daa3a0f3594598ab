"""The per-minute limit spaces sends evenly (N a minute: one part every 60/N s), and
held jobs show when they will go."""

from __future__ import annotations

import time

from gsmbridge.config import Settings
from gsmbridge.core.events import Listener
from gsmbridge.core.models import State
from gsmbridge.core.sender import Sender
from gsmbridge.core.store import Store
from gsmbridge.simulator import fast_options
from tests.core.test_reports_long import rig_factory  # noqa: F401 - a fixture
from tests.core.test_sender import Rig, fast_settings
from tests.helpers import FakeClock
from tests.helpers import add_job as add


def _wait_note(rig: Rig, job_id: int, text: str) -> None:
    deadline = time.monotonic() + 5
    while text not in rig.store.get(job_id).note:
        assert time.monotonic() < deadline, rig.store.get(job_id)
        time.sleep(0.02)


def test_ten_a_minute_is_one_every_six_seconds_not_a_burst(tmp_path, rig_factory) -> None:  # noqa: F811
    settings = fast_settings()
    settings.limits.per_minute = 10
    rig = rig_factory(tmp_path, settings, fast_options(status_reports=False))
    started = rig.clock()
    ids = [rig.add(f"p{i}", f"+1212555010{i}") for i in range(3)]
    rig.wait_states(ids[:1], {"sent"})
    _wait_note(rig, ids[2], "limit of 10 SMS per minute")
    second, third = rig.store.get(ids[1]), rig.store.get(ids[2])
    assert second.state is State.QUEUED and third.state is State.QUEUED
    # Their next attempt is when they will go, not "due": 6 s apart, in queue order.
    assert started + 6 <= second.next_attempt_at <= rig.clock() + 6
    assert abs(third.next_attempt_at - second.next_attempt_at - 6) < 1e-6
    assert second.next_attempt_at > rig.clock()
    rig.clock.offset += 6
    rig.sender.wake()
    rig.wait_states(ids[1:2], {"sent"})
    assert rig.store.get(ids[2]).state is State.QUEUED  # one at a time
    rig.clock.offset += 6
    rig.sender.wake()
    rig.wait_states(ids[2:], {"sent"})
    assert [m.number for m in rig.sims[0].sent] == [f"+1212555010{i}" for i in range(3)]


def test_a_long_message_waits_the_share_of_all_its_parts(tmp_path, rig_factory) -> None:  # noqa: F811
    settings = fast_settings()
    settings.limits.per_minute = 6  # one part every 10 s
    rig = rig_factory(tmp_path, settings, fast_options(status_reports=False))
    started = rig.clock()
    long_id = rig.add("long", "+12125550100", text="x" * 400)  # 3 parts: 30 s
    rig.wait_states([long_id], {"sent"})
    short_id = rig.add("short", "+12125550101")
    _wait_note(rig, short_id, "limit of 6 SMS per minute")  # written with the job
    deadline = time.monotonic() + 5  # its planned time follows at the sender's next look
    while rig.store.get(short_id).next_attempt_at < started + 30:
        assert time.monotonic() < deadline, rig.store.get(short_id)
        time.sleep(0.02)
    assert started + 30 <= rig.store.get(short_id).next_attempt_at <= rig.clock() + 30
    rig.clock.offset += 20
    rig.sender.wake()
    _wait_note(rig, short_id, "limit of 6 SMS per minute")
    assert rig.store.get(short_id).state is State.QUEUED
    rig.clock.offset += 11
    rig.sender.wake()
    rig.wait_states([short_id], {"sent"})


class _Port:
    """The sender only reads the modem's url here: nothing is sent."""

    url = "m1"


def test_after_a_restart_the_last_send_on_record_spaces_the_next(location: str) -> None:
    clock = FakeClock()
    store = Store(location, clock=clock)
    try:
        job_id = add(store, "x" * 300)
        store.claim_next(modem="m1")
        store.mark_sent(job_id, parts_total=2)
        settings = Settings()
        settings.limits.per_minute = 12  # one part every 5 s: 10 s for 2 parts
        worker = Sender(store, [_Port()], settings, Listener(), clock=clock)._workers[0]  # type: ignore[list-item]
        delay, reason = worker._query_limits(clock.now + 4)
        assert delay == 6 and "12 SMS per minute on m1" in reason
        assert worker._query_limits(clock.now + 10) == (0.0, "")
        settings.limits.per_minute = 0
        assert worker._query_limits(clock.now) == (0.0, "")
    finally:
        store.close()


def test_planned_times_clear_when_the_limit_lets_go(location: str) -> None:
    clock = FakeClock()
    store = Store(location, clock=clock)
    try:
        a, b = add(store, "a"), add(store, "b")
        note = "waiting: limit of 10 SMS per minute on m1"
        assert store.annotate_waiting(note, until=clock.now + 4, spacing_s=6) == 2
        assert [store.get(i).next_attempt_at for i in (a, b)] == [clock.now + 4, clock.now + 10]
        # Unchanged plan: nothing to write (a burst of wake-ups costs no writes).
        assert store.annotate_waiting(note, until=clock.now + 4, spacing_s=6) == 0
        assert store.claim_next(now=clock.now).id == a  # claim order is unchanged
        store.annotate_waiting("")
        job = store.get(b)
        assert (job.next_attempt_at, job.note) == (clock.now, "")
    finally:
        store.close()


def test_a_long_backlog_plans_its_head_and_notes_the_rest(location: str) -> None:
    """Planning every queued job rewrote the whole backlog at each send (80 ms for
    25,000 rows, webhooks waiting to commit); the first PLANNED_AHEAD get a time."""
    from gsmbridge.core.store_sending import PLANNED_AHEAD

    clock = FakeClock()
    store = Store(location, clock=clock)
    try:
        ids = [add(store, f"m{i}") for i in range(PLANNED_AHEAD + 20)]
        note = "waiting: limit of 10 SMS per minute on m1"
        assert store.annotate_waiting(note, until=clock.now + 6, spacing_s=6) == len(ids)
        head, tail = store.get(ids[PLANNED_AHEAD - 1]), store.get(ids[PLANNED_AHEAD])
        assert head.next_attempt_at == clock.now + 6 * PLANNED_AHEAD
        assert (tail.note, tail.next_attempt_at) == (note, clock.now)  # due, and why it waits
        # One went, the next may go 6 s later: the head's times stand, one job joins it.
        store.claim_next(now=clock.now)
        assert store.annotate_waiting(note, until=clock.now + 12, spacing_s=6) == 1
        assert store.get(ids[PLANNED_AHEAD]).next_attempt_at == clock.now + 6 * PLANNED_AHEAD + 6
    finally:
        store.close()


def test_a_job_queued_while_a_limit_holds_says_so_from_its_first_write(location: str) -> None:
    """Under load thousands of webhooks arrive between two sends; each got the note in
    a write of its own at the next send (a long write the webhooks' commits waited for)."""
    clock = FakeClock()
    store = Store(location, clock=clock)
    try:
        note = "waiting: limit of 10 SMS per minute on m1"
        store.annotate_waiting(note, until=clock.now + 6, spacing_s=6)
        held = add(store, "during the hold")
        assert store.get(held).note == note
        assert store.annotate_waiting(note, until=clock.now + 6, spacing_s=6) == 1  # its time
        store.annotate_waiting("")
        after = add(store, "after it")
        assert store.get(after).note == "" and store.get(held).note == ""
    finally:
        store.close()


def test_jobs_another_pc_queued_get_the_note_within_half_a_minute(location: str) -> None:
    """Past the head, the backlog is read for the note only when it changes or every
    BACKLOG_NOTE_S: a job queued by another PC (which knows no note) gets it then."""
    from gsmbridge.core.store_sending import BACKLOG_NOTE_S, PLANNED_AHEAD

    clock = FakeClock()
    store = Store(location, clock=clock)
    other = Store(location, clock=clock)  # the other PC (or process) on the same queue
    try:
        for i in range(PLANNED_AHEAD):
            add(store, f"head{i}")
        note = "waiting: limit of 10 SMS per minute on m1"
        store.annotate_waiting(note, until=clock.now + 6, spacing_s=6)
        theirs = add(other, "queued elsewhere")
        assert store.get(theirs).note == ""
        store.annotate_waiting(note, until=clock.now + 6, spacing_s=6)
        assert store.get(theirs).note == ""  # the same note again: the backlog is not read
        clock.now += BACKLOG_NOTE_S
        store.annotate_waiting(note, until=clock.now + 6, spacing_s=6)
        assert store.get(theirs).note == note
    finally:
        other.close()
        store.close()


def test_a_held_backlog_keeps_its_note_from_send_to_send(tmp_path, rig_factory) -> None:  # noqa: F811
    """Each time a hold ran out the sender cleared every queued job's note, sent one,
    and wrote the note on all of them again: two writes of the whole backlog per SMS
    (the webhooks' p99 grew with the database, 50 to 250 ms over 40 MB)."""
    settings = fast_settings()
    settings.limits.per_minute = 10  # one every 6 s
    rig = rig_factory(tmp_path, settings, fast_options(status_reports=False))
    ids = [rig.add(f"b{i}", f"+1212555010{i}") for i in range(5)]
    rig.wait_states(ids[:1], {"sent"})
    _wait_note(rig, ids[4], "limit of 10 SMS per minute")
    notes: list[str] = []
    annotate = rig.store.annotate_waiting
    rig.store.annotate_waiting = lambda note, **kw: notes.append(note) or annotate(note, **kw)
    for n in (1, 2):
        rig.clock.offset += 6
        rig.sender.wake()
        rig.wait_states(ids[n : n + 1], {"sent"})
    _wait_note(rig, ids[4], "limit of 10 SMS per minute")
    assert "" not in notes, notes  # never cleared between two holds
    assert rig.store.get(ids[1]).note == ""  # a claimed job loses the waiting note
