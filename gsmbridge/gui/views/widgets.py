"""Small shared widgets: the problem banner, signal bars, field error labels, list tables,
the empty-table hint."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QAbstractItemModel, QEvent, QObject, QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gsmbridge.gui.compat import emit
from gsmbridge.gui.problems import Problem

ERROR_STYLE = "color: #c0392b;"
HINT_STYLE = "color: #7a7a7a; font-size: 11pt;"
ROW_HEIGHT = 24
OK_STYLE = "color: #1e7a44;"

BANNER_STYLES = {
    "error": ("#fdecea", "#d64541", "#7f1d1d"),
    "warning": ("#fff4e0", "#d98c1f", "#6b4500"),
    "info": ("#e8f1fd", "#2f7de1", "#17375e"),
}


class Banner(QFrame):
    """A coloured strip with a title, what happened, what to do, and action buttons.

    Signals:
        action_triggered(str): a button was pressed (its action name).
        dismissed(): the close button was pressed.
    """

    action_triggered = Signal(str)
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel()
        self.title.setObjectName("bannerTitle")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.advice = QLabel()
        self.advice.setWordWrap(True)
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addWidget(self.message)
        text.addWidget(self.advice)
        self._buttons = QHBoxLayout()
        self._buttons.setSpacing(6)
        close = QPushButton("✕")
        close.setFlat(True)
        close.setFixedWidth(28)
        close.setToolTip("Hide this message")
        close.clicked.connect(self._on_close)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        layout.addLayout(text, 1)
        layout.addLayout(self._buttons)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.level = ""
        self.hide()

    def show_problem(self, problem: Problem | None, *, level: str = "error") -> None:
        """Show a Problem (what, why, what to do, its buttons); None clears the banner."""
        if problem is None:
            self.clear()
            return
        self.show_message(
            problem.title,
            problem.message,
            problem.advice,
            level=level,
            actions=list(problem.actions),
        )

    def show_message(
        self,
        title: str,
        message: str,
        advice: str = "",
        *,
        level: str = "error",
        actions: list[tuple[str, str]] | None = None,
    ) -> None:
        """Show the banner; ``actions`` are (name, button label) pairs."""
        self.level = level
        background, border, ink = BANNER_STYLES.get(level, BANNER_STYLES["info"])
        self.setStyleSheet(
            f"QFrame#banner {{ background: {background}; border: 1px solid {border};"
            f" border-radius: 6px; }} QFrame#banner QLabel {{ color: {ink}; }}"
            " QLabel#bannerTitle { font-weight: bold; }"
        )
        self.title.setText(title)
        self.message.setText(message)
        self.message.setVisible(bool(message))
        self.advice.setText(f"<b>What to do:</b> {advice}" if advice else "")
        self.advice.setVisible(bool(advice))
        while self._buttons.count():
            item = self._buttons.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        for name, label in actions or []:
            button = QPushButton(label)
            button.setProperty("action", name)
            button.clicked.connect(self._on_action)
            self._buttons.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
        self.show()

    def clear(self) -> None:
        self.level = ""
        self.hide()

    def buttons(self) -> dict[str, QPushButton]:
        out = {}
        for i in range(self._buttons.count()):
            widget = self._buttons.itemAt(i).widget()
            if isinstance(widget, QPushButton):
                out[str(widget.property("action"))] = widget
        return out

    @Slot()
    def _on_action(self) -> None:
        button = self.sender()
        if button is not None:
            emit(self.action_triggered, str(button.property("action")))

    @Slot()
    def _on_close(self) -> None:
        self.hide()
        emit(self.dismissed)


class SignalBars(QWidget):
    """Five bars, the phone way; grey when there is no signal reading.

    Signals: none.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bars = 0
        self._known = False
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(30, 16)

    def set_bars(self, bars: int, known: bool = True) -> None:
        self._bars, self._known = max(0, min(5, bars)), known
        self.update()

    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        on = QColor("#2e9d5b") if self._bars >= 2 else QColor("#d98c1f")
        off = self.palette().color(QPalette.ColorRole.Mid)
        w, h = self.width(), self.height()
        bar_w = w / 5 - 2
        for i in range(5):
            bar_h = h * (i + 1) / 5
            painter.setBrush(on if self._known and i < self._bars else off)
            painter.drawRoundedRect(QRectF(i * (bar_w + 2), h - bar_h, bar_w, bar_h), 1, 1)
        painter.end()


class FieldError(QLabel):
    """A small red message shown next to a field that holds a bad value.

    Signals: none of its own.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet(ERROR_STYLE)
        self.setWordWrap(True)
        self.hide()

    def set_error(self, message: str) -> None:
        self.setText(message)
        self.setVisible(bool(message))


def list_table(model: QAbstractItemModel, widths: dict[int, int]) -> QTableView:
    """A read-only table of rows (jobs, replies): whole-row multi-selection, fixed row
    height, no grid, a context menu; the caller sets sorting and stretching."""
    table = QTableView()
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.setShowGrid(False)
    table.verticalHeader().hide()
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
    table.horizontalHeader().setHighlightSections(False)
    for col, width in widths.items():
        table.setColumnWidth(col, width)
    table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    return table


class EmptyHint(QLabel):
    """Grey text over a table's rows area while the table has no rows.

    ``text()`` says why it is empty ("No jobs match …") and may hold a link; an
    empty string shows nothing (while loading, say).  The header stays visible,
    so the columns still say what the table holds.  The hint follows the
    model's resets, inserts and removals; owners call ``refresh`` when what
    the text depends on changes (a filter).

    Signals: those of QLabel (``linkActivated(str)`` for a link in the text).
    """

    def __init__(self, view: QAbstractItemView, text: Callable[[], str]) -> None:
        super().__init__(view.viewport())
        self._view = view
        self._text = text
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setStyleSheet(HINT_STYLE)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setContentsMargins(24, 24, 24, 24)
        view.viewport().installEventFilter(self)
        model = view.model()
        for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved):
            signal.connect(self.refresh)
        model.layoutChanged.connect(self.refresh)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        text = self._text() if self._view.model().rowCount() == 0 else ""
        self.setText(text)
        self.setVisible(bool(text))
        self.setGeometry(self._view.viewport().rect())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.setGeometry(self._view.viewport().rect())
        return False


class WrappingLabel(QLabel):
    """A word-wrapped label that takes the height its text needs at its width.

    Qt's tab widget and main window do not pass height-for-width down, so a wrapped
    QLabel in a form gets one line's height and the rest of a long text (an error
    with advice) is cut off; asking for the wrapped height as the minimum fixes that.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt override
        super().setText(text)
        self._fit()

    def resizeEvent(self, event: QEvent) -> None:  # type: ignore[override]  # noqa: N802
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._fit()

    def _fit(self) -> None:
        needed = self.heightForWidth(max(self.width(), 1))
        if needed > 0 and needed != self.minimumHeight():
            self.setMinimumHeight(needed)
