"""Example tests for gsmbridge.modem.pdu: published vectors and an independent reference decoder.

The reference decoder below shares no code with the module under test: its own alphabet
table (written as "ASCII except ..." from modem-notes §5) and septet unpacking through a bit
string, so a bug in the module's tables or packing cannot hide behind its own decoder.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gsmbridge.modem import gsm7
from gsmbridge.modem.pdu import (
    PduError,
    count_parts,
    decode_status_report,
    decode_submit,
    encode_status_report,
    encode_submit,
    normalise_address,
    relative_validity,
    status_text,
    validity_minutes_from_relative,
)

# --- Independent reference decoder ----------------------------------------------------------

REF_BASIC: dict[int, str] = {i: chr(i) for i in range(0x20, 0x80)}
REF_BASIC.update(
    {
        0x00: "@", 0x01: "£", 0x02: "$", 0x03: "¥", 0x04: "è", 0x05: "é", 0x06: "ù",
        0x07: "ì", 0x08: "ò", 0x09: "Ç", 0x0A: "\n", 0x0B: "Ø", 0x0C: "ø", 0x0D: "\r",
        0x0E: "Å", 0x0F: "å", 0x10: "Δ", 0x11: "_", 0x12: "Φ", 0x13: "Γ", 0x14: "Λ",
        0x15: "Ω", 0x16: "Π", 0x17: "Ψ", 0x18: "Σ", 0x19: "Θ", 0x1A: "Ξ", 0x1C: "Æ",
        0x1D: "æ", 0x1E: "ß", 0x1F: "É", 0x24: "¤", 0x40: "¡", 0x5B: "Ä", 0x5C: "Ö",
        0x5D: "Ñ", 0x5E: "Ü", 0x5F: "§", 0x60: "¿", 0x7B: "ä", 0x7C: "ö", 0x7D: "ñ",
        0x7E: "ü", 0x7F: "à",
    }
)  # fmt: skip
REF_EXT: dict[int, str] = {
    0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~",
    0x3E: "]", 0x40: "|", 0x65: "€",
}  # fmt: skip
REF_GSM_CHARS = set(REF_BASIC.values()) | set(REF_EXT.values())


def ref_septets(ud: bytes, start_bit: int, count: int) -> list[int]:
    """Unpack septets by spelling the octets out as an LSB-first bit string."""
    bits = "".join(format(b, "08b")[::-1] for b in ud)
    return [int(bits[start_bit + 7 * i : start_bit + 7 * i + 7][::-1], 2) for i in range(count)]


def ref_gsm_text(septets: list[int]) -> str:
    out, i = [], 0
    while i < len(septets):
        if septets[i] == 0x1B:
            assert i + 1 < len(septets), "ESC pair split: ESC is the last septet of a part"
            out.append(REF_EXT[septets[i + 1]])
            i += 2
        else:
            out.append(REF_BASIC[septets[i]])
            i += 1
    return "".join(out)


@dataclass
class RefSubmit:
    fo: int
    mr: int
    toa: int
    digits: str
    pid: int
    dcs: int
    vp: int | None
    udl: int
    udh: bytes
    ud: bytes
    text: str
    septets: list[int] = field(default_factory=list)


def ref_decode_submit(pdu_hex: str) -> RefSubmit:
    """Decode a SUBMIT with an empty SCA ("00"), asserting every length field is exact."""
    assert pdu_hex == pdu_hex.upper()
    raw = bytes.fromhex(pdu_hex)
    assert raw[0] == 0x00, "SCA must be empty so the modem uses +CSCA"
    t = raw[1:]
    fo, mr, ndigits, toa = t[0], t[1], t[2], t[3]
    assert fo & 0x03 == 0x01
    nb = (ndigits + 1) // 2
    bcd = t[4 : 4 + nb]
    digits = "".join(f"{b & 0x0F:X}{b >> 4:X}" for b in bcd)
    if ndigits % 2:
        assert digits[-1] == "F"
    digits = digits[:ndigits]
    i = 4 + nb
    pid, dcs = t[i], t[i + 1]
    i += 2
    vp = None
    if fo & 0x18:
        assert fo & 0x18 == 0x10, "only the relative VP format is expected"
        vp = t[i]
        i += 1
    udl = t[i]
    ud = t[i + 1 :]
    udh = b""
    if fo & 0x40:
        udh = ud[: ud[0] + 1]
    if dcs == 0x00:
        assert len(ud) == -(-udl * 7 // 8)
        start = -(-len(udh) * 8 // 7) * 7
        septets = ref_septets(ud, start, udl - start // 7)
        return RefSubmit(
            fo, mr, toa, digits, pid, dcs, vp, udl, udh, ud, ref_gsm_text(septets), septets
        )
    assert dcs == 0x08
    assert len(ud) == udl
    body = ud[len(udh) :]
    text = body.decode("utf-16-be")  # strict: a split surrogate pair fails here
    return RefSubmit(fo, mr, toa, digits, pid, dcs, vp, udl, udh, ud, text)


def ref_concat(udh: bytes) -> tuple[int, int, int] | None:
    if not udh:
        return None
    if udh[1] == 0x00:
        assert udh[:3] == b"\x05\x00\x03"
        return udh[3], udh[4], udh[5]
    assert udh[:3] == b"\x06\x08\x04"
    return int.from_bytes(udh[3:5], "big"), udh[5], udh[6]


def check_message(number: str, text: str, **kwargs: object) -> list[RefSubmit]:
    """Encode, then verify every part with the reference decoder and with decode_submit."""
    msg = encode_submit(number, text, **kwargs)  # type: ignore[arg-type]
    refs = [ref_decode_submit(p.pdu) for p in msg.parts]
    assert "".join(r.text for r in refs) == msg.text
    assert "".join(decode_submit(p.pdu).text for p in msg.parts) == msg.text
    total = len(msg.parts)
    concats = set()
    for seq, (part, ref) in enumerate(zip(msg.parts, refs, strict=True), 1):
        assert (part.seq, part.total) == (seq, total)
        assert part.tpdu_length == len(part.pdu) // 2 - 1
        assert len(ref.ud) <= 140
        assert ref.dcs == (0x00 if msg.encoding == "gsm7" else 0x08)
        assert ref.pid == 0 and ref.mr == 0
        assert ref.digits == number.lstrip("+")
        assert ref.toa == (0x91 if number.startswith("+") else 0x81)
        concat = ref_concat(ref.udh)
        if total == 1:
            assert concat is None and not ref.fo & 0x40
        else:
            assert concat is not None and concat[1:] == (total, seq)
            concats.add(concat[0])
    assert len(concats) <= 1, "all parts must carry the same reference"
    return refs


# --- Published vectors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "text", "kwargs", "pdu", "length"),
    [
        # dreamfabric / turbocontrol "SMS messages and the PDU format": hellohello, VP AA (4 days)
        (
            "+46708251358",
            "hellohello",
            {"status_report": False, "validity_minutes": 4 * 24 * 60},
            "0011000B916407281553F80000AA0AE8329BFD4697D9EC37",
            23,
        ),
        # 9cbs.com "SMS PDU mode ... length calculation": national number, AT+CMGS=17
        (
            "1234657",
            "hello",
            {"status_report": False, "validity_minutes": 4 * 24 * 60},
            "0011000781214356F70000AA05E8329BFD06",
            17,
        ),
    ],
)
def test_published_submit_pdus(number: str, text: str, kwargs: dict, pdu: str, length: int):
    msg = encode_submit(number, text, **kwargs)
    assert [(p.pdu, p.tpdu_length) for p in msg.parts] == [(pdu, length)]


def test_public_ucs2_submit_decodes():
    # Neoway N11 manual: UCS-2 "hello", national number, AT+CMGS=23
    pdu = "0001000B813124819396F300080A00680065006C006C006F"
    d = decode_submit(pdu)
    assert (d.number, d.text, d.encoding) == ("13421839693", "hello", "ucs2")
    assert d.validity_minutes is None and not d.status_report_requested
    assert len(bytes.fromhex(pdu)) - 1 == 23


def test_public_submit_with_sca_decodes():
    # visualstudiomagazine 2004: explicit SMSC, MR E5, PID 0x20, VP AD (1 week)
    d = decode_submit(
        "0691566948959911E50A915669290456200 0AD0CC939E8FA7693CB72739D0D".replace(" ", "")
    )
    assert (d.number, d.message_reference, d.validity_minutes) == ("+6596924065", 0xE5, 7 * 1440)
    assert d.text == "Is Wonderful"


@pytest.mark.parametrize(
    ("text", "packed"),
    [
        ("hellohello", "E8329BFD4697D9EC37"),
        ("Hello World!", "C8329BFD065DDF72363904"),
        ("[{abc}]~", "1BDE0615168F37A98D6FD303"),
        ("hello", "E8329BFD06"),
    ],
)
def test_septet_packing_vectors(text: str, packed: str):
    assert gsm7.pack(gsm7.to_septets(text)).hex().upper() == packed
    msg = encode_submit("+1", text, status_report=False, validity_minutes=None)
    ref = ref_decode_submit(msg.parts[0].pdu)
    assert ref.ud.hex().upper() == packed
    assert ref.udl == gsm7.septet_count(text)
    assert ref.text == text


@pytest.mark.parametrize(
    ("number", "field"),
    [
        ("15125551234", "0B815121551532F4"),
        ("+27829135934", "0B917228195339F4"),
        ("+46708251358", "0B916407281553F8"),
        ("0708251358", "0A817080523185"),
        ("+9876543210", "0A918967452301"),
        ("1", "0181F1"),
        ("+" + "1234567890" * 2, "1491" + "2143658709" * 2),
    ],
)
def test_address_field(number: str, field: str):
    pdu = encode_submit(number, "x", validity_minutes=None).parts[0].pdu
    assert pdu[6 : 6 + len(field)] == field
    assert decode_submit(pdu).number == number


@pytest.mark.parametrize(
    "bad",
    ["", "+", "++1", "12 34", "12-34", "+1(234)", "abc", "1" * 21, "+" + "1" * 21, "123\n",
     "\u0661\u0662\u0663", "１２３", "1+2", " 123"],
)  # fmt: skip
def test_normalise_address_rejects(bad: str):
    with pytest.raises(PduError):
        normalise_address(bad)
    with pytest.raises(PduError):
        encode_submit(bad, "hi")


def test_normalise_address_accepts():
    assert normalise_address("+27829135934") == ("27829135934", 0x91)
    assert normalise_address("0829135934") == ("0829135934", 0x81)
    assert normalise_address("1" * 20) == ("1" * 20, 0x81)


def test_udh_8bit_reference_vector():
    # python-gsmmodem TestUdhConcatenation: ref 23, 3 parts, part 1 -> 00 03 17 03 01
    refs = check_message("+1", "a" * 400, concat_ref=23)
    assert len(refs) == 3
    assert refs[0].udh.hex() == "050003170301"
    assert refs[0].udl == 160 and refs[0].fo & 0x40
    # only the low 8 bits are used with 8-bit references
    assert check_message("+1", "a" * 400, concat_ref=256 + 23)[0].udh.hex() == "050003170301"


def test_udh_16bit_reference_vector():
    # python-gsmmodem: ref 384, part 2 of 4 -> 08 04 01 80 04 02
    refs = check_message("+1", "b" * (152 * 3 + 1), concat_ref=384, concat_ref_16bit=True)
    assert len(refs) == 4
    assert refs[1].udh.hex() == "06080401800402"
    assert refs[1].udl == 160  # 8 header septets (no fill bits) + 152


def test_udh_16bit_decode_vector():
    # python-messaging test_udh: 08 04 9f 8e 02 01 -> ref 40846, 2 parts, seq 1
    ud = bytes.fromhex("06" + "08049f8e0201") + "hi".encode("utf-16-be")
    pdu = "00" + "4100" + "0B917228195339F4" + "0008" + f"{len(ud):02X}" + ud.hex()
    d = decode_submit(pdu)
    assert d.concat == (40846, 2, 1) and d.text == "hi"


@pytest.mark.parametrize(
    ("minutes", "vp"),
    [
        (30, 5), (16 * 60, 151), (3 * 1440, 169), (5 * 7 * 1440, 197),  # python-gsmmodem
        (24 * 60, 167), (4 * 1440, 0xAA), (0, 0), (5, 0), (6, 1), (31, 6), (720, 143),
        (721, 144), (1441, 168), (2 * 1440, 168), (30 * 1440, 196), (30 * 1440 + 1, 197),
        (63 * 7 * 1440, 255), (100 * 7 * 1440, 255),
    ],
)  # fmt: skip
def test_relative_validity(minutes: int, vp: int):
    assert relative_validity(minutes) == vp
    assert validity_minutes_from_relative(vp) >= min(minutes, 63 * 7 * 1440)


def test_validity_in_pdu():
    default = ref_decode_submit(encode_submit("+1", "hi").parts[0].pdu)
    assert default.fo == 0x31 and default.vp == 167  # SUBMIT + VPF relative + SRR
    none = ref_decode_submit(encode_submit("+1", "hi", validity_minutes=None).parts[0].pdu)
    assert none.fo == 0x21 and none.vp is None
    plain = encode_submit("+1", "hi", validity_minutes=None, status_report=False).parts[0]
    assert plain.pdu[2:4] == "01"
    decoded = decode_submit(encode_submit("+1", "hi").parts[0].pdu)
    assert decoded.validity_minutes == 24 * 60 and decoded.status_report_requested
    with pytest.raises(PduError):
        encode_submit("+1", "hi", validity_minutes=-1)


def test_every_vp_octet_round_trips():
    for vp in range(256):
        assert relative_validity(validity_minutes_from_relative(vp)) == vp


# --- Part counts (python-messaging TestSubmitPduCounts) -------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "parts"),
    [
        ("a" * 160, "gsm7", 1), ("a" * 161, "gsm7", 2), ("a" * 306, "gsm7", 2),
        ("a" * 307, "gsm7", 3), ("ж" * 70, "ucs2", 1), ("ж" * 71, "ucs2", 2),
        ("ж" * 134, "ucs2", 2), ("ж" * 135, "ucs2", 3), ("€" * 80, "gsm7", 1),
        ("€" * 153, "gsm7", 3), ("", "gsm7", 1), ("😀" * 35, "ucs2", 1), ("😀" * 36, "ucs2", 2),
    ],
)  # fmt: skip
def test_part_counts(text: str, encoding: str, parts: int):
    assert count_parts(text) == (encoding, parts)
    msg = encode_submit("+1", text)
    assert (msg.encoding, len(msg.parts)) == (encoding, parts)
    check_message("+1", text)


def test_16bit_reference_capacity():
    assert len(encode_submit("+1", "a" * 304, concat_ref_16bit=True).parts) == 2
    assert len(encode_submit("+1", "a" * 305, concat_ref_16bit=True).parts) == 3
    assert len(encode_submit("+1", "ж" * 132, concat_ref_16bit=True).parts) == 2
    assert len(encode_submit("+1", "ж" * 133, concat_ref_16bit=True).parts) == 3


# --- Splitting ------------------------------------------------------------------------------


def test_esc_pair_not_split():
    refs = check_message("+1", "a" * 152 + "€" + "b" * 10)
    assert refs[0].text == "a" * 152 and refs[0].udl == 7 + 152
    assert refs[1].text == "€" + "b" * 10
    assert refs[0].septets[-1] != 0x1B


def test_surrogate_pair_not_split():
    refs = check_message("+1", "a" * 66 + "😀" + "b" * 10)
    assert refs[0].text == "a" * 66 and refs[0].udl == 6 + 132
    assert refs[1].text == "😀" + "b" * 10


def test_emoji_encoded_as_surrogates():
    ref = ref_decode_submit(encode_submit("+1", "\U0001f601").parts[0].pdu)
    assert ref.ud.hex().upper() == "D83DDE01" and ref.udl == 4


def test_mixed_gsm_extension_message():
    refs = check_message("0123", "Price: 5€ [net] {x} ~ \\ | ^ \f end")
    assert len(refs) == 1 and refs[0].dcs == 0


def test_long_ucs2_message_round_trips():
    text = ("Привет, мир! 😀 " * 20)[:300]
    refs = check_message("+7", text, concat_ref=200)
    assert all(ref_concat(r.udh)[0] == 200 for r in refs)


# --- Truncation -----------------------------------------------------------------------------


def test_truncation_gsm7():
    msg = encode_submit("+1", "word " * 300)
    assert msg.truncated and len(msg.parts) == 6
    assert msg.text.endswith("word...")  # trailing space dropped before the ellipsis
    assert sum(len(r.septets) for r in check_message("+1", "word " * 300)) <= 6 * 153


def test_truncation_ucs2():
    msg = encode_submit("+1", "я" * 1000)
    assert msg.truncated and msg.encoding == "ucs2" and len(msg.parts) == 6
    assert msg.text == "я" * (6 * 67 - 1) + "…"


def test_truncation_single_part():
    msg = encode_submit("+1", "x" * 500, max_parts=1)
    assert msg.truncated and len(msg.parts) == 1
    assert msg.text == "x" * 157 + "..."


def test_truncation_keeps_pairs_whole():
    msg = encode_submit("+1", "€" * 200, max_parts=1)
    assert msg.text == "€" * 78 + "..."  # 156 + 3 septets; a 79th € would need 161
    msg = encode_submit("+1", "😀" * 100, max_parts=1)
    assert msg.text == "😀" * 34 + "…"
    check_message("+1", "😀" * 100, max_parts=2)


def test_no_truncation_when_it_fits():
    msg = encode_submit("+1", "a" * 153 * 6)
    assert not msg.truncated and len(msg.parts) == 6


@pytest.mark.parametrize("bad", [0, -1])
def test_max_parts_must_be_positive(bad: int):
    with pytest.raises(PduError):
        encode_submit("+1", "hi", max_parts=bad)


def test_max_parts_capped_at_255():
    msg = encode_submit("+1", "a" * 153 * 300, max_parts=1000)
    assert msg.truncated and len(msg.parts) == 255


# --- Smart encoding -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("“Hi” – it’s… fine", '"Hi" - it\'s... fine'),
        ("«Bonjour»\u00a0!", '"Bonjour" !'),
        ("a\u2014b\u2013c\u2011d", "a-b-c-d"),
        ("• one\n• two", "- one\n- two"),
        ("2×3", "2x3"),
        ("`code`", "'code'"),
        ("cafe\u0301", "café"),  # NFC composition, not a change of text
        ("zero\u200bwidth", "zerowidth"),
        ("ΑΘΗΝΑ", "AΘHNA"),
    ],
)
def test_smart_replacement(text: str, sent: str):
    msg = encode_submit("+1", text)
    assert (msg.encoding, msg.text, msg.replaced) == ("gsm7", sent, True)
    assert count_parts(text) == ("gsm7", 1)


def test_smart_only_when_whole_message_becomes_gsm7():
    text = "“Hi” 😀"
    msg = encode_submit("+1", text)
    assert (msg.encoding, msg.text, msg.replaced) == ("ucs2", text, False)
    assert encode_submit("+1", "“á”").text == "“á”"  # accented letters are not folded


def test_smart_off():
    msg = encode_submit("+1", "it’s", smart=False)
    assert (msg.encoding, msg.text, msg.replaced) == ("ucs2", "it’s", False)
    assert count_parts("it’s", smart=False) == ("ucs2", 1)


def test_smart_not_used_when_ucs2_is_cheaper():
    text = "…" * 60  # 60 UCS-2 units: 1 part; as "..." 180 septets: 2 parts
    msg = encode_submit("+1", text)
    assert (msg.encoding, len(msg.parts), msg.replaced) == ("ucs2", 1, False)
    assert count_parts(text) == ("ucs2", 1)


def test_plain_gsm_text_is_never_replaced():
    msg = encode_submit("+1", "It's fine")
    assert not msg.replaced and msg.text == "It's fine"


def test_lone_surrogate_does_not_crash():
    msg = encode_submit("+1", "a\ud800b")
    assert msg.encoding == "ucs2" and msg.text == "a\ufffdb"
    assert decode_submit(msg.parts[0].pdu).text == msg.text


# --- decode_submit --------------------------------------------------------------------------


def test_decode_submit_fields():
    msg = encode_submit("+4915112345678", "x" * 200, concat_ref=77, validity_minutes=60)
    d = decode_submit(msg.parts[1].pdu)
    assert d.number == "+4915112345678" and d.encoding == "gsm7"
    assert d.concat == (77, 2, 2) and d.validity_minutes == 60 and d.status_report_requested
    assert d.message_reference == 0
    assert decode_submit(msg.parts[1].pdu[2:], with_sca=False) == d


@pytest.mark.parametrize(
    "bad",
    [
        "", "0", "zz", "00", "0011", "00 11 zz",
        "0000000B916407281553F80000AA0AE8329BFD4697D9EC37",  # DELIVER MTI, not SUBMIT
        "0011000B916407281553F80000AA0BE8329BFD4697D9EC37",  # UDL one too long
        "0011000B916407281553F80000AA0AE8329BFD4697D9EC3700",  # trailing octet
        "0011000B916407281553F80008AA03000041",  # odd UCS-2
        "0051000B916407281553F80000AA01FF",  # UDHI with an overlong header
        "0011001B916407281553F80000AA00",  # address of 27 digits
        "0011000B916407281F53F80000AA00",  # filler inside the number
        "0011000B916407281553F80020AA00",  # compressed
    ],
)  # fmt: skip
def test_decode_submit_rejects(bad: str):
    with pytest.raises(PduError):
        decode_submit(bad)


def test_decode_submit_rejects_non_str():
    with pytest.raises(PduError):
        decode_submit(b"0011")  # type: ignore[arg-type]


# --- Status reports -------------------------------------------------------------------------

REPORT_TPDU = "06000B910221815716F2709021510121807090215101718000"  # amro.blogspot.com 2007


@pytest.mark.parametrize(
    ("pdu", "length"),
    [
        ("00" + REPORT_TPDU, None),
        ("00" + REPORT_TPDU, 25),
        (REPORT_TPDU, 25),  # modem without SCA: the +CDS length locates the TPDU
        ("07917283010010F5" + REPORT_TPDU, None),
        ("07917283010010F5" + REPORT_TPDU, 25),
    ],
)
def test_published_status_report(pdu: str, length: int | None):
    r = decode_status_report(pdu, tpdu_length=length)
    assert r.message_reference == 0 and r.recipient == "+20121875612"
    assert (r.status, r.delivered, r.final) == (0, True, True)
    assert r.status_text == "received by SME"
    assert r.discharge_time == datetime(
        2007, 9, 12, 15, 10, 17, tzinfo=timezone(timedelta(hours=2))
    )


@pytest.mark.parametrize(
    ("st", "delivered", "final", "text"),
    [
        (0x00, True, True, "received by SME"),
        (0x01, True, True, None),
        (0x02, True, True, "replaced by SC"),
        (0x1F, True, True, None),
        (0x20, False, False, "congestion (still trying)"),
        (0x21, False, False, "SME busy (still trying)"),
        (0x3F, False, False, None),
        (0x40, False, True, "remote procedure error"),
        (0x41, False, True, "incompatible destination"),
        (0x46, False, True, "SM validity period expired"),
        (0x60, False, True, "congestion"),
        (0x61, False, True, "SME busy"),
        (0x7F, False, True, None),
        (0xFF, False, True, None),
    ],
)
def test_status_classification(st: int, delivered: bool, final: bool, text: str | None):
    hexpdu, length = encode_status_report(42, "+491701234567", st)
    r = decode_status_report(hexpdu, tpdu_length=length)
    assert (r.message_reference, r.recipient, r.status) == (42, "+491701234567", st)
    assert (r.delivered, r.final) == (delivered, final)
    assert r.status_text == status_text(st) and r.status_text
    if text is not None:
        assert r.status_text == text


@pytest.mark.parametrize(
    ("offset", "tz_octet"),
    [
        (timedelta(hours=2), "80"),
        (timedelta(hours=-8), "2B"),
        (timedelta(hours=5, minutes=30), "22"),
        (timedelta(0), "00"),
    ],
)
def test_status_report_time_zones(offset: timedelta, tz_octet: str):
    when = datetime(2024, 2, 29, 23, 59, 58, tzinfo=timezone(offset))
    hexpdu, length = encode_status_report(1, "0123", when=when)
    assert hexpdu[-4:-2] == tz_octet  # last octet of TP-DT, before TP-ST
    assert len(hexpdu) // 2 - 1 == length
    assert decode_status_report(hexpdu).discharge_time == when


def test_status_report_naive_time_is_utc():
    hexpdu, _ = encode_status_report(1, "0123", when=datetime(2024, 1, 1, 12, 0, 0))
    assert decode_status_report(hexpdu).discharge_time == datetime(2024, 1, 1, 12, tzinfo=UTC)


def test_status_report_bad_time_is_none():
    bad = REPORT_TPDU[:36] + "99" + REPORT_TPDU[38:]  # TP-DT month 99
    r = decode_status_report("00" + bad)
    assert r.discharge_time is None and r.delivered


@pytest.mark.parametrize(
    ("pdu", "length"),
    [
        ("", None), ("00", None), ("zz", None), ("00" + REPORT_TPDU[:-2], None),
        ("0011000B916407281553F80000AA0AE8329BFD4697D9EC37", None),  # a SUBMIT
        ("00" + REPORT_TPDU, 99), ("00" + REPORT_TPDU, 0), ("FF" + REPORT_TPDU, None),
    ],
)  # fmt: skip
def test_decode_status_report_rejects(pdu: str, length: int | None):
    with pytest.raises(PduError):
        decode_status_report(pdu, tpdu_length=length)


@pytest.mark.parametrize(("mr", "st"), [(-1, 0), (256, 0), (0, 256), (0, -1)])
def test_encode_status_report_rejects(mr: int, st: int):
    with pytest.raises(PduError):
        encode_status_report(mr, "+1", st)


# --- Module hygiene -------------------------------------------------------------------------


def test_module_is_pure():
    code = (
        "import sys, gsmbridge.modem.pdu; "
        "bad = {'PySide6', 'serial'} & set(sys.modules); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_gsm7_table_matches_reference():
    assert gsm7.GSM7_CHARS == REF_GSM_CHARS - {"\x1b"}
    assert gsm7.EXTENSION_CHARS == set(REF_EXT.values())


# --- Rarer decoder paths (PDUs written by other software) ------------------------------------


@pytest.mark.parametrize(
    ("fo", "vp", "minutes"),
    [
        ("09", "01A70000000000", 24 * 60),  # VPF 01 enhanced, relative format
        ("09", "025A0000000000", 2),  # enhanced, 90 seconds, rounded up to minutes
        ("09", "03000300000000", 30),  # enhanced, hh mm ss semi-octets 00:30:00
        ("09", "00000000000000", None),  # enhanced, no validity
        ("19", "11111111000000", None),  # VPF 11 absolute: meaningful only on the SC's clock
    ],
)
def test_decode_submit_other_validity_formats(fo: str, vp: str, minutes: int | None):
    pdu = "00" + fo + "00" + "0B917228195339F4" + "0000" + vp + "05E8329BFD06"
    d = decode_submit(pdu)
    assert d.text == "hello" and d.validity_minutes == minutes


def test_decode_alphanumeric_and_8bit():
    name = gsm7.pack(gsm7.to_septets("Shop"))  # 4 septets = 28 bits = 7 semi-octets
    ud = "Hi\xe9".encode("latin-1")
    pdu = "0001" + "00" + "07D0" + name.hex() + "0004" + f"{len(ud):02X}" + ud.hex()
    d = decode_submit(pdu)
    assert (d.number, d.encoding, d.text) == ("Shop", "8bit", "Hi\xe9")
