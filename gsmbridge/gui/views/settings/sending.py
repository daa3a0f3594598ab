"""Settings > Sending and Settings > Retries & limits."""

from __future__ import annotations

from PySide6.QtWidgets import QSpinBox, QWidget

from gsmbridge.config import Settings
from gsmbridge.gui.views.settings.fields import parse_float, parse_int, parse_region
from gsmbridge.gui.views.settings.page import SettingsPage


class SendingPage(SettingsPage):
    """Default country, encoding, longest message, reports, combining.
    Signals: none of its own."""

    title = "Sending"

    def __init__(self, original: Settings, parent: QWidget | None = None) -> None:
        super().__init__(original, parent)
        s = original.sending
        self.region = self.line(
            "sending.default_region", "Default country", s.default_region, parse_region
        )
        self.add_note("For numbers written without +country code, e.g. DE for 0151…")
        self.smart = self.check(
            "sending.smart_encoding",
            "Smart encoding (replace “curly” quotes and the like so a "
            "message stays GSM-7: 160 characters a part, not 70)",
            s.smart_encoding,
        )
        self.max_parts = QSpinBox()
        self.max_parts.setRange(1, 255)
        self.max_parts.setValue(s.max_parts)
        self.add_field(
            "sending.max_parts",
            "Longest message (parts)",
            self.max_parts,
            self.max_parts,
            self.max_parts.value,
        )
        self.reports = self.check(
            "sending.status_reports", "Ask for delivery reports", s.status_reports
        )
        self.coalesce = self.check(
            "sending.coalesce",
            "Combine notifications for one person that arrive close together",
            s.coalesce,
        )
        self.coalesce_window = self.line(
            "sending.coalesce_window_s",
            "Combine within (s)",
            f"{s.coalesce_window_s:g}",
            parse_float(0),
        )


class LimitsPage(SettingsPage):
    """Retries (attempts, backoff) and sending limits.  Signals: none of its own."""

    title = "Retries && limits"

    def __init__(self, original: Settings, parent: QWidget | None = None) -> None:
        super().__init__(original, parent)
        retry, limits = original.retry, original.limits
        self.max_attempts = self.line(
            "retry.max_attempts", "Attempts per message", str(retry.max_attempts), parse_int(1)
        )
        self.base_delay = self.line(
            "retry.base_delay_s", "First retry after (s)", f"{retry.base_delay_s:g}", parse_float(0)
        )
        self.max_delay = self.line(
            "retry.max_delay_s", "Longest wait (s)", f"{retry.max_delay_s:g}", parse_float(0)
        )
        self.add_note("Each retry waits twice as long as the one before, up to the longest wait.")
        self.per_minute = self.line(
            "limits.per_minute", "SMS per minute", str(limits.per_minute), parse_int(0)
        )
        self.per_day = self.line("limits.per_day", "SMS per day", str(limits.per_day), parse_int(0))
        self.per_recipient = self.line(
            "limits.per_recipient_per_hour",
            "SMS per person per hour",
            str(limits.per_recipient_per_hour),
            parse_int(0),
        )
        self.add_note(
            "0 = unlimited. Operators block consumer SIMs that send in "
            "bursts; 10 a minute is a safe start."
        )
