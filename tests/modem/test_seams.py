"""The driver's seams (issue 13.5): connection state, quirks table, SMS memory parsing."""

from __future__ import annotations

import time

import pytest

from gsmbridge.modem.connection import ReceivedMode, ReportsMode
from gsmbridge.modem.memory import StoredEntry, listing, parse_cmgr
from gsmbridge.modem.parsing import parse_pin_tries
from gsmbridge.modem.quirks import DEFAULT, PIN_TRIES_3GPP, quirks_for
from tests.modem.conftest import wait_until


@pytest.mark.parametrize(
    ("manufacturer", "model", "stored", "packed", "tries"),
    [
        ("SIMCOM_Ltd", "SIMCOM_SIM800L", False, False, "AT+SPIC"),
        ("SIMCOM_Ltd", "SIM800 R14.18", False, False, "AT+SPIC"),
        ("SIMCOM INCORPORATED", "SIMCOM_SIM7600E-H", True, False, "AT+SPIC"),
        ("huawei", "E173", True, True, "AT^CPIN?"),
        ("Huawei Technologies", "E1550", True, True, "AT^CPIN?"),
        ("huawei", "E3372", True, False, "AT^CPIN?"),
        ("Quectel", "EC25", True, False, 'AT+QPINC="SC"'),
        ("ZTE CORPORATION", "MF833V", True, False, "AT+ZPINPUK=?"),
        ("u-blox", "SARA-R410M", True, False, PIN_TRIES_3GPP),
        ("", "", True, False, PIN_TRIES_3GPP),
    ],
)
def test_quirks_table(manufacturer, model, stored, packed, tries):
    quirks = quirks_for(manufacturer, model)
    assert (quirks.stored_reports, quirks.ussd_packed, quirks.pin_tries) == (stored, packed, tries)
    assert (quirks is DEFAULT) == (tries == PIN_TRIES_3GPP)


@pytest.mark.parametrize(
    ("lines", "tries"),
    [
        (["+CPINR: SIM PIN,2,3", "OK"], 2),
        (['+CPINR: "SIM PIN2",3,3', "+CPINR: SIM PIN,1,3"], 1),
        (['+QPINC: "SC",3,10', '+QPINC: "P2",3,10'], 3),
        (['+QPINC: "P2",1,10'], None),  # PIN2's counter is not the SIM's PIN
        (["+SPIC: 2,10,3,10"], 2),
        (["^CPIN: SIM PIN,3,10,3,10,3"], 3),
        (["^CPIN: READY,,10,1,10,3"], 1),
        (["+ZPINPUK: 3,10"], 3),
        (["+CPINR: SIM PIN,x,3"], None),
        (["+CPINR: SIM PIN,99,3"], None),  # not a PIN counter: say nothing rather
        (["ERROR"], None),
        ([], None),
    ],
)
def test_pin_tries_in_each_maker_s_words(lines, tries):
    assert parse_pin_tries(lines) == tries


def test_cmgr_is_parsed_in_one_place():
    lines = ["+CMGR: 0,,24", "0791AABB", "OK"]
    assert parse_cmgr(lines, "SR", 3) == StoredEntry("SR", 3, "24", "0791AABB")
    assert parse_cmgr(["+CMGR: 0,,24"], "SM", 1) is None  # no PDU line
    assert parse_cmgr([], "SM", 1) is None


def test_cmgl_listing_skips_malformed_entries():
    lines = ["+CMGL: 1,0,,24", "00AA", "+CMGL: 2,1,,x", "00BB", "+CMGL: 3,1,,20", "+CMGL: 4,1,,9"]
    assert listing(lines) == [(1, 0, "24", "00AA")]


def test_a_sim800_is_not_asked_for_stored_reports(sim_factory, modem_factory):
    # The quirks table knows SIM800 rejects ds=2: no wasted probe, inline reports.
    sim = sim_factory(manufacturer="SIMCOM_Ltd", model="SIMCOM_SIM800L", reports_inline_only=True)
    modem = modem_factory(sim.url, on_status_report=lambda _r: None)
    assert modem.wait_ready(5)
    state = modem.connection
    assert state is not None and state.quirks.name == "SIMCom SIM800 family"
    assert state.reports is ReportsMode.INLINE and state.received is ReceivedMode.ANNOUNCED
    assert not any(c.startswith("AT+CNMI=") and c.endswith(",2,0") for c in sim.commands)
    assert modem.status.extra["status_reports"] == "inline"


def test_connection_state_is_made_per_initialisation(sim_factory, modem_factory):
    # A restart makes the firmware forget its settings: the facts are found again, in
    # a new state object; the one of the old connection is not reused.
    sim = sim_factory(reboot_downtime_s=0.0, boot_trail_s=0.2)
    modem = modem_factory(sim.url)
    assert modem.wait_ready(5)
    first = modem.connection
    assert first is not None and first.initialised and first.reports is ReportsMode.STORED
    sim.modem._reboot()
    assert wait_until(lambda: modem.initialisations == 2 and modem.status.ready, 10)
    second = modem.connection
    assert second is not None and second is not first and second.initialised
    modem.stop()
    assert modem.connection is None


def test_a_report_refused_for_now_is_kept_and_swept_at_the_next_poll(sim_factory, modem_factory):
    # +CDSI announced just as the modem restarts: its SMS side refuses AT+CPMS/AT+CMGR
    # for a moment.  The report is not deleted unread (it was, before); the next status
    # poll reads it.
    from datetime import UTC, datetime

    from gsmbridge.modem import pdu

    reports = []
    sim = sim_factory(reports_stored_only=True)
    modem = modem_factory(sim.url, on_status_report=reports.append, poll_interval_s=60.0)
    assert modem.wait_ready(5) and modem.incoming_swept.wait(5)
    index = sim.modem.report_memory.store(
        *pdu.encode_status_report(77, "+31612345678", 0, when=datetime.now(UTC))
    )
    sim.modem.sms_ready = False  # "operation not allowed" to SMS commands
    sim.modem._lines(f'+CDSI: "SR",{index}')
    assert wait_until(lambda: f"AT+CMGR={index}" in sim.commands or 'AT+CPMS="SR"' in sim.commands)
    time.sleep(0.3)
    assert reports == [] and sim.modem.report_memory.used == 1  # kept, not deleted
    assert f"AT+CMGD={index}" not in sim.commands
    sim.modem.sms_ready = True
    modem.request_poll()
    assert wait_until(lambda: [r.message_reference for r in reports] == [77], 5)
    assert wait_until(lambda: sim.modem.report_memory.used == 0)


def test_modem_state_is_an_enum_and_a_typo_fails_loudly() -> None:
    """Issue 15.3: states are ModemState members (still equal to their wire strings for
    JSON and old callers); set_status refuses a state that does not exist."""
    import pytest as _pytest

    from gsmbridge.modem.gsm import Modem, ModemOptions
    from gsmbridge.modem.status import ModemState

    modem = Modem("COM9", ModemOptions())
    modem.set_status(state="pin-required")
    assert modem.status.state is ModemState.PIN_REQUIRED and modem.status.state == "pin-required"
    with _pytest.raises(ValueError):
        modem.set_status(state="redy")
    assert modem.status.state is ModemState.PIN_REQUIRED
