"""USSD (issue 13.4): encoding, decoding, and the exchange against the simulator over
socket:// and a pty: GSM 7-bit, packed, UCS-2, no answer, an error, a refusal, and a
USSD while an SMS is being sent."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gsmbridge.modem import gsm7
from gsmbridge.modem.errors import ModemError, ModemUnavailable
from gsmbridge.modem.ussd import (
    dcs_alphabet,
    decode_text,
    encode_request,
    pack_ussd,
    parse_cusd,
    valid_code,
)
from tests.modem.conftest import wait_until

BALANCE = "Your balance is 12.50 EUR, valid until 31.12.2026."
RUSSIAN = "Баланс: 150,00 р. Бонус 20 р."


# --- codes and codecs ------------------------------------------------------------------


@pytest.mark.parametrize("code", ["*100#", "#", "*#06#", "*101*1#", "1" * 160])
def test_valid_codes(code):
    assert valid_code(code)


@pytest.mark.parametrize(
    "code",
    ["", "1" * 161, '*100#"', "*100#\r", "*100#;AT+CFUN=1,1", "*100# ", "abc", "*１００#", "+1"],
)
def test_anything_else_never_reaches_the_modem(code):
    assert not valid_code(code)
    with pytest.raises(ValueError):
        encode_request(code, cscs="GSM", packed=False)


def test_requests_as_the_modem_wants_them():
    assert encode_request("*100#", cscs="GSM", packed=False) == "*100#"
    assert encode_request("*100#", cscs="UCS2", packed=False) == "002A0031003000300023"
    # Huawei E1xx: packed GSM 7-bit hex (the classic example of their manuals).
    assert encode_request("*100#", cscs="GSM", packed=True) == "AA180C3602"


def test_seven_spare_bits_are_a_cr_not_an_at_sign():
    seven = "*123456"  # 7 septets: 49 bits in 7 octets, 7 bits spare
    packed = pack_ussd(seven)
    assert len(packed) == 14
    assert gsm7.unpack(bytes.fromhex(packed), 8)[-1] == 0x0D
    assert decode_text(packed, 15, cscs="GSM", packed=True) == seven


@given(st.text(alphabet=sorted(gsm7.GSM7_CHARS - {"\r"}), min_size=1, max_size=90))
@example("00000\x0c@")  # 8 septets ending in @ (septet 0): text, not padding
@example("1234567")  # 7 septets: the CR pad
def test_packed_round_trip(text):
    assert decode_text(pack_ussd(text), 15, cscs="GSM", packed=True) == text


@pytest.mark.parametrize(
    ("dcs", "alphabet"),
    [(None, "gsm7"), (15, "gsm7"), (0, "gsm7"), (72, "ucs2"), (0x11, "ucs2"), (0x44, "8bit"),
     (0xF4, "8bit"), (0xF0, "gsm7"), (0x10, "gsm7")],
)  # fmt: skip
def test_dcs_alphabets(dcs, alphabet):
    assert dcs_alphabet(dcs) == alphabet


@pytest.mark.parametrize(
    ("text", "dcs", "cscs", "packed", "words"),
    [
        (BALANCE, 15, "GSM", False, BALANCE),  # plain text: SIM800, Quectel
        (RUSSIAN.encode("utf-16-be").hex(), 72, "GSM", False, RUSSIAN),  # UCS-2 by dcs
        (BALANCE.encode("utf-16-be").hex().upper(), 15, "UCS2", False, BALANCE),  # by CSCS
        (pack_ussd(BALANCE), 15, "GSM", True, BALANCE),  # the Huawei quirk
        (pack_ussd(BALANCE), 15, "GSM", False, BALANCE),  # packed, quirk unknown
        (gsm7.to_septets("Balance 5").hex(), 15, "HEX", False, "Balance 5"),  # unpacked
        ("0612345678", 15, "GSM", False, "0612345678"),  # a number stays a number
        ("CAFE", 15, "GSM", False, "CAFE"),  # too short to be packed words
        ("Saldo", 72, "GSM", False, "Saldo"),  # a modem that converted it already
    ],
)
def test_answers_decoded_as_the_modem_reports_them(text, dcs, cscs, packed, words):
    assert decode_text(text, dcs, cscs=cscs, packed=packed) == words


def test_parse_cusd():
    assert parse_cusd('+CUSD: 0,"Saldo 5",15') == (0, "Saldo 5", 15)
    assert parse_cusd("+CUSD: 4") == (4, None, None)
    assert parse_cusd('+CUSD:2,"bye"') == (2, "bye", None)
    assert parse_cusd("+CUSD: x") is None


# --- against the simulator ------------------------------------------------------------


def ready(sim_factory, modem_factory, transport="tcp", **sim_options):
    sim = sim_factory(transport, **{"ussd_delay_s": 0.05, **sim_options})
    modem = modem_factory(sim.url)
    assert modem.wait_ready(5), modem.status
    return sim, modem


def test_gsm7_answer(sim_factory, modem_factory, transport):
    sim, modem = ready(sim_factory, modem_factory, transport, ussd_answer=BALANCE)
    before = time.time()
    answer = modem.ussd("*100#", timeout=5)
    assert (answer.code, answer.text, answer.status, answer.dcs) == ("*100#", BALANCE, 0, 15)
    assert before <= answer.at <= time.time()
    assert modem.status.ussd == answer  # kept for the window and /api/status
    assert 'AT+CUSD=1,"*100#",15' in sim.commands
    assert modem.status.ready  # and the modem carries on


def test_ucs2_answer(sim_factory, modem_factory, transport):
    _sim, modem = ready(
        sim_factory, modem_factory, transport, ussd_answer=RUSSIAN, ussd_coding="ucs2"
    )
    answer = modem.ussd("*100#", timeout=5)
    assert (answer.text, answer.dcs) == (RUSSIAN, 72)


def test_packed_answer_from_a_huawei(sim_factory, modem_factory):
    sim, modem = ready(
        sim_factory, modem_factory, manufacturer="huawei", model="E173", ussd_coding="packed"
    )
    assert modem.ussd("*100#", timeout=5).text == sim.options.ussd_answer
    assert 'AT+CUSD=1,"AA180C3602",15' in sim.commands  # asked the Huawei way too


def test_no_answer_times_out_and_cancels(sim_factory, modem_factory, transport):
    sim, modem = ready(sim_factory, modem_factory, transport, ussd_coding="none")
    started = time.monotonic()
    with pytest.raises(ModemError) as caught:
        modem.ussd("*100#", timeout=0.5)
    assert caught.value.kind == "timeout" and "no answer to *100# within" in str(caught.value)
    assert time.monotonic() - started < 3
    assert "AT+CUSD=2" in sim.commands  # the session is ended, not left open
    assert modem.status.ussd is None and modem.status.ready
    # The channel is in sync: the next exchange works.
    sim.options.ussd_coding = "gsm7"
    assert modem.ussd("*100#", timeout=5).text == sim.options.ussd_answer


def test_an_error_is_raised_with_its_reason(sim_factory, modem_factory, transport):
    _sim, modem = ready(sim_factory, modem_factory, transport, ussd_coding="error")
    with pytest.raises(ModemError) as caught:
        modem.ussd("*100#", timeout=5)
    assert caught.value.kind == "cme" and caught.value.code == 100
    assert modem.status.ready


def test_a_code_the_network_refuses(sim_factory, modem_factory):
    _sim, modem = ready(sim_factory, modem_factory, ussd_coding="unsupported")
    with pytest.raises(ModemError, match="does not support this code"):
        modem.ussd("*999#", timeout=5)


def test_a_bad_code_sends_nothing(sim_factory, modem_factory):
    sim, modem = ready(sim_factory, modem_factory)
    count = len(sim.commands)
    with pytest.raises(ValueError, match="digits, \\* and #"):
        modem.ussd('*100#";AT+CFUN=1,1')
    time.sleep(0.2)
    assert not any("CUSD" in c or "CFUN" in c for c in list(sim.commands)[count:])


def test_not_ready_is_unavailable(modem_factory, tmp_path):
    modem = modem_factory(str(tmp_path / "no-such-port"))
    with pytest.raises(ModemUnavailable, match="modem not ready"):
        modem.ussd("*100#", timeout=1)


def test_ussd_waits_for_the_sms_in_flight(sim_factory, modem_factory, transport):
    # The SMS takes a while (send latency); the USSD asked meanwhile goes out only
    # once its +CMGS answer is in: never between the prompt and the answer.
    sim, modem = ready(sim_factory, modem_factory, transport, send_latency_s=0.8)
    sent_at: list[float] = []

    def send() -> None:
        modem.send_sms("+31612345678", "hello")
        sent_at.append(time.monotonic())

    sender = threading.Thread(target=send)
    sender.start()
    assert wait_until(lambda: any(c.startswith("AT+CMGS=") for c in sim.commands), 5)
    answer = modem.ussd("*100#", timeout=5)
    sender.join(5)
    assert answer.text == sim.options.ussd_answer and sent_at
    [(request, asked_at)] = sim.modem.ussd_requests
    assert request == "*100#" and asked_at > sent_at[0]
    assert len(sim.wait_for_messages(1)) == 1


def test_an_sms_waits_for_the_ussd_answer(sim_factory, modem_factory):
    # And the other way round: while the network thinks, no SMS starts.
    sim, modem = ready(sim_factory, modem_factory, ussd_delay_s=0.6)
    done: list[float] = []
    asking = threading.Thread(target=lambda: done.append(modem.ussd("*100#", 5).at))
    asking.start()
    assert wait_until(lambda: sim.modem.ussd_requests, 5)
    modem.send_sms("+31612345678", "after the balance")
    asking.join(5)
    [(_line, answered_at)] = sim.modem.ussd_answered
    [part] = sim.parts
    assert done and part.time >= done[0]  # the SMS went out after the answer arrived
    assert answered_at <= time.monotonic()


def test_a_lost_port_ends_the_wait_at_once(sim_factory, modem_factory):
    # The modem resets (its USB port goes away) while the network thinks: no answer can
    # come, so the request fails now, not after its timeout.
    sim, modem = ready(sim_factory, modem_factory, ussd_coding="none", reboot_downtime_s=1.0)
    threading.Timer(0.3, sim.modem._reboot).start()
    started = time.monotonic()
    with pytest.raises(ModemUnavailable, match="port lost while waiting for the USSD answer"):
        modem.ussd("*100#", timeout=20)
    assert time.monotonic() - started < 5
    assert wait_until(lambda: modem.status.ready, 15)  # and it recovers as usual


def test_stop_ends_the_wait_at_once(sim_factory, modem_factory):
    _sim, modem = ready(sim_factory, modem_factory, ussd_coding="none")
    threading.Timer(0.3, modem.stop).start()
    started = time.monotonic()
    with pytest.raises(ModemUnavailable, match="stopped while waiting for the USSD answer"):
        modem.ussd("*100#", timeout=20)
    assert time.monotonic() - started < 3
