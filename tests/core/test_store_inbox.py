"""Received SMS in the store: stored once, long messages joined, senders named."""

from __future__ import annotations

from gsmbridge.core.models import Contact
from gsmbridge.core.store import Store
from gsmbridge.core.store_inbox import MISSING, PART_WINDOW_S
from tests.core.conftest import new_job
from tests.helpers import FakeClock


def test_single_sms_is_stored_and_listed_newest_first(store: Store, clock: FakeClock) -> None:
    first = store.add_incoming("+12125550123", "Thanks!", sent_at=clock.now - 5, modem="sim")
    clock.now += 1
    second = store.add_incoming("+12125550199", "STOP", sent_at=clock.now)
    assert first.complete and first.text == "Thanks!" and first.modem == "sim"
    assert [m.id for m in store.list_incoming()] == [second.id, first.id]
    assert store.count_incoming() == 2
    assert store.get_incoming(first.id) == first
    assert first.to_dict()["from"]["number"] == "+12125550123"


def test_parts_in_any_order_join_into_one_message(store: Store, clock: FakeClock) -> None:
    third = store.add_incoming("+4915112345", "C", concat=(9, 3, 3))
    assert not third.complete and third.text == MISSING + MISSING + "C"
    store.add_incoming("+4915112345", "A", concat=(9, 3, 1))
    done = store.add_incoming("+4915112345", "B", concat=(9, 3, 2))
    assert done.id == third.id and done.complete and done.text == "ABC"
    assert done.parts_received == 3 and store.count_incoming() == 1


def test_same_reference_from_another_sender_or_much_later_is_another_message(
    store: Store, clock: FakeClock
) -> None:
    a = store.add_incoming("+4915112345", "A", concat=(9, 2, 1))
    b = store.add_incoming("+4915199999", "A", concat=(9, 2, 1))
    clock.now += PART_WINDOW_S + 1
    c = store.add_incoming("+4915112345", "X", concat=(9, 2, 2))
    assert len({a.id, b.id, c.id}) == 3
    assert store.get_incoming(a.id).text == "A" + MISSING
    # Within the window, but stamped hours apart by the SMS centre: another message.
    d = store.add_incoming("+4915177777", "One", sent_at=1000.0, concat=(3, 2, 1))
    e = store.add_incoming("+4915177777", "One", sent_at=9000.0, concat=(3, 2, 1))
    f = store.add_incoming("+4915177777", "Two", sent_at=9005.0, concat=(3, 2, 2))
    assert d.id != e.id and f.id == e.id and f.text == "OneTwo" and f.complete


def test_an_sms_read_twice_is_stored_once(store: Store, clock: FakeClock) -> None:
    # The modem keeps an SMS when gsmbridge stops between storing and deleting it,
    # possibly for days.
    a = store.add_incoming("+12125550123", "yes", sent_at=1000.0)
    clock.now += PART_WINDOW_S * 3
    assert store.add_incoming("+12125550123", "yes", sent_at=1000.0).id == a.id
    part = store.add_incoming("+12125550123", "P1", concat=(4, 2, 1))
    assert store.add_incoming("+12125550123", "P1", concat=(4, 2, 1)).id == part.id
    assert store.get_incoming(part.id).parts_received == 1
    # Without an SMS-centre time stamp: the same text within the window is the same SMS.
    b = store.add_incoming("+12125550123", "no stamp")
    assert store.add_incoming("+12125550123", "no stamp").id == b.id
    # The same words sent again later are a new SMS.
    assert store.add_incoming("+12125550123", "yes", sent_at=2000.0).id != a.id
    assert store.count_incoming() == 4


def test_an_emoji_split_across_two_parts_is_joined(store: Store) -> None:
    # Some phones split a surrogate pair between parts; each part decodes to one half.
    store.add_incoming("+12125550123", "a\ud83d", concat=(6, 2, 1))
    done = store.add_incoming("+12125550123", "\ude00b", concat=(6, 2, 2))
    assert done.text == "a\U0001f600b"
    alone = store.add_incoming("+12125550123", "broken \ud83d")  # never completed
    assert alone.text == "broken \ufffd"


def test_sender_named_from_contacts_else_from_the_last_job_sent(
    store: Store, clock: FakeClock
) -> None:
    job_id, _, _ = store.enqueue(new_job("alice", number="+12125550111"))
    store.claim_next()
    store.mark_sent(job_id, parts_total=1)
    from_job = store.add_incoming("+12125550111", "ok")
    assert (from_job.uid, from_job.name) == ("alice", "Name")
    store.upsert_contact(Contact(uid="bob", number="+12125550222", name="Bob B."))
    from_contact = store.add_incoming("+12125550222", "ok")
    assert (from_contact.uid, from_contact.name) == ("bob", "Bob B.")
    stranger = store.add_incoming("+12125550333", "who is this?")
    assert (stranger.uid, stranger.name) == ("", "")
    # A national number from the network, looked up in E.164.
    national = store.add_incoming("2125550222", "hi", lookup_number="+12125550222")
    assert (national.sender, national.uid) == ("2125550222", "bob")


def test_delete_incoming(store: Store) -> None:
    a = store.add_incoming("+12125550123", "one")
    b = store.add_incoming("+12125550123", "two")
    assert store.delete_incoming([a.id, 12345]) == 1
    assert [m.id for m in store.list_incoming()] == [b.id]
