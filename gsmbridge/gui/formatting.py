"""Small text helpers shared by the views: times, masked numbers, counts."""

from __future__ import annotations

import re
import time
from datetime import datetime

from gsmbridge.core.phones import mask_number

# "+4915112345678", "004915112345678", "015112345678": a plus and 6+ digits, or 8+ digits.
# Spaces and dashes inside a number are allowed once digits have started.  A number with
# a plus may end a clause ("report to +4915112345678: received"); bare digits before a
# colon are more likely a time or a port.
_NUMBER = re.compile(r"(?<![\w.:+-])(?:(\+\d[\d -]{5,}\d)(?![\w.])|(\d{8,})(?![\w.:]))")


def mask_numbers(text: str) -> str:
    """Hide all but the last four digits of anything that looks like a phone number."""
    return _NUMBER.sub(lambda m: mask_number(re.sub(r"[ -]", "", m.group(1) or m.group(2))), text)


def format_number(number: str | None, masked: bool) -> str:
    if not number:
        return ""
    return mask_number(number) if masked else number


def format_time(ts: float | None, *, now: float | None = None) -> str:
    """Time of day for today, date and time otherwise."""
    if not ts:
        return ""
    when = datetime.fromtimestamp(ts)
    today = datetime.fromtimestamp(now if now is not None else time.time()).date()
    if when.date() == today:
        return when.strftime("%H:%M:%S")
    return when.strftime("%Y-%m-%d %H:%M")


def format_full_time(ts: float | None) -> str:
    if not ts:
        return ""
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def preview(text: str, limit: int = 80) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def plural(n: int, word: str, many: str = "") -> str:
    """Count and noun: "1 job", "3 jobs"; ``many`` for an irregular plural."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"
