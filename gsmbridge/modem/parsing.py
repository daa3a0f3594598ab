"""Parsers for the information lines modems answer (pure functions, easy to test).

They tolerate what real firmware does: missing spaces (``+CSQ:4,0``), prefixed
identity answers (ZTE ``+CGMI: ZTE CORPORATION``), leading spaces (Wavecom
`` WAVECOM MODEM``), Huawei's hex LAC/CI, and stray lines mixed in.
"""

from __future__ import annotations

import re

REGISTRATION = {
    0: "not-registered",
    1: "home",
    2: "searching",
    3: "denied",
    4: "unknown",
    5: "roaming",
    6: "home",  # "SMS only" variants (27.007 rel. 9+)
    7: "roaming",
    8: "emergency-only",
    9: "home",
    10: "roaming",
}
REGISTERED = frozenset({1, 5, 6, 7, 9, 10})


def valid_pin(pin: str) -> bool:
    """A SIM PIN is 4 to 8 digits (3GPP TS 22.030); anything else is never sent."""
    return pin.isdigit() and 4 <= len(pin) <= 8 and pin.isascii()


def _fields(line: str) -> list[str]:
    return [f.strip() for f in line.split(":", 1)[1].split(",")] if ":" in line else []


def find(lines: list[str], prefix: str) -> str | None:
    """The first line starting with ``prefix`` (case-insensitive)."""
    for line in lines:
        if line.upper().startswith(prefix.upper()):
            return line
    return None


def parse_csq(lines: list[str]) -> int | None:
    """RSSI 0..31 from ``+CSQ: <rssi>,<ber>``; None when unknown (99) or absent."""
    line = find(lines, "+CSQ:")
    if line is None:
        return None
    fields = _fields(line)
    try:
        rssi = int(fields[0])
    except (ValueError, IndexError):
        return None
    return rssi if 0 <= rssi <= 31 else None


def rssi_to_dbm(rssi: int | None) -> int | None:
    return None if rssi is None else -113 + 2 * rssi


def signal_bars(rssi: int | None) -> int:
    """0..5 bars; thresholds roughly where SMS becomes unreliable (< -109 dBm)."""
    if rssi is None or rssi < 2:
        return 0
    for bars, threshold in ((5, 20), (4, 15), (3, 10), (2, 6)):
        if rssi >= threshold:
            return bars
    return 1


def parse_registration(
    lines: list[str], prefix: str = "+CREG:", *, urc: bool = False
) -> int | None:
    """``<stat>`` of the answer ``+CREG: <n>,<stat>[,...]`` or the URC ``+CREG: <stat>[,...]``.

    (The AT layer already tells answers from URCs, so the caller says which it has.)
    """
    line = find(lines, prefix)
    if line is None:
        return None
    fields = _fields(line)
    candidate = fields[0] if urc or len(fields) < 2 else fields[1]
    try:
        return int(candidate)
    except ValueError:
        return None


def parse_cops(lines: list[str]) -> str:
    """Operator name from ``+COPS: <mode>[,<format>,"<oper>"[,<act>]]``."""
    line = find(lines, "+COPS:")
    if line is None:
        return ""
    match = re.search(r'"([^"]*)"', line)
    if match:
        return match.group(1).strip()
    fields = _fields(line)
    return fields[2] if len(fields) > 2 else ""


def parse_csca(lines: list[str]) -> str:
    """SMSC number from ``+CSCA: "<sca>",<tosca>`` (may be empty)."""
    line = find(lines, "+CSCA:")
    if line is None:
        return ""
    match = re.search(r'"([^"]*)"', line)
    return (match.group(1) if match else "").strip()


def parse_cpin(lines: list[str]) -> str | None:
    """``READY``, ``SIM PIN``, ``SIM PUK``, ... from ``+CPIN: <code>``."""
    line = find(lines, "+CPIN:")
    if line is None:
        return None
    return line.split(":", 1)[1].strip().strip('"').upper()


# How many PIN tries the SIM has left, as each kind of modem says it: (answer prefix, the
# first field it must have or "", which field is the PIN's count).
#   3GPP TS 27.007 8.65:  +CPINR: SIM PIN,<retries>,<default retries>
#   Quectel AT+QPINC="SC": +QPINC: "SC",<pin counter>,<puk counter>
#   SIMCom AT+SPIC:       +SPIC: <pin1>,...  (the other fields' order differs by series)
#   Huawei AT^CPIN?:      ^CPIN: <code>,[<times>],<puk times>,<pin times>,...
#   ZTE AT+ZPINPUK=?:     +ZPINPUK: <pin>,<puk>
_PIN_TRIES: tuple[tuple[str, str, int], ...] = (
    ("+CPINR:", "SIM PIN", 1),
    ("+QPINC:", "SC", 1),
    ("+SPIC:", "", 0),
    ("^CPIN:", "", 3),
    ("+ZPINPUK:", "", 0),
)


def parse_pin_tries(lines: list[str]) -> int | None:
    """The SIM PIN tries left (0..10), or None when the answer does not say."""
    for line in lines:
        for prefix, first, index in _PIN_TRIES:
            if not line.upper().startswith(prefix):
                continue
            fields = [f.strip('"').upper() for f in _fields(line)]
            if first and (not fields or fields[0] != first):
                continue
            if index < len(fields) and fields[index].isdigit() and int(fields[index]) <= 10:
                return int(fields[index])
    return None


def parse_csms_service(lines: list[str]) -> int | None:
    line = find(lines, "+CSMS:")
    fields = _fields(line) if line else []
    return int(fields[0]) if fields and fields[0].isdigit() else None


def parse_identity(lines: list[str], command: str) -> str:
    """The value of an identity answer (AT+CGMI etc.), prefixed or not.

    Takes the first line that is not a URC-looking line of another command; strips an
    optional ``+CGMI:``/``+GMI:`` style prefix and quotes.
    """
    name = command.upper().removeprefix("AT").rstrip("?")
    prefixes = (name + ":", name.replace("+C", "+", 1) + ":", "^" + name.lstrip("+^") + ":")
    for line in lines:
        text = line.strip()
        upper = text.upper()
        for prefix in prefixes:
            if upper.startswith(prefix):
                text = text[len(prefix) :].strip()
                break
        else:
            if text.startswith(("+", "^")):
                continue  # someone else's URC that slipped in
        text = text.strip('"').strip()
        if text:
            return text
    return ""


def parse_digits(lines: list[str], command: str, minimum: int, maximum: int) -> str:
    """IMEI/IMSI/ICCID: the first run of ``minimum..maximum`` digits (ICCID may end in F)."""
    for line in lines:
        value = parse_identity([line], command)
        match = re.search(rf"\b(\d{{{minimum},{maximum}}})F?\b", value, re.IGNORECASE)
        if match:
            return match.group(1)
    return ""
