"""Words the window uses in more than one place: state names, warnings, link markup.

One home for each, so the header, the Modem and Tunnel tabs, the settings and the
wizard say the same thing the same way.
"""

from __future__ import annotations

import datetime
import html
import re

from gsmbridge.modem.status import ModemState, ModemStatus, pin_tries_text
from gsmbridge.tunnel import ngrok_sdk
from gsmbridge.tunnel.programs import find_program
from gsmbridge.tunnel.registration import RegistrationResult
from gsmbridge.tunnel.selfcheck import CheckResult

MODEM_STATE_TEXT: dict[ModemState, str] = {
    ModemState.DISCONNECTED: "not connected",
    ModemState.CONNECTING: "connecting…",
    ModemState.PIN_REQUIRED: "SIM needs its PIN",
    ModemState.PUK_REQUIRED: "SIM locked (PUK needed)",
    ModemState.SEARCHING: "searching for network",
    ModemState.DENIED: "network registration denied",
    ModemState.READY: "ready",
    ModemState.ERROR: "error",
}


def pin_warning(tries: int | None) -> str:
    """Above a PIN field: how many tries are left (when the modem says), and the cost."""
    return (
        f"The SIM asks for its PIN. Careful: {pin_tries_text(tries)}, and then only the "
        "PUK from the SIM's card unlocks it."
    )


# Tunnel states (gsmbridge.tunnel.status) in words.
TUNNEL_STATE_TEXT = {
    "off": "off",
    "starting": "starting…",
    "up": "up",
    "restarting": "restarting…",
    "failed": "failed",
    "missing": "not installed",
}
_URL = re.compile(r"https?://[^\s)]+[^\s).,]")


def modem_summary(status: ModemStatus) -> str:
    """One line about a modem: state, operator, registration."""
    state = MODEM_STATE_TEXT.get(status.state, status.state)
    parts = [state]
    if status.operator:
        parts.append(status.operator)
    if status.registration and status.registration not in ("home", "unknown", ""):
        parts.append(status.registration)
    if status.state == ModemState.ERROR and status.last_error:
        parts.append(status.last_error)
    return " · ".join(parts)


def path_placeholder(program: str) -> str:
    """What an empty "Program file" field means: where the program was found, or not."""
    if program == "ngrok" and ngrok_sdk.available():
        return "not needed: ngrok runs inside gsmbridge"
    found = find_program(program) if program else None
    if found:
        return f"empty: {found} (found on PATH)"
    if not program:
        return "empty: the program found on PATH"
    return f"{program} is not on PATH: choose its file, or install it"


def linkify(text: str) -> str:
    """Plain text with its URLs as clickable links (for rich-text labels)."""
    out, last = [], 0
    for match in _URL.finditer(text):
        out.append(html.escape(text[last : match.start()]))
        url = html.escape(match.group(0))
        out.append(f"<a href='{url}'>{url}</a>")
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def clock(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch).strftime("%H:%M:%S")


def check_text(check: CheckResult | None) -> tuple[str, bool | None]:
    """(one line about the last self-check, ok?)."""
    if check is None:
        return "not checked yet", None
    when = clock(check.time)
    if check.ok:
        latency = f" in {check.latency_ms:.0f} ms" if check.latency_ms is not None else ""
        return f"OK{latency} (HTTP {check.status}) at {when}", True
    why = check.error or (f"HTTP {check.status}" if check.status else "no answer")
    return f"failed at {when}: {why}", False


def registration_text(result: RegistrationResult | None) -> tuple[str, bool | None]:
    if result is None:
        return "not registered by gsmbridge", None
    return f"{result.message} ({clock(result.time)})", bool(result.ok)
