"""The opt-out list (STOP) in the Contacts tab: numbers that get no notifications,
since when and why; add one by hand, or take one off (as its START would).

Reads and writes run on the task pool; the list reloads when asked (the Contacts
tab polls while shown), so a STOP that arrives by SMS shows within seconds.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gsmbridge.core.phones import InvalidNumber, normalise
from gsmbridge.core.store_replies import OptOut, RepliesStore
from gsmbridge.gui.compat import emit
from gsmbridge.gui.context import AppContext
from gsmbridge.gui.formatting import format_full_time, format_number, plural
from gsmbridge.gui.models import Index, RowTableModel
from gsmbridge.gui.views.widgets import ERROR_STYLE, OK_STYLE

log = logging.getLogger(__name__)

HELP = (
    "Numbers on this list get no notifications: a notification for one ends failed"
    " “recipient opted out”, unsent. A reply STOP (or STOPALL, UNSUBSCRIBE, CANCEL,"
    " END, QUIT) adds the number; START or UNSTOP takes it off."
)


class OptOutModel(RowTableModel):
    """The opt-out list, newest first.

    Signals: those of QAbstractTableModel.
    """

    COL_NUMBER, COL_SINCE, COL_SOURCE = range(3)
    HEADERS = ("Number", "Opted out", "How")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[OptOut] = []
        self.masked = True

    def set_rows(self, rows: list[OptOut]) -> None:
        if rows == self._rows:
            return
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def set_masked(self, masked: bool) -> None:
        self.masked = masked
        if self._rows:
            emit(self.dataChanged, self.index(0, 0), self.index(len(self._rows) - 1, 0))

    def entry(self, row: int) -> OptOut | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        entry: OptOut | None = self._row_at(index)
        if entry is None or role != Qt.ItemDataRole.DisplayRole:
            return None
        col = index.column()
        if col == self.COL_NUMBER:
            return format_number(entry.number, self.masked)
        if col == self.COL_SINCE:
            return format_full_time(entry.at)
        return entry.source


class OptOutPanel(QGroupBox):
    """The opt-out list with Add and Take off.

    Signals:
        message_posted(str): a short result for the status bar.
    """

    message_posted = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__("Opted out of notifications (STOP)", parent)
        self.ctx = ctx
        self.model = OptOutModel(self)
        self.model.set_masked(ctx.settings.gui.mask_numbers)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(OptOutModel.COL_NUMBER, 200)
        self.table.setColumnWidth(OptOutModel.COL_SINCE, 200)
        self.table.setMaximumHeight(150)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.number = QLineEdit()
        self.number.setPlaceholderText("Mobile number to opt out")
        self.number.returnPressed.connect(self.add_from_field)
        self.add_button = QPushButton("Opt out")
        self.add_button.clicked.connect(self.add_from_field)
        self.remove_button = QPushButton("Take off the list")
        self.remove_button.setToolTip("Notifications go to the selected numbers again")
        self.remove_button.clicked.connect(self.remove_selected)
        self.feedback = QLabel()
        self.feedback.setWordWrap(True)
        help_label = QLabel(HELP)
        help_label.setWordWrap(True)
        help_label.setStyleSheet("color: #7a7a7a;")
        row = QHBoxLayout()
        row.addWidget(self.number, 1)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.addWidget(help_label)
        layout.addWidget(self.table)
        layout.addLayout(row)
        layout.addWidget(self.feedback)
        self._update_buttons()

    def _say(self, text: str, ok: bool) -> None:
        self.feedback.setStyleSheet(OK_STYLE if ok else ERROR_STYLE)
        self.feedback.setText(text)

    @Slot()
    def _update_buttons(self, *_args: Any) -> None:
        self.remove_button.setEnabled(bool(self.selected_numbers()))

    def selected_numbers(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [e.number for r in rows if (e := self.model.entry(r)) is not None]

    # -- reads --------------------------------------------------------------------------

    @Slot()
    def refresh(self) -> None:
        """Read the list again on the pool."""
        store = self.ctx.store
        backend = getattr(store, "backend", None)
        if backend is None:
            self.model.set_rows([])
            return
        repo = RepliesStore(backend)
        self.ctx.tasks.run("Read the opt-out list", repo.list_opt_outs, on_done=self._loaded)

    def _loaded(self, rows: list[OptOut]) -> None:
        self.model.set_rows(rows)
        self._update_buttons()

    # -- writes -------------------------------------------------------------------------

    @Slot()
    def add_from_field(self) -> None:
        try:
            number = normalise(self.number.text(), self.ctx.settings.sending.default_region)
        except InvalidNumber as exc:
            self._say(f"Not added: {exc}", False)
            return
        opt_outs = self.ctx.bridge.opt_outs if self.ctx.running else None
        if opt_outs is None:
            self._say("Not added: gsmbridge is not running", False)
            return
        self.ctx.tasks.run(
            "Opt out",
            opt_outs.add,
            number,
            "added by hand",
            on_done=lambda added: self._added(number, added),
            on_error=lambda exc: self._say(f"Not added: {exc}", False),
        )

    def _added(self, number: str, added: bool) -> None:
        self.number.clear()
        shown = format_number(number, self.model.masked)
        self._say(f"{shown} opted out" if added else f"{shown} was already on the list", True)
        emit(self.message_posted, f"{shown} gets no more notifications")
        self.refresh()

    @Slot()
    def remove_selected(self) -> None:
        numbers = self.selected_numbers()
        opt_outs = self.ctx.bridge.opt_outs if self.ctx.running else None
        if not numbers or opt_outs is None:
            return

        def remove_all() -> int:
            return sum(bool(opt_outs.remove(n)) for n in numbers)

        self.ctx.tasks.run("Take off the opt-out list", remove_all, on_done=self._removed)

    def _removed(self, n: int) -> None:
        self._say(f"Took {plural(n, 'number')} off the list: notifications go to them again", True)
        self.refresh()
