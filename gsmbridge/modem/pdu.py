"""SMS-SUBMIT encoding and decoding (3GPP TS 23.040, TS 23.038), and the PDU API in one place.

Pure functions, stdlib only, no I/O: the sender uses :func:`encode_submit` to get the hex for
``AT+CMGS`` and :func:`decode_status_report` for ``+CDS`` URCs; the decoders and
:func:`encode_status_report` serve the other direction (what a modem receives); the GUI
uses :func:`count_parts` as a live counter.
Every malformed input raises :class:`PduError` (a ``ValueError``), never ``IndexError`` & co.

Shared fields (addresses, the bounds-checked reader) live in :mod:`.pdu_fields` and
SMS-STATUS-REPORT in :mod:`.status_report`; both are re-exported here.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

from gsmbridge.modem import gsm7
from gsmbridge.modem.pdu_fields import (
    MTI_SUBMIT,
    PduError,
    Reader,
    address_field,
    bcd,
    from_hex,
    normalise_address,
    read_address,
    skip_sca,
)
from gsmbridge.modem.status_report import (
    StatusReport,
    decode_status_report,
    encode_status_report,
    status_text,
)

__all__ = [
    "DecodedSubmit",
    "EncodedMessage",
    "PduError",
    "StatusReport",
    "SubmitPart",
    "count_parts",
    "decode_status_report",
    "decode_submit",
    "encode_status_report",
    "encode_submit",
    "normalise_address",
    "relative_validity",
    "status_text",
    "validity_minutes_from_relative",
]

GSM7 = "gsm7"
UCS2 = "ucs2"
EIGHT_BIT = "8bit"

#: Units (septets / UTF-16 code units) per part: alone, with 8-bit-ref UDH, with 16-bit-ref UDH.
_SINGLE = {GSM7: 160, UCS2: 70}
_MULTI = {(GSM7, False): 153, (UCS2, False): 67, (GSM7, True): 152, (UCS2, True): 66}
_ELLIPSIS = {GSM7: "...", UCS2: "\u2026"}
_MAX_UD_OCTETS = 140
_MAX_CONCAT_PARTS = 255  # total/seq are one octet in the concatenation IE

# First-octet bits (TS 23.040 §9.2.2.2).
_FO_VPF_RELATIVE = 0x10
_FO_SRR = 0x20
_FO_UDHI = 0x40

_SURROGATE_RE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class SubmitPart:
    """One SMS-SUBMIT ready for ``AT+CMGS=<tpdu_length>`` followed by ``pdu`` and Ctrl-Z."""

    pdu: str  # uppercase hex, starting with the SCA octet "00" (modem uses its +CSCA)
    tpdu_length: int  # octets after the SCA: the <length> of AT+CMGS
    seq: int  # 1-based
    total: int


@dataclass(frozen=True)
class EncodedMessage:
    """The parts of one message and what was actually sent."""

    encoding: str  # "gsm7" | "ucs2"
    text: str  # after smart replacement and truncation
    parts: tuple[SubmitPart, ...]
    truncated: bool
    replaced: bool


@dataclass(frozen=True)
class DecodedSubmit:
    """Fields of one SMS-SUBMIT, as the receiving side (a modem) sees them."""

    number: str  # "+<digits>" for international, digits otherwise
    text: str  # this part's text
    encoding: str  # "gsm7" | "ucs2" | "8bit" (8-bit data decoded as Latin-1)
    status_report_requested: bool
    validity_minutes: int | None  # None: no VP, or an absolute VP
    concat: tuple[int, int, int] | None  # (ref, total, seq)
    message_reference: int


# --- Validity period ------------------------------------------------------------------------


def relative_validity(minutes: int) -> int:
    """Relative TP-VP octet for at least ``minutes`` (rounded up to a representable value).

    Rounding up never expires a message earlier than asked; values beyond 63 weeks cap at 255.
    """
    if minutes < 0:
        raise PduError(f"validity must not be negative: {minutes}")
    if minutes <= 12 * 60:
        return max(0, -(-minutes // 5) - 1)
    if minutes <= 24 * 60:
        return 143 + -(-(minutes - 12 * 60) // 30)
    if minutes <= 30 * 24 * 60:
        return 166 + -(-minutes // (24 * 60))
    return min(255, 192 + -(-minutes // (7 * 24 * 60)))


def validity_minutes_from_relative(vp: int) -> int:
    """Minutes represented by a relative TP-VP octet."""
    if not 0 <= vp <= 255:
        raise PduError(f"relative VP out of range: {vp}")
    if vp <= 143:
        return (vp + 1) * 5
    if vp <= 167:
        return 12 * 60 + (vp - 143) * 30
    if vp <= 196:
        return (vp - 166) * 24 * 60
    return (vp - 192) * 7 * 24 * 60


# --- Encoding -------------------------------------------------------------------------------


def _sanitise(text: str) -> str:
    """Pair up or replace lone surrogates, which cannot be encoded as UTF-16."""
    if not _SURROGATE_RE.search(text):
        return text
    return text.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "replace")


def _costs(text: str, encoding: str) -> list[int]:
    """Units each character takes: ESC pairs and surrogate pairs are indivisible 2-unit atoms."""
    if encoding == GSM7:
        ext = gsm7.EXTENSION_CHARS
        return [2 if c in ext else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def _units(text: str, encoding: str) -> int:
    if encoding == GSM7:
        return gsm7.septet_count(text)
    return len(text.encode("utf-16-be")) // 2


def _split(costs: list[int], single: int, multi: int) -> list[tuple[int, int]]:
    """Greedy split into (start, end) character ranges; optimal since order is fixed.

    Each part takes the longest run of whole characters whose units fit, found by bisecting
    the running unit total, so a 2-unit character is never cut and the loop runs per part.
    """
    cum = list(accumulate(costs))
    n = len(cum)
    if not cum or cum[-1] <= single:
        return [(0, n)]
    bounds: list[tuple[int, int]] = []
    start = 0
    while start < n:
        end = bisect_right(cum, (cum[start - 1] if start else 0) + multi, start)
        bounds.append((start, end))
        start = end
    return bounds


def _count(text: str, encoding: str, concat16: bool = False) -> int:
    """Number of parts ``text`` needs; arithmetic when no 2-unit atoms exist (long texts)."""
    units = _units(text, encoding)
    single, multi = _SINGLE[encoding], _MULTI[(encoding, concat16)]
    if units <= single:
        return 1
    if units == len(text):
        return -(-units // multi)
    return len(_split(_costs(text, encoding), single, multi))


def _choose(text: str, smart: bool, concat16: bool) -> tuple[str, str, bool]:
    """(encoding, text, replaced): GSM 7-bit if possible, smart-replaced if that is no dearer."""
    if gsm7.is_gsm7(text):
        return GSM7, text, False
    if smart:
        replaced = gsm7.smart_replace(text)
        if gsm7.is_gsm7(replaced) and _count(replaced, GSM7, concat16) <= _count(
            text, UCS2, concat16
        ):
            return GSM7, replaced, replaced != text
    return UCS2, text, False


def _truncate(text: str, encoding: str, max_parts: int, concat16: bool) -> str:
    """Longest prefix that, followed by an ellipsis, fits in ``max_parts`` parts."""
    single, multi = _SINGLE[encoding], _MULTI[(encoding, concat16)]
    # Every character costs at least one unit, so nothing past this can fit.
    text = text[: max_parts * single]
    costs = _costs(text, encoding)
    ellipsis = _ELLIPSIS[encoding]
    tail = _costs(ellipsis, encoding)
    lo, hi = 0, len(text)  # invariant: prefix lo fits (the ellipsis alone always fits)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(_split(costs[:mid] + tail, single, multi)) <= max_parts:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + ellipsis


def count_parts(text: str, *, smart: bool = True) -> tuple[str, int]:
    """(encoding, parts) that :func:`encode_submit` would use, ignoring ``max_parts``.

    For the GUI's live counter: a count above the sender's ``max_parts`` means truncation.
    """
    encoding, chosen, _ = _choose(_sanitise(text), smart, False)
    return encoding, _count(chosen, encoding)


def _udh(ref: int, total: int, seq: int, concat16: bool) -> bytes:
    if concat16:
        return bytes((6, 0x08, 4, (ref >> 8) & 0xFF, ref & 0xFF, total, seq))
    return bytes((5, 0x00, 3, ref & 0xFF, total, seq))


def encode_submit(
    number: str,
    text: str,
    *,
    concat_ref: int = 0,
    status_report: bool = True,
    validity_minutes: int | None = 24 * 60,
    smart: bool = True,
    max_parts: int = 6,
    concat_ref_16bit: bool = False,
) -> EncodedMessage:
    """Encode ``text`` to ``number`` as one or more SMS-SUBMIT PDUs (cheapest encoding).

    ``concat_ref`` goes into every part's UDH (``& 0xFF``, or ``& 0xFFFF`` with 16-bit refs);
    the caller varies it per message. ``max_parts`` above 255 is capped at 255 (one-octet
    total in the UDH). TP-MR is 0: the modem assigns message references.
    """
    if max_parts < 1:
        raise PduError(f"max_parts must be at least 1, got {max_parts}")
    max_parts = min(max_parts, _MAX_CONCAT_PARTS)
    address = address_field(number)
    vp = b"" if validity_minutes is None else bytes((relative_validity(validity_minutes),))

    encoding, chosen, replaced = _choose(_sanitise(text), smart, concat_ref_16bit)
    truncated = _count(chosen, encoding, concat_ref_16bit) > max_parts
    if truncated:
        chosen = _truncate(chosen, encoding, max_parts, concat_ref_16bit)

    single, multi = _SINGLE[encoding], _MULTI[(encoding, concat_ref_16bit)]
    bounds = _split(_costs(chosen, encoding), single, multi)
    total = len(bounds)
    ref = concat_ref & (0xFFFF if concat_ref_16bit else 0xFF)
    fo = MTI_SUBMIT | (_FO_SRR if status_report else 0) | (_FO_VPF_RELATIVE if vp else 0)
    if total > 1:
        fo |= _FO_UDHI
    dcs = 0x00 if encoding == GSM7 else 0x08
    head = bytes((fo, 0x00)) + address + bytes((0x00, dcs)) + vp

    parts = []
    for seq, (start, end) in enumerate(bounds, 1):
        chunk = chosen[start:end]
        udh = _udh(ref, total, seq, concat_ref_16bit) if total > 1 else b""
        if encoding == GSM7:
            septets = gsm7.to_septets(chunk)
            ud = gsm7.pack(septets, udh)
            udl = (gsm7.header_septets(len(udh)) if udh else 0) + len(septets)
        else:
            ud = udh + chunk.encode("utf-16-be")
            udl = len(ud)
        assert len(ud) <= _MAX_UD_OCTETS, "splitter produced an oversized part"
        tpdu = head + bytes((udl,)) + ud
        parts.append(SubmitPart("00" + tpdu.hex().upper(), len(tpdu), seq, total))
    return EncodedMessage(encoding, chosen, tuple(parts), truncated, replaced)


# --- Decoding -------------------------------------------------------------------------------


def dcs_alphabet(dcs: int) -> str:
    """Alphabet from TP-DCS (TS 23.038 §4); reserved codings are read as GSM 7-bit."""
    group = dcs >> 4
    if group <= 0x07:  # general data coding / automatic deletion groups
        if dcs & 0x20:
            raise PduError(f"compressed user data is not supported (DCS 0x{dcs:02X})")
        return {0: GSM7, 1: EIGHT_BIT, 2: UCS2}.get((dcs >> 2) & 0x03, GSM7)
    if group == 0x0E:
        return UCS2
    if group == 0x0F:
        return EIGHT_BIT if dcs & 0x04 else GSM7
    return GSM7


def _read_validity(reader: Reader, vpf: int) -> int | None:
    if vpf == 0:
        return None
    if vpf == 2:
        return validity_minutes_from_relative(reader.byte("TP-VP"))
    vp = reader.take(7, "TP-VP")
    if vpf == 3:  # absolute: meaningful only against the SC's clock
        return None
    # enhanced (TS 23.040 §9.2.3.12.3): format in bits 2-0 of the functionality indicator
    fmt = vp[0] & 0x07
    if fmt == 1:
        return validity_minutes_from_relative(vp[1])
    if fmt == 2:
        return -(-vp[1] // 60)
    if fmt == 3:
        h, m, s = (bcd(b) for b in vp[1:4])
        return h * 60 + m + (1 if s else 0)
    return None


def _parse_udh(udh: bytes) -> tuple[int, int, int] | None:
    """Concatenation (ref, total, seq) from the UDH IEs, if any valid one is present."""
    concat = None
    pos = 0
    while pos < len(udh):
        if pos + 2 > len(udh):
            raise PduError("truncated UDH information element")
        iei, length = udh[pos], udh[pos + 1]
        data = udh[pos + 2 : pos + 2 + length]
        if len(data) != length:
            raise PduError("UDH information element overruns the header")
        if iei == 0x00 and length == 3:
            ref, total, seq = data[0], data[1], data[2]
        elif iei == 0x08 and length == 4:
            ref, total, seq = (data[0] << 8) | data[1], data[2], data[3]
        else:
            pos += 2 + length
            continue
        # TS 23.040 §9.2.3.24.1: a receiver ignores the IE when total/seq are out of range
        if total and 1 <= seq <= total:
            concat = (ref, total, seq)
        pos += 2 + length
    return concat


def read_user_data(
    reader: Reader, alphabet: str, udhi: bool, *, ucs2_errors: str = "replace"
) -> tuple[str, tuple[int, int, int] | None]:
    """Text and concatenation (ref, total, seq) of TP-UDL/TP-UD.

    ``ucs2_errors="surrogatepass"`` keeps half of a surrogate pair that a sender split
    across two parts, for the caller to join with the other half.
    """
    udl = reader.byte("TP-UDL")
    ud = reader.rest()
    if alphabet == GSM7:
        if udl > 160:
            raise PduError(f"TP-UDL {udl} septets exceeds 160")
        needed = (udl * 7 + 7) // 8
    else:
        if udl > _MAX_UD_OCTETS:
            raise PduError(f"TP-UDL {udl} octets exceeds 140")
        needed = udl
    if len(ud) != needed:
        raise PduError(f"user data is {len(ud)} octets, TP-UDL {udl} implies {needed}")
    concat = None
    header_len = 0
    if udhi:
        if not ud or ud[0] + 1 > len(ud):
            raise PduError("UDHI set but the user data header does not fit")
        header_len = ud[0] + 1
        concat = _parse_udh(ud[1:header_len])
    if alphabet == GSM7:
        skip = gsm7.header_septets(header_len) if udhi else 0
        if skip > udl:
            raise PduError("user data header longer than TP-UDL")
        return gsm7.from_septets(gsm7.unpack(ud, udl - skip, skip)), concat
    body = ud[header_len:]
    if alphabet == UCS2:
        if len(body) % 2:
            raise PduError("UCS-2 user data has an odd number of octets")
        return body.decode("utf-16-be", ucs2_errors), concat
    return body.decode("latin-1"), concat


def decode_submit(pdu_hex: str, *, with_sca: bool = True) -> DecodedSubmit:
    """Decode an SMS-SUBMIT as written after the ``AT+CMGS`` prompt.

    Strict about lengths (TP-UDL must match the user data exactly), so a decoder on the
    modem's side catches the mistakes a real modem would answer with ``+CMS ERROR: 304``.
    """
    reader = Reader(from_hex(pdu_hex))
    if with_sca:
        skip_sca(reader)
    fo = reader.byte("first octet")
    if fo & 0x03 != MTI_SUBMIT:
        raise PduError(f"not an SMS-SUBMIT (first octet 0x{fo:02X})")
    mr = reader.byte("TP-MR")
    number = read_address(reader)
    reader.byte("TP-PID")
    alphabet = dcs_alphabet(reader.byte("TP-DCS"))
    validity = _read_validity(reader, (fo >> 3) & 0x03)
    text, concat = read_user_data(reader, alphabet, bool(fo & _FO_UDHI))
    return DecodedSubmit(
        number=number,
        text=text,
        encoding=alphabet,
        status_report_requested=bool(fo & _FO_SRR),
        validity_minutes=validity,
        concat=concat,
        message_reference=mr,
    )
