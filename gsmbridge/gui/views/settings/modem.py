"""Settings > Modem: which port(s), the speed, and the SIM PIN entered at start."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLineEdit, QWidget

from gsmbridge.config import Settings
from gsmbridge.gui.views.settings.fields import BAUD_RATES, parse_int, parse_modem_ports, parse_pin
from gsmbridge.gui.views.settings.page import SettingsPage


class ModemPage(SettingsPage):
    """Port(s), baud rate, SIM PIN.  Signals: none of its own."""

    title = "Modem"

    def __init__(self, original: Settings, parent: QWidget | None = None) -> None:
        super().__init__(original, parent)
        s = original
        self.port = QComboBox()
        self.port.setEditable(True)
        self.port.addItems(["sim"])
        self.port.setEditText(", ".join(s.modem.port))
        self.add_field(
            "modem.port",
            "Port(s)",
            self.port,
            self.port,
            lambda: parse_modem_ports(self.port.currentText()),
        )
        self.add_note(
            "COM3, /dev/ttyUSB2, socket://host:port, rfc2217://…, or sim "
            "for the built-in simulator. Several: separate with commas."
        )
        self.baud = QComboBox()
        self.baud.setEditable(True)
        self.baud.addItems(BAUD_RATES)
        self.baud.setEditText(str(s.modem.baudrate))
        self.add_field(
            "modem.baudrate",
            "Speed (baud)",
            self.baud,
            self.baud,
            lambda: parse_int(1, what="a speed such as 115200")(self.baud.currentText()),
        )
        self.pin = self.line("modem.pin", "SIM PIN", s.modem.pin, parse_pin)
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.add_note(
            "Entered automatically at start. A wrong PIN is never retried: "
            "three wrong PINs lock the SIM."
        )
