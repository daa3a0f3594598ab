"""Received SMS through a real channel to the simulator: read, handed on, deleted."""

from __future__ import annotations

import threading

import pytest

from gsmbridge.modem.deliver import Deliver, encode_deliver
from gsmbridge.modem.memory import listing
from tests.modem.conftest import wait_until

SENDER = "+4915112345678"


class Inbox:
    """An on_incoming callback that can be made to fail (the store could not write)."""

    def __init__(self) -> None:
        self.received: list[Deliver] = []
        self.attempts = 0
        self.failing = False
        self.lock = threading.Lock()

    def __call__(self, sms: Deliver) -> None:
        self.attempts += 1
        if self.failing:
            raise OSError("disk full")
        with self.lock:
            self.received.append(sms)


@pytest.mark.parametrize("transport", ["tcp", "pty"])
def test_announced_sms_is_read_handed_on_and_deleted(sim_factory, modem_factory, transport):
    inbox = Inbox()
    sim = sim_factory(transport)
    modem = modem_factory(sim.url, on_incoming=inbox)
    assert modem.wait_ready(5)
    text = "Danke! Bis morgen 👍 " * 10
    total = len(encode_deliver(SENDER, text))
    assert total > 2  # UCS-2, several parts
    sim.receive_sms(SENDER, text, concat_ref=5)
    assert wait_until(lambda: len(inbox.received) == total)
    assert {sms.sender for sms in inbox.received} == {SENDER}
    assert sorted(s.concat for s in inbox.received) == [(5, total, i) for i in range(1, total + 1)]
    ordered = sorted(inbox.received, key=lambda sms: sms.concat)
    assert "".join(sms.text for sms in ordered) == text
    assert wait_until(lambda: sim.modem.memories["SM"].used == 0)


def test_sms_waiting_in_the_sim_are_swept_on_connect(sim_factory, modem_factory):
    inbox = Inbox()
    sim = sim_factory()
    for text in ("first", "second"):  # arrived while gsmbridge was not running
        sim.modem.memories["SM"].store(*encode_deliver(SENDER, text)[0])
    draft = sim.modem.memories["SM"].store("00", 1)
    sim.modem.memories["SM"]._slots[draft] = ("0011000B910000", 7, 2)  # a stored draft
    modem = modem_factory(sim.url, on_incoming=inbox)
    assert modem.wait_ready(5)
    assert wait_until(lambda: sorted(s.text for s in inbox.received) == ["first", "second"])
    # Received ones deleted; the stored outgoing draft (stat 2) left alone.
    assert wait_until(lambda: sim.modem.memories["SM"].used == 1)
    assert f"AT+CMGD={draft}" not in sim.commands


def test_sms_not_stored_stays_in_the_modem_until_it_can_be(sim_factory, modem_factory):
    inbox = Inbox()
    inbox.failing = True
    sim = sim_factory()
    modem = modem_factory(sim.url, on_incoming=inbox)
    assert modem.wait_ready(5)
    assert modem.incoming_swept.wait(5)
    sim.receive_sms(SENDER, "keep me")
    assert wait_until(lambda: inbox.attempts == 1)
    modem.send_sms("+12125550100", "a later command: the URC was handled before it")
    assert sim.modem.memories["SM"].used == 1  # not deleted: nothing is lost
    assert not any(c.startswith("AT+CMGD=") for c in sim.commands)
    inbox.failing = False
    sim.disconnect()  # the next connection sweeps it
    assert wait_until(lambda: [s.text for s in inbox.received] == ["keep me"], timeout=10)
    assert wait_until(lambda: sim.modem.memories["SM"].used == 0)


def test_malformed_announcements_send_nothing_to_the_modem(sim_factory, modem_factory):
    inbox = Inbox()
    sim = sim_factory()
    modem = modem_factory(sim.url, on_incoming=inbox)
    assert modem.wait_ready(5)
    assert modem.incoming_swept.wait(5)
    before = len(sim.commands)
    for line in (
        '+CMTI: "SM",1;AT+CFUN=0',
        '+CMTI: "S\\"M",2',
        "+CMTI: SM,x",
        '+CMTI: "SM",99999999',
    ):
        sim.modem._lines(line)
    sim.receive_sms(SENDER, "after the junk")
    assert wait_until(lambda: [s.text for s in inbox.received] == ["after the junk"])
    assert wait_until(lambda: sim.modem.memories["SM"].used == 0)
    sent = sim.commands[before:]
    reads = [c for c in sent if c.startswith(("AT+CPMS=", "AT+CMGR=", "AT+CMGD="))]
    # Only the well-formed announcement led to commands: select SM, read 1, delete 1.
    assert reads == ['AT+CPMS="SM"', "AT+CMGR=1", "AT+CMGD=1"]
    assert not any("CFUN" in c or ";" in c for c in sent)


def test_an_undecodable_sms_is_stored_as_such_and_deleted(sim_factory, modem_factory):
    inbox = Inbox()
    sim = sim_factory()
    modem = modem_factory(sim.url, on_incoming=inbox)
    assert modem.wait_ready(5)
    index = sim.modem.memories["SM"].store("0004DEADBEEF", 5)  # an SMS-DELIVER, garbled
    sim.modem._lines(f'+CMTI: "SM",{index}')
    assert wait_until(lambda: sim.modem.memories["SM"].used == 0)
    (kept,) = inbox.received
    assert kept.sender == "(unreadable)" and "DEADBEEF" in kept.text


def test_simulated_recipients_reply_every_nth_message(sim_factory, modem_factory):
    inbox = Inbox()
    sim = sim_factory(reply_every=2, reply_text="ok!")
    modem = modem_factory(sim.url, on_incoming=inbox)
    assert modem.wait_ready(5)
    modem.send_sms("+12125550101", "one")
    modem.send_sms("+12125550102", "two " * 60)  # several parts: one reply, after the last
    modem.send_sms("+12125550103", "three")
    assert wait_until(lambda: len(inbox.received) == 1)
    (reply,) = inbox.received
    assert (reply.sender, reply.text) == ("+12125550102", "ok!")


def test_without_anyone_to_store_them_sms_stay_in_the_sim(sim_factory, modem_factory):
    # ``gsmbridge send`` opens the modem without an inbox: replies must not be deleted.
    sim = sim_factory()
    sim.modem.memories["SM"].store(*encode_deliver(SENDER, "waiting")[0])
    modem = modem_factory(sim.url)
    assert modem.wait_ready(5)
    assert modem.incoming_swept.wait(5)
    sim.receive_sms(SENDER, "announced")
    modem.send_sms("+12125550100", "after the announcement")
    assert sim.modem.memories["SM"].used == 2
    assert not any(c.startswith(("AT+CMGD", "AT+CMGR", "AT+CMGL")) for c in sim.commands)


def test_reports_kept_with_the_sms_are_reports_and_sms_are_sms(sim_factory, modem_factory):
    # A modem that stores reports in the SIM memory beside the SMS (+CDSI: "SM",n).
    from datetime import UTC, datetime

    from gsmbridge.modem import pdu

    inbox, reports = Inbox(), []
    sim = sim_factory()
    memory = sim.modem.memories["SM"]
    memory.store(*pdu.encode_status_report(77, SENDER, 0, when=datetime.now(UTC)))
    memory.store(*encode_deliver(SENDER, "a reply")[0])
    modem = modem_factory(sim.url, on_incoming=inbox, on_status_report=reports.append)
    assert modem.wait_ready(5)
    assert wait_until(lambda: [r.message_reference for r in reports] == [77])
    assert wait_until(lambda: [s.text for s in inbox.received] == ["a reply"])
    assert wait_until(lambda: memory.used == 0)
    # A stale +CDSI whose slot now holds an SMS: the SMS is stored, not deleted unread.
    index = memory.store(*encode_deliver(SENDER, "in a reused slot")[0])
    sim.modem._lines(f'+CDSI: "SM",{index}')
    assert wait_until(lambda: [s.text for s in inbox.received][-1:] == ["in a reused slot"])
    assert wait_until(lambda: memory.used == 0)


def test_sms_kept_in_phone_memory_are_swept_there(sim_factory, modem_factory):
    inbox = Inbox()
    sim = sim_factory(sms_memory="ME")
    sim.modem.memories["ME"].store(*encode_deliver(SENDER, "in ME")[0])
    # A SIM-class SMS goes to the SIM whatever the modem's setting: swept too.
    sim.modem.memories["SM"].store(*encode_deliver(SENDER, "in SM")[0])
    modem = modem_factory(sim.url, on_incoming=inbox)
    assert modem.wait_ready(5)
    assert wait_until(lambda: sorted(s.text for s in inbox.received) == ["in ME", "in SM"])
    assert wait_until(lambda: sim.modem.memories["ME"].used == 0)
    assert wait_until(lambda: sim.modem.memories["SM"].used == 0)


def test_a_modem_that_does_not_announce_sms_is_polled(sim_factory, modem_factory):
    inbox = Inbox()
    sim = sim_factory()
    # Reject every AT+CNMI form with mt=1, as some modems do.
    original = sim.modem._dispatch

    def dispatch(body: str):
        if body.startswith("+CNMI=") and body[6:].split(",")[1:2] != ["0"]:
            return (sim.modem._error("cms", 303),)
        return original(body)

    sim.modem._dispatch = dispatch
    modem = modem_factory(sim.url, on_incoming=inbox, poll_interval_s=0.3)
    assert modem.wait_ready(5)
    assert modem.status.extra["received_sms"] == "polled"
    sim.receive_sms(SENDER, "found by a poll")
    assert wait_until(lambda: [s.text for s in inbox.received] == ["found by a poll"])
    assert wait_until(lambda: sim.modem.memories["SM"].used == 0)


def test_listing_keeps_only_well_formed_entries() -> None:
    lines = [
        "+CMGL: 1,0,,20",
        "0011",
        "+CMGL: ²,0,,20",  # a digit that is not 0-9: line noise
        "0022",
        "+CMGL: 3,1,,x",
        "0033",
        "+CMGL: 4,1,,21",  # no PDU line follows
        "+CMGL: 5,2,,22",
        "0055",
        "OK",
    ]
    assert listing(lines) == [(1, 0, "20", "0011"), (5, 2, "22", "0055")]
