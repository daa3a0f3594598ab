"""``/api/status``: what the running gateway says about itself, as JSON-ready data."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from gsmbridge import __version__
from gsmbridge.core.db import StoreUnavailable
from gsmbridge.modem.status import ModemStatus, UssdAnswer

if TYPE_CHECKING:
    from gsmbridge.service.bridge import Bridge


def ussd_dict(answer: UssdAnswer | None) -> dict[str, Any] | None:
    """The last USSD answer (time as ISO 8601, UTC)."""
    if answer is None:
        return None
    when = datetime.datetime.fromtimestamp(answer.at, datetime.UTC).isoformat(timespec="seconds")
    return {"code": answer.code, "text": answer.text, "at": when}


def modem_dict(status: ModemStatus) -> dict[str, Any]:
    return {
        "port": status.port,
        "state": status.state,
        "simulated": status.simulated,
        "operator": status.operator,
        "registration": status.registration,
        "signal_dbm": status.signal_dbm,
        "signal_bars": status.signal_bars,
        "last_error": status.last_error,
        "pin_tries": status.pin_tries,  # while it waits for a PIN; null when not known
        "ussd": ussd_dict(status.ussd),
    }


def status_report(bridge: Bridge) -> dict[str, Any]:
    store = bridge.store
    try:
        counts = store.counts()
        cluster = store.cluster()  # the PCs sharing the queue ([] on one PC)
    except StoreUnavailable:  # the shared store is away: health says so
        counts, cluster = {}, []
    return {
        "version": __version__,
        "counts": counts,
        "store": store.health(),
        "cluster": cluster,
        "modems": [modem_dict(s) for s in bridge.modems.statuses()],
        "sending_paused": bridge.sending_paused,
        "auth": bridge.settings.auth.enabled,
        # Every address the webhook listens on (localhost may be 127.0.0.1 and ::1).
        "listening": bridge.urls,
        "tunnel": bridge.tunnel.status.to_dict() if bridge.tunnel is not None else None,
        "power": bridge.power.note,
    }
