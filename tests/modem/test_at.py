"""The AT channel against a scripted peer over socket:// (real pyserial, real threads)."""

from __future__ import annotations

import threading
import time

import pytest
import serial

from gsmbridge.modem.at import AtChannel
from gsmbridge.modem.errors import ConnectionLost, ModemError
from tests.modem.conftest import wait_until

OK = b"\r\nOK\r\n"
PDU = "0011000B911326880736F40000A70568656C6C6F"  # any hex will do for the peer


def test_echo_on_is_dropped(peer_factory, channel_factory):
    peer = peer_factory({"AT+CSQ": b"\r\n+CSQ: 18,99\r\n" + OK, "ATE0": OK}, echo=True)
    channel, _ = channel_factory(peer.url)
    assert channel.command("AT+CSQ") == ["+CSQ: 18,99"]
    assert channel.command("ATE0") == []


def test_double_echo_is_dropped(peer_factory, channel_factory):
    peer = peer_factory({"ATE0": b"ATE0\rATE0\r" + OK})
    channel, _ = channel_factory(peer.url)
    assert channel.command("ATE0") == []


@pytest.mark.parametrize(
    "answer",
    [
        b"\r\r\n+CGMI: ZTE CORPORATION\r\r\n\r\r\nOK\r\r\n",  # ZTE/Huawei line ends
        b"\r+CGMI: ZTE CORPORATION\rOK\r",  # bare CR
        b"+CGMI: ZTE CORPORATION\nOK\n",  # bare LF
    ],
)
def test_line_endings(peer_factory, channel_factory, answer):
    peer = peer_factory({"AT+CGMI": answer})
    channel, _ = channel_factory(peer.url)
    assert channel.command("AT+CGMI") == ["+CGMI: ZTE CORPORATION"]


def test_urcs_inside_a_response_go_to_the_callback(peer_factory, channel_factory):
    answer = (
        b'\r\n^RSSI:17\r\n\r\n+CSQ: 18,99\r\n\r\n+CMTI: "SM",3\r\n\r\n+CREG: 1\r\n\r\nRING\r\n' + OK
    )
    peer = peer_factory({"AT+CSQ": answer})
    channel, urcs = channel_factory(peer.url)
    assert channel.command("AT+CSQ") == ["+CSQ: 18,99"]
    assert [u.name for u in urcs] == ["^RSSI", "+CMTI", "+CREG", "RING"]


def test_creg_answer_and_urc_told_apart(peer_factory, channel_factory):
    peer = peer_factory({"AT+CREG?": b"\r\n+CREG: 1, E006B, ABE0016\r\n\r\n+CREG: 1,5\r\n" + OK})
    channel, urcs = channel_factory(peer.url)
    assert channel.command("AT+CREG?") == ["+CREG: 1,5"]
    assert [u.line for u in urcs] == ["+CREG: 1, E006B, ABE0016"]


def test_two_line_cds_urc_is_not_an_answer(peer_factory, channel_factory):
    report = b"\r\n+CDS: 25\r\n0006000B911326880736F4621152215404006211522154040000\r\n"
    peer = peer_factory({"AT+CSQ": b"\r\n+CSQ: 9,0\r\n" + report + OK})
    channel, urcs = channel_factory(peer.url)
    assert channel.command("AT+CSQ") == ["+CSQ: 9,0"]
    assert urcs[0].name == "+CDS" and urcs[0].pdu and urcs[0].pdu.startswith("0006")


def test_unsolicited_lines_between_commands(peer_factory, channel_factory):
    peer = peer_factory({"AT": OK})
    channel, urcs = channel_factory(peer.url)
    channel.command("AT")
    peer.send(b'\r\n+CMTI: "SM",1\r\n\r\nSMS Ready\r\n\r\nsome stray line\r\n')
    assert wait_until(lambda: len(urcs) == 2)
    assert channel.command("AT") == []


@pytest.mark.parametrize("prompt", [b"\r\n> ", b"\r\n>", b"\r\n>\r\n", b"> "])
def test_cmgs_prompt_variants_and_urcs_before_the_answer(peer_factory, channel_factory, prompt):
    peer = peer_factory(
        {
            "AT+CMGS=19": b'\r\n+ZPASR: "UMTS"\r\n' + prompt,
            "PDU": (
                b'\r\n+ZDONR: "METEOR",272,3,"CS_ONLY","ROAM_OFF"\r\n^RSSI:20\r\n'
                b"\r\n+CMGS: 7\r\n" + OK
            ),
        }
    )
    channel, urcs = channel_factory(peer.url)
    assert channel.send_pdu(19, PDU, prompt_timeout=2, timeout=2) == 7
    assert peer.commands == ["AT+CMGS=19", "PDU:" + PDU]
    assert {u.name for u in urcs} == {"+ZPASR", "+ZDONR", "^RSSI"}


def test_cmgs_with_echo_of_command_and_pdu(peer_factory, channel_factory):
    def script(cmd: str) -> bytes:
        if cmd.startswith("AT+CMGS"):
            return b"\r\n> "
        return PDU.encode() + b"\r\n+CMGS: 255\r\n" + OK  # the modem echoes the PDU

    peer = peer_factory(script, echo=True)
    channel, _ = channel_factory(peer.url)
    assert channel.send_pdu(19, PDU, prompt_timeout=2, timeout=2) == 255


@pytest.mark.parametrize(
    "line, kind, code, transient",
    [
        (b"+CME ERROR: 14", "cme", 14, True),
        (b"+CME ERROR: SIM busy", "cme", 14, True),
        (b"+CMS ERROR: 304", "cms", 304, False),
        (b"+CMS ERROR: network timeout", "cms", 332, True),
        (b"+CMS ERROR:", "cms", 500, True),
        (b"COMMAND NOT SUPPORT", "cme", 4, False),
        (b"ERROR", "cme", None, True),
        (b"NO CARRIER", "protocol", None, True),
    ],
)
def test_error_results(peer_factory, channel_factory, line, kind, code, transient):
    peer = peer_factory({"AT+CSCA?": b"\r\n" + line + b"\r\n"})
    channel, _ = channel_factory(peer.url)
    with pytest.raises(ModemError) as info:
        channel.command("AT+CSCA?")
    assert (info.value.kind, info.value.code, info.value.transient) == (kind, code, transient)


def test_cms_error_after_pdu(peer_factory, channel_factory):
    peer = peer_factory({"AT+CMGS=19": b"\r\n> ", "PDU": b"\r\n+CMS ERROR: 42\r\n"})
    channel, _ = channel_factory(peer.url)
    with pytest.raises(ModemError) as info:
        channel.send_pdu(19, PDU, prompt_timeout=1, timeout=1)
    assert info.value.name == "CMS 42 congestion" and info.value.transient


def test_ok_without_cmgs_is_a_protocol_error(peer_factory, channel_factory):
    peer = peer_factory({"AT+CMGS=19": b"\r\n> ", "PDU": OK})
    channel, _ = channel_factory(peer.url)
    with pytest.raises(ModemError) as info:
        channel.send_pdu(19, PDU, prompt_timeout=1, timeout=1)
    assert info.value.kind == "protocol" and info.value.maybe_sent


def test_missing_prompt_sends_escape_and_resyncs(peer_factory, channel_factory):
    peer = peer_factory({"AT+CMGS=19": b"", "AT": OK, "AT+CSQ": b"\r\n+CSQ: 3,0\r\n" + OK})
    channel, _ = channel_factory(peer.url)
    with pytest.raises(ModemError) as info:
        channel.send_pdu(19, PDU, prompt_timeout=0.3, timeout=1)
    assert info.value.kind == "timeout" and not info.value.maybe_sent
    assert wait_until(lambda: b"\x1b" in peer.received, 1)
    assert channel.command("AT+CSQ") == ["+CSQ: 3,0"]
    assert PDU.encode() not in peer.received  # nothing was typed without a prompt


def test_late_answer_is_not_taken_for_the_next_command(peer_factory, channel_factory):
    """A slow modem: every answer takes 0.15 s, and AT+COPS? answers after the client gave
    up, while the next command is waiting; without the resync the late +COPS/OK would be
    taken as the answer to AT+CSQ."""
    peer = None
    answers = {
        "AT+COPS?": (0.4, b'\r\n+COPS: 0,0,"LATE"\r\n' + OK),
        "AT+CSQ": (0.15, b"\r\n+CSQ: 21,0\r\n" + OK),
        "AT": (0.15, OK),
    }

    def script(cmd: str) -> None:
        delay, answer = answers[cmd]
        threading.Timer(delay, lambda: peer.send(answer)).start()

    peer = peer_factory(script)
    channel, _ = channel_factory(peer.url)
    with pytest.raises(ModemError) as info:
        channel.command("AT+COPS?", timeout=0.3)
    assert info.value.kind == "timeout"
    assert channel.command("AT+CSQ") == ["+CSQ: 21,0"]
    assert channel.command("AT+CSQ") == ["+CSQ: 21,0"]
    assert channel.consecutive_timeouts == 0


def test_garbage_bytes_and_lines_are_survived(peer_factory, channel_factory):
    junk = b"\xff\xfe\x00\x81garbage\r\n\r\n\x00\x00\r\n\xc3\x28\r\n"
    peer = peer_factory({"AT+CSQ": junk + b"\r\n+CSQ: 18,99\r\n" + junk + OK, "AT": OK})
    channel, _ = channel_factory(peer.url)
    peer.send(junk + b"noise without end " * 300)  # a run-away line is dropped, too
    time.sleep(0.05)
    channel.mark_dirty()
    assert channel.command("AT+CSQ") == ["+CSQ: 18,99"]


def test_missing_ok_after_cpin(peer_factory, channel_factory):
    peer = peer_factory(
        {"AT+CPIN?": b"\r\n+CPIN: READY\r\n", "AT": OK, "AT+CSQ": b"\r\n+CSQ: 1,1\r\n" + OK}
    )
    channel, _ = channel_factory(peer.url)
    started = time.monotonic()
    assert channel.command("AT+CPIN?", timeout=5, ok_optional_after="+CPIN:", grace=0.2) == [
        "+CPIN: READY"
    ]
    assert time.monotonic() - started < 1
    assert channel.command("AT+CSQ") == ["+CSQ: 1,1"]


def test_port_closed_mid_command_fails_fast(peer_factory, channel_factory):
    peer = peer_factory({"AT+CSQ": None})
    peer.script = lambda cmd: peer.close_client()  # type: ignore[assignment]
    lost: list[Exception] = []
    channel, _ = channel_factory(peer.url)
    channel._on_lost = lost.append
    started = time.monotonic()
    with pytest.raises(ConnectionLost):
        channel.command("AT+CSQ", timeout=10)
    assert time.monotonic() - started < 1.5
    assert lost and not channel.alive
    with pytest.raises(ConnectionLost):
        channel.command("AT")


def test_socket_closed_under_a_write_is_a_lost_port(peer_factory, channel_factory, monkeypatch):
    # pyserial's socket:// write() select()s on a socket the reader thread may have
    # closed meanwhile and raises ValueError (fd -1): a race no peer can stage on cue,
    # so the real port's write is made to fail the way it does (seen in CI).
    peer = peer_factory({"AT": OK})
    channel, _ = channel_factory(peer.url)
    assert channel.command("AT") == []

    def write(data: bytes) -> int:
        raise ValueError("file descriptor cannot be a negative integer (-1)")

    monkeypatch.setattr(channel._port, "write", write)
    with pytest.raises(ConnectionLost):
        channel.command("AT")
    assert not channel.alive


def test_close_while_waiting_fails_the_command_at_once(peer_factory, channel_factory):
    peer = peer_factory(lambda cmd: None)
    channel, _ = channel_factory(peer.url)
    threading.Timer(0.2, channel.close).start()
    started = time.monotonic()
    with pytest.raises(ConnectionLost):
        channel.command("AT+CSQ", timeout=10)
    assert time.monotonic() - started < 1.5


def test_only_commands_and_hex_are_written(peer_factory, channel_factory):
    peer = peer_factory({})
    channel, _ = channel_factory(peer.url)
    for bad in ("AT\rATD123;", "hello", "AT+CMGS=1\x1a", "AT" + "X" * 300):
        with pytest.raises(ValueError):
            channel.command(bad)
    with pytest.raises(ValueError):
        channel.send_pdu(5, "00zz", prompt_timeout=1, timeout=1)
    with pytest.raises(ValueError):
        channel.send_pdu(5, "0\r0", prompt_timeout=1, timeout=1)
    assert peer.received == b""


def test_loop_url_framing_with_echo():
    """loop:// echoes whatever is written: an extreme "echo on" modem that never answers."""
    port = serial.serial_for_url("loop://", timeout=0.05)
    channel = AtChannel(port, name="loop")
    channel.start()
    try:
        with pytest.raises(ModemError) as info:
            channel.command("AT+CSQ", timeout=0.2)
        assert info.value.kind == "timeout"
        port.write(b"\r\n+CSQ: 5,5\r\n\r\nOK\r\n")  # what a modem would have said, too late
        with pytest.raises(ModemError):
            channel.command("AT+CSQ", timeout=0.2)  # resync finds no answering modem
    finally:
        channel.close()


def test_late_prompt_is_escaped_before_the_next_command(peer_factory, channel_factory):
    """The '>' turns up after the client gave up, while it resyncs: the next command must
    not be typed into it (the peer would take it as PDU text and never answer)."""
    peer = None

    def script(cmd: str) -> bytes | None:
        if cmd.startswith("AT+CMGS"):
            peer.prompt_later(0.25)
            return None
        return b"\r\n+CSQ: 7,0\r\n" + OK if cmd == "AT+CSQ" else OK

    peer = peer_factory(script)
    channel, _ = channel_factory(peer.url)
    with pytest.raises(ModemError):
        channel.send_pdu(19, PDU, prompt_timeout=0.2, timeout=1)
    assert channel.command("AT+CSQ", timeout=3) == ["+CSQ: 7,0"]
    assert not any(c.startswith("PDU:") for c in peer.commands)
