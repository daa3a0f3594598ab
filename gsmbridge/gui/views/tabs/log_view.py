"""The live log: records from every thread, appended in batches on the GUI thread."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QColor, QFontDatabase, QGuiApplication, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gsmbridge.gui.compat import emit
from gsmbridge.gui.formatting import mask_numbers
from gsmbridge.gui.loghandler import QtLogHandler
from gsmbridge.gui.throttle import Throttle

LEVELS = (
    ("Debug", logging.DEBUG),
    ("Info", logging.INFO),
    ("Warning", logging.WARNING),
    ("Error", logging.ERROR),
)
LEVEL_COLOURS = {
    logging.WARNING: "#b76e00",
    logging.ERROR: "#c0392b",
    logging.CRITICAL: "#c0392b",
    logging.DEBUG: "#7f8790",
}
MAX_LINES = 5000


class LogView(QWidget):
    """Level filter, search, pause auto-scroll, masked numbers, copy and export.

    Signals:
        message_posted(str): a short result for the status bar.
    """

    message_posted = Signal(str)

    def __init__(
        self, handler: QtLogHandler, *, masked: bool = True, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.handler = handler
        self.level = QComboBox()
        for label, value in LEVELS:
            self.level.addItem(label, value)
        self.level.setCurrentIndex(1)
        self.level.currentIndexChanged.connect(self.rebuild)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter lines…")
        self.search.setClearButtonEnabled(True)
        self._search_throttle = Throttle(250, self.rebuild, self, restart=True)
        self.search.textChanged.connect(self._search_throttle.trigger)
        self.pause = QCheckBox("Pause auto-scroll")
        self.mask = QCheckBox("Mask numbers")
        self.mask.setChecked(masked)
        self.mask.toggled.connect(self.rebuild)
        copy = QPushButton("Copy")
        copy.clicked.connect(self.copy_all)
        export = QPushButton("Export…")
        export.clicked.connect(self._export_clicked)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(MAX_LINES)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setUndoRedoEnabled(False)
        bar = QHBoxLayout()
        bar.addWidget(self.level)
        bar.addWidget(self.search, 1)
        bar.addWidget(self.pause)
        bar.addWidget(self.mask)
        bar.addWidget(copy)
        bar.addWidget(export)
        bar.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self.text, 1)

        self._pending: list[tuple[int, str]] = []
        self._cleared_at = 0  # the serial of the last record cleared away
        self._shown_upto = 0  # records up to this serial came from the handler's memory
        # Appending per record would repaint per record; a 100 ms batch is still "live".
        self._flush_throttle = Throttle(100, self.flush, self)
        handler.relay.records_logged.connect(self.add_records)  # emitted on this thread
        self.rebuild()

    # -- incoming -----------------------------------------------------------------------

    @Slot(object)
    def add_records(self, records: list[tuple[int, int, str]]) -> None:
        # Records up to _shown_upto were already shown by a rebuild from memory.
        self._pending.extend((lv, t) for serial, lv, t in records if serial > self._shown_upto)
        if self._pending:
            self._flush_throttle.trigger()

    def _wanted(self, levelno: int, text: str) -> bool:
        if levelno < int(self.level.currentData()):
            return False
        needle = self.search.text().strip().casefold()
        return not needle or needle in text.casefold()

    @Slot()
    def flush(self) -> None:
        pending, self._pending = self._pending, []
        self._append([(lv, t) for lv, t in pending if self._wanted(lv, t)])

    def _append(self, lines: list[tuple[int, str]]) -> None:
        if not lines:
            return
        lines = lines[-MAX_LINES:]
        bar = self.text.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 2
        keep = bar.value()
        cursor = QTextCursor(self.text.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.beginEditBlock()
        empty = self.text.document().isEmpty()
        plain = QTextCharFormat()
        formats: dict[int, QTextCharFormat] = {}
        for levelno, text in lines:
            fmt = plain
            colour = LEVEL_COLOURS.get(levelno)
            if colour:
                fmt = formats.get(levelno) or QTextCharFormat()
                fmt.setForeground(QColor(colour))
                formats[levelno] = fmt
            if not empty:
                cursor.insertBlock()
            empty = False
            cursor.insertText(mask_numbers(text) if self.mask.isChecked() else text, fmt)
        cursor.endEditBlock()
        if self.pause.isChecked() or not at_bottom:
            bar.setValue(keep)  # the reader scrolled up or paused: stay put
        else:
            bar.setValue(bar.maximum())

    @Slot()
    def rebuild(self) -> None:
        """Re-render from the handler's memory (after a filter or mask change)."""
        self._pending.clear()
        self.text.clear()
        records = self.handler.snapshot(after=self._cleared_at)
        self._shown_upto = records[-1][0] if records else self._cleared_at
        self._append([(lv, t) for _, lv, t in records if self._wanted(lv, t)])
        self.text.verticalScrollBar().setValue(self.text.verticalScrollBar().maximum())

    @Slot()
    def clear(self) -> None:
        self._cleared_at = self._shown_upto = self.handler.last_serial
        self._pending.clear()
        self.text.clear()

    # -- out ------------------------------------------------------------------------------

    def visible_text(self) -> str:
        self.flush()
        return self.text.toPlainText()

    @Slot()
    def copy_all(self) -> None:
        selected = self.text.textCursor().selectedText().replace("\u2029", "\n")
        QGuiApplication.clipboard().setText(selected or self.visible_text())
        emit(self.message_posted, "Log copied")

    @Slot()
    def _export_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export log", str(Path.home() / "gsmbridge-log.txt"), "Text files (*.txt)"
        )
        if path:
            self.export(Path(path))

    def export(self, path: Path) -> None:
        """Write what is shown (filtered, masked as shown)."""
        try:
            path.write_text(self.visible_text() + "\n", encoding="utf-8")
        except OSError as exc:
            emit(self.message_posted, f"Export failed: {exc.strerror or exc}")
            return
        emit(self.message_posted, f"Log exported to {path}")
