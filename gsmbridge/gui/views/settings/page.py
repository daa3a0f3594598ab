"""What every settings page is built from: a form of fields, each with its parser and
the message shown under it when its value is wrong, and the page's own cross-checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from gsmbridge.config import Settings
from gsmbridge.gui.views.settings.fields import Field
from gsmbridge.gui.views.widgets import FieldError


def note(text: str) -> QLabel:
    """A grey explanation under a field."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


def combo(items: list[tuple[str, str]], value: str) -> QComboBox:
    """A choice of (label, value) pairs with ``value`` selected (the first if absent)."""
    box = QComboBox()
    for label, data in items:
        box.addItem(label, data)
    box.setCurrentIndex(max(0, box.findData(value)))
    return box


class SettingsPage(QWidget):
    """One tab of the Settings dialog: its fields by key ("server.port") and checks.

    Subclasses build their widgets in ``__init__`` with ``line``, ``check`` and
    ``add_field`` and may override ``cross_checks`` for rules between their fields.
    Signals: none of its own.
    """

    title = ""

    def __init__(self, original: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.original = original
        self.fields: dict[str, Field] = {}
        self.form = QFormLayout(self)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

    # -- building --------------------------------------------------------------------------

    def add_note(self, text: str) -> QLabel:
        label = note(text)
        self.form.addRow(label)
        return label

    def add_field(
        self,
        key: str,
        label: str,
        item: QWidget | QLayout,
        widget: QWidget,
        read: Callable[[], Any],
    ) -> None:
        """A row: ``item`` (the widget, or a layout holding it) with its error below;
        ``read`` gives the value or raises ValueError with what is wrong."""
        error = FieldError()
        box = QVBoxLayout()
        box.setSpacing(2)
        if isinstance(item, QWidget):
            box.addWidget(item)
        else:
            box.addLayout(item)
        box.addWidget(error)
        self.form.addRow(label, box)
        self.fields[key] = Field(key, widget, error, read)
        if isinstance(widget, QLineEdit):
            widget.editingFinished.connect(self._check_edited)
        elif isinstance(widget, QComboBox) and widget.isEditable():
            widget.lineEdit().editingFinished.connect(self._check_edited)

    def line(self, key: str, label: str, value: str, parse: Callable[[str], Any]) -> QLineEdit:
        edit = QLineEdit(value)
        self.add_field(key, label, edit, edit, lambda: parse(edit.text()))
        return edit

    def check(self, key: str, text: str, value: bool) -> QCheckBox:
        box = QCheckBox(text)
        box.setChecked(value)
        error = FieldError()  # under the box: a rule may refuse it (it needs another value)
        column = QVBoxLayout()
        column.setSpacing(2)
        column.addWidget(box)
        column.addWidget(error)
        self.form.addRow("", column)
        self.fields[key] = Field(key, box, error, box.isChecked)
        return box

    # -- checking --------------------------------------------------------------------------

    def cross_checks(self) -> dict[str, str]:
        """Rules between this page's fields, once each field reads well: {key: message}."""
        return {}

    def value(self, key: str) -> Any:
        return self.fields[key].read()

    @Slot()
    def _check_edited(self) -> None:
        """Check the field just edited, so a mistake shows before Save."""
        edited = self.sender()
        for f in self.fields.values():
            owner = f.widget.lineEdit() if isinstance(f.widget, QComboBox) else f.widget
            if owner is edited:
                try:
                    f.read()
                    f.error.set_error("")
                except ValueError as exc:
                    f.error.set_error(str(exc))
