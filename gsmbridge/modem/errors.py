"""Modem errors and the classification of +CMS / +CME ERROR codes.

The sender's retry policy rests on one bit per error: ``transient`` (try again
later, the same message may well succeed) or permanent (retrying cannot help,
e.g. an invalid number).  ``ModemUnavailable`` is a third case: the modem
itself is not usable right now, so the sender should pause without counting
an attempt against the message.

Unknown codes: +CMS codes >= 500 are vendor catch-alls ("500 unknown error" is
the most common answer of all to a failed send, often caused by a weak
network) and are treated as transient; unknown codes below 500 are standard
RP/TP/ME causes that we have not listed, and are treated as permanent so a
message that cannot succeed is not retried for ever.  Unknown +CME codes
follow the same rule.  An error *text* we cannot map (CMEE=2 on an exotic
firmware) is treated as transient: we cannot tell, and the sender's attempt
limit bounds the cost of guessing wrong.
"""

from __future__ import annotations

import re
import sys

# kind: "cms" | "cme" | "timeout" | "io" | "protocol" | "config" | "input"
#   "input" = the message itself is unusable (invalid number), never retried.


class ModemError(Exception):
    """A failed modem operation.

    ``maybe_sent`` is True when the failure happened after the PDU was handed
    to the modem (no +CMGS answer, connection lost after Ctrl-Z): the SMS may
    have gone out, so a retry risks a duplicate.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        code: int | None = None,
        name: str = "",
        transient: bool = False,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.name = name or message
        self.transient = transient
        self.maybe_sent = maybe_sent

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self)!r}, kind={self.kind!r}, code={self.code!r}, "
            f"transient={self.transient})"
        )


class ModemUnavailable(ModemError):
    """The modem cannot send now (port missing/closed, SIM locked, not registered)."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "io",
        code: int | None = None,
        name: str = "",
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(
            message, kind=kind, code=code, name=name, transient=True, maybe_sent=maybe_sent
        )


class ConnectionLost(ModemUnavailable):
    """The port vanished or was closed while talking to the modem."""


# +CMS ERROR (3GPP TS 27.005 §3.2.5; 0-127 RP causes, 128-255 TP-FCS, 300+ ME/network).
# code -> (name, transient)
CMS_ERRORS: dict[int, tuple[str, bool]] = {
    1: ("unassigned number", False),
    8: ("operator determined barring", False),
    10: ("call barred", False),
    17: ("network failure", True),
    21: ("short message transfer rejected", False),
    22: ("memory capacity exceeded", True),
    27: ("destination out of service", True),
    28: ("unidentified subscriber", False),
    29: ("facility rejected", False),
    30: ("unknown subscriber", False),
    38: ("network out of order", True),
    41: ("temporary failure", True),
    42: ("congestion", True),
    47: ("resources unavailable", True),
    50: ("requested facility not subscribed", False),
    69: ("requested facility not implemented", False),
    81: ("invalid short message transfer reference", False),
    95: ("invalid message", False),
    96: ("invalid mandatory information", False),
    97: ("message type non-existent", False),
    98: ("message not compatible with protocol state", True),
    99: ("information element non-existent", False),
    111: ("protocol error", False),
    127: ("interworking unspecified", False),
    0x80: ("telematic interworking not supported", False),
    0x81: ("short message type 0 not supported", False),
    0x82: ("cannot replace short message", False),
    0x8F: ("unspecified TP-PID error", False),
    0x90: ("data coding scheme not supported", False),
    0x91: ("message class not supported", False),
    0x9F: ("unspecified TP-DCS error", False),
    0xA0: ("command cannot be actioned", False),
    0xA1: ("command unsupported", False),
    0xAF: ("unspecified TP-command error", False),
    0xB0: ("TPDU not supported", False),
    0xC0: ("SC busy", True),
    0xC1: ("no SC subscription", False),
    0xC2: ("SC system failure", True),
    0xC3: ("invalid SME address", False),
    0xC4: ("destination SME barred", False),
    0xC5: ("SM rejected, duplicate SM", False),
    0xC6: ("TP-VPF not supported", False),
    0xC7: ("TP-VP not supported", False),
    0xD0: ("SIM SMS storage full", False),
    0xD4: ("SIM application toolkit busy", True),
    0xFF: ("unspecified error cause", True),
    300: ("ME failure", True),
    301: ("SMS service of ME reserved", False),
    302: ("operation not allowed", True),  # SIM800 answers this while still booting
    303: ("operation not supported", False),
    304: ("invalid PDU mode parameter", False),
    305: ("invalid text mode parameter", False),
    310: ("SIM not inserted", False),
    311: ("SIM PIN required", False),
    312: ("PH-SIM PIN required", False),
    313: ("SIM failure", False),
    314: ("SIM busy", True),
    315: ("SIM wrong", False),
    316: ("SIM PUK required", False),
    317: ("SIM PIN2 required", False),
    318: ("SIM PUK2 required", False),
    320: ("memory failure", True),
    321: ("invalid memory index", False),
    322: ("memory full", True),
    330: ("SMSC address unknown", False),
    331: ("no network service", True),
    332: ("network timeout", True),
    340: ("no +CNMA acknowledgement expected", False),
    500: ("unknown error", True),
    512: ("user abort", True),
    513: ("unable to store", True),
    514: ("invalid status", True),
    515: ("device busy", True),
}

# +CME ERROR (3GPP TS 27.007 §9.2) plus the common vendor 515.
CME_ERRORS: dict[int, tuple[str, bool]] = {
    0: ("phone failure", True),
    1: ("no connection to phone", True),
    2: ("phone-adaptor link reserved", True),
    3: ("operation not allowed", True),
    4: ("operation not supported", False),
    5: ("PH-SIM PIN required", False),
    10: ("SIM not inserted", False),
    11: ("SIM PIN required", False),
    12: ("SIM PUK required", False),
    13: ("SIM failure", False),
    14: ("SIM busy", True),
    15: ("SIM wrong", False),
    16: ("incorrect password", False),
    17: ("SIM PIN2 required", False),
    18: ("SIM PUK2 required", False),
    20: ("memory full", True),
    21: ("invalid index", False),
    22: ("not found", False),
    23: ("memory failure", True),
    24: ("text string too long", False),
    25: ("invalid characters in text string", False),
    26: ("dial string too long", False),
    27: ("invalid characters in dial string", False),
    30: ("no network service", True),
    31: ("network timeout", True),
    32: ("network not allowed - emergency calls only", True),
    100: ("unknown", True),
    515: ("device busy", True),
}

# CMEE=2 texts that differ from our table names (lower-cased, spaces collapsed).
_TEXT_ALIASES: dict[str, tuple[str, int]] = {
    "invalid input value": ("cms", 304),
    "sim not ready": ("cme", 14),
    "sim pin necessary": ("cme", 11),
    "sim puk necessary": ("cme", 12),
    "incorrect parameters": ("cme", 4),
    "operation not permitted": ("cme", 3),
    "unknown error": ("cms", 500),
    "smsc address unknown": ("cms", 330),
    "sc address unknown": ("cms", 330),
    "network not allowed emergency calls only": ("cme", 32),
    "phone busy": ("cme", 515),
}


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9+ ]", " ", text.lower()).split())


def _text_index(table: dict[int, tuple[str, bool]]) -> dict[str, int]:
    return {_norm(name): code for code, (name, _t) in table.items()}


_CMS_BY_TEXT = _text_index(CMS_ERRORS)
_CME_BY_TEXT = _text_index(CME_ERRORS)


def classify(kind: str, code: int | None) -> tuple[str, bool]:
    """(name, transient) for a +CMS (``kind="cms"``) or +CME code; see module doc."""
    table = CMS_ERRORS if kind == "cms" else CME_ERRORS
    if code is None:
        return "unknown error", True
    if code in table:
        return table[code]
    return f"unknown error {code}", code >= 500


def from_code(kind: str, code: int | None, raw: str = "") -> ModemError:
    name, transient = classify(kind, code)
    label = f"{kind.upper()} {code} {name}" if code is not None else f"{kind.upper()} {name}"
    return ModemError(raw or label, kind=kind, code=code, name=label, transient=transient)


def from_text(kind: str, text: str) -> ModemError:
    """Map a CMEE=2 text such as ``SIM busy`` to the same error as its number."""
    key = _norm(text)
    own = _CMS_BY_TEXT if kind == "cms" else _CME_BY_TEXT
    other = _CME_BY_TEXT if kind == "cms" else _CMS_BY_TEXT
    if key in own:
        return from_code(kind, own[key], f"+{kind.upper()} ERROR: {text}")
    if key in _TEXT_ALIASES:
        alias_kind, code = _TEXT_ALIASES[key]
        err = from_code(alias_kind, code, f"+{kind.upper()} ERROR: {text}")
        err.kind = kind  # keep the family the modem reported
        return err
    if key in other:
        # Some firmware prints +CME texts under +CMS (and vice versa).
        other_kind = "cme" if kind == "cms" else "cms"
        err = from_code(other_kind, other[key], f"+{kind.upper()} ERROR: {text}")
        err.kind = kind
        return err
    return ModemError(
        f"+{kind.upper()} ERROR: {text}",
        kind=kind,
        code=None,
        name=f"{kind.upper()} {text}",
        transient=True,
    )


_FINAL_ERROR = re.compile(r"^\+(CMS|CME) ERROR:?\s*(.*)$", re.IGNORECASE)


def parse_error(line: str) -> ModemError | None:
    """The error a final result line stands for, or None if it is not an error.

    Accepts ``ERROR``, ``+CME ERROR: 14``, ``+CMS ERROR: network timeout``, a bare
    ``+CMS ERROR:`` (seen on some firmware; treated as 500 unknown error),
    Huawei's ``COMMAND NOT SUPPORT`` and ``NO CARRIER``.
    """
    text = line.strip()
    upper = text.upper()
    if upper == "ERROR":
        # No detail at all; unknown cause, so let the attempt limit decide.
        return ModemError("ERROR", kind="cme", code=None, name="ERROR (no detail)", transient=True)
    if upper == "COMMAND NOT SUPPORT":
        err = from_code("cme", 4, text)
        return err
    if upper == "NO CARRIER":
        return ModemError("NO CARRIER", kind="protocol", name="NO CARRIER", transient=True)
    match = _FINAL_ERROR.match(text)
    if not match:
        return None
    kind = match.group(1).lower()
    detail = match.group(2).strip()
    if not detail:
        return from_code(kind, 500 if kind == "cms" else 100, text)
    if detail.isdigit():
        return from_code(kind, int(detail), text)
    return from_text(kind, detail)


def timeout_error(what: str, *, maybe_sent: bool = False) -> ModemError:
    return ModemError(
        f"timeout: {what}",
        kind="timeout",
        name=f"timeout: {what}",
        transient=True,
        maybe_sent=maybe_sent,
    )


# -- texts for the user: what went wrong with the port, and what to try -----------------

_ERRNO = re.compile(r"\[Errno \d+\]\s*|\b[A-Za-z]*Error\(\d+,\s*'([^']*)'[^)]*\)")
_OPEN_PREFIX = re.compile(r"^(could not open port\s+\S+?:?\s+)+", re.IGNORECASE)


def _windows() -> bool:
    return sys.platform == "win32"


# Windows opens COM ports exclusively: "access denied" means someone else has it.
_WINDOWS_HELD = (
    "another program holds the port (vendor connection managers are the usual culprit: "
    'close the modem\'s own connection software, e.g. its "Mobile Partner" or dashboard, '
    "in the tray too; or a terminal program, or another gsmbridge)"
)


def no_ports_text() -> str:
    """What to check when the OS lists no serial port at all."""
    if _windows():
        return (
            "No serial ports found. Is the modem plugged in? Install the modem's driver "
            "(from its maker's site); in Device Manager the modem's AT port then appears "
            "under Ports (COM & LPT), not under Other devices with a warning sign."
        )
    return (
        "No serial ports found. Is the modem plugged in? On Linux your user needs the "
        "dialout group, and ModemManager may hold the port."
    )


def describe_open_error(port: str, exc: BaseException) -> str:
    """``cannot open <port>: <reason and what to do>``, the port named once.

    pyserial's own text repeats the path ("[Errno 2] could not open port /dev/ttyUSB9:
    [Errno 2] No such file or directory: '/dev/ttyUSB9'") and says nothing of the cure.
    """
    text = str(exc)
    low = text.lower()
    errno = getattr(exc, "errno", None)
    if errno == 2 or "no such file" in low or "cannot find the file" in low:
        reason = "no such port (unplugged, or renamed: choose it again under Port)"
    elif errno == 13 or "permission denied" in low or "access is denied" in low:
        if _windows():
            reason = _WINDOWS_HELD
        else:
            reason = (
                "permission denied: add your user to the dialout group "
                "(sudo usermod -aG dialout $USER), then log in again"
            )
    elif errno == 16 or "busy" in low:
        reason = (
            _WINDOWS_HELD
            if _windows()
            else "the port is busy: another program has it open "
            "(ModemManager takes modems: sudo systemctl stop ModemManager)"
        )
    elif "refused" in low:
        reason = "connection refused (nothing listens there)"
    else:
        # The essence of anything else, without errno tokens or the repeated path.
        reason = _OPEN_PREFIX.sub("", _ERRNO.sub(lambda m: m.group(1) or "", text)).strip()
        reason = reason.replace(f": '{port}'", "").replace(f"'{port}': ", "") or type(exc).__name__
    return f"cannot open {port}: {reason}"


def no_answer_text(*, noise: bool) -> str:
    """Why a port that opened may not answer AT, and what to try."""
    if noise:
        return (
            "modem does not answer AT: the port sends unreadable bytes; check the baud "
            "rate (modem.baudrate, usually 115200 or 9600)"
        )
    if _windows():
        other = "the modem's own connection manager"
    else:
        other = "ModemManager: sudo systemctl stop ModemManager"
    return (
        "modem does not answer AT: nothing comes back; is this the modem's AT port "
        f"(USB modems have several)? Another program may be using it ({other})"
    )
