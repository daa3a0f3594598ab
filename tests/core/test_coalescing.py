"""Coalesced jobs must never be left behind by a second merge."""

from __future__ import annotations

from gsmbridge.core.models import State
from gsmbridge.core.store import Store
from tests.helpers import NUMBER, FakeClock
from tests.helpers import add_job as add


def carrier_with_member(store: Store, clock: FakeClock) -> tuple[int, int]:
    """A is claimed for sending and carries B (coalesced); returns (a, b)."""
    a = add(store, "A")
    clock.now += 1
    b = add(store, "B")
    job = store.claim_next(modem="m")
    assert job is not None and job.id == a
    assert store.merge_waiting(job, 60) == [b]
    return a, b


def test_a_group_merged_into_another_keeps_its_members(store: Store, clock: FakeClock) -> None:
    a, b = carrier_with_member(store, clock)
    clock.now += 1
    c = add(store, "C")  # arrives while A (carrying B) is being sent
    clock.now += 1
    # The modem dropped: A (and B with it) back in the queue, due now, after C.
    store.schedule_retry(a, "modem unavailable", clock.now, count_attempt=False)
    carrier = store.claim_next(modem="m")
    assert carrier is not None and carrier.id == c
    store.merge_waiting(carrier, 60)
    # C's SMS must carry A and B, and all three end sent.
    assert sorted(store.merged_texts(c)) == ["A", "B"]
    store.mark_sent(c, parts_total=1)
    assert {store.get(i).state for i in (a, b, c)} == {State.SENT}
    assert store.claim_next(modem="m") is None


def test_a_partly_sent_group_that_loses_a_member_is_not_resumed_with_other_text(
    store: Store, clock: FakeClock
) -> None:
    a, b = carrier_with_member(store, clock)
    store.record_part(a, 1, 7, 3)  # part 1 of "2 new messages: - A - B" went out
    store.schedule_retry(a, "network timeout", clock.now)
    assert store.cancel([b]) == [b]  # a person cancels B meanwhile
    resumed = store.claim_next(modem="m")
    assert resumed is not None and resumed.id == a
    # Resuming at part 2 would join two different texts: either B is still
    # carried, or A starts again from part 1.
    assert store.merged_texts(a) == ["B"] or resumed.parts_sent == 0


def test_deleting_a_member_of_a_partly_sent_group_restarts_the_carrier(
    store: Store, clock: FakeClock
) -> None:
    a, b = carrier_with_member(store, clock)
    store.record_part(a, 1, 7, 3)
    store.schedule_retry(a, "network timeout", clock.now)
    assert store.delete([b]) == 1
    resumed = store.claim_next(modem="m")
    assert resumed is not None and resumed.id == a and resumed.parts_sent == 0


def test_a_new_number_for_a_carrier_does_not_take_its_members_along(
    store: Store, clock: FakeClock
) -> None:
    a, b = carrier_with_member(store, clock)
    store.schedule_retry(a, "modem unavailable", clock.now, count_attempt=False)
    assert store.set_number([a], "+12125550999") == [a]
    member = store.get(b)
    assert member.merged_into is None and member.state is State.QUEUED
    assert member.number == NUMBER  # still its own recipient's number
    assert store.get(a).number == "+12125550999"
    assert store.merged_texts(a) == []


def test_a_waiting_note_leaves_merged_jobs_pointing_at_their_carrier(
    store: Store, clock: FakeClock
) -> None:
    a, b = carrier_with_member(store, clock)
    store.schedule_retry(a, "modem unavailable", clock.now, count_attempt=False)
    store.annotate_waiting("waiting: limit of 10 per minute on m")
    assert store.get(a).note == "waiting: limit of 10 per minute on m"
    assert store.get(b).note == f"merged into job {a}"
