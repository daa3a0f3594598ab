"""The Modem end to end against the simulator, over socket:// and a pty."""

from __future__ import annotations

import threading
import time

import pytest

from gsmbridge.modem import parsing
from gsmbridge.modem.errors import ModemError, ModemUnavailable
from gsmbridge.modem.setup import PIN_REJECTED
from tests.modem.conftest import TRANSPORTS, RecordingListener, wait_until

NUMBER = "+31612345678"


@pytest.fixture(params=TRANSPORTS)
def transport(request) -> str:
    return request.param


def ready_modem(sim_factory, modem_factory, transport="tcp", sim_options=None, **options):
    sim = sim_factory(transport, **(sim_options or {}))
    modem = modem_factory(sim.url, **options)
    assert modem.wait_ready(5), modem.status
    return sim, modem


def test_init_and_send(sim_factory, modem_factory, transport):
    listener = RecordingListener()
    sim, modem = ready_modem(sim_factory, modem_factory, transport, listener=listener)
    status = modem.status
    assert (status.state, status.registration, status.sim) == ("ready", "home", "READY")
    assert (status.manufacturer, status.model) == ("gsmbridge", "Simulated GSM modem")
    assert status.imei == "356938035643809" and status.imsi == "001010123456789"
    assert status.iccid == "8900101234567890123" and status.smsc == "+31653131313"
    assert status.operator == "Simulated" and -113 <= status.signal_dbm <= -51
    assert 1 <= status.signal_bars <= 5 and status.extra["status_reports"] == "stored"
    assert listener.states()[0] == "connecting" and listener.states()[-1] == "ready"

    result = modem.send_sms(NUMBER, "Hello from gsmbridge")
    assert (result.encoding, result.parts, result.truncated) == ("gsm7", 1, False)
    assert result.references == [0] and result.text_sent == "Hello from gsmbridge"
    [sent] = sim.wait_for_messages(1)
    assert (sent.number, sent.text, sent.references) == (NUMBER, "Hello from gsmbridge", [0])
    for command in ("ATE0", "AT+CMEE=1", "AT+CMGF=0", "AT+CNMI=2,1,0,2,0"):
        assert command in sim.commands


def test_configured_pin_is_entered_once(sim_factory, modem_factory):
    sim, modem = ready_modem(sim_factory, modem_factory, sim_options={"pin": "2468"}, pin="2468")
    assert sim.pin_attempts == ["2468"]
    assert modem.send_sms(NUMBER, "after PIN").references == [0]


def test_wrong_pin_is_never_retried(sim_factory, modem_factory, transport):
    sim = sim_factory(transport, pin="2468")
    modem = modem_factory(sim.url, pin="0000")
    assert wait_until(lambda: modem.status.state == "pin-required")
    assert modem.status.last_error == PIN_REJECTED
    assert "3 wrong PINs lock the SIM" in modem.status.last_error
    with pytest.raises(ModemUnavailable):
        modem.send_sms(NUMBER, "locked")
    modem.reconnect()  # a fresh connection must not try the rejected PIN again
    assert wait_until(lambda: sim.commands.count("AT+CPIN?") >= 2)
    assert wait_until(lambda: modem.status.state == "pin-required")
    assert sim.pin_attempts == ["0000"]
    modem.enter_pin("2468")  # the user types the right one
    assert modem.wait_ready(5)
    assert sim.pin_attempts == ["0000", "2468"]


def test_pin_required_without_pin_then_user_enters_it(sim_factory, modem_factory):
    sim = sim_factory(pin="1111", sim_busy_after_pin=2)
    modem = modem_factory(sim.url)
    assert wait_until(lambda: modem.status.state == "pin-required")
    assert sim.pin_attempts == [] and "enter the PIN" in modem.status.last_error
    with pytest.raises(ValueError):
        modem.enter_pin("12ab")
    modem.enter_pin("1111")
    assert modem.wait_ready(5)  # through two "SIM busy" answers
    assert sim.pin_attempts == ["1111"]


def test_puk_required(sim_factory, modem_factory):
    sim = sim_factory(pin="1111")
    sim.modem.sim.state = "SIM PUK"
    modem = modem_factory(sim.url, pin="1111")
    assert wait_until(lambda: modem.status.state == "puk-required")
    assert "PUK" in modem.status.last_error and sim.pin_attempts == []


def test_late_registration(sim_factory, modem_factory, transport):
    listener = RecordingListener()
    sim = sim_factory(transport, register_delay_s=0.8)
    modem = modem_factory(
        sim.url, listener=listener, register_timeout_s=0.3, poll_interval_s=1.0
    )  # polls every 0.2 s while searching
    assert wait_until(lambda: modem.status.state == "searching")
    with pytest.raises(ModemUnavailable):
        modem.send_sms(NUMBER, "too early")
    assert modem.wait_ready(5)
    states = listener.states()
    assert states.index("searching") < states.index("ready")
    assert any("still trying" in s.last_error for s in listener.statuses)
    assert modem.status.last_error == ""


def test_registration_denied(sim_factory, modem_factory):
    sim = sim_factory(registration=3)
    modem = modem_factory(sim.url)
    assert wait_until(lambda: modem.status.state == "denied")
    assert modem.status.registration == "denied"


@pytest.mark.parametrize(
    "code, transient", [(42, True), (332, True), (500, True), (21, False), (304, False), (1, False)]
)
def test_cms_errors_are_classified(sim_factory, modem_factory, code, transient):
    sim, modem = ready_modem(
        sim_factory, modem_factory, sim_options={"cms_error_every": 2, "cms_error_code": code}
    )
    modem.send_sms(NUMBER, "first")
    with pytest.raises(ModemError) as info:
        modem.send_sms(NUMBER, "second")
    assert (info.value.kind, info.value.code, info.value.transient) == ("cms", code, transient)
    assert not isinstance(info.value, ModemUnavailable)
    assert modem.send_sms(NUMBER, "third").references == [1]
    assert [m.text for m in sim.sent] == ["first", "third"]


def test_no_network_service_means_unavailable(sim_factory, modem_factory):
    _sim, modem = ready_modem(
        sim_factory, modem_factory, sim_options={"cms_error_every": 1, "cms_error_code": 331}
    )
    with pytest.raises(ModemUnavailable) as info:
        modem.send_sms(NUMBER, "x")
    assert info.value.code == 331


def test_dropped_connection_then_reconnect(sim_factory, modem_factory):
    listener = RecordingListener()
    sim, modem = ready_modem(
        sim_factory, modem_factory, sim_options={"drop_every": 2}, listener=listener
    )
    modem.send_sms(NUMBER, "one")
    started = time.monotonic()
    with pytest.raises(ModemUnavailable) as info:
        modem.send_sms(NUMBER, "two")
    assert time.monotonic() - started < 1.5  # no waiting for the send timeout
    assert info.value.maybe_sent
    assert wait_until(lambda: sim.connections == 2) and modem.wait_ready(5)
    modem.send_sms(NUMBER, "three")
    assert [m.text for m in sim.sent] == ["one", "three"]
    assert "disconnected" in listener.states() or "connecting" in listener.states()[2:]


def test_silent_modem_on_pty_times_out_then_resyncs(sim_factory, modem_factory):
    transport = TRANSPORTS[-1]
    _sim, modem = ready_modem(
        sim_factory, modem_factory, transport, sim_options={"drop_every": 2}, send_timeout_s=0.5
    )
    modem.send_sms(NUMBER, "one")
    if transport == "pty":
        with pytest.raises(ModemError) as info:
            modem.send_sms(NUMBER, "two")
        assert info.value.kind == "timeout" and info.value.maybe_sent
    else:
        with pytest.raises(ModemUnavailable):
            modem.send_sms(NUMBER, "two")
        assert modem.wait_ready(5)
    assert modem.send_sms(NUMBER, "three").references == [1]


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


def test_multipart_reassembled_with_cmms(sim_factory, modem_factory, transport):
    sim, modem = ready_modem(sim_factory, modem_factory, transport)
    parts_seen: list[tuple[int, int]] = []
    text = "Long message " * 30 + "€"
    result = modem.send_sms(NUMBER, text, on_part_sent=lambda seq, mr: parts_seen.append((seq, mr)))
    assert result.parts == 3 and result.references == [0, 1, 2]
    assert parts_seen == [(1, 0), (2, 1), (3, 2)]
    [sent] = sim.wait_for_messages(1)
    assert sent.text == text and sent.parts == 3 and sent.encoding == "gsm7"
    commands = sim.commands
    assert commands.index("AT+CMMS=2") < commands.index("AT+CMMS=0")


def test_resume_from_part_two_sends_only_the_rest(sim_factory, modem_factory):
    sim, modem = ready_modem(sim_factory, modem_factory)
    text = "x" * 400  # 3 parts
    seen: list[int] = []
    result = modem.send_sms(
        NUMBER, text, concat_ref=77, first_part=2, on_part_sent=lambda seq, mr: seen.append(seq)
    )
    assert result.parts == 3 and len(result.references) == 2 and result.first_part == 2
    assert seen == [2, 3]
    assert [(p.seq, p.concat_ref) for p in sim.parts] == [(2, 77), (3, 77)]
    assert sim.sent == []  # part 1 went out "before the crash", elsewhere
    with pytest.raises(ValueError):
        modem.send_sms(NUMBER, text, first_part=2)  # resuming needs the original ref


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


def test_polling_publishes_status_and_skips_sends(sim_factory, modem_factory):
    listener = RecordingListener()
    sim, modem = ready_modem(
        sim_factory,
        modem_factory,
        sim_options={"send_latency_s": 0.05},
        listener=listener,
        poll_interval_s=0.1,
    )
    polls = sim.commands.count("AT+CSQ")
    assert wait_until(lambda: sim.commands.count("AT+CSQ") >= polls + 2, 3)
    assert any(s.signal_dbm is not None and s.ready for s in listener.statuses)
    before = len(sim.commands)
    for i in range(4):
        modem.send_sms(NUMBER, f"burst {i}", more_to_come=i < 3)
    sends = [i for i, c in enumerate(sim.commands) if i >= before and c.startswith("AT+CMGS")]
    assert len(sends) == 4
    assert "AT+CSQ" not in sim.commands[sends[0] : sends[-1]]
    assert "AT+CMMS=2" in sim.commands[before : sends[0]]


def test_stop_is_prompt_while_a_send_waits(sim_factory, modem_factory):
    sim, modem = ready_modem(
        sim_factory, modem_factory, sim_options={"send_latency_s": 30}, send_timeout_s=60
    )
    errors: list[BaseException] = []

    def send() -> None:
        try:
            modem.send_sms(NUMBER, "never answered")
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            errors.append(exc)

    thread = threading.Thread(target=send)
    thread.start()
    assert wait_until(lambda: any(c.startswith("AT+CMGS") for c in sim.commands))
    time.sleep(0.05)
    started = time.monotonic()
    modem.stop()
    thread.join(2)
    assert time.monotonic() - started < 2
    assert not thread.is_alive()
    assert isinstance(errors[0], ModemUnavailable) and errors[0].maybe_sent
    assert modem.status.state == "disconnected"


def test_missing_port_is_unavailable_not_hanging(modem_factory):
    modem = modem_factory("socket://127.0.0.1:1")
    assert wait_until(lambda: "cannot open" in modem.status.last_error)
    started = time.monotonic()
    with pytest.raises(ModemUnavailable):
        modem.send_sms(NUMBER, "nowhere")
    assert time.monotonic() - started < 0.5
    assert not modem.wait_ready(0.1)


def test_reboot_is_detected_and_modem_reinitialised(sim_factory, modem_factory):
    sim, modem = ready_modem(sim_factory, modem_factory, sim_options={"reboot_after": 1})
    modem.send_sms(NUMBER, "before reboot")
    assert wait_until(lambda: sim.modem.boots == 1)
    assert wait_until(lambda: sim.commands.count("AT+CMGF=0") == 2)
    assert modem.wait_ready(5)
    assert modem.send_sms(NUMBER, "after reboot").references == [1]


def test_invalid_number_writes_nothing(sim_factory, modem_factory):
    sim, modem = ready_modem(sim_factory, modem_factory)
    for bad in ("+31 6-1234", "", "+123456789012345678901", "call me"):
        with pytest.raises(ModemError) as info:
            modem.send_sms(bad, "x")
        assert info.value.kind == "input" and not info.value.transient
    assert not any(c.startswith("AT+CMGS") for c in sim.commands)


def test_concat_refs_differ_between_messages(sim_factory, modem_factory):
    sim, modem = ready_modem(sim_factory, modem_factory)
    first = modem.send_sms(NUMBER, "a" * 200)
    second = modem.send_sms(NUMBER, "b" * 200)
    assert first.concat_ref != second.concat_ref
    assert second.concat_ref == (first.concat_ref + 1) & 0xFF
    assert len(sim.wait_for_messages(2)) == 2


def test_rejection_message_survives_reconnects(sim_factory, modem_factory):
    sim = sim_factory(pin="2468")
    modem = modem_factory(sim.url, pin="1357")
    assert wait_until(lambda: modem.status.state == "pin-required")
    modem.reconnect()
    assert wait_until(lambda: sim.commands.count("AT+CPIN?") >= 2)
    assert wait_until(lambda: modem.status.state == "pin-required")
    assert modem.status.last_error == PIN_REJECTED and sim.pin_attempts == ["1357"]


def test_configured_pin_that_is_not_digits_is_never_sent(sim_factory, modem_factory):
    sim = sim_factory(pin="2468")
    modem = modem_factory(sim.url, pin='24"68')
    assert wait_until(lambda: modem.status.state == "pin-required")
    assert "not 4 to 8 digits" in modem.status.last_error and sim.pin_attempts == []


def test_status_reports_are_acknowledged_when_csms_1(sim_factory, modem_factory):
    reports = []
    sim = sim_factory(reports_inline_only=True)
    sim.modem.settings.csms = 1  # phase 2+ routing: the TE must send AT+CNMA
    modem = modem_factory(sim.url, on_status_report=reports.append)
    assert modem.wait_ready(5)
    modem.send_sms(NUMBER, "ack me")
    assert wait_until(lambda: reports and "AT+CNMA" in sim.commands)


def test_repeated_timeouts_reopen_the_port(sim_factory, modem_factory):
    transport = TRANSPORTS[-1]  # on a pty, drop_every makes the modem go silent
    sim, modem = ready_modem(
        sim_factory,
        modem_factory,
        transport,
        sim_options={"drop_every": 1},
        send_timeout_s=0.3,
        max_timeouts=2,
    )
    for _ in range(2):
        with pytest.raises(ModemError):
            modem.send_sms(NUMBER, "into the void")
    assert wait_until(lambda: sim.commands.count("AT+CMGF=0") == 2)  # re-initialised
    assert modem.wait_ready(5)


def test_modem_found_by_imei(sim_factory, modem_factory):
    other = sim_factory("tcp", imei="111111111111116")
    sim = sim_factory(TRANSPORTS[-1], imei="490154203237518")
    modem = modem_factory(
        "imei:490154203237518", candidate_ports=[other.url, "socket://127.0.0.1:1", sim.url]
    )
    assert modem.wait_ready(8)
    assert modem.status.extra["device"] == sim.url and modem.status.imei == "490154203237518"
    modem.send_sms(NUMBER, "found you")
    assert [m.text for m in sim.wait_for_messages(1)] == ["found you"] and other.sent == []


@pytest.mark.parametrize(
    "lines, rssi, dbm, bars",
    [
        (["+CSQ: 18,99"], 18, -77, 4),
        (["+CSQ:4,0"], 4, -105, 1),
        (["+CSQ: 99,99"], None, None, 0),
        (["+CSQ: 31,0"], 31, -51, 5),
        ([], None, None, 0),
    ],
)
def test_parse_signal(lines, rssi, dbm, bars):
    assert parsing.parse_csq(lines) == rssi
    assert parsing.rssi_to_dbm(rssi) == dbm and parsing.signal_bars(rssi) == bars


@pytest.mark.parametrize(
    "lines, urc, stat",
    [
        (["+CREG: 0,1"], False, 1),
        (['+CREG: 2,5,"00C3","0000E9A0",7'], False, 5),
        (["+CREG: 3"], True, 3),
        (["+CREG: 1, E006B, ABE0016"], True, 1),
        (["junk", "+CREG: 1,2"], False, 2),
    ],
)
def test_parse_registration(lines, urc, stat):
    assert parsing.parse_registration(lines, urc=urc) == stat


def test_parse_identity_and_operator():
    assert parsing.parse_identity(["+CGMI: ZTE CORPORATION"], "AT+CGMI") == "ZTE CORPORATION"
    assert parsing.parse_identity([" WAVECOM MODEM"], "AT+CGMI") == "WAVECOM MODEM"
    assert parsing.parse_identity(["^RSSI:5", "huawei"], "AT+CGMI") == "huawei"
    assert (
        parsing.parse_digits(["+CCID: 8931440400012345678F"], "AT+CCID", 18, 22)
        == "8931440400012345678"
    )
    assert parsing.parse_digits(["IMEI: 356938035643809"], "AT+CGSN", 14, 17) == "356938035643809"
    assert parsing.parse_cops(['+COPS: 0,0,"I OMNITEL"']) == "I OMNITEL"
    assert parsing.parse_cops(["+COPS: 0"]) == ""
    assert parsing.parse_cpin(["+CPIN: SIM PIN"]) == "SIM PIN"
    assert parsing.parse_csca(['+CSCA: "",145']) == ""
