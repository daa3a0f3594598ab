"""SMS-STATUS-REPORT decoding and encoding (3GPP TS 23.040 §9.2.2.3).

The sender decodes ``+CDS`` URCs with :func:`decode_status_report`;
:func:`encode_status_report` builds them (the network's side).  Pure functions, stdlib
only; every malformed input raises :class:`~gsmbridge.modem.pdu_fields.PduError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from gsmbridge.modem.pdu_fields import (
    MTI_STATUS_REPORT,
    PduError,
    address_field,
    bcd,
    read_address,
    tpdu_reader,
)

__all__ = ["StatusReport", "decode_status_report", "encode_status_report", "status_text"]


@dataclass(frozen=True)
class StatusReport:
    """An SMS-STATUS-REPORT (TS 23.040 §9.2.2.3)."""

    message_reference: int
    recipient: str
    status: int  # TP-ST
    delivered: bool  # 0x00-0x1F: transaction completed
    final: bool  # False only for 0x20-0x3F (SC still trying)
    status_text: str
    discharge_time: datetime | None  # None when the TP-DT octets are not a valid time


_STATUS_TEXTS = {
    0x00: "received by SME",
    0x01: "forwarded to SME, delivery unconfirmed",
    0x02: "replaced by SC",
    0x20: "congestion (still trying)",
    0x21: "SME busy (still trying)",
    0x22: "no response from SME (still trying)",
    0x23: "service rejected (still trying)",
    0x24: "quality of service not available (still trying)",
    0x25: "error in SME (still trying)",
    0x40: "remote procedure error",
    0x41: "incompatible destination",
    0x42: "connection rejected by SME",
    0x43: "not obtainable",
    0x44: "quality of service not available",
    0x45: "no interworking available",
    0x46: "SM validity period expired",
    0x47: "SM deleted by originating SME",
    0x48: "SM deleted by SC administration",
    0x49: "SM does not exist",
    0x60: "congestion",
    0x61: "SME busy",
    0x62: "no response from SME",
    0x63: "service rejected",
    0x64: "quality of service not available",
    0x65: "error in SME",
}


def status_text(status: int) -> str:
    """Human-readable TP-ST (TS 23.040 §9.2.3.15), including the reserved/SC-specific ranges."""
    if status in _STATUS_TEXTS:
        return _STATUS_TEXTS[status]
    if 0x10 <= status <= 0x1F:
        return f"completed (SC-specific status 0x{status:02X})"
    if 0x30 <= status <= 0x3F:
        return f"temporary error, SC-specific 0x{status:02X} (still trying)"
    if 0x50 <= status <= 0x5F:
        return f"permanent error, SC-specific 0x{status:02X}"
    if 0x70 <= status <= 0x7F:
        return f"temporary error, SC-specific 0x{status:02X} (SC stopped trying)"
    if status < 0x20:
        return f"completed (reserved status 0x{status:02X})"
    if status < 0x40:
        return f"temporary error (reserved status 0x{status:02X}, still trying)"
    if status < 0x60:
        return f"permanent error (reserved status 0x{status:02X})"
    if status < 0x80:
        return f"temporary error (reserved status 0x{status:02X}, SC stopped trying)"
    return f"reserved status 0x{status:02X}"


def decode_timestamp(raw: bytes) -> datetime | None:
    """TP-SCTS / TP-DT; None rather than an error when the clock octets are nonsense."""
    if any((b & 0x0F) > 9 or (b >> 4) > 9 for b in raw[:6]):
        return None
    yy, mo, dd, hh, mi, ss = (bcd(b) for b in raw[:6])
    tz = raw[6]
    if (tz >> 4) > 9:
        return None
    quarters = (tz & 0x07) * 10 + (tz >> 4)
    if tz & 0x08:
        quarters = -quarters
    try:
        offset = timezone(timedelta(minutes=15 * quarters))
        return datetime(2000 + yy, mo, dd, hh, mi, ss, tzinfo=offset)
    except ValueError:
        return None


def encode_timestamp(when: datetime) -> bytes:
    offset = when.utcoffset() or timedelta(0)
    quarters = int(offset / timedelta(minutes=15))  # truncates toward zero
    if abs(quarters) > 79:
        raise PduError(f"time zone offset out of range: {offset}")
    fields = (when.year % 100, when.month, when.day, when.hour, when.minute, when.second)
    out = bytes(((v % 10) << 4) | (v // 10) for v in fields)
    q = abs(quarters)
    tz = ((q % 10) << 4) | (q // 10) | (0x08 if quarters < 0 else 0)
    return out + bytes((tz,))


def decode_status_report(pdu_hex: str, *, tpdu_length: int | None = None) -> StatusReport:
    """Decode the PDU of a ``+CDS: <length>`` URC (SCA + TPDU).

    With ``tpdu_length`` the TPDU is the last ``tpdu_length`` octets, which also copes with
    modems that leave out the SCA; without it the SCA length octet is trusted.
    """
    reader = tpdu_reader(pdu_hex, tpdu_length)
    fo = reader.byte("first octet")
    if fo & 0x03 != MTI_STATUS_REPORT:
        raise PduError(f"not an SMS-STATUS-REPORT (first octet 0x{fo:02X})")
    mr = reader.byte("TP-MR")
    recipient = read_address(reader)
    reader.take(7, "TP-SCTS")
    discharge = decode_timestamp(reader.take(7, "TP-DT"))
    st = reader.byte("TP-ST")
    # Optional TP-PI/PID/DCS/UD may follow; nothing here needs them.
    return StatusReport(
        message_reference=mr,
        recipient=recipient,
        status=st,
        delivered=st <= 0x1F,
        final=not 0x20 <= st <= 0x3F,
        status_text=status_text(st),
        discharge_time=discharge,
    )


def encode_status_report(
    message_reference: int, recipient: str, status: int = 0, *, when: datetime | None = None
) -> tuple[str, int]:
    """Build a ``+CDS`` PDU as the network sends it: ("00" + TPDU hex, tpdu_length).

    ``when`` (default: now, UTC) is used for both TP-SCTS and TP-DT; a naive datetime is
    taken as UTC.
    """
    if not 0 <= message_reference <= 255:
        raise PduError(f"message reference out of range: {message_reference}")
    if not 0 <= status <= 255:
        raise PduError(f"status out of range: {status}")
    stamp = encode_timestamp(when if when is not None else datetime.now(UTC))
    # FO 0x06: MTI status report, TP-MMS set (no more messages waiting), TP-SRQ 0
    tpdu = bytes((0x06, message_reference)) + address_field(recipient) + stamp + stamp
    tpdu += bytes((status,))
    return "00" + tpdu.hex().upper(), len(tpdu)
