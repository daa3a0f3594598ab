"""The simulator's AT protocol, spoken directly through pyserial (no AtChannel)."""

from __future__ import annotations

import re
import time

import pytest
import serial

from gsmbridge.modem import pdu
from gsmbridge.modem.ports import close_port
from gsmbridge.simulator import ModemSimulator, SimulatorOptions, fast_options
from gsmbridge.simulator import modem as sim_modem
from gsmbridge.simulator.state import Scheduler
from tests.modem.conftest import TRANSPORTS, wait_until

FINAL = re.compile(rb"\r\n(OK|ERROR|\+CM[ES] ERROR: [^\r]*)\r\n")


def read_until(
    port: serial.SerialBase,
    pattern: re.Pattern[bytes] | bytes,
    timeout: float = 5.0,
    data: bytes = b"",
) -> bytes:
    """Read until ``pattern`` is in ``data`` plus what arrives; return all of it (what
    came after the match too: a URC may ride in the same chunk)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        data += port.read(port.in_waiting or 1)
        if pattern.search(data) if isinstance(pattern, re.Pattern) else pattern in data:
            return data
    raise AssertionError(f"no {pattern!r} in {data!r}")


def talk(port: serial.SerialBase, command: str) -> str:
    port.write(command.encode() + b"\r")
    return read_until(port, FINAL).decode("ascii", "replace")


@pytest.fixture(params=TRANSPORTS)
def open_sim(request, sim_factory):
    ports: list[serial.SerialBase] = []

    def make(**options: object) -> tuple[ModemSimulator, serial.SerialBase]:
        sim = sim_factory(request.param, **options)
        port = serial.serial_for_url(sim.url, timeout=0.05)
        ports.append(port)
        return sim, port

    yield make
    for port in ports:
        close_port(port)


def test_echo_until_ate0(open_sim):
    _sim, port = open_sim()
    assert talk(port, "AT").startswith("AT\r")
    assert talk(port, "ATE0").startswith("ATE0\r")
    assert talk(port, "AT") == "\r\nOK\r\n"
    assert talk(port, "AT+NOSUCH") == "\r\nERROR\r\n"


def test_pin_flow(open_sim):
    sim, port = open_sim(pin="1234", echo=False)
    talk(port, "AT+CMEE=1")
    assert "+CPIN: SIM PIN" in talk(port, "AT+CPIN?")
    assert "+CME ERROR: 11" in talk(port, "AT+CSCA?")
    assert "+CME ERROR: 16" in talk(port, 'AT+CPIN="0000"')
    assert "OK" in talk(port, 'AT+CPIN="1234"')
    assert "+CPIN: READY" in talk(port, "AT+CPIN?")
    assert sim.pin_attempts == ["0000", "1234"]


def test_three_wrong_pins_need_the_puk(open_sim):
    _sim, port = open_sim(pin="1234", echo=False)
    talk(port, "AT+CMEE=2")
    for _ in range(3):
        assert "+CME ERROR: incorrect password" in talk(port, 'AT+CPIN="9999"')
    assert "+CPIN: SIM PUK" in talk(port, "AT+CPIN?")
    assert "OK" in talk(port, 'AT+CPIN="12345678","4321"')
    assert "+CPIN: READY" in talk(port, "AT+CPIN?")


def test_late_registration_then_creg_urc(open_sim):
    _sim, port = open_sim(echo=False, register_delay_s=0.3)
    assert "+CREG: 0,2" in talk(port, "AT+CREG?")
    talk(port, "AT+CREG=1")
    assert b"+CREG: 1\r\n" in read_until(port, b"+CREG: 1\r\n", 2)
    assert "+CREG: 1,1" in talk(port, "AT+CREG?")
    assert '"Simulated"' in talk(port, "AT+COPS?")


def _submit(port: serial.SerialBase, part: pdu.SubmitPart, length: int | None = None) -> str:
    port.write(f"AT+CMGS={length or part.tpdu_length}\r".encode())
    read_until(port, b"> ")
    port.write(part.pdu.encode() + b"\x1a")
    return read_until(port, FINAL).decode()


def test_cmgs_length_is_checked(open_sim):
    sim, port = open_sim(echo=False)
    talk(port, "AT+CMEE=1")
    assert "+CMS ERROR: 302" in talk(port, "AT+CMGS=20")  # still in text mode
    talk(port, "AT+CMGF=0")
    part = pdu.encode_submit("+31612345678", "hi").parts[0]
    assert "+CMS ERROR: 304" in _submit(port, part, part.tpdu_length + 1)
    assert "+CMGS: 0" in _submit(port, part)
    assert "+CMGS: 1" in _submit(port, part)
    assert [m.text for m in sim.sent] == ["hi", "hi"]


def test_esc_aborts_without_sending(open_sim):
    sim, port = open_sim(echo=False)
    talk(port, "AT+CMGF=0")
    port.write(b"AT+CMGS=20\r")
    read_until(port, b"> ")
    port.write(b"0011\x1b")
    read_until(port, FINAL)
    assert talk(port, "AT") == "\r\nOK\r\n"
    assert sim.sent == [] and sim.parts == []


def test_status_report_and_mr_wrap(open_sim):
    sim, port = open_sim(echo=False, report_fail_every=2)
    sim.modem._mr = 255
    talk(port, "AT+CMGF=0")
    talk(port, "AT+CNMI=2,1,0,1,0")
    part = pdu.encode_submit("+31612345678", "hi", status_report=True).parts[0]
    # Keep every byte: the first report may come while the second is being sent
    # (the test's thread was slow to type it), inside the answers read for it.
    seen = b""
    for mr in (255, 0):
        port.write(f"AT+CMGS={part.tpdu_length}\r".encode())
        seen += read_until(port, b"> ")
        port.write(part.pdu.encode() + b"\x1a")
        seen += read_until(port, FINAL)
        assert f"+CMGS: {mr}\r\n".encode() in seen
    data = read_until(port, re.compile(rb"(\+CDS: \d+\r\n[0-9A-F]+\r\n.*){2}", re.S), data=seen)
    reports = [
        pdu.decode_status_report(h.decode(), tpdu_length=int(n))
        for n, h in re.findall(rb"\+CDS: (\d+)\r\n([0-9A-F]+)\r\n", data)
    ]
    assert [(r.message_reference, r.delivered) for r in reports] == [(255, True), (0, False)]


def test_registered_at_once_however_slow_its_clock_thread(open_sim, monkeypatch):
    # The race behind a flaky test_status_report_and_mr_wrap[pty]: registration
    # (delay 0) ran on the simulator's clock thread, and a test that typed AT+CMGS
    # before that thread got the CPU was answered ERROR (CMS 331, not registered).
    class StarvedScheduler(Scheduler):
        def schedule(self, delay: float, func) -> None:
            super().schedule(delay + 2.0, func)

    monkeypatch.setattr(sim_modem, "Scheduler", StarvedScheduler)
    _sim, port = open_sim(echo=False)
    talk(port, "AT+CMGF=0")
    part = pdu.encode_submit("+31612345678", "hi").parts[0]
    assert "+CMGS: 0" in _submit(port, part)


def test_multipart_reassembly_and_cms_error_every(open_sim):
    sim, port = open_sim(echo=False, cms_error_every=3, cms_error_code=42)
    talk(port, "AT+CMEE=1")
    talk(port, "AT+CMGF=0")
    message = pdu.encode_submit("+31612345678", "x" * 200, concat_ref=9)
    for part in message.parts:
        assert "+CMGS:" in _submit(port, part)
    assert "+CMS ERROR: 42" in _submit(port, message.parts[0])
    [sent] = sim.sent
    assert (sent.text, sent.parts, sent.references) == ("x" * 200, 2, [0, 1])


def test_drop_every_closes_the_tcp_connection_and_keeps_listening(sim_factory):
    sim = sim_factory("tcp", echo=False, drop_every=1)
    port = serial.serial_for_url(sim.url, timeout=0.05)
    talk(port, "AT+CMGF=0")
    part = pdu.encode_submit("+31612345678", "hi").parts[0]
    port.write(f"AT+CMGS={part.tpdu_length}\r".encode())
    read_until(port, b"> ")
    port.write(part.pdu.encode() + b"\x1a")
    with pytest.raises(serial.SerialException):
        read_until(port, FINAL, 2)
    close_port(port)
    again = serial.serial_for_url(sim.url, timeout=0.05)
    try:
        assert talk(again, "AT") == "\r\nOK\r\n"
        assert sim.connections == 2
    finally:
        close_port(again)


def test_reboot_after_sends_boot_urcs_and_resets(open_sim):
    sim, port = open_sim(echo=False, reboot_after=1)
    talk(port, "AT+CMGF=0")
    _submit(port, pdu.encode_submit("+31612345678", "hi").parts[0])
    read_until(port, b"SMS Ready")
    assert sim.modem.boots == 1
    assert "+CMGF: 1" in talk(port, "AT+CMGF?")  # settings are back to power-on values


def test_urc_spam(open_sim):
    _sim, port = open_sim(urc_spam=0.02)
    spam = re.compile(rb"\^(RSSI|MODE|BOOT|DSFLOWRPT|SRVST):[^\r]*\r\n")
    assert spam.search(read_until(port, spam, 2))


def test_on_message_callback_and_defaults():
    got = []
    options = SimulatorOptions()
    assert options.echo and options.send_latency_s > 0 and options.cms_error_code == 500
    sim = ModemSimulator(fast_options(echo=False), on_message=got.append)
    sim.serve_tcp()
    try:
        port = serial.serial_for_url(sim.url, timeout=0.05)
        talk(port, "AT+CMGF=0")
        _submit(port, pdu.encode_submit("12345", "ünïcødé ☃").parts[0])
        assert wait_until(lambda: got)
        assert got[0].encoding == "ucs2" and got[0].text == "ünïcødé ☃"
        assert got[0].number == "12345"
        close_port(port)
    finally:
        sim.stop()
