"""Small Qt models: the contacts directory (editable) and the simulator's outbox.

The contacts model validates edits and hands valid ones to its owner
through ``contact_edited``, which saves them off the GUI thread.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from gsmbridge.core.models import Contact
from gsmbridge.core.phones import InvalidNumber, normalise
from gsmbridge.gui.compat import emit
from gsmbridge.gui.formatting import format_full_time, format_number, preview
from gsmbridge.gui.models import READ_ERRORS, Index, RowTableModel

log = logging.getLogger(__name__)


class ContactsModel(RowTableModel):
    """The contacts directory, editable in place (name and number).

    Edits are validated here (the number with ``normalise``) and then handed
    to the owner through ``contact_edited``, which saves them off the GUI thread.
    With ``masked`` the number column shows only its last digits; the edit role
    (the in-place editor, sorting and search) keeps the real number.

    Signals:
        contact_edited(object): a valid edit to save (a ``Contact``).
        edit_refused(str): an edit was refused (the reason, for the user).
    """

    COL_UID, COL_NAME, COL_NUMBER, COL_UPDATED = range(4)
    HEADERS = ("User id (uid)", "Name", "Number", "Updated")

    contact_edited = Signal(object)
    edit_refused = Signal(str)

    def __init__(self, store: Any = None, parent: QObject | None = None, region: str = "US"):
        super().__init__(parent)
        self._store = store
        self.region = region
        self._rows: list[Contact] = []
        self.masked = False
        self.version: tuple[int, float] | None = None  # the store's contacts_version() loaded
        if store is not None:
            self.reload()

    def set_store(self, store: Any) -> None:
        self._store = store
        self.reload()

    @property
    def store(self) -> Any:
        return self._store

    @Slot()
    def reload(self) -> None:
        rows: list[Contact] = []
        version = None
        if self._store is not None:
            try:
                version = self._store.contacts_version()  # first: a change after it reloads again
                rows = self._store.list_contacts()
            except READ_ERRORS as exc:
                log.debug("contacts not loaded: %s", exc)
        self.beginResetModel()
        self._rows = rows
        self.version = version
        self.endResetModel()

    def changed_in_store(self) -> bool:
        """Whether the store's contacts differ from the rows (another process, a webhook)."""
        if self._store is None:
            return False
        try:
            return bool(self._store.contacts_version() != self.version)
        except READ_ERRORS as exc:
            log.debug("contacts not checked: %s", exc)
            return False

    def set_masked(self, masked: bool) -> None:
        self.masked = masked
        if self._rows:
            col = self.COL_NUMBER
            emit(self.dataChanged, self.index(0, col), self.index(len(self._rows) - 1, col))

    def contact(self, row: int) -> Contact | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, uid: str) -> int:
        for row, c in enumerate(self._rows):
            if c.uid == uid:
                return row
        return -1

    def validate_number(self, text: str) -> tuple[str | None, str]:
        """(E.164 number, "") or (None, the reason it is refused)."""
        try:
            return normalise(text, self.region), ""
        except InvalidNumber as exc:
            return None, str(exc)

    def flags(self, index: Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid() and index.column() in (self.COL_NAME, self.COL_NUMBER):
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        c = self._row_at(index)
        if c is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole and col == self.COL_NUMBER:
            return format_number(c.number, self.masked)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return (c.uid, c.name, c.number, format_full_time(c.updated_at))[col]
        if role == Qt.ItemDataRole.UserRole:
            return c
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        old = self._rows[index.row()]
        text = str(value).strip()
        if index.column() == self.COL_NUMBER:
            number, reason = self.validate_number(text)
            if number is None:
                emit(self.edit_refused, f"{old.uid}: {reason}")
                return False
            new = Contact(uid=old.uid, number=number, name=old.name, updated_at=time.time())
        elif index.column() == self.COL_NAME:
            new = Contact(uid=old.uid, number=old.number, name=text, updated_at=time.time())
        else:
            return False
        self._rows[index.row()] = new
        emit(self.dataChanged, self.index(index.row(), 0), self.index(index.row(), 3))
        emit(self.contact_edited, new)
        return True


class OutboxModel(RowTableModel):
    """What the simulated modem "sent": newest first.

    Signals: none of its own.
    """

    HEADERS = ("Time", "Number", "Parts", "Encoding", "Text")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Any] = []
        self.masked = True

    def set_messages(self, messages: list[Any]) -> bool:
        """Replace the rows; return whether anything changed."""
        if len(messages) == len(self._rows):
            return False
        self.beginResetModel()
        self._rows = list(reversed(messages))
        self.endResetModel()
        return True

    def set_masked(self, masked: bool) -> None:
        self.masked = masked
        if self._rows:
            emit(self.dataChanged, self.index(0, 1), self.index(len(self._rows) - 1, 1))

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        m = self._row_at(index)
        if m is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                when = getattr(m, "time", None)
                return when.strftime("%H:%M:%S") if hasattr(when, "strftime") else str(when)
            if col == 1:
                return format_number(m.number, self.masked)
            if col == 2:
                return str(m.parts)
            if col == 3:
                return m.encoding
            return preview(m.text, 120)
        if role == Qt.ItemDataRole.ToolTipRole and col == 4:
            return m.text
        return None
