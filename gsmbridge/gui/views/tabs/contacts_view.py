"""The Contacts tab: uid -> number directory with validated edits and CSV import/export.

The table reloads when the window changes contacts (``AppContext.contacts_changed``)
and, while the tab is shown, polls the store's ``contacts_version()`` every few
seconds for changes made elsewhere (``gsmbridge contacts add`` in another
process, a number learned from CometChat).
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gsmbridge.core.contacts import ImportResult, export_csv
from gsmbridge.core.models import Contact
from gsmbridge.gui.compat import emit
from gsmbridge.gui.context import AppContext
from gsmbridge.gui.formatting import format_number, plural
from gsmbridge.gui.list_models import ContactsModel
from gsmbridge.gui.views.tabs.optout_panel import OptOutPanel
from gsmbridge.gui.views.widgets import ERROR_STYLE, OK_STYLE, EmptyHint

log = logging.getLogger(__name__)

INVALID_FIELD = "QLineEdit { border: 1px solid #d64541; background: #fdecea; }"
POLL_MS = 3000  # how soon another process's change shows while the tab is open
EMPTY_TEXT = (
    "No contacts yet.<br>Add one below or import a CSV; numbers you set on a job "
    "(<i>Edit number…</i> in the Queue tab) are saved here too."
)


def import_report(path: Path, result: ImportResult) -> str:
    lines = [
        f"{path.name}: imported {plural(result.imported, 'contact')}, "
        f"{plural(len(result.errors), 'bad row')}, "
        f"released {plural(result.released_jobs, 'waiting job')}."
    ]
    lines += [f"  line {line}: {problem}" for line, problem in result.errors]
    lines += [f"  line {line}: {note}" if line else f"  {note}" for line, note in result.notes]
    return "\n".join(lines)


class NumberDelegate(QStyledItemDelegate):
    """An editor for the number column that turns red, with the reason, while invalid.

    Signals:
        feedback_changed(str, bool): the editor's text was checked (message, valid).
    """

    feedback_changed = Signal(str, bool)

    def __init__(self, model: ContactsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model

    def createEditor(
        self,
        parent: QWidget,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> QWidget:
        editor = QLineEdit(parent)
        editor.textChanged.connect(self._check)
        return editor

    @Slot(str)
    def _check(self, text: str) -> None:
        editor = self.sender()
        number, reason = self._model.validate_number(text)
        if isinstance(editor, QLineEdit):
            editor.setStyleSheet("" if number else INVALID_FIELD)
            editor.setToolTip(reason)
        emit(self.feedback_changed, f"✓ {number}" if number else reason, bool(number))

    def setModelData(
        self,
        editor: QWidget,
        model: QAbstractItemModel,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        if isinstance(editor, QLineEdit):
            model.setData(index, editor.text(), Qt.ItemDataRole.EditRole)


class ContactsView(QWidget):
    """Contacts table, an add form validated as you type, import and export.

    Signals:
        message_posted(str): a short result for the status bar.
    """

    message_posted = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.model = ContactsModel(None, self, region=ctx.settings.sending.default_region)
        self.model.set_masked(ctx.settings.gui.mask_numbers)
        self.model.contact_edited.connect(self._save_edit)
        self.model.edit_refused.connect(self._edit_refused)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        # The real values, so a masked number still sorts and can be searched for.
        self.proxy.setSortRole(Qt.ItemDataRole.EditRole)
        self.proxy.setFilterRole(Qt.ItemDataRole.EditRole)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search contacts…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        import_button = QPushButton("Import CSV…")
        import_button.clicked.connect(self._import_clicked)
        export_button = QPushButton("Export CSV…")
        export_button.clicked.connect(self._export_clicked)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.clicked.connect(self._delete_clicked)
        self.show_numbers = QCheckBox("Show numbers")
        self.show_numbers.setChecked(not ctx.settings.gui.mask_numbers)
        self.show_numbers.toggled.connect(self._set_show_numbers)
        bar = QHBoxLayout()
        bar.addWidget(self.search, 1)
        bar.addWidget(self.show_numbers)
        bar.addWidget(self.delete_button)
        bar.addWidget(import_button)
        bar.addWidget(export_button)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(ContactsModel.COL_UID, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for col, width in ((0, 200), (1, 200), (2, 160)):
            self.table.setColumnWidth(col, width)
        self.number_delegate = NumberDelegate(self.model, self)
        self.number_delegate.feedback_changed.connect(self._show_feedback)
        self.table.setItemDelegateForColumn(ContactsModel.COL_NUMBER, self.number_delegate)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.empty_hint = EmptyHint(self.table, self._empty_text)
        self.search.textChanged.connect(self.empty_hint.refresh)
        self.empty_hint.linkActivated.connect(self.search.clear)

        # -- the add form
        self.new_uid = QLineEdit()
        self.new_uid.setPlaceholderText("CometChat uid")
        self.new_name = QLineEdit()
        self.new_name.setPlaceholderText("Name (optional)")
        self.new_number = QLineEdit()
        self.new_number.setPlaceholderText("Mobile number")
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(self.add_from_form)
        self.new_number.returnPressed.connect(self.add_from_form)
        for field in (self.new_uid, self.new_number):
            field.textChanged.connect(self._check_form)
        form = QHBoxLayout()
        form.addWidget(QLabel("New contact:"))
        form.addWidget(self.new_uid, 2)
        form.addWidget(self.new_name, 2)
        form.addWidget(self.new_number, 2)
        form.addWidget(self.add_button)
        self.feedback = QLabel()
        self.feedback.setWordWrap(True)
        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        self.report.setMaximumHeight(110)
        self.report.hide()
        self.opt_outs = OptOutPanel(ctx)  # the numbers that replied STOP
        self.opt_outs.message_posted.connect(self.message_posted)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addWidget(self.feedback)
        layout.addWidget(self.report)
        layout.addWidget(self.opt_outs)
        self._check_form()
        self._update_buttons()

        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(POLL_MS)
        self.poll_timer.timeout.connect(self.refresh_if_changed)
        self.poll_timer.timeout.connect(self.opt_outs.refresh)
        ctx.contacts_changed.connect(self.model.reload)

    def set_store(self, store: Any) -> None:
        self.model.set_store(store)
        self.empty_hint.refresh()  # "no contacts" only once a store is open
        self.opt_outs.refresh()

    def set_region(self, region: str) -> None:
        self.model.region = region
        self._check_form()

    def _empty_text(self) -> str:
        if self.model.store is None:
            return ""
        if self.model.rowCount():
            needle = self.search.text().strip()
            return f"No contacts match “{html.escape(needle)}”. <a href='clear'>Show all</a>"
        return EMPTY_TEXT

    @Slot(bool)
    def _set_show_numbers(self, show: bool) -> None:
        self.model.set_masked(not show)
        self.opt_outs.model.set_masked(not show)

    # -- changes made elsewhere ------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh_if_changed()
        self.opt_outs.refresh()
        self.poll_timer.start()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.poll_timer.stop()

    @Slot()
    def refresh_if_changed(self) -> None:
        """Reload if the store's contacts changed (one tiny query), unless a cell is being
        edited: a reload would close the editor; the next tick tries again."""
        if self.table.state() == QAbstractItemView.State.EditingState:
            return
        if self.model.changed_in_store():
            self.model.reload()

    # -- feedback ------------------------------------------------------------------------

    @Slot(str, bool)
    def _show_feedback(self, message: str, ok: bool) -> None:
        self.feedback.setStyleSheet(OK_STYLE if ok else ERROR_STYLE)
        self.feedback.setText(message)

    @Slot(str)
    def _edit_refused(self, reason: str) -> None:
        self._show_feedback(f"Not saved: {reason}", False)

    @Slot()
    def _check_form(self) -> None:
        uid = self.new_uid.text().strip()
        number_text = self.new_number.text()
        number, reason = self.model.validate_number(number_text)
        self.new_number.setStyleSheet("" if number or not number_text else INVALID_FIELD)
        self.new_number.setToolTip(reason)
        if number_text and not number:
            self._show_feedback(reason, False)
        elif number:
            self._show_feedback(f"✓ {number}" + ("" if uid else " — now the uid"), bool(uid))
        else:
            self.feedback.clear()
        self.add_button.setEnabled(bool(uid and number))

    @Slot()
    def _update_buttons(self) -> None:
        self.delete_button.setEnabled(bool(self.selected_uids()))

    @staticmethod
    def _which(uids: list[str]) -> str:
        return f"contact {uids[0]}" if len(uids) == 1 else f"{len(uids)} contacts"

    def _shown(self, number: str) -> str:
        return format_number(number, self.model.masked)

    def selected_uids(self) -> list[str]:
        rows = {self.proxy.mapToSource(i).row() for i in self.table.selectionModel().selectedRows()}
        return [c.uid for r in sorted(rows) if (c := self.model.contact(r)) is not None]

    # -- writes (on the pool) ----------------------------------------------------------------

    @Slot()
    def add_from_form(self) -> None:
        uid, number = self.new_uid.text().strip(), self.new_number.text()
        if not uid or self.model.validate_number(number)[0] is None:
            self._check_form()
            return
        self.add_contact(uid, number, self.new_name.text())

    def add_contact(self, uid: str, number: str, name: str = "") -> None:
        self.ctx.tasks.run(
            "Add contact",
            self.ctx.bridge.contacts.add,
            uid,
            number,
            name,
            on_done=self._contact_added,
            on_error=lambda exc: self._show_feedback(f"Not saved: {exc}", False),
        )

    def _contact_added(self, result: tuple[Contact, list[int]]) -> None:
        contact, released = result
        self.new_uid.clear()
        self.new_name.clear()
        self.new_number.clear()
        extra = f"; released {plural(len(released), 'waiting job')}" if released else ""
        self._show_feedback(f"Saved {contact.uid} → {self._shown(contact.number)}{extra}", True)
        self.ctx.note_contacts_changed()

    @Slot(object)
    def _save_edit(self, contact: Contact) -> None:
        self.add_contact(contact.uid, contact.number, contact.name)

    @Slot()
    def _delete_clicked(self) -> None:
        uids = self.selected_uids()
        if not uids:
            return
        answer = QMessageBox.question(
            self,
            "Delete contacts",
            f"Delete {self._which(uids)}? Queued jobs keep their numbers.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.delete(uids)

    def delete(self, uids: list[str]) -> None:
        store = self.ctx.store
        if store is None:
            return

        def delete_all() -> int:
            return sum(bool(store.delete_contact(uid)) for uid in uids)

        self.ctx.tasks.run("Delete contacts", delete_all, on_done=self._deleted)

    def _deleted(self, n: int) -> None:
        self._show_feedback(f"Deleted {plural(n, 'contact')}", True)
        self.ctx.note_contacts_changed()

    # -- CSV ------------------------------------------------------------------------------------

    @Slot()
    def _import_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import contacts", str(Path.home()), "CSV files (*.csv);;All files (*)"
        )
        if path:
            self.import_file(Path(path))

    def import_file(self, path: Path) -> None:
        bridge = self.ctx.bridge

        def run_import() -> ImportResult:
            return bridge.contacts.import_csv(path)

        self.ctx.tasks.run(
            "Import contacts",
            run_import,
            on_done=lambda result: self._imported(path, result),
            on_error=lambda exc: self._show_feedback(f"Import failed: {exc}", False),
        )

    def _imported(self, path: Path, result: ImportResult) -> None:
        self.last_import = result
        self.report.setPlainText(import_report(path, result))
        self.report.setStyleSheet(ERROR_STYLE if result.errors else "")
        self.report.show()
        self.ctx.note_contacts_changed()
        emit(
            self.message_posted,
            f"Imported {plural(result.imported, 'contact')}; "
            f"{plural(len(result.errors), 'bad row')}",
        )

    @Slot()
    def _export_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export contacts", str(Path.home() / "contacts.csv"), "CSV files (*.csv)"
        )
        if path:
            self.export_file(Path(path))

    def export_file(self, path: Path) -> None:
        self.ctx.tasks.run(
            "Export contacts",
            export_csv,
            self.ctx.store,
            path,
            on_done=lambda n: self._show_feedback(
                f"Exported {plural(n, 'contact')} to {path}", True
            ),
            on_error=lambda exc: self._show_feedback(f"Export failed: {exc}", False),
        )
