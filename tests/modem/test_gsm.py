"""The Modem end to end against the simulator, over socket:// and a pty: sending,
supervision, reconnects, the port."""

from __future__ import annotations

import threading
import time

import pytest

from gsmbridge.modem.errors import ModemError, ModemUnavailable
from tests.modem.conftest import TRANSPORTS, RecordingListener, ready_modem, wait_until

NUMBER = "+31612345678"


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


def test_a_lost_connection_does_not_keep_showing_the_old_signal(sim_factory, modem_factory):
    """Found by a reviewer: while "not connected" (and while the SIM wanted its PIN) the
    window, /api/status and /metrics still showed the last signal and "home"."""
    sim, modem = ready_modem(sim_factory, modem_factory)
    assert wait_until(lambda: modem.status.signal_dbm is not None)
    assert modem.status.registration == "home" and modem.status.iccid
    sim.stop()
    assert wait_until(lambda: modem.status.state != "ready")
    gone = modem.status
    assert gone.signal_dbm is None and gone.signal_bars == 0
    assert gone.registration == "" and gone.operator == ""
    assert gone.imei  # the device's identity is kept; the network's is not
