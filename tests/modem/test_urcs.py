"""Unsolicited result codes (modem/urcs.py) against the simulator: status reports
(inline, stored, swept, acknowledged), a reboot, echo and garbage."""

from __future__ import annotations

import pytest

from tests.modem.conftest import ready_modem, wait_until

NUMBER = "+31612345678"


def test_echo_urcs_and_garbage(sim_factory, modem_factory, transport):
    sim, modem = ready_modem(
        sim_factory,
        modem_factory,
        transport,
        sim_options={"echo": True, "garbage": 1.0, "urc_spam": 0.01, "seed": 7},
    )
    for i in range(5):
        modem.send_sms(NUMBER, f"message {i}")
    assert [m.text for m in sim.wait_for_messages(5)] == [f"message {i}" for i in range(5)]
    assert sim.commands.count("AT+CMGF=0") == 1  # Huawei ^BOOT spam is not taken for a reboot
    assert modem.status.ready


@pytest.mark.parametrize("stored", [False, True], ids=["inline", "stored"])
def test_status_reports_reach_the_callback(sim_factory, modem_factory, transport, stored):
    # Stored (+CDSI) where the modem can: each is read, handed on and deleted; inline
    # (+CDS) from a modem that rejects ds=2, as SIM800L does.
    reports = []
    sim = sim_factory(
        transport, report_fail_every=2, reports_stored_only=stored, reports_inline_only=not stored
    )
    modem = modem_factory(sim.url, on_status_report=reports.append)
    assert modem.wait_ready(5)
    assert modem.status.extra.get("status_reports") == ("stored" if stored else "inline")
    first = modem.send_sms(NUMBER, "one", more_to_come=True)
    second = modem.send_sms(NUMBER, "two")
    assert wait_until(lambda: len(reports) == 2)
    by_mr = {r.message_reference: r for r in reports}
    assert by_mr[first.references[0]].delivered
    assert not by_mr[second.references[0]].delivered
    assert by_mr[second.references[0]].recipient == NUMBER
    if stored:
        assert wait_until(lambda: sim.modem.report_memory.used == 0)
        assert "AT+CMGR=1" in sim.commands and "AT+CMGD=1" in sim.commands


def test_reports_stored_while_away_are_swept_on_connect(sim_factory, modem_factory):
    from datetime import UTC, datetime

    from gsmbridge.modem import pdu

    reports = []
    sim = sim_factory(reports_stored_only=True)
    for mr in (41, 42):  # stored while gsmbridge was not running
        sim.modem.report_memory.store(
            *pdu.encode_status_report(mr, NUMBER, 0, when=datetime.now(UTC))
        )
    modem = modem_factory(sim.url, on_status_report=reports.append)
    assert modem.wait_ready(5)
    assert wait_until(lambda: sorted(r.message_reference for r in reports) == [41, 42])
    assert wait_until(lambda: sim.modem.report_memory.used == 0)


def test_an_unreadable_stored_report_is_still_deleted(sim_factory, modem_factory):
    sim = sim_factory(reports_stored_only=True)
    modem = modem_factory(sim.url, on_status_report=lambda report: None)
    assert modem.wait_ready(5)
    index = sim.modem.report_memory.store("0006FF", 9)  # a report that does not decode
    sim.modem._lines(f'+CDSI: "SR",{index}')
    assert wait_until(lambda: f"AT+CMGD={index}" in sim.commands)
    assert sim.modem.report_memory.used == 0
    before = len(sim.commands)
    sim.modem._lines('+CDSI: "SR",7')  # nothing at 7 (a sweep took it): nothing to delete
    assert wait_until(lambda: "AT+CMGR=7" in sim.commands)
    modem.send_sms(NUMBER, "after")  # the channel still works
    assert "AT+CMGD=7" not in list(sim.commands)[before:]


def test_a_malformed_stored_report_announcement_sends_nothing(sim_factory, modem_factory):
    sim = sim_factory(reports_stored_only=True)
    modem = modem_factory(sim.url, on_status_report=lambda report: None)
    assert modem.wait_ready(5)
    assert wait_until(lambda: "AT+CMGL=4" in sim.commands)  # the sweep on connect is done
    before = len(sim.commands)
    sim.modem._lines('+CDSI: "SR",1;+CFUN=0', '+CDSI: "S"R",2', "+CDSI: SR")
    modem.send_sms(NUMBER, "after")  # the channel still works
    sent = list(sim.commands)[before:]
    assert not [c for c in sent if "CFUN" in c or "CMGR" in c or "CPMS" in c], sent


def test_stored_reports_stay_for_the_app_when_nobody_applies_them(sim_factory, modem_factory):
    # ``gsmbridge send`` (no report callback) must not take reports from the app.
    from datetime import UTC, datetime

    from gsmbridge.modem import pdu

    sim = sim_factory()
    sim.modem.report_memory.store(*pdu.encode_status_report(9, NUMBER, 0, when=datetime.now(UTC)))
    modem = modem_factory(sim.url)
    assert modem.wait_ready(5) and modem.incoming_swept.wait(5)
    modem.send_sms(NUMBER, "one")  # its report is stored and announced (+CDSI)
    assert wait_until(lambda: sim.modem.report_memory.used == 2)
    modem.send_sms(NUMBER, "two")
    assert sim.modem.report_memory.used >= 2
    assert not any(c.startswith(("AT+CMGD", "AT+CMGR")) for c in sim.commands)


def test_reboot_is_detected_and_modem_reinitialised(sim_factory, modem_factory):
    sim, modem = ready_modem(sim_factory, modem_factory, sim_options={"reboot_after": 1})
    modem.send_sms(NUMBER, "before reboot")
    assert wait_until(lambda: sim.modem.boots == 1)
    assert wait_until(lambda: sim.commands.count("AT+CMGF=0") == 2)
    assert modem.wait_ready(5)
    assert modem.send_sms(NUMBER, "after reboot").references == [1]


def test_status_reports_are_acknowledged_when_csms_1(sim_factory, modem_factory):
    reports = []
    sim = sim_factory(reports_inline_only=True)
    sim.modem.settings.csms = 1  # phase 2+ routing: the TE must send AT+CNMA
    modem = modem_factory(sim.url, on_status_report=reports.append)
    assert modem.wait_ready(5)
    modem.send_sms(NUMBER, "ack me")
    assert wait_until(lambda: reports and "AT+CNMA" in sim.commands)
