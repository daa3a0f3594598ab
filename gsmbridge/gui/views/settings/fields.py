"""Settings fields: parsers that turn a widget's text into a value or say what is
wrong (a ValueError with the message shown next to the field), the Field record, and
the password field (also used by the wizard).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import phonenumbers
from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QPushButton, QWidget

from gsmbridge.config import generate_password
from gsmbridge.gui.compat import emit
from gsmbridge.gui.views.widgets import FieldError

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9-]+)*$"
)
BAUD_RATES = ("9600", "19200", "38400", "57600", "115200", "230400", "460800", "921600")


# -- parsers: text -> value, or ValueError with the message shown next to the field ---------


def parse_host(text: str) -> str:
    text = text.strip()
    if not text:
        raise ValueError("Enter an address, e.g. 127.0.0.1 (this computer only) or 0.0.0.0")
    try:
        ipaddress.ip_address(text)
    except ValueError:
        if not _HOSTNAME.match(text):
            raise ValueError(f"{text!r} is not an IP address or host name") from None
    return text


def parse_int(low: int, high: int | None = None, what: str = "a whole number") -> Callable:
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise ValueError(f"Enter {what}") from None
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise ValueError(f"Enter a number {bound}")
        return value

    return parse


def parse_float(low: float) -> Callable:
    def parse(text: str) -> float:
        try:
            value = float(text.strip().replace(",", "."))
        except ValueError:
            raise ValueError("Enter a number of seconds") from None
        if not math.isfinite(value):  # float() takes "inf" and "nan"
            raise ValueError("Enter a number of seconds")
        if value < low:
            raise ValueError(f"Enter {low:g} or more")
        return value

    return parse


def parse_port(text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError("Enter a port number from 1 to 65535") from None
    if not 0 <= value <= 65535:
        raise ValueError(f"{value} is not a port: use 1 to 65535 (0 picks a free one)")
    return value


def parse_pin(text: str) -> str:
    text = text.strip()
    if text and not (text.isdigit() and 4 <= len(text) <= 8):
        raise ValueError("A PIN is 4 to 8 digits; leave it empty if the SIM has none")
    return text


def parse_region(text: str) -> str:
    code = text.strip().upper()
    if len(code) != 2 or not code.isalpha():
        raise ValueError("Use a two-letter country code such as US, DE or GB")
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{code} is not a country code phone numbers know")
    return code


def parse_modem_ports(text: str) -> list[str]:
    ports = [p.strip() for p in text.split(",") if p.strip()]
    if not ports:
        raise ValueError("Name a port (COM3, /dev/ttyUSB2, socket://host:port) or sim")
    return ports


def parse_username(text: str) -> str:
    text = text.strip()
    if ":" in text:
        raise ValueError("A user name cannot contain ':' (Basic auth separates with it)")
    return text


def parse_password(text: str) -> str:
    if text and len(text) < 8:
        raise ValueError("Use at least 8 characters (or Generate)")
    return text


@dataclass
class Field:
    key: str  # "server.port"; "auth.new_password" is the dialog's own
    widget: QWidget
    error: FieldError
    read: Callable[[], Any]


class PasswordField(QWidget):
    """A new password: hidden by default, with Show, Generate and Copy.

    Signals:
        generated(): Generate put a new password in the field.
        copied(): Copy put the password on the clipboard.
    """

    generated = Signal()
    copied = Signal()

    def __init__(self, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setPlaceholderText(placeholder)
        self.show_button = QPushButton("Show")
        self.show_button.setCheckable(True)
        self.show_button.toggled.connect(self._show)
        generate = QPushButton("Generate")
        generate.clicked.connect(self.generate)
        copy_button = QPushButton("Copy")
        copy_button.clicked.connect(self.copy)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.show_button)
        row.addWidget(generate)
        row.addWidget(copy_button)

    def text(self) -> str:
        return self.edit.text()

    @Slot(bool)
    def _show(self, show: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if show else QLineEdit.EchoMode.Password
        self.edit.setEchoMode(mode)
        self.show_button.setText("Hide" if show else "Show")

    @Slot()
    def generate(self) -> None:
        self.edit.setText(generate_password())
        self.show_button.setChecked(True)
        emit(self.generated)

    @Slot()
    def copy(self) -> None:
        if self.edit.text():
            QGuiApplication.clipboard().setText(self.edit.text())
            emit(self.copied)


def parse_program_path(text: str) -> str:
    """The tunnel program's file (or its folder); empty: look on PATH."""
    import os

    text = text.strip()
    if text and not os.path.exists(os.path.expanduser(text)):
        raise ValueError(f"{text} does not exist; leave it empty to look on PATH")
    return text


def parse_public_url(text: str) -> str:
    """A named tunnel's hostname or https URL (empty for quick tunnels)."""
    text = text.strip()
    if not text:
        return ""
    host = text.split("://", 1)[1] if "://" in text else text
    if text.startswith("http://"):
        raise ValueError("CometChat needs https://; a named tunnel serves https")
    if not _HOSTNAME.match(host.split("/", 1)[0]) or "." not in host:
        raise ValueError("Enter the tunnel's hostname, e.g. sms.example.com")
    return text


def parse_app_id(text: str) -> str:
    text = text.strip()
    if text and not re.match(r"^[A-Za-z0-9_-]+$", text):
        raise ValueError("An app ID has only letters, digits, - and _")
    return text
