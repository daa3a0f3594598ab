"""The Nodes tab (a store several PCs share): each PC, its modems, its health and its
last heartbeat; a PC silent for longer than the lease is shown as down.

The list is read on the task pool every few seconds while the tab is shown (the
other PCs change it, and they send no signal here).
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QAbstractItemView, QLabel, QTableView, QVBoxLayout, QWidget

from gsmbridge.core.store_nodes import CLOCK_TOLERANCE_S, NodeInfo, clock_warning
from gsmbridge.gui.context import AppContext
from gsmbridge.gui.formatting import format_time
from gsmbridge.gui.models import Index, RowTableModel
from gsmbridge.gui.views.widgets import ERROR_STYLE

REFRESH_MS = 5000
HELP = (
    "The PCs sharing this queue. Each one's modems take jobs from the same queue; a PC"
    " not heard from for longer than the lease (store.lease_s) is down, and the others"
    " send the jobs it had claimed."
)


def _modems(node: NodeInfo) -> str:
    return ", ".join(f"{m.get('port', '?')} ({m.get('state', '?')})" for m in node.modems) or "-"


class NodesModel(RowTableModel):
    """The nodes, by name.

    Signals: those of QAbstractTableModel.
    """

    COL_NAME, COL_HEALTH, COL_MODEMS, COL_SEEN, COL_VERSION = range(5)
    HEADERS = ("PC (node)", "Health", "Modems", "Last heartbeat", "Version")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[NodeInfo] = []
        self.me = ""  # this PC's node name, marked in the list

    def set_rows(self, rows: list[NodeInfo]) -> None:
        if rows == self._rows:
            return
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def node(self, row: int) -> NodeInfo | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        node: NodeInfo | None = self._row_at(index)
        if node is None or role != Qt.ItemDataRole.DisplayRole:
            return None
        col = index.column()
        if col == self.COL_NAME:
            return f"{node.name} (this PC)" if node.name == self.me else node.name
        if col == self.COL_HEALTH:
            if not node.up:
                return "down"
            ready = sum(1 for m in node.modems if m.get("state") == "ready")
            return f"up, {ready} of {len(node.modems)} modem(s) ready"
        if col == self.COL_MODEMS:
            return _modems(node)
        if col == self.COL_SEEN:
            return format_time(node.last_seen, now=time.time())
        return node.version


class NodesView(QWidget):
    """The PCs sharing the queue.

    Signals:
        message_posted(str): a short result for the status bar.
    """

    message_posted = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.model = NodesModel(self)
        self.model.me = ctx.settings.store.node
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(NodesModel.COL_NAME, 180)
        self.table.setColumnWidth(NodesModel.COL_HEALTH, 220)
        self.table.setColumnWidth(NodesModel.COL_MODEMS, 320)
        self.feedback = QLabel()
        self.feedback.setWordWrap(True)
        help_label = QLabel(HELP)
        help_label.setWordWrap(True)
        help_label.setStyleSheet("color: #7a7a7a;")
        layout = QVBoxLayout(self)
        layout.addWidget(help_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.feedback)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self.refresh()
        self._timer.start()

    def hideEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self._timer.stop()
        super().hideEvent(event)

    @Slot()
    def refresh(self) -> None:
        """Read the nodes again on the pool."""
        store = self.ctx.store
        if store is None:
            return
        if self.ctx.running:
            self.model.me = self.ctx.bridge.node
        self.ctx.tasks.run(
            "Read the PCs sharing the queue",
            store.nodes,
            on_done=self._loaded,
            on_error=self._failed,
        )

    def _loaded(self, rows: list[NodeInfo]) -> None:
        self.model.set_rows(rows)
        down = [n.name for n in rows if not n.up]
        said = [f"Down: {', '.join(down)}"] if down else []
        store = self.ctx.store
        skew = store.clock_skew_s if store is not None else None
        clock_off = skew is not None and abs(skew) > CLOCK_TOLERANCE_S
        if skew is not None and clock_off:
            said.append(clock_warning(skew) + ".")
        self.feedback.setText("\n".join(said))
        self.feedback.setStyleSheet(ERROR_STYLE if clock_off else "")

    def _failed(self, exc: BaseException) -> None:
        self.feedback.setText(f"The shared store cannot be read now: {exc}")
