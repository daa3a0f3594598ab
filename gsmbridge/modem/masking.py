"""Phone numbers in the modem's logs: masked unless DEBUG logging is on."""

from __future__ import annotations

import logging

from gsmbridge.core.phones import mask as mask_number

__all__ = ["mask"]

_log = logging.getLogger("gsmbridge.modem")


def mask(number: str) -> str:
    """The number for logs: last 4 digits only, unless DEBUG logging is on."""
    return number if _log.isEnabledFor(logging.DEBUG) else mask_number(number)
