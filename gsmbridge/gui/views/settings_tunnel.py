"""The Settings dialog's "Tunnel & CometChat" tab (kept apart: the dialog is long)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLineEdit, QPushButton

from gsmbridge.core.cometchat import REGIONS
from gsmbridge.gui.texts import path_placeholder
from gsmbridge.gui.views.settings_fields import (
    parse_app_id,
    parse_float,
    parse_program_path,
    parse_public_url,
)
from gsmbridge.tunnel.programs import guess_program

if TYPE_CHECKING:
    from PySide6.QtWidgets import QTabWidget

    from gsmbridge.gui.views.settings_dialog import SettingsDialog

PROGRAMS = (("none", ""), ("cloudflared", "cloudflared"), ("ngrok", "ngrok"))


def _combo(items: list[tuple[str, str]], value: str) -> QComboBox:
    combo = QComboBox()
    for label, data in items:
        combo.addItem(label, data)
    combo.setCurrentIndex(max(0, combo.findData(value)))
    return combo


def add_tunnel_page(dialog: SettingsDialog, tabs: QTabWidget) -> None:
    """Build the tab's fields into ``dialog.fields`` (validated like the others)."""
    s = dialog.original
    _page, form = dialog._page(tabs, "Tunnel && CometChat")
    dialog.tunnel_program = _combo(list(PROGRAMS), s.tunnel.program)
    dialog._add_field(
        form,
        "tunnel.program",
        "Tunnel",
        dialog.tunnel_program,
        dialog.tunnel_program,
        lambda: str(dialog.tunnel_program.currentData()),
    )
    dialog.tunnel_path = QLineEdit(s.tunnel.path)

    def show_where() -> None:  # found on PATH, or not: never claimed blindly
        program = str(dialog.tunnel_program.currentData()) or guess_program(s.tunnel.path)
        dialog.tunnel_path.setPlaceholderText(path_placeholder(program))

    show_where()
    dialog.tunnel_program.currentIndexChanged.connect(show_where)
    browse = QPushButton("Browse…")

    def choose() -> None:
        name, _ = QFileDialog.getOpenFileName(dialog, "The tunnel program", s.tunnel.path)
        if name:
            dialog.tunnel_path.setText(name)

    browse.clicked.connect(choose)
    row = QHBoxLayout()
    row.addWidget(dialog.tunnel_path, 1)
    row.addWidget(browse)
    dialog._add_field(
        form,
        "tunnel.path",
        "Program file",
        row,
        dialog.tunnel_path,
        lambda: parse_program_path(dialog.tunnel_path.text()),
    )
    dialog.tunnel_token = dialog._line(form, "tunnel.token", "Token", s.tunnel.token, str.strip)
    dialog.tunnel_token.setEchoMode(QLineEdit.EchoMode.Password)
    dialog.tunnel_public_url = dialog._line(
        form, "tunnel.public_url", "Public URL", s.tunnel.public_url, parse_public_url
    )
    form.addRow(
        dialog._note(
            "Token: a named cloudflared tunnel's token (then also its public URL), or "
            "ngrok's authtoken. Empty for cloudflared's free quick tunnel."
        )
    )
    dialog.self_check = dialog._line(
        form,
        "tunnel.self_check_interval_s",
        "Self-check every (s)",
        f"{s.tunnel.self_check_interval_s:g}",
        parse_float(0),
    )
    dialog.cc_api_key = dialog._line(
        form, "cometchat.api_key", "CometChat REST API key", s.cometchat.api_key, str.strip
    )
    dialog.cc_api_key.setEchoMode(QLineEdit.EchoMode.Password)
    dialog.cc_app_id = dialog._line(
        form, "cometchat.app_id", "App ID", s.cometchat.app_id, parse_app_id
    )
    regions = [("—", "")] + [(r, r) for r in REGIONS]
    dialog.cc_region = _combo(regions, s.cometchat.region.lower())
    dialog._add_field(
        form,
        "cometchat.region",
        "Region",
        dialog.cc_region,
        dialog.cc_region,
        lambda: str(dialog.cc_region.currentData()),
    )
    dialog.cc_register = dialog._check(
        form,
        "cometchat.register_provider",
        "Register every new tunnel URL in CometChat automatically",
        s.cometchat.register_provider,
    )
    dialog.cc_stored_phno = dialog._check(
        form,
        "cometchat.use_stored_phno",
        "Trigger only if phone number is stored (on only if CometChat stores the numbers)",
        s.cometchat.use_stored_phno,
    )


def tunnel_cross_checks(dialog: SettingsDialog) -> dict[str, str]:
    f = dialog.fields
    errors = {}
    program, token = f["tunnel.program"].read(), f["tunnel.token"].read()
    if program == "cloudflared" and token and not f["tunnel.public_url"].read():
        errors["tunnel.public_url"] = "A named tunnel needs its public hostname here"
    if f["cometchat.api_key"].read():
        if not f["cometchat.app_id"].read():
            errors["cometchat.app_id"] = "Enter the app ID that goes with the API key"
        if not f["cometchat.region"].read():
            errors["cometchat.region"] = "Choose the app's region"
    return errors
