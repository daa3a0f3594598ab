"""SMS-DELIVER decoding (received SMS) and the simulator's encoder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gsmbridge.modem.deliver import decode_deliver, encode_deliver
from gsmbridge.modem.pdu import PduError, encode_submit

# A PDU from the wild (SCA +31624000000, sender +31641600986, GSM 7-bit, "How are you?"),
# widely used in PDU-mode tutorials.
WILD = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"


def test_decodes_a_real_world_pdu() -> None:
    sms = decode_deliver(WILD)
    assert sms.sender == "+31641600986"
    assert sms.text == "How are you?"
    assert sms.concat is None
    assert sms.sent_at is not None
    assert (sms.sent_at.year, sms.sent_at.month, sms.sent_at.day) == (2002, 8, 26)
    assert (sms.sent_at.hour, sms.sent_at.minute, sms.sent_at.second) == (19, 37, 41)
    # The TPDU length of AT+CMGR's answer finds the same TPDU without trusting the SCA.
    assert decode_deliver(WILD, tpdu_length=len(WILD) // 2 - 8) == sms


def test_ucs2_multipart_round_trip_keeps_parts_and_time() -> None:
    when = datetime(2026, 11, 25, 9, 30, 5, tzinfo=timezone(timedelta(hours=1)))
    text = "Danke, bis morgen! 👍 " * 12
    parts = [
        decode_deliver(h, tpdu_length=n)
        for h, n in encode_deliver("+491511234", text, concat_ref=200, when=when)
    ]
    assert len(parts) > 1
    assert [p.concat for p in parts] == [(200, len(parts), i) for i in range(1, len(parts) + 1)]
    assert "".join(p.text for p in parts) == text
    assert {p.sender for p in parts} == {"+491511234"}
    assert all(p.sent_at == when for p in parts)


def test_gsm7_single_part() -> None:
    ((hex_pdu, length),) = encode_deliver(
        "+12125550100", "STOP", when=datetime(2026, 1, 2, tzinfo=UTC)
    )
    sms = decode_deliver(hex_pdu, tpdu_length=length)
    assert (sms.sender, sms.text, sms.concat) == ("+12125550100", "STOP", None)


@pytest.mark.parametrize(
    "hex_pdu",
    [
        "",
        "zz",
        "00",
        "0001",  # an SMS-SUBMIT's first octet
        WILD[:-6],  # user data shorter than TP-UDL says
        WILD + "00",  # longer
        "0006" + WILD[18:],  # a status report's MTI
    ],
)
def test_malformed_pdus_raise_pdu_error(hex_pdu: str) -> None:
    with pytest.raises(PduError):
        decode_deliver(hex_pdu)


def test_length_that_does_not_fit_raises() -> None:
    with pytest.raises(PduError):
        decode_deliver(WILD, tpdu_length=500)


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(codec="utf-8"), min_size=1, max_size=400), st.integers(0, 255))
def test_round_trip_any_text(text: str, ref: int) -> None:
    parts = [
        decode_deliver(h, tpdu_length=n)
        for h, n in encode_deliver("+3312345678", text, concat_ref=ref)
    ]
    # The decoded text is what the encoder chose (after look-alike replacement and
    # truncation past 6 parts), part for part.
    chosen = encode_submit("+3312345678", text, validity_minutes=None).text
    assert "".join(p.text for p in parts) == chosen
    if len(parts) > 1:
        assert [p.concat for p in parts] == [(ref, len(parts), i) for i in range(1, len(parts) + 1)]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash(data: bytes) -> None:
    try:
        decode_deliver(data.hex())
    except PduError:
        pass


def test_half_of_a_split_emoji_is_kept_for_the_next_part() -> None:
    udh = bytes((5, 0x00, 3, 1, 2, 1))
    body = "a".encode("utf-16-be") + bytes((0xD8, 0x3D))  # 'a' + a high surrogate
    stamp = bytes((0x62, 0x11, 0x52, 0x21, 0x00, 0x00, 0x00))
    tpdu = bytes((0x44, 0x04, 0x81, 0x21, 0x43, 0x00, 0x08)) + stamp
    tpdu += bytes((len(udh) + len(body),)) + udh + body
    sms = decode_deliver("00" + tpdu.hex(), tpdu_length=len(tpdu))
    assert sms.concat == (1, 2, 1)
    assert sms.text == "a\ud83d"
