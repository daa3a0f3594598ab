"""Property-based tests for gsmbridge.modem.pdu (hypothesis).

Round trips go through the independent reference decoder of test_pdu.py; part counts are
checked against a unit count computed here from the reference alphabet.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gsmbridge.modem import gsm7
from gsmbridge.modem.pdu import (
    PduError,
    count_parts,
    decode_status_report,
    decode_submit,
    encode_status_report,
    encode_submit,
    relative_validity,
    validity_minutes_from_relative,
)
from tests.modem.test_pdu import REF_EXT, REF_GSM_CHARS, ref_concat, ref_decode_submit

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

EXTENSION = "".join(REF_EXT.values())
LOOKALIKES = "’‘‚‛“”„‟«»–—‒―…\u00a0\u2009\u202f‐‑•×`\u200be\u0301ΑΗ"
SPECIALS = EXTENSION + LOOKALIKES + "😀👍🏽🇩🇪\U0010fffdáçłжя€@£\n\r\x1bΔ"

chars = st.one_of(
    st.sampled_from("abc XYZ019.,!?"),
    st.sampled_from(SPECIALS),
    st.characters(codec="utf-8"),  # any code point but lone surrogates
)
# Mostly short texts; a repeated chunk reaches the multi-part and truncation range cheaply.
texts = st.one_of(
    st.text(chars, max_size=200),
    st.builds(lambda t, n: t * n, st.text(chars, min_size=1, max_size=60), st.integers(2, 40)),
    st.builds(lambda t, n: t * n, st.text(st.sampled_from(SPECIALS[:30]), max_size=4), st.just(60)),
)
numbers = st.from_regex(r"\+?[0-9]{1,20}", fullmatch=True)


def ref_units(text: str, encoding: str) -> list[int]:
    """Per-character unit cost from the reference alphabet / UTF-16 length."""
    if encoding == "gsm7":
        assert set(text) <= REF_GSM_CHARS
        return [2 if c in EXTENSION else 1 for c in text]
    return [len(c.encode("utf-16-be")) // 2 for c in text]


def ref_min_parts(units: list[int], single: int, multi: int) -> int:
    """Fewest ordered parts: fill each part until the next atom does not fit."""
    if sum(units) <= single:
        return 1
    parts, room = 1, multi
    for u in units:
        if u > room:
            parts, room = parts + 1, multi
        room -= u
    return parts


def capacities(encoding: str, concat16: bool) -> tuple[int, int]:
    if encoding == "gsm7":
        return 160, 152 if concat16 else 153
    return 70, 66 if concat16 else 67


@SETTINGS
@given(
    text=texts,
    number=numbers,
    ref=st.integers(0, 70000),
    concat16=st.booleans(),
    smart=st.booleans(),
    max_parts=st.integers(1, 8),
)
def test_encode_properties(
    text: str, number: str, ref: int, concat16: bool, smart: bool, max_parts: int
) -> None:
    msg = encode_submit(
        number, text, concat_ref=ref, smart=smart, max_parts=max_parts, concat_ref_16bit=concat16
    )
    refs = [ref_decode_submit(p.pdu) for p in msg.parts]

    # reassembly, through both decoders
    assert "".join(r.text for r in refs) == msg.text
    assert "".join(decode_submit(p.pdu).text for p in msg.parts) == msg.text

    # encoding choice: GSM 7-bit whenever the text is GSM; replacements only when smart
    gsm_original = set(text) <= REF_GSM_CHARS
    if gsm_original:
        assert msg.encoding == "gsm7" and not msg.replaced
    if msg.encoding == "ucs2":
        assert not gsm_original and not msg.replaced
    if not smart:
        assert not msg.replaced
    if smart and msg.encoding == "ucs2":
        # smart replacement was skipped only because it fails or would cost more parts
        alt = gsm7.smart_replace(text)
        if set(alt) <= REF_GSM_CHARS:
            s_gsm, m_gsm = capacities("gsm7", concat16)
            s_ucs, m_ucs = capacities("ucs2", concat16)
            gsm_parts = ref_min_parts(ref_units(alt, "gsm7"), s_gsm, m_gsm)
            assert gsm_parts > ref_min_parts(ref_units(text, "ucs2"), s_ucs, m_ucs)
    sent_source = text
    if msg.replaced:
        sent_source = gsm7.smart_replace(text)
        assert set(sent_source) <= REF_GSM_CHARS

    # what was sent: the (replaced) text, or a truncated prefix of it plus an ellipsis
    single, multi = capacities(msg.encoding, concat16)
    if msg.truncated:
        ellipsis = "..." if msg.encoding == "gsm7" else "…"
        assert msg.text.endswith(ellipsis)
        assert sent_source.startswith(msg.text[: -len(ellipsis)])
        assert ref_min_parts(ref_units(sent_source, msg.encoding), single, multi) > max_parts
    else:
        assert msg.text == sent_source

    # part count minimal and within max_parts; every full part really is full
    units = ref_units(msg.text, msg.encoding)
    assert len(msg.parts) == ref_min_parts(units, single, multi) <= max_parts
    assert len(msg.parts) >= -(-sum(units) // (single if len(msg.parts) == 1 else multi))

    expected_ref = ref & (0xFFFF if concat16 else 0xFF)
    for seq, (part, r) in enumerate(zip(msg.parts, refs, strict=True), 1):
        assert len(r.ud) <= 140
        assert part.tpdu_length == len(part.pdu) // 2 - 1
        assert (part.seq, part.total) == (seq, len(msg.parts))
        if len(msg.parts) > 1:
            assert ref_concat(r.udh) == (expected_ref, len(msg.parts), seq)
        else:
            assert r.udh == b""
        if msg.encoding == "gsm7":
            # ESC never ends a part (ref decoder also asserts this); UDL counts header septets
            assert not r.septets or r.septets[-1] != 0x1B
            assert r.udl <= 160
        else:
            assert r.udl == len(r.ud)  # strict UTF-16 decode in the ref decoder: no split pair
        if seq < len(msg.parts):
            # greedy certificate: the next character would not have fitted
            part_units = sum(ref_units(r.text, msg.encoding))
            next_char = refs[seq].text[0]
            assert part_units + ref_units(next_char, msg.encoding)[0] > multi


@SETTINGS
@given(text=texts, smart=st.booleans())
def test_count_parts_matches_encoder(text: str, smart: bool) -> None:
    encoding, parts = count_parts(text, smart=smart)
    msg = encode_submit("+1", text, smart=smart, max_parts=255)
    assert (encoding, parts) == (msg.encoding, len(msg.parts))


@SETTINGS
@given(number=numbers, text=st.text(chars, max_size=30), minutes=st.integers(0, 700000))
def test_submit_fields_round_trip(number: str, text: str, minutes: int) -> None:
    part = encode_submit(number, text, validity_minutes=minutes).parts[0]
    d = decode_submit(part.pdu)
    assert d.number == number
    assert d.status_report_requested
    assert d.validity_minutes == validity_minutes_from_relative(relative_validity(minutes))
    assert decode_submit(part.pdu[2:], with_sca=False) == d


@SETTINGS
@given(minutes=st.integers(0, 63 * 7 * 24 * 60))
def test_relative_validity_rounds_up_minimally(minutes: int) -> None:
    vp = relative_validity(minutes)
    assert validity_minutes_from_relative(vp) >= minutes
    if vp > 0:
        assert validity_minutes_from_relative(vp - 1) < minutes


# --- Decoders never raise anything but PduError ---------------------------------------------


def _mutations(data: st.DataObject, pdu: str) -> str:
    raw = bytearray.fromhex(pdu)
    kind = data.draw(st.sampled_from(["flip", "cut", "append", "set", "insert"]))
    if kind == "cut":
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    elif kind == "append":
        raw += data.draw(st.binary(min_size=1, max_size=20))
    elif raw:
        i = data.draw(st.integers(0, len(raw) - 1))
        if kind == "flip":
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "set":
            raw[i] = data.draw(st.integers(0, 255))
        else:
            raw.insert(i, data.draw(st.integers(0, 255)))
    return raw.hex()


@SETTINGS
@given(junk=st.one_of(st.binary(max_size=200).map(bytes.hex), st.text(max_size=60)))
def test_decoders_reject_garbage_cleanly(junk: str) -> None:
    for decode in (
        lambda h: decode_submit(h),
        lambda h: decode_submit(h, with_sca=False),
        lambda h: decode_status_report(h),
        lambda h: decode_status_report(h, tpdu_length=max(1, len(h) // 2 - 1)),
    ):
        try:
            decode(junk)
        except PduError:
            pass


@SETTINGS
@given(data=st.data(), text=texts, number=numbers, concat16=st.booleans())
def test_decode_submit_survives_mutations(
    data: st.DataObject, text: str, number: str, concat16: bool
) -> None:
    msg = encode_submit(number, text, concat_ref_16bit=concat16)
    pdu = _mutations(data, data.draw(st.sampled_from(msg.parts)).pdu)
    try:
        decode_submit(pdu)
    except PduError:
        pass


report_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
).flatmap(
    lambda d: st.integers(-56, 56).map(
        lambda q: d.replace(tzinfo=timezone(timedelta(minutes=15 * q)), microsecond=0)
    )
)


@SETTINGS
@given(
    mr=st.integers(0, 255),
    number=numbers,
    status=st.integers(0, 255),
    when=report_times,
    sca=st.sampled_from(["00", "07917283010010F5", "0281F1"]),
)
def test_status_report_round_trip(
    mr: int, number: str, status: int, when: datetime, sca: str
) -> None:
    hexpdu, length = encode_status_report(mr, number, status, when=when)
    assert hexpdu.startswith("00") and len(hexpdu) // 2 - 1 == length
    full = sca + hexpdu[2:]
    for r in (decode_status_report(full), decode_status_report(full, tpdu_length=length)):
        assert (r.message_reference, r.recipient, r.status) == (mr, number, status)
        assert r.delivered == (status <= 0x1F)
        assert r.final == (not 0x20 <= status <= 0x3F)
        assert r.discharge_time == when and r.status_text


@SETTINGS
@given(data=st.data(), number=numbers, status=st.integers(0, 255))
def test_decode_status_report_survives_mutations(
    data: st.DataObject, number: str, status: int
) -> None:
    hexpdu, length = encode_status_report(7, number, status)
    pdu = _mutations(data, hexpdu)
    use_length = data.draw(st.booleans())
    try:
        decode_status_report(pdu, tpdu_length=length if use_length else None)
    except PduError:
        pass


@SETTINGS
@given(text=st.text(st.sampled_from(sorted(REF_GSM_CHARS)), max_size=200))
def test_gsm7_septets_round_trip(text: str) -> None:
    assert gsm7.is_gsm7(text)
    septets = gsm7.to_septets(text)
    assert len(septets) == gsm7.septet_count(text)
    assert gsm7.from_septets(gsm7.unpack(gsm7.pack(septets), len(septets))) == text
