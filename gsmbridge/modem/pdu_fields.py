"""TPDU fields shared by SMS-SUBMIT and SMS-STATUS-REPORT (3GPP TS 23.040).

Addresses (TP-DA / TP-RA) in both directions, swapped-BCD octets, hex input and a
bounds-checked reader.  Pure functions, stdlib only; every malformed input raises
:class:`PduError`.
"""

from __future__ import annotations

import re

from gsmbridge.modem import gsm7

__all__ = [
    "MTI_DELIVER",
    "MTI_STATUS_REPORT",
    "MTI_SUBMIT",
    "PduError",
    "Reader",
    "address_field",
    "bcd",
    "from_hex",
    "normalise_address",
    "read_address",
    "skip_sca",
    "tpdu_reader",
]

# First-octet message types (TS 23.040 §9.2.2.2).
MTI_DELIVER = 0x00
MTI_SUBMIT = 0x01
MTI_STATUS_REPORT = 0x02
_TOA_INTERNATIONAL = 0x91
_TOA_NATIONAL = 0x81

_ADDRESS_RE = re.compile(r"\+?[0-9]{1,20}")
_BCD_DIGITS = "0123456789*#abc"


class PduError(ValueError):
    """Bad number, bad hex or an undecodable PDU."""


# --- Addresses ------------------------------------------------------------------------------


def normalise_address(number: str) -> tuple[str, int]:
    """Split ``+E.164`` / national digits into (digits, type-of-address).

    Strict on purpose: a number with spaces or dashes that reaches the modem earns
    ``+CMS ERROR: 304``, so formatting is the caller's job (phonenumbers upstream).
    """
    if not isinstance(number, str) or not _ADDRESS_RE.fullmatch(number):
        raise PduError(f"invalid phone number {number!r}: expected +? and 1..20 digits")
    if number.startswith("+"):
        return number[1:], _TOA_INTERNATIONAL
    return number, _TOA_NATIONAL


def _swap_bcd(digits: str) -> bytes:
    """Semi-octets, low nibble first, odd counts padded with F."""
    if len(digits) % 2:
        digits += "F"
    return bytes.fromhex("".join(digits[i + 1] + digits[i] for i in range(0, len(digits), 2)))


def address_field(number: str) -> bytes:
    digits, toa = normalise_address(number)
    return bytes((len(digits), toa)) + _swap_bcd(digits)


# --- Reading --------------------------------------------------------------------------------


def bcd(octet: int) -> int:
    """Swapped-BCD octet to its value; the caller treats out-of-range digits as invalid."""
    return (octet & 0x0F) * 10 + (octet >> 4)


class Reader:
    """Bounds-checked cursor: running off the end is a PduError, not an IndexError."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise PduError(f"PDU too short: {what} needs {n} octet(s) at offset {self.pos}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def byte(self, what: str) -> int:
        return self.take(1, what)[0]

    def rest(self) -> bytes:
        chunk = self.data[self.pos :]
        self.pos = len(self.data)
        return chunk


def from_hex(pdu_hex: str) -> bytes:
    try:
        return bytes.fromhex(pdu_hex.strip())
    except (ValueError, TypeError, AttributeError) as exc:
        raise PduError(f"not a hex string: {exc}") from None


def skip_sca(reader: Reader) -> None:
    reader.take(reader.byte("SCA length"), "SCA")


def tpdu_reader(pdu_hex: str, tpdu_length: int | None) -> Reader:
    """A reader at the TPDU of a PDU the modem gave (SCA + TPDU).

    With ``tpdu_length`` (the ``<length>`` the modem announced) the TPDU is the last
    ``tpdu_length`` octets, which also copes with modems that leave out the SCA;
    without it the SCA length octet is trusted.
    """
    data = from_hex(pdu_hex)
    if tpdu_length is None:
        reader = Reader(data)
        skip_sca(reader)
        return reader
    if not 0 < tpdu_length <= len(data):
        raise PduError(f"TPDU length {tpdu_length} does not fit a {len(data)}-octet PDU")
    return Reader(data[len(data) - tpdu_length :])


def read_address(reader: Reader) -> str:
    """TP-DA / TP-RA: length in semi-octets, TOA, swapped BCD (or packed GSM for alphanumeric)."""
    length = reader.byte("address length")
    toa = reader.byte("type of address")
    raw = reader.take((length + 1) // 2, "address digits")
    if length > 20:
        raise PduError(f"address longer than 20 digits: {length}")
    if (toa >> 4) & 0x07 == 0x05:  # alphanumeric: GSM 7-bit packed
        return gsm7.from_septets(gsm7.unpack(raw, length * 4 // 7))
    digits = []
    for i in range(length):
        nibble = (raw[i // 2] >> (4 * (i % 2))) & 0x0F
        if nibble == 0x0F:
            raise PduError("filler nibble F inside an address")
        digits.append(_BCD_DIGITS[nibble])
    prefix = "+" if (toa >> 4) & 0x07 == 0x01 else ""
    return prefix + "".join(digits)
