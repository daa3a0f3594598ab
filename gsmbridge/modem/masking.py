"""Phone numbers in the modem's logs: masked unless DEBUG logging is on.

``mask_number`` lives here (not in core) because the modem is a leaf that logs
numbers too; ``gsmbridge.core.phones.mask`` is this same function.
"""

from __future__ import annotations

import logging

__all__ = ["mask", "mask_number"]

_log = logging.getLogger("gsmbridge.modem")


def mask_number(number: str | None) -> str:
    """Hide all but the last four digits, for logs and screenshots."""
    if not number:
        return ""
    prefix = "+" if number.startswith("+") else ""
    hidden = max(len(number) - len(prefix) - 4, 0)
    return prefix + "*" * hidden + number[len(prefix) + hidden :]


def mask(number: str | None) -> str:
    """The number for logs: last 4 digits only, unless DEBUG logging is on."""
    if not number:
        return ""
    return number if _log.isEnabledFor(logging.DEBUG) else mask_number(number)
