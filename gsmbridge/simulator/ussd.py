"""The simulator's USSD (AT+CUSD): a configurable answer, in the coding a modem would use.

``ussd_coding`` picks what the network "answers" ``ussd_answer`` with, seconds later
(``ussd_delay_s``) as a ``+CUSD`` URC: ``gsm7`` plain text, dcs 15 (UCS-2 hex when the
host set AT+CSCS="UCS2"); ``packed`` packed GSM 7-bit hex, dcs 15 (Huawei sticks);
``ucs2`` UCS-2 hex, dcs 72; ``none`` no answer at all (the host times out);
``error`` ``+CME ERROR`` to the command; ``unsupported`` ``+CUSD: 4``.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from gsmbridge.modem.ussd import pack_ussd

if TYPE_CHECKING:
    from gsmbridge.simulator.modem import SimulatedModem

CODINGS = ("gsm7", "packed", "ucs2", "none", "error", "unsupported")
_REQUEST = re.compile(r'\s*(\d)\s*(?:,\s*"([0-9A-Fa-f*#]*)"\s*(?:,\s*(\d{1,3}))?)?\s*')


def _ucs2(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def _answer(modem: SimulatedModem, when: float) -> None:
    opts = modem.options
    text = opts.ussd_answer
    if opts.ussd_coding == "unsupported":
        line = "+CUSD: 4"
    elif opts.ussd_coding == "packed":
        line = f'+CUSD: 0,"{pack_ussd(text)}",15'
    elif opts.ussd_coding == "ucs2":
        line = f'+CUSD: 0,"{_ucs2(text)}",72'
    elif modem.settings.cscs == "UCS2":
        line = f'+CUSD: 0,"{_ucs2(text)}",15'
    else:
        line = f'+CUSD: 0,"{text}",15'
    modem.ussd_answered.append((line, when))
    modem._lines(line)


def _cusd(modem: SimulatedModem, suffix: str, arg: str | None) -> tuple[str, ...]:
    if suffix == "?":
        return ("+CUSD: 1", "OK")
    if suffix == "=?":
        return ("+CUSD: (0-2)", "OK")
    match = _REQUEST.fullmatch(arg or "")
    if match is None:
        return (modem._error("cme", 3),)
    mode, request = int(match.group(1)), match.group(2)
    if mode == 2 or request is None:
        return ("OK",)  # cancel, or only the presentation setting
    if modem._registered_stat not in (1, 5):
        return (modem._error("cme", 30),)  # no network service
    modem.ussd_requests.append((request, time.monotonic()))
    coding = modem.options.ussd_coding
    if coding == "error":
        return (modem._error("cme", 100),)
    if coding != "none":
        modem.schedule(modem.options.ussd_delay_s, lambda: _answer(modem, time.monotonic()))
    return ("OK",)


def _cscs(modem: SimulatedModem, suffix: str, arg: str | None) -> tuple[str, ...]:
    if suffix == "?":
        return (f'+CSCS: "{modem.settings.cscs}"', "OK")
    if suffix == "=?":
        return ('+CSCS: ("GSM","IRA","UCS2")', "OK")
    chosen = (arg or "").strip().strip('"').upper()
    if chosen not in ("GSM", "IRA", "UCS2"):
        return (modem._error("cme", 4),)
    modem.settings.cscs = chosen
    return ("OK",)


HANDLERS = {"+CUSD": _cusd, "+CSCS": _cscs}
