"""Received SMS through a real channel to the simulator: read, handed on, deleted."""

from __future__ import annotations

import threading

import pytest

from gsmbridge.modem.deliver import Deliver, encode_deliver
from tests.modem.conftest import wait_until

SENDER = "+4915112345678"


class Inbox:
    """An on_incoming callback that can be made to fail (the store could not write)."""

    def __init__(self) -> None:
        self.received: list[Deliver] = []
        self.failing = False
        self.lock = threading.Lock()

    def __call__(self, sms: Deliver) -> None:
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
    sim.receive_sms(SENDER, "keep me")
    assert wait_until(lambda: any(c.startswith("AT+CMGR=") for c in sim.commands))
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
    assert wait_until(lambda: "AT+CMGL=4" in sim.commands)  # the connect sweep is over
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


def test_an_undecodable_sms_is_deleted_and_logged(sim_factory, modem_factory, caplog):
    inbox = Inbox()
    sim = sim_factory()
    modem = modem_factory(sim.url, on_incoming=inbox)
    assert modem.wait_ready(5)
    index = sim.modem.memories["SM"].store("00DEADBEEF", 4)
    sim.modem._lines(f'+CMTI: "SM",{index}')
    assert wait_until(lambda: sim.modem.memories["SM"].used == 0)
    assert inbox.received == []
    assert "DEADBEEF" in caplog.text


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
