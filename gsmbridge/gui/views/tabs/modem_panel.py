"""The Modem tab: identity and health, signal over time, port, PIN, test SMS, balance
(USSD), simulator.

Every modem action (listing ports, reconnecting, a PIN, a test SMS, a USSD code) runs
on the task pool; the panel only shows statuses the core publishes.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gsmbridge.gui.compat import emit
from gsmbridge.gui.context import AppContext
from gsmbridge.gui.formatting import format_time
from gsmbridge.gui.list_models import OutboxModel
from gsmbridge.gui.texts import MODEM_STATE_TEXT
from gsmbridge.gui.views.pin_entry import PinEntry
from gsmbridge.gui.views.tabs.signal_chart import SignalChart
from gsmbridge.gui.views.tabs.sms_test_box import SmsTestBox
from gsmbridge.gui.views.widgets import ERROR_STYLE, OK_STYLE, SignalBars, WrappingLabel
from gsmbridge.modem.status import ModemState, ModemStatus, UssdAnswer
from gsmbridge.modem.ussd import MAX_CODE, failure_text, valid_code

log = logging.getLogger(__name__)

INFO_FIELDS = (
    ("state", "State"),
    ("port", "Port"),
    ("manufacturer", "Manufacturer"),
    ("model", "Model"),
    ("revision", "Firmware"),
    ("imei", "IMEI"),
    ("imsi", "IMSI"),
    ("iccid", "ICCID"),
    ("sim", "SIM"),
    ("registration", "Registration"),
    ("operator", "Operator"),
    ("signal", "Signal"),
    ("smsc", "SMS centre"),
    ("reports", "Delivery reports"),
    ("received", "Received SMS"),
    ("last_error", "Last error"),
)

REPORTS_TEXT = {
    "inline": "reported at once (+CDS)",
    "stored": "stored by the modem (+CDSI), read and deleted",
    "unsupported": "not supported by this modem",
}

RECEIVED_TEXT = {
    "announced": "announced (+CMTI), stored, deleted from the SIM",
    "polled": "checked at every status poll, stored, deleted from the SIM",
}


BALANCE_CODE = "*100#"  # the usual prepaid balance code; operators differ
USSD_HELP = (
    "A USSD code asks the mobile network directly, as dialling it on a phone would: "
    "*100# is the prepaid balance with many operators (see your SIM's leaflet)."
)


def list_port_names() -> list[tuple[str, str]]:
    """(device, description) of the serial ports; runs on the pool (it can be slow)."""
    from gsmbridge.modem.ports import list_ports

    out = []
    for p in list_ports():
        out.append((p.device, p.label))
    return out


class ModemPanel(QWidget):
    """Shows one modem at a time (a selector appears when there are several).

    Signals:
        message_posted(str): a short result for the status bar.
        restart_requested(): a new port was saved; the service must restart to use it.
    """

    message_posted = Signal(str)
    restart_requested = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.statuses: dict[str, Any] = {}
        self.charts_data: dict[str, list[tuple[float, int | None]]] = {}

        # -- identity and health
        self.sim_note = QLabel(
            "<b>Simulated modem</b>: nothing leaves this computer; messages appear in the "
            "simulator's outbox below."
        )
        self.sim_note.setWordWrap(True)
        self.sim_note.setStyleSheet(
            "background:#fff4e0; color:#6b4500; border:1px solid #d98c1f; border-radius:4px;"
            " padding:6px;"
        )
        self.modem_select = QComboBox()
        self.modem_select.currentIndexChanged.connect(self._show_selected)
        self.info: dict[str, QLabel] = {}
        info_box = QGroupBox("Modem")
        self.info_box = info_box
        form = QFormLayout(info_box)
        form.addRow("Modem", self.modem_select)
        form.setRowVisible(self.modem_select, False)  # shown when there are several
        self.info_form = form
        self.bars = SignalBars()
        for key, label in INFO_FIELDS:
            value = WrappingLabel("—")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.info[key] = value
            if key == "signal":
                row = QHBoxLayout()
                row.addWidget(self.bars)
                row.addWidget(value, 1)
                form.addRow(label, row)
            else:
                form.addRow(label, value)
        self.chart = SignalChart()
        chart_box = QGroupBox("Signal, last 30 minutes")
        QVBoxLayout(chart_box).addWidget(self.chart)

        # -- connection
        self.port = QComboBox()
        self.port.setEditable(True)
        self.port.setMinimumWidth(180)
        self.port.setToolTip("A device (COM3, /dev/ttyUSB2), a pyserial URL, or sim")
        self.refresh_ports = QPushButton("Detect")
        self.refresh_ports.setToolTip("List the serial ports plugged in now")
        self.refresh_ports.clicked.connect(self.detect_ports)
        self.connect_button = QPushButton("Connect")
        self.connect_button.setToolTip(
            "Use this port: saved to the settings, then the service restarts with it "
            "(a few seconds; the queue is kept)"
        )
        self.connect_button.clicked.connect(self.connect_port)
        self.reconnect_button = QPushButton("Reconnect")
        self.reconnect_button.clicked.connect(self.reconnect)
        self.port_note = QLabel()
        self.port_note.setWordWrap(True)
        conn_box = QGroupBox("Connection")
        conn = QGridLayout(conn_box)
        conn.addWidget(QLabel("Port"), 0, 0)
        conn.addWidget(self.port, 0, 1)
        conn.addWidget(self.refresh_ports, 0, 2)
        buttons = QHBoxLayout()
        buttons.addWidget(self.connect_button)
        buttons.addWidget(self.reconnect_button)
        buttons.addStretch(1)
        conn.addLayout(buttons, 1, 1, 1, 2)
        conn.addWidget(self.port_note, 2, 0, 1, 3)
        conn.setColumnStretch(1, 1)

        # -- PIN
        self.pin_box = PinEntry(self.ctx, self.current_port)
        self.pin_box.said.connect(lambda message, _ok: emit(self.message_posted, message))

        # -- test SMS
        self.test_sms = SmsTestBox(ctx)

        # -- balance (USSD)
        self.ussd_box = QGroupBox("Balance")
        self.ussd_box.setToolTip(USSD_HELP)
        self.ussd_code = QLineEdit(BALANCE_CODE)
        self.ussd_code.setValidator(QRegularExpressionValidator(rf"[0-9*#]{{0,{MAX_CODE}}}"))
        self.ussd_code.setToolTip(USSD_HELP)
        self.ussd_code.setMaximumWidth(140)
        self.ussd_code.returnPressed.connect(self.check_balance)
        self.ussd_button = QPushButton("Check balance")
        self.ussd_button.setToolTip("Send the code to the network (USSD) and show its answer")
        self.ussd_button.clicked.connect(self.check_balance)
        self.ussd_answer = WrappingLabel("—")
        self.ussd_answer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.ussd_when = QLabel()
        ussd_layout = QGridLayout(self.ussd_box)
        ussd_layout.addWidget(QLabel("Code"), 0, 0)
        ussd_layout.addWidget(self.ussd_code, 0, 1)
        ussd_layout.addWidget(self.ussd_button, 0, 2)
        ussd_layout.addWidget(self.ussd_answer, 1, 0, 1, 4)
        ussd_layout.addWidget(self.ussd_when, 2, 0, 1, 4)
        ussd_layout.setColumnStretch(3, 1)
        self._asking = False  # a USSD code is on its way: its outcome is shown, not the last
        self._ussd_port: str | None = None  # the modem the Balance box speaks of
        self._failed_in: ModemState | None = None  # a failure on show, and the state it met

        # -- simulator outbox
        self.outbox_box = QGroupBox("Simulator outbox: what the simulated modem “sent”")
        self.outbox = OutboxModel(self)
        self.outbox.set_masked(ctx.settings.gui.mask_numbers)
        outbox_view = QTableView()
        outbox_view.setModel(self.outbox)
        outbox_view.verticalHeader().hide()
        outbox_view.setShowGrid(False)
        outbox_view.setAlternatingRowColors(True)
        outbox_view.verticalHeader().setDefaultSectionSize(24)
        outbox_view.horizontalHeader().setStretchLastSection(True)
        outbox_view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        QVBoxLayout(self.outbox_box).addWidget(outbox_view)
        self.outbox_view = outbox_view
        self._outbox_timer = QTimer(self)
        self._outbox_timer.setInterval(1000)
        self._outbox_timer.timeout.connect(self.refresh_outbox)
        self._chart_timer = QTimer(self)
        self._chart_timer.setInterval(10_000)  # the time axis moves
        self._chart_timer.timeout.connect(self.chart.update)

        left = QVBoxLayout()
        left.addWidget(self.sim_note)
        left.addWidget(info_box)
        left.addWidget(chart_box, 1)
        right = QVBoxLayout()
        right.addWidget(conn_box)
        right.addWidget(self.pin_box)
        right.addWidget(self.test_sms)
        right.addWidget(self.ussd_box)
        right.addWidget(self.outbox_box, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(left, 1)
        layout.addLayout(right, 1)
        self._port_choices: list[tuple[str, str]] = []
        self._switching_to = ""  # a port Connect saved; the service restarts with it
        self._fill_ports([])
        self.set_simulated(ctx.simulated)
        ctx.busy_changed.connect(self._busy_changed)
        ctx.started.connect(self._service_started)
        ctx.start_failed.connect(self._service_failed)

    # -- statuses -----------------------------------------------------------------------

    def set_simulated(self, simulated: bool) -> None:
        self.sim_note.setVisible(simulated)
        self.outbox_box.setVisible(simulated)
        self.info_box.setTitle("Simulated modem" if simulated else "Modem")
        if simulated and self.isVisible():
            self._outbox_timer.start()

    def set_statuses(self, statuses: list[ModemStatus]) -> None:
        """The running Bridge's modems: any other (a port no longer configured) goes."""
        current = {status.port for status in statuses}
        for port in [p for p in self.statuses if p not in current]:
            del self.statuses[port]
            self.charts_data.pop(port, None)
            index = self.modem_select.findData(port)
            if index >= 0:
                self.modem_select.removeItem(index)
        self.info_form.setRowVisible(self.modem_select, self.modem_select.count() > 1)
        if not statuses:
            for label in self.info.values():
                label.setText("—")
                label.setStyleSheet("")
            self.chart.set_samples([])
            self.pin_box.hide()
        for status in statuses:
            self.update_status(status)

    def update_status(self, status: ModemStatus) -> None:
        """A new ModemStatus snapshot (from the core's event, on the GUI thread)."""
        new = status.port not in self.statuses
        self.statuses[status.port] = status
        self.charts_data.setdefault(status.port, [])
        samples = self.charts_data[status.port]
        if not samples or samples[-1][1] != status.signal_dbm:
            samples.append((time.time(), status.signal_dbm))
            del samples[:-2000]
        if new:
            self.modem_select.addItem(status.port, status.port)
            self.info_form.setRowVisible(self.modem_select, self.modem_select.count() > 1)
        if self.current_port() == status.port:
            self._show(status, chart_changed=True)

    def current_port(self) -> str | None:
        data = self.modem_select.currentData()
        return str(data) if data is not None else None

    @Slot(int)
    def _show_selected(self, _index: int) -> None:
        port = self.current_port()
        if port in self.statuses:
            self._show(self.statuses[port], chart_changed=True)

    def _show(self, status: ModemStatus, *, chart_changed: bool) -> None:
        values = {key: str(getattr(status, key, "") or "") for key, _ in INFO_FIELDS}
        values["state"] = MODEM_STATE_TEXT.get(status.state, status.state)
        extra = getattr(status, "extra", None) or {}
        mode = extra.get("status_reports", "")
        values["reports"] = REPORTS_TEXT.get(mode, mode)
        received = extra.get("received_sms", "")
        values["received"] = RECEIVED_TEXT.get(received, received)
        if status.simulated:
            values["state"] += "  (simulated)"
        if status.signal_dbm is not None:
            values["signal"] = f"{status.signal_dbm} dBm ({status.signal_bars}/5)"
        else:
            values["signal"] = "unknown"
        for key, label in self.info.items():
            label.setText(values.get(key) or "—")
        self.info["last_error"].setStyleSheet(ERROR_STYLE if status.last_error else "")
        self.info["last_error"].setToolTip(status.last_error or "")
        ready = status.state == ModemState.READY
        self.info["state"].setStyleSheet(OK_STYLE if ready else ERROR_STYLE)
        self.bars.set_bars(status.signal_bars, known=status.signal_dbm is not None)
        self.pin_box.show_for(status)
        if not self._asking:
            self._show_balance(status)
        if chart_changed:
            self.chart.set_samples(self.charts_data.get(status.port, []))

    # -- ports ------------------------------------------------------------------------------

    def _fill_ports(self, detected: list[tuple[str, str]], current: str = "") -> None:
        current = current or self.port.currentText() or ", ".join(self.ctx.settings.modem.port)
        self._port_choices = detected
        self.port.clear()
        seen = set()
        for device, label in [("sim", "built-in simulator"), *detected]:
            self.port.addItem(f"{device} — {label}" if label else device, device)
            seen.add(device)
        for configured in self.ctx.settings.modem.port:
            if configured not in seen:
                self.port.addItem(configured, configured)
        index = self.port.findData(current)
        if index >= 0:
            self.port.setCurrentIndex(index)
        else:
            self.port.setEditText(current)

    def selected_port(self) -> str:
        data = self.port.currentData()
        text = self.port.currentText().strip()
        if data is not None and self.port.itemText(self.port.currentIndex()) == text:
            return str(data)
        return text.split(" — ")[0].strip()

    @Slot()
    def detect_ports(self) -> None:
        self.refresh_ports.setEnabled(False)
        self.port_note.setText("Looking for serial ports…")
        self.ctx.tasks.run(
            "Detect ports", list_port_names, on_done=self._ports_found, on_error=self._ports_failed
        )

    def _ports_found(self, ports: list[tuple[str, str]]) -> None:
        self.refresh_ports.setEnabled(True)
        self._fill_ports(ports)
        if ports:
            self.port_note.setText(f"Found {len(ports)} serial port(s).")
        else:
            from gsmbridge.modem.errors import no_ports_text

            self.port_note.setText(no_ports_text())

    def _ports_failed(self, exc: BaseException) -> None:
        self.refresh_ports.setEnabled(True)
        self.port_note.setText(f"Could not list ports: {exc}")

    @Slot()
    def connect_port(self) -> None:
        """Use the selected port: save it in the settings, then restart the service with
        it (a new port needs a new Bridge); the port in use is reconnected."""
        port = self.selected_port()
        ports = [p.strip() for p in port.split(",") if p.strip()]  # several modems
        if not ports:
            self.port_note.setText("Choose a port first.")
            return
        port = ", ".join(ports)
        if ports == self.ctx.settings.modem.port:
            self.port_note.setText(f"Reconnecting {port}…")
            self.reconnect()
            return
        # From the saved values: other settings waiting for a restart stay as saved.
        new = copy.deepcopy(self.ctx.desired)
        new.modem.port = ports
        self.connect_button.setEnabled(False)
        self.port_note.setText(f"Saving {port}…")
        self.ctx.tasks.run(
            "Change modem port",
            self.ctx.save_and_apply,
            new,
            ["modem.port"],
            on_done=lambda restart: self._port_saved(port, restart),
            on_error=self._port_not_saved,
        )

    def _port_not_saved(self, exc: BaseException) -> None:
        self.connect_button.setEnabled(not self.ctx.starting)
        self.port_note.setText(f"Not saved: {exc}")

    def _port_saved(self, port: str, restart: list[str]) -> None:
        self.connect_button.setEnabled(not self.ctx.starting)
        if "modem.port" not in restart:
            self.port_note.setText(f"Saved; connecting to {port}.")
            return
        if self.ctx.starting:
            self.port_note.setText(
                f"Saved. The service is starting: once it runs, use gsmbridge → Restart "
                f"service to connect to {port}."
            )
            return
        self._switching_to = port
        self.port_note.setText(
            f"Saved. Restarting the service to connect to {port} (the queue is kept)…"
        )
        emit(self.restart_requested)

    @Slot(bool)
    def _busy_changed(self, busy: bool) -> None:
        self.connect_button.setEnabled(not busy)

    @Slot()
    def _service_started(self) -> None:
        # The picker shows the port(s) in use: Settings may have changed them, and a
        # stale choice here would be saved back by Connect.
        self._fill_ports(self._port_choices, ", ".join(self.ctx.settings.modem.port))
        if self._switching_to:
            self.port_note.setText(f"The service runs with {self._switching_to}.")
            self._switching_to = ""
        elif self.port_note.text().startswith("The service runs with"):
            self.port_note.setText("")  # another restart since: it may run with others

    @Slot(object)
    def _service_failed(self, problem: Any) -> None:
        if self._switching_to:
            self.port_note.setText(
                f"The service did not restart with {self._switching_to}: "
                f"{getattr(problem, 'title', problem)}"
            )
            self._switching_to = ""

    @Slot()
    def reconnect(self) -> None:
        port = self.current_port()
        self.ctx.tasks.run(
            "Reconnect",
            self.ctx.bridge.modems.reconnect,
            port,
            on_done=lambda _r: emit(self.message_posted, f"Reconnecting {port or 'the modem'}…"),
        )

    # -- balance (USSD) ----------------------------------------------------------------------

    @Slot()
    def check_balance(self) -> None:
        """Send the code through the service to the modem, on the pool: the answer can
        take seconds, and waits for an SMS in flight."""
        code = self.ussd_code.text().strip()
        if not valid_code(code):
            self._say_ussd("A USSD code is digits, * and #, like *100#", ok=False)
            return
        self._asking = True
        self.ussd_button.setEnabled(False)
        self._say_ussd(f"Asking the network ({code})…", ok=None)
        self.ussd_when.setText("")
        self.ctx.tasks.run(
            "Check balance",
            self.ctx.bridge.modems.ussd,
            code,
            self.current_port(),
            on_done=self._ussd_answered,
            on_error=lambda exc: self._ussd_failed(code, exc),
        )

    def _ussd_answered(self, answer: UssdAnswer) -> None:
        self._asking = False
        self.ussd_button.setEnabled(True)
        self._show_ussd(answer)
        emit(self.message_posted, f"USSD {answer.code} answered")

    def _ussd_failed(self, code: str, exc: BaseException) -> None:
        self._asking = False
        self.ussd_button.setEnabled(True)
        text = failure_text(code, exc) if isinstance(exc, Exception) else str(exc)
        port = self.current_port()
        shown = self.statuses.get(port) if port is not None else None
        self._failed_in = shown.state if shown is not None else ModemState.DISCONNECTED
        self._say_ussd(text, ok=False)
        self.ussd_when.setText("")
        emit(self.message_posted, text)

    def _show_balance(self, status: ModemStatus) -> None:
        """The Balance box for the modem on show: its last answer; a failure only while
        the modem is as it was when the code failed (not another modem's, not old)."""
        stale = status.port != self._ussd_port or (
            self._failed_in is not None and status.state != self._failed_in
        )
        self._ussd_port = status.port
        if stale:
            self._failed_in = None
        if self._failed_in is not None:
            return
        if status.ussd is not None:
            self._show_ussd(status.ussd)
        elif stale:
            self._say_ussd("—", ok=None)
            self.ussd_when.setText("")

    def _show_ussd(self, answer: UssdAnswer) -> None:
        self._say_ussd(answer.text, ok=True)
        self.ussd_when.setText(f"{answer.code} answered at {format_time(answer.at)}")

    def _say_ussd(self, text: str, *, ok: bool | None) -> None:
        self.ussd_answer.setText(text)
        self.ussd_answer.setStyleSheet("" if ok is None or ok else ERROR_STYLE)

    # -- simulator outbox -------------------------------------------------------------------

    @Slot()
    def refresh_outbox(self) -> None:
        if self.ctx.running:  # an in-memory copy under a lock: cheap
            self.outbox.set_messages(self.ctx.bridge.modems.simulator_outbox())

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self._chart_timer.start()
        if self.ctx.simulated:
            self._outbox_timer.start()
            self.refresh_outbox()

    def hideEvent(self, event: Any) -> None:
        super().hideEvent(event)
        self._chart_timer.stop()
        self._outbox_timer.stop()
