"""Model quirks: one table from manufacturer/model to feature flags.

Most differences between modems are found by trying (an optional command that fails
is skipped); this table keeps the ones that cannot be found that way, or that cost a
wasted exchange or a wrong answer on every connection, as Gammu's AT driver keeps its
per-model flags in one place.  The flags are applied once the identity (AT+CGMI,
AT+CGMM) is read, for that connection only.  Sources: shared modem notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["DEFAULT", "PIN_TRIES_3GPP", "Quirks", "quirks_for"]


PIN_TRIES_3GPP = 'AT+CPINR="SIM PIN"'  # TS 27.007 8.65; many modems predate it


@dataclass(frozen=True)
class Quirks:
    """What this model does differently; the defaults are 3GPP TS 27.005/27.007."""

    name: str = ""  # the table row that matched ("" for none), for the log
    # AT+CNMI ds=2 (reports kept in the modem's memory, announced by +CDSI) is worth
    # trying; SIM800 rejects it and reports inline (+CDS) only.
    stored_reports: bool = True
    # USSD strings go both ways as packed GSM 7-bit hex, whatever AT+CSCS says
    # (Huawei E1xx sticks; Gammu's F_ENCODED_USSD).
    ussd_packed: bool = False
    # How to ask for the PIN tries left; 3GPP's AT+CPINR is asked when this does not answer.
    pin_tries: str = PIN_TRIES_3GPP


DEFAULT = Quirks()

# (manufacturer pattern, model pattern, quirks): case-insensitive searches, first match wins.
_TABLE: tuple[tuple[str, str, Quirks], ...] = (
    (
        "SIMCOM",
        r"SIM8\d\d",
        Quirks(name="SIMCom SIM800 family", stored_reports=False, pin_tries="AT+SPIC"),
    ),
    (
        "HUAWEI",
        r"^(E1\d{2,3}|EM770W)",
        Quirks(name="Huawei E1xx stick", ussd_packed=True, pin_tries="AT^CPIN?"),
    ),
    # The makers' own PIN counters, for their models not listed above.
    ("SIMCOM", r".", Quirks(name="SIMCom modem", pin_tries="AT+SPIC")),
    ("QUECTEL", r".", Quirks(name="Quectel modem", pin_tries='AT+QPINC="SC"')),
    ("HUAWEI", r".", Quirks(name="Huawei modem", pin_tries="AT^CPIN?")),
    ("ZTE", r".", Quirks(name="ZTE modem", pin_tries="AT+ZPINPUK=?")),
)


def quirks_for(manufacturer: str, model: str) -> Quirks:
    """The quirks of the model the modem says it is (DEFAULT when it is not listed)."""
    for maker, pattern, quirks in _TABLE:
        if re.search(maker, manufacturer, re.IGNORECASE) and re.search(
            pattern, model.strip(), re.IGNORECASE
        ):
            return quirks
    return DEFAULT
