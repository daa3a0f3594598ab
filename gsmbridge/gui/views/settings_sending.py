"""The Settings dialog's "Sending" and "Retries & limits" tabs (kept apart: the dialog is long)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QSpinBox

from gsmbridge.gui.views.settings_fields import parse_float, parse_int, parse_region

if TYPE_CHECKING:
    from PySide6.QtWidgets import QTabWidget

    from gsmbridge.gui.views.settings_dialog import SettingsDialog


def add_sending_pages(dialog: SettingsDialog, tabs: QTabWidget) -> None:
    """Build both tabs' fields into ``dialog.fields`` (validated like the others)."""
    s = dialog.original
    # -- sending
    _page, form = dialog._page(tabs, "Sending")
    dialog.region = dialog._line(
        form,
        "sending.default_region",
        "Default country",
        s.sending.default_region,
        parse_region,
    )
    form.addRow(dialog._note("For numbers written without +country code, e.g. DE for 0151…"))
    dialog.smart = dialog._check(
        form,
        "sending.smart_encoding",
        "Smart encoding (replace “curly” quotes and the like so a "
        "message stays GSM-7: 160 characters a part, not 70)",
        s.sending.smart_encoding,
    )
    dialog.max_parts = QSpinBox()
    dialog.max_parts.setRange(1, 255)
    dialog.max_parts.setValue(s.sending.max_parts)
    dialog._add_field(
        form,
        "sending.max_parts",
        "Longest message (parts)",
        dialog.max_parts,
        dialog.max_parts,
        dialog.max_parts.value,
    )
    dialog.reports = dialog._check(
        form, "sending.status_reports", "Ask for delivery reports", s.sending.status_reports
    )
    dialog.coalesce = dialog._check(
        form,
        "sending.coalesce",
        "Combine notifications for one person that arrive close together",
        s.sending.coalesce,
    )
    dialog.coalesce_window = dialog._line(
        form,
        "sending.coalesce_window_s",
        "Combine within (s)",
        f"{s.sending.coalesce_window_s:g}",
        parse_float(0),
    )

    # -- retry and limits
    _page, form = dialog._page(tabs, "Retries && limits")
    dialog.max_attempts = dialog._line(
        form,
        "retry.max_attempts",
        "Attempts per message",
        str(s.retry.max_attempts),
        parse_int(1),
    )
    dialog.base_delay = dialog._line(
        form,
        "retry.base_delay_s",
        "First retry after (s)",
        f"{s.retry.base_delay_s:g}",
        parse_float(0),
    )
    dialog.max_delay = dialog._line(
        form,
        "retry.max_delay_s",
        "Longest wait (s)",
        f"{s.retry.max_delay_s:g}",
        parse_float(0),
    )
    form.addRow(
        dialog._note("Each retry waits twice as long as the one before, up to the longest wait.")
    )
    dialog.per_minute = dialog._line(
        form, "limits.per_minute", "SMS per minute", str(s.limits.per_minute), parse_int(0)
    )
    dialog.per_day = dialog._line(
        form, "limits.per_day", "SMS per day", str(s.limits.per_day), parse_int(0)
    )
    dialog.per_recipient = dialog._line(
        form,
        "limits.per_recipient_per_hour",
        "SMS per person per hour",
        str(s.limits.per_recipient_per_hour),
        parse_int(0),
    )
    form.addRow(
        dialog._note(
            "0 = unlimited. Operators block consumer SIMs that send in "
            "bursts; 10 a minute is a safe start."
        )
    )
