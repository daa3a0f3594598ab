"""SMS-DELIVER decoding and encoding (3GPP TS 23.040 §9.2.2.1): the SMS the SIM receives.

Replies to notifications arrive as SMS-DELIVER PDUs in the modem's memory (``+CMTI``).
The modem reads them with :func:`decode_deliver`; :func:`encode_deliver` builds them
(what the network would hand a modem), and reuses the SMS-SUBMIT encoder's user data (same
alphabets, same splitting and concatenation headers).  Pure functions, stdlib only;
every malformed input raises :class:`~gsmbridge.modem.pdu_fields.PduError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from gsmbridge.modem import pdu
from gsmbridge.modem.pdu_fields import (
    MTI_DELIVER,
    PduError,
    Reader,
    address_field,
    from_hex,
    read_address,
    tpdu_reader,
)
from gsmbridge.modem.status_report import decode_timestamp, encode_timestamp

__all__ = ["Deliver", "decode_deliver", "encode_deliver"]

_FO_MMS = 0x04  # TP-MMS set: no more messages waiting at the SC
_FO_UDHI = 0x40


@dataclass(frozen=True)
class Deliver:
    """One received SMS (one part of a long message)."""

    sender: str  # "+<digits>", national digits, or an alphanumeric name
    text: str  # this part's text; may start or end with half of a split surrogate pair
    sent_at: datetime | None  # TP-SCTS: when the SMS centre received it (None if nonsense)
    concat: tuple[int, int, int] | None  # (ref, total, seq) of a long message


def decode_deliver(pdu_hex: str, *, tpdu_length: int | None = None) -> Deliver:
    """Decode the PDU an ``AT+CMGR`` / ``AT+CMGL`` in PDU mode answers (SCA + TPDU).

    With ``tpdu_length`` (the ``<length>`` of the answer) the TPDU is the last
    ``tpdu_length`` octets; without it the SCA length octet is trusted.
    """
    reader = tpdu_reader(pdu_hex, tpdu_length)
    fo = reader.byte("first octet")
    if fo & 0x03 != MTI_DELIVER:
        raise PduError(f"not an SMS-DELIVER (first octet 0x{fo:02X})")
    sender = read_address(reader)
    reader.byte("TP-PID")
    alphabet = pdu.dcs_alphabet(reader.byte("TP-DCS"))
    sent_at = decode_timestamp(reader.take(7, "TP-SCTS"))
    # A sender may split a surrogate pair (an emoji) across two parts: keep the halves.
    text, concat = pdu.read_user_data(
        reader, alphabet, bool(fo & _FO_UDHI), ucs2_errors="surrogatepass"
    )
    return Deliver(sender=sender, text=text, sent_at=sent_at, concat=concat)


def encode_deliver(
    sender: str, text: str, *, concat_ref: int = 0, when: datetime | None = None
) -> list[tuple[str, int]]:
    """SMS-DELIVER PDUs as a modem stores them: [("00" + TPDU hex, tpdu_length), ...].

    The user data (alphabet, splitting, concatenation header) is the SMS-SUBMIT
    encoder's; only the header around it differs.
    """
    stamp = encode_timestamp(when if when is not None else datetime.now(UTC))
    encoded = pdu.encode_submit(
        sender, text, concat_ref=concat_ref, status_report=False, validity_minutes=None
    )
    out = []
    for part in encoded.parts:
        submit = Reader(from_hex(part.pdu))
        submit.take(submit.byte("SCA length"), "SCA")
        fo = submit.byte("first octet")
        submit.byte("TP-MR")
        read_address(submit)
        submit.byte("TP-PID")
        dcs = submit.byte("TP-DCS")
        user_data = submit.rest()  # TP-UDL and TP-UD (no TP-VP: validity_minutes=None)
        head = bytes((MTI_DELIVER | _FO_MMS | (fo & _FO_UDHI),)) + address_field(sender)
        tpdu = head + bytes((0x00, dcs)) + stamp + user_data
        out.append(("00" + tpdu.hex().upper(), len(tpdu)))
    return out
