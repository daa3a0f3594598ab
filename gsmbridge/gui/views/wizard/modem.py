"""Wizard page 2: the serial ports probed for AT (or the simulator), and the SIM's PIN
when it asks for one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
)

from gsmbridge.config import Settings
from gsmbridge.gui.bridge import connect_queued
from gsmbridge.gui.compat import emit
from gsmbridge.gui.texts import modem_summary
from gsmbridge.gui.views.pin_entry import PinEntry
from gsmbridge.gui.views.wizard.base import Page, say, wrapped
from gsmbridge.modem.status import ModemState, ModemStatus

if TYPE_CHECKING:
    from gsmbridge.gui.views.wizard.dialog import SetupWizard


def probe_ports(in_use: list[str]) -> list[tuple[str, str, bool]]:
    """(device, description, answers AT) for each serial port; runs on the pool."""
    from gsmbridge.modem.ports import list_ports, probe, same_device

    found = []
    for port in list_ports():
        described = port.label
        if any(same_device(port.device, used) for used in in_use):
            found.append((port.device, "in use by gsmbridge now", True))
            continue
        result = probe(port.device, timeout=1.5)
        if result.answers:
            about = " · ".join(x for x in (result.manufacturer, result.model) if x)
            imei = f"IMEI {result.imei}" if result.imei else ""
            text = " · ".join(x for x in (about or described, imei, "answers AT") if x)
            found.append((port.device, text, True))
        else:
            why = result.error or "no answer to AT"
            found.append((port.device, " · ".join(x for x in (described, why) if x), False))
    return found


class ModemPage(Page):
    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__(
            wizard,
            "Modem",
            "Choose the USB GSM modem, or the simulator to try gsmbridge without one.",
        )
        self.choices = QListWidget()
        self.choices.currentItemChanged.connect(self._selection_changed)
        self.detect_button = QPushButton("Detect again")
        self.detect_button.clicked.connect(self.detect)
        self.use_button = QPushButton("Use this modem")
        self.use_button.clicked.connect(self.use_selected)
        self.state = wrapped()
        self.pin_box = PinEntry(self.ctx, self.selected)
        self.pin_box.said.connect(self._pin_said)
        buttons = QHBoxLayout()
        buttons.addWidget(self.feedback, 1)
        buttons.addWidget(self.detect_button)
        buttons.addWidget(self.use_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.choices, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.state)
        layout.addWidget(self.pin_box)
        self.statuses: dict[str, Any] = {}
        self._detected = False
        connect_queued(self.ctx.events.modem_status_changed, self.on_modem_status)
        self.ctx.started.connect(self._service_changed)
        self.ctx.busy_changed.connect(self._service_changed)
        self._fill([])

    def initializePage(self) -> None:
        for status in self.ctx.bridge.modem_statuses():  # in-memory snapshots: cheap
            self.statuses[status.port] = status
        self._show_state()
        if not self._detected:
            self.detect()

    def _fill(self, ports: list[tuple[str, str, bool]]) -> None:
        running = self.ctx.settings.modem.port
        current = self.selected() or (running[0] if running else "sim")
        self.choices.clear()
        entries = [("sim", "Use the simulated modem (no real SMS)", True), *ports]
        known = {device for device, _, _ in entries}
        entries += [(p, "configured", True) for p in running if p not in known]
        for device, text, answers in entries:
            label = text if device == "sim" else f"{device} — {text}"
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, device)
            if not answers:
                item.setForeground(self.palette().placeholderText())
            self.choices.addItem(item)
            if device == current:
                self.choices.setCurrentItem(item)

    def selected(self) -> str:
        item = self.choices.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""

    @Slot()
    def detect(self) -> None:
        self._detected = True
        self.detect_button.setEnabled(False)
        say(self.feedback, "Looking for modems (each port is asked AT)…", None)
        self.ctx.tasks.run(
            "Detect modems",
            probe_ports,
            list(self.ctx.settings.modem.port),
            on_done=self._detected_ports,
            on_error=self._detect_failed,
        )

    def _detected_ports(self, ports: list[tuple[str, str, bool]]) -> None:
        self.detect_button.setEnabled(True)
        self._fill(ports)
        modems = sum(1 for _, _, answers in ports if answers)
        if ports:
            say(self.feedback, f"{len(ports)} serial port(s), {modems} answer AT.", None)
        else:
            from gsmbridge.modem.errors import no_ports_text

            say(self.feedback, no_ports_text(), None)

    def _detect_failed(self, exc: BaseException) -> None:
        self.detect_button.setEnabled(True)
        say(self.feedback, f"Could not list ports: {exc}", False)

    @Slot()
    def _selection_changed(self) -> None:
        self._show_state()
        emit(self.completeChanged)

    @Slot()
    def _service_changed(self) -> None:
        self.statuses = {s.port: s for s in self.ctx.bridge.modem_statuses()}
        self._show_state()
        emit(self.completeChanged)

    def in_use(self) -> bool:
        return self.ctx.settings.modem.port == [self.selected()] and not self.ctx.starting

    def isComplete(self) -> bool:
        return self.in_use()

    @Slot()
    def use_selected(self) -> None:
        port = self.selected()
        if not port or self.in_use():
            return
        self.use_button.setEnabled(False)
        say(self.feedback, f"Switching to {port}…", None)

        def change(new: Settings) -> str:
            new.modem.port = [port]
            return ""

        self.wiz.apply("Use modem", change, self._switched, self._switch_failed)

    def _switched(self) -> None:
        self.use_button.setEnabled(True)
        say(self.feedback, "Restarting the service with this modem…", None)

    def _switch_failed(self, exc: BaseException) -> None:
        self.use_button.setEnabled(True)
        say(self.feedback, f"Not switched: {exc}", False)

    @Slot(object)
    def on_modem_status(self, status: ModemStatus) -> None:
        self.statuses[status.port] = status
        self._show_state()

    def _show_state(self) -> None:
        port = self.selected()
        status = self.statuses.get(port) if self.in_use() else None
        self.use_button.setEnabled(bool(port) and not self.in_use())
        if status is None:
            say(self.state, "Press “Use this modem” to connect to it." if port else "", None)
            self.pin_box.hide()
            return
        text = f"{'Simulated modem' if status.simulated else port}: {modem_summary(status)}"
        if status.state == ModemState.READY and status.signal_dbm is not None:
            text += f" · signal {status.signal_dbm} dBm ({status.signal_bars}/5)"
        say(self.state, text, status.state == ModemState.READY)
        self.pin_box.show_for(status)

    @Slot(str, bool)
    def _pin_said(self, message: str, ok: bool) -> None:
        say(self.feedback, message, ok)
