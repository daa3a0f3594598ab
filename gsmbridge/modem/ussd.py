"""USSD (``*100#``): the request, the network's answer and its decoding (3GPP TS 27.007
§7.15, TS 23.038 §5 and §6.1.2.3).

``AT+CUSD=1,"<string>",15`` asks; the answer ``+CUSD: <m>[,"<str>",<dcs>]`` comes as a
URC seconds later (a few modems put it before the ``OK``).  How ``<str>`` is written
depends on the dcs, on ``AT+CSCS`` and on the model: plain text (most modems with CSCS
"GSM"), UCS-2 hex (dcs 72, or CSCS "UCS2"), or packed GSM 7-bit hex (Huawei sticks,
a quirk).  Only digits, ``*`` and ``#`` are ever sent (:func:`valid_code`), so nothing
from outside reaches the modem as a raw AT command.
"""

from __future__ import annotations

import logging
import queue
import re
import time

from gsmbridge.modem import gsm7
from gsmbridge.modem.at import AtChannel
from gsmbridge.modem.errors import ConnectionLost, ModemError
from gsmbridge.modem.quirks import Quirks
from gsmbridge.modem.status import UssdAnswer

__all__ = [
    "MAX_CODE",
    "UssdWaiter",
    "decode_text",
    "encode_request",
    "exchange",
    "failure_text",
    "pack_ussd",
    "parse_cusd",
    "valid_code",
]

log = logging.getLogger("gsmbridge.modem")

MAX_CODE = 160
_CODE = re.compile(rf"[0-9*#]{{1,{MAX_CODE}}}")
_CUSD = re.compile(r'\+CUSD:\s*(\d)\s*(?:,\s*"([^"]*)"\s*(?:,\s*(\d{1,3}))?)?\s*$', re.IGNORECASE)
_CSCS = re.compile(r'\+CSCS:\s*"([^"]*)"', re.IGNORECASE)
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_CR = 0x0D
DCS_GSM7 = 15  # GSM 7-bit, language unspecified: what requests are sent with
# +CUSD <m> values that are no answer to show (TS 27.007 §7.15).
_REFUSED = {
    4: ("the network does not support this code (+CUSD: 4)", "USSD not supported"),
    5: ("the network did not answer in time (+CUSD: 5)", "USSD network timeout"),
}


def valid_code(code: str) -> bool:
    """Digits, ``*`` and ``#`` only, at most MAX_CODE: nothing else is ever sent."""
    return bool(_CODE.fullmatch(code)) and code.isascii()


def pack_ussd(text: str) -> str:
    """``text`` as packed GSM 7-bit hex; 7 spare bits at the end are a CR, not a
    zero ``@`` (TS 23.038 §6.1.2.3.1)."""
    septets = gsm7.to_septets(text)
    if len(septets) % 8 == 7:
        septets += bytes([_CR])
    return gsm7.pack(septets).hex().upper()


def _unpack_ussd(data: bytes) -> str:
    count = len(data) * 8 // 7
    septets = gsm7.unpack(data, count)
    if count % 8 == 0 and septets and septets[-1] == _CR:
        septets = septets[:-1]  # the padding of 7 spare bits (zeros would be a real "@")
    return gsm7.from_septets(septets)


def encode_request(code: str, *, cscs: str, packed: bool) -> str:
    """The ``<str>`` of AT+CUSD for ``code`` as this modem wants it."""
    if not valid_code(code):
        raise ValueError(f"not a USSD code: {code!r}")
    if packed:
        return pack_ussd(code)
    if cscs.upper() in ("UCS2", "UCS-2"):
        return code.encode("utf-16-be").hex().upper()
    return code  # digits, * and #: the same in GSM, IRA, UTF-8 and the 8859 sets


def dcs_alphabet(dcs: int | None) -> str:
    """ "gsm7", "ucs2" or "8bit" for a CBS data coding scheme (TS 23.038 §5)."""
    if dcs is None:
        return "gsm7"
    group = dcs >> 4
    if group in (0, 2, 3):
        return "gsm7"
    if group == 1:
        return "ucs2" if dcs & 0x0F == 1 else "gsm7"
    if group in (4, 5, 6, 7, 9):  # general data coding; bits 3-2 the alphabet
        return {0: "gsm7", 1: "8bit", 2: "ucs2"}.get((dcs >> 2) & 0x03, "gsm7")
    if group == 15:
        return "8bit" if dcs & 0x04 else "gsm7"
    return "gsm7"  # reserved groups: the default alphabet


def _printable(text: str) -> bool:
    return bool(text) and all(ch.isprintable() or ch in "\r\n" for ch in text)


def decode_text(text: str, dcs: int | None, *, cscs: str, packed: bool) -> str:
    """The answer's words from ``<str>`` as the modem wrote it (see the module docstring).

    Hex is decoded only where the dcs, the character set or the model says it is hex,
    or, for GSM 7-bit, where it cannot be words: all hex digits, not all decimal ones
    (a phone number stays a phone number), and it unpacks to printable text.
    """
    is_hex = bool(_HEX.fullmatch(text))
    alphabet = dcs_alphabet(dcs)
    if alphabet == "ucs2" or cscs.upper() in ("UCS2", "UCS-2"):
        if is_hex and len(text) % 4 == 0:
            decoded = bytes.fromhex(text).decode("utf-16-be", "replace")
            if dcs == 0x11 and len(decoded) > 1:
                decoded = decoded[1:]  # UCS-2 "preceded by language": one GSM7 pair, dropped
            return decoded
        return text
    if not is_hex:
        return text
    if alphabet == "8bit":
        return bytes.fromhex(text).decode("latin-1")
    if packed:
        return _unpack_ussd(bytes.fromhex(text))
    if cscs.upper() == "HEX" or text.isdecimal():
        if cscs.upper() == "HEX":  # one unpacked septet per byte
            return gsm7.from_septets(bytes.fromhex(text))
        return text
    unpacked = _unpack_ussd(bytes.fromhex(text))
    return unpacked if len(text) >= 8 and _printable(unpacked) else text


def failure_text(code: str, exc: Exception) -> str:
    """One line on why ``code`` got no answer, for the CLI and the Modem tab: timeouts
    and refusals name the code already; others (+CME ERROR, a lost port) do not."""
    if isinstance(exc, ModemError) and exc.kind in ("timeout", "ussd"):
        return str(exc)
    return f"USSD {code} failed: {exc}"


def parse_cusd(line: str) -> tuple[int, str | None, int | None] | None:
    """(m, str, dcs) of a ``+CUSD:`` line; None when it is not one."""
    match = _CUSD.match(line.strip())
    if match is None:
        return None
    m, text, dcs = match.groups()
    return int(m), text, int(dcs) if dcs is not None else None


class UssdWaiter:
    """Where the reader thread hands a ``+CUSD`` line while a request waits for one;
    a lost port ends the wait at once (no answer can come through it)."""

    def __init__(self) -> None:
        self._lines: queue.SimpleQueue[str | ConnectionLost] = queue.SimpleQueue()

    def offer(self, line: str) -> None:
        self._lines.put(line)

    def abort(self, reason: str) -> None:
        """End the wait now: ``reason`` says why (the port is lost, the modem stops)."""
        self._lines.put(ConnectionLost(reason, name="port lost"))

    def wait(self, timeout: float) -> str | None:
        """The ``+CUSD`` line, or None after ``timeout`` s; ConnectionLost when aborted."""
        try:
            item = self._lines.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        if isinstance(item, ConnectionLost):
            raise item
        return item


def _cscs(channel: AtChannel, timeout: float) -> str:
    """The character set the modem writes strings in ("" when it does not say)."""
    try:
        lines = channel.command("AT+CSCS?", timeout=timeout)
    except ConnectionLost:
        raise
    except ModemError:
        return ""
    match = next((m for line in lines if (m := _CSCS.search(line))), None)
    return match.group(1) if match else ""


def cancel(channel: AtChannel, timeout: float) -> None:
    """``AT+CUSD=2``: end the session (a menu waiting for a reply, or no answer); best effort."""
    try:
        channel.command("AT+CUSD=2", timeout=timeout)
    except ModemError as exc:
        log.debug("AT+CUSD=2 failed: %s", exc.name)


def exchange(
    channel: AtChannel,
    code: str,
    *,
    quirks: Quirks,
    waiter: UssdWaiter,
    timeout: float,
    command_timeout: float,
) -> UssdAnswer:
    """Send ``code`` and wait up to ``timeout`` s for the network's answer.

    The caller holds the modem's send lock (no SMS in between) and has ``waiter``
    receive the ``+CUSD`` URCs; the channel's lock is held only for the commands, so
    status reports keep being read while the network thinks.  Raises ModemError:
    kind "timeout" (no answer; the session is cancelled), "ussd" (refused), or the
    command's own error (``+CME ERROR``).
    """
    started = time.monotonic()
    with channel.lock:
        cscs = _cscs(channel, command_timeout)
        request = encode_request(code, cscs=cscs, packed=quirks.ussd_packed)
        lines = channel.command(f'AT+CUSD=1,"{request}",{DCS_GSM7}', timeout=command_timeout)
    line = next((text for text in lines if text.upper().startswith("+CUSD:")), None)
    if line is None:
        line = waiter.wait(timeout - (time.monotonic() - started))
    if line is None:
        cancel(channel, command_timeout)
        raise ModemError(
            f"no answer to {code} within {timeout:g} s", kind="timeout", name="no USSD answer"
        )
    parsed = parse_cusd(line)
    if parsed is None:
        raise ModemError(f"unreadable USSD answer {line!r}", kind="protocol", name="bad +CUSD")
    status, text, dcs = parsed
    if status == 1:
        cancel(channel, command_timeout)  # a menu asks for a reply: we do not continue it
    if status in _REFUSED:
        message, name = _REFUSED[status]
        raise ModemError(message, kind="ussd", code=status, name=name)
    if text is None:
        raise ModemError(
            f"the network ended the session without an answer (+CUSD: {status})",
            kind="ussd",
            code=status,
            name="USSD without answer",
        )
    words = decode_text(text, dcs, cscs=cscs, packed=quirks.ussd_packed)
    return UssdAnswer(code=code, text=words, status=status, dcs=dcs, at=time.time())
