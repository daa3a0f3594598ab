"""GSM 7-bit default alphabet (3GPP TS 23.038 §6.2.1), septet packing and smart replacement.

Kept apart from :mod:`gsmbridge.modem.pdu` so the tables (data) do not drown the PDU logic.
Pure and stdlib-only: the GUI's live counter imports it too.
"""

from __future__ import annotations

import unicodedata

ESC = 0x1B

# Index = septet value. Position 0x1B is the escape to the extension table, never a character.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
assert len(_BASIC) == 128

# Extension table: reached through ESC, so each of these costs two septets.
_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

#: Characters that cost one septet / two septets.
BASIC_CHARS: frozenset[str] = frozenset(c for i, c in enumerate(_BASIC) if i != ESC)
EXTENSION_CHARS: frozenset[str] = frozenset(_EXTENSION.values())
GSM7_CHARS: frozenset[str] = BASIC_CHARS | EXTENSION_CHARS

# str.translate table: character -> its septet(s) as code points 0..127, so that
# ``text.translate(_TO_SEPTETS).encode("latin-1")`` yields the septet bytes in C speed.
_TO_SEPTETS: dict[int, str] = {ord(c): chr(i) for i, c in enumerate(_BASIC) if i != ESC}
_TO_SEPTETS.update({ord(c): chr(ESC) + chr(s) for s, c in _EXTENSION.items()})

_FROM_BASIC: tuple[str, ...] = tuple(_BASIC)


def is_gsm7(text: str) -> bool:
    """True if every character of ``text`` exists in the default alphabet or its extension."""
    return set(text) <= GSM7_CHARS


def septet_count(text: str) -> int:
    """Septets needed for ``text`` (extension characters count twice); text must be GSM 7-bit."""
    return len(text) + sum(text.count(c) for c in EXTENSION_CHARS)


def to_septets(text: str) -> bytes:
    """Map GSM 7-bit encodable text to unpacked septet values (one byte each, ESC pairs inline)."""
    return text.translate(_TO_SEPTETS).encode("latin-1")


def from_septets(septets: bytes | list[int]) -> str:
    """Decode unpacked septets to text.

    Per TS 23.038 §6.2.1.1 an unknown ESC sequence is shown as the basic character of the
    second septet; a second ESC (reserved for future tables) and a dangling final ESC become
    a space so that no septet is silently lost.
    """
    out: list[str] = []
    escaped = False
    for s in septets:
        s &= 0x7F
        if escaped:
            escaped = False
            if s == ESC:
                out.append(" ")
            else:
                out.append(_EXTENSION.get(s, _FROM_BASIC[s]))
        elif s == ESC:
            escaped = True
        else:
            out.append(_FROM_BASIC[s])
    if escaped:
        out.append(" ")
    return "".join(out)


def header_septets(header_octets: int) -> int:
    """Septets occupied by a user data header of ``header_octets`` (incl. UDHL) plus fill bits."""
    return (header_octets * 8 + 6) // 7


def pack(septets: bytes, header: bytes = b"") -> bytes:
    """Pack septets LSB-first after an optional UDH, inserting fill bits to a septet boundary.

    The UDH and the fill bits occupy whole septets (TS 23.040 §9.2.3.24), so the text starts
    at bit ``header_septets(len(header)) * 7`` of the user data.
    """
    shift = header_septets(len(header)) * 7
    acc = 0
    for i, s in enumerate(septets):
        acc |= s << (7 * i)
    total_bits = shift + 7 * len(septets)
    value = int.from_bytes(header, "little") | (acc << shift)
    return value.to_bytes((total_bits + 7) // 8, "little")


def unpack(data: bytes, count: int, skip: int = 0) -> bytes:
    """Read ``count`` septets from packed ``data``, starting after ``skip`` septets."""
    value = int.from_bytes(data, "little") >> (7 * skip)
    out = bytearray(count)
    for i in range(count):
        out[i] = value & 0x7F
        value >>= 7
    return bytes(out)


# --- Smart encoding -------------------------------------------------------------------------
#
# Typographic look-alikes that word processors and phone keyboards insert and that would force
# the whole message into UCS-2 (70 instead of 160 characters per SMS).  Only characters whose
# GSM replacement reads the same are listed.  Deliberately NOT folded: accented letters missing
# from the GSM alphabet (á, ç, ł, ő...): dropping a diacritic changes names and words, and a
# message in such a language would degrade everywhere; it goes as UCS-2 unchanged instead.
# Canonically equivalent forms (e + U+0301 -> é) are handled by NFC composition first, which
# is not a change of text at all.
_SMART: dict[str, str] = {
    # single quotes, apostrophes, primes and the ASCII backtick (0x60 is ¿ in GSM)
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u2039": "'", "\u203a": "'", "\u02bc": "'", "\u02b9": "'", "`": "'", "\u00b4": "'",
    # double quotes and guillemets
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"', "\u02ba": '"',
    # hyphens, dashes and the minus sign
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2015": "-", "\u2212": "-", "\u2043": "-",
    # bullet: plain-text lists are written with "-"
    "\u2022": "-",
    "\u2026": "...",
    # arithmetic signs with an unambiguous ASCII spelling
    "\u00d7": "x", "\u00f7": "/", "\u2044": "/",
    # tab and Unicode spaces (NBSP, en/em/thin/hair spaces, narrow NBSP, ideographic space)
    "\t": " ", "\u00a0": " ", "\u1680": " ", "\u202f": " ", "\u205f": " ", "\u3000": " ",
    **{chr(c): " " for c in range(0x2000, 0x200B)},
    # invisible format characters: soft hyphen, zero-width space/joiners, word joiner, BOM
    "\u00ad": "", "\u200b": "", "\u200c": "", "\u200d": "", "\u2060": "", "\ufeff": "",
    # Greek capitals drawn exactly like Latin ones (Greek phones write capitals this way)
    "\u0391": "A", "\u0392": "B", "\u0395": "E", "\u0396": "Z", "\u0397": "H", "\u0399": "I",
    "\u039a": "K", "\u039c": "M", "\u039d": "N", "\u039f": "O", "\u03a1": "P", "\u03a4": "T",
    "\u03a5": "Y", "\u03a7": "X",
}  # fmt: skip
_SMART_TABLE = str.maketrans(_SMART)


def smart_replace(text: str) -> str:
    """Compose (NFC) and replace look-alikes by GSM equivalents; the result may still not be GSM."""
    return unicodedata.normalize("NFC", text).translate(_SMART_TABLE)
