"""Settings > Tunnel & CometChat: the tunnel program, its token and URL, and the
CometChat app gsmbridge registers itself with."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QWidget

from gsmbridge.config import Settings
from gsmbridge.core.cometchat import REGIONS
from gsmbridge.gui.texts import path_placeholder
from gsmbridge.gui.views.settings.fields import (
    parse_app_id,
    parse_float,
    parse_program_path,
    parse_public_url,
)
from gsmbridge.gui.views.settings.page import SettingsPage, combo
from gsmbridge.tunnel.programs import guess_program

PROGRAMS = [("none", ""), ("cloudflared", "cloudflared"), ("ngrok", "ngrok")]


class TunnelPage(SettingsPage):
    """Tunnel and CometChat settings.  Signals: none of its own."""

    title = "Tunnel && CometChat"

    def __init__(self, original: Settings, parent: QWidget | None = None) -> None:
        super().__init__(original, parent)
        tunnel, cometchat = original.tunnel, original.cometchat
        self.program = combo(PROGRAMS, tunnel.program)
        self.add_field(
            "tunnel.program",
            "Tunnel",
            self.program,
            self.program,
            lambda: str(self.program.currentData()),
        )
        self.path = QLineEdit(tunnel.path)
        self._show_where()
        self.program.currentIndexChanged.connect(self._show_where)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._choose)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.add_field(
            "tunnel.path",
            "Program file",
            row,
            self.path,
            lambda: parse_program_path(self.path.text()),
        )
        self.token = self.line("tunnel.token", "Token", tunnel.token, str.strip)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.public_url = self.line(
            "tunnel.public_url", "Public URL", tunnel.public_url, parse_public_url
        )
        self.add_note(
            "Token: a named cloudflared tunnel's token (then also its public URL), or "
            "ngrok's authtoken. Empty for cloudflared's free quick tunnel."
        )
        self.self_check = self.line(
            "tunnel.self_check_interval_s",
            "Self-check every (s)",
            f"{tunnel.self_check_interval_s:g}",
            parse_float(0),
        )
        self.api_key = self.line(
            "cometchat.api_key", "CometChat REST API key", cometchat.api_key, str.strip
        )
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.app_id = self.line("cometchat.app_id", "App ID", cometchat.app_id, parse_app_id)
        self.region = combo([("—", "")] + [(r, r) for r in REGIONS], cometchat.region.lower())
        self.add_field(
            "cometchat.region",
            "Region",
            self.region,
            self.region,
            lambda: str(self.region.currentData()),
        )
        self.register = self.check(
            "cometchat.register_provider",
            "Register every new tunnel URL in CometChat automatically",
            cometchat.register_provider,
        )
        self.stored_phno = self.check(
            "cometchat.use_stored_phno",
            "Trigger only if phone number is stored (on only if CometChat stores the numbers)",
            cometchat.use_stored_phno,
        )

    @Slot()
    def _show_where(self) -> None:
        """Where the program was found on PATH, or not: never claimed blindly."""
        program = str(self.program.currentData()) or guess_program(self.original.tunnel.path)
        self.path.setPlaceholderText(path_placeholder(program))

    @Slot()
    def _choose(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "The tunnel program", self.original.tunnel.path)
        if name:
            self.path.setText(name)

    def cross_checks(self) -> dict[str, str]:
        errors = {}
        program, token = self.value("tunnel.program"), self.value("tunnel.token")
        if program == "cloudflared" and token and not self.value("tunnel.public_url"):
            errors["tunnel.public_url"] = "A named tunnel needs its public hostname here"
        if self.value("cometchat.api_key"):
            if not self.value("cometchat.app_id"):
                errors["cometchat.app_id"] = "Enter the app ID that goes with the API key"
            if not self.value("cometchat.region"):
                errors["cometchat.region"] = "Choose the app's region"
        return errors
