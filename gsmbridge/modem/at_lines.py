"""Classifying the modem's lines: final results, unsolicited result codes (URCs), noise.

Pure functions on decoded lines, no I/O; the reader thread of :mod:`.at` uses them to
tell a command's answer from a URC.  Matching is on the upper-cased line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "REG_PREFIXES",
    "TWO_LINE_URC",
    "URC_PREFIXES",
    "URC_WORDS",
    "Urc",
    "clean_line",
    "is_final",
    "is_hex",
    "is_urc",
    "looks_like_registration_urc",
    "urc_name",
]

# Lines that are URCs whatever else is happening (matched on the upper-cased line).
URC_PREFIXES: tuple[str, ...] = (
    "+CMTI:",
    "+CMT:",
    "+CDS:",
    "+CDSI:",
    "+CBM:",
    "+CBMI:",
    "+CREG:",
    "+CGREG:",
    "+CEREG:",
    "+CRING:",
    "+CLIP:",
    "+CCWA:",
    "+CUSD:",
    "+CIEV:",
    "+CTZV:",
    "+CTZE:",
    "+CPIN:",
    "+CFUN:",
    "+CGEV:",
    "+CUSATP",
    "+STIN:",
    "+QIND:",
    "+QUSIM:",
    "+QSTK",
    "+ZDONR:",
    "+ZPASR:",
    "+ZUSIMR:",
    "+ZEND",
    "+ZSTART",
    "+WIND:",
    "^RSSI:",
    "^HCSQ:",
    "^MODE:",
    "^SRVST:",
    "^BOOT:",
    "^DSFLOWRPT:",
    "^SIMST:",
    "^SYSSTART",
    "^CEND:",
    "^ORIG:",
    "^CONF:",
    "^CONN:",
    "^STIN:",
    "^NWTIME:",
    "*PSUTTZ:",
    "+PSUTTZ:",
    "DST:",
    "UNDER-VOLTAGE",
    "OVER-VOLTAGE",
    "NORMAL POWER DOWN",
)
URC_WORDS = frozenset({"RING", "RDY", "SMS READY", "CALL READY", "PB DONE", "^SYSSTART"})
# URCs whose next line is a PDU in PDU mode: "+CDS: <len>" / "+CMT: [<alpha>],<len>".
TWO_LINE_URC = re.compile(r"^\+(CDS|CBM):\s*\d+$|^\+CMT:.*,\s*\d+$", re.IGNORECASE)
_FINALS = frozenset({"OK", "ERROR", "NO CARRIER", "COMMAND NOT SUPPORT"})
_FINAL_ERR = re.compile(r"^\+(CME|CMS) ERROR", re.IGNORECASE)
_HEX = re.compile(r"^[0-9A-Fa-f]+$")
REG_PREFIXES = ("+CREG:", "+CGREG:", "+CEREG:")


@dataclass(frozen=True)
class Urc:
    """An unsolicited line; ``pdu`` holds the second line of +CDS/+CMT in PDU mode."""

    line: str
    name: str
    pdu: str | None = None


def is_final(line: str) -> bool:
    return line.upper() in _FINALS or bool(_FINAL_ERR.match(line))


def urc_name(line: str) -> str:
    return line.split(":", 1)[0].strip().upper()


def is_urc(line: str) -> bool:
    upper = line.upper()
    return upper in URC_WORDS or upper.startswith(URC_PREFIXES)


def is_hex(text: str) -> bool:
    """Hex digits only (a PDU line)."""
    return bool(_HEX.match(text))


def looks_like_registration_urc(line: str) -> bool:
    """``+CREG: <stat>[,<lac>,<ci>[,<act>]]`` (URC) vs ``+CREG: <n>,<stat>...`` (answer)."""
    fields = [f.strip() for f in line.split(":", 1)[1].split(",")]
    if len(fields) in (1, 3):
        return True
    return len(fields) == 4 and fields[1].startswith('"')


def clean_line(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    # Control characters (NUL, Ctrl-Z echo, ESC) carry no meaning inside a line.
    return "".join(ch for ch in text if ch >= " " or ch == "\t").strip()
