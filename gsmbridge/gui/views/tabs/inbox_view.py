"""The Inbox tab: SMS the modems received (replies to notifications), newest first.

Rows come from ``InboxModel``; ``sms_received`` events (queued from the
modem's reader thread by ``gui.bridge``) update or insert one row each.
``UnreadBadge`` counts what arrived while the tab was not shown.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from PySide6.QtCore import QItemSelection, QModelIndex, QObject, QPoint, Qt, Signal, Slot
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QSplitter,
    QStackedWidget,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gsmbridge.core.models import IncomingSms
from gsmbridge.core.store_replies import ReplyPost
from gsmbridge.gui.compat import emit
from gsmbridge.gui.context import AppContext
from gsmbridge.gui.formatting import format_full_time
from gsmbridge.gui.inbox_model import (
    FAILED_COLOUR,
    INCOMPLETE_COLOUR,
    InboxModel,
    conversation_label,
    reposting_allowed,
    sender_label,
)
from gsmbridge.gui.views.widgets import list_table

log = logging.getLogger(__name__)

EMPTY_HINT = "No SMS received yet. Replies to your notifications appear here."
NO_SELECTION = "Select a message to read it in full."
HINT_STYLE = "color: #7a7a7a; font-size: 11pt;"

COLUMN_WIDTHS = {
    InboxModel.COL_RECEIVED: 120,
    InboxModel.COL_FROM: 330,
    InboxModel.COL_MODEM: 110,
    InboxModel.COL_CONVERSATION: 170,
    InboxModel.COL_POSTING: 320,
}


class ElideMiddleDelegate(QStyledItemDelegate):
    """Cuts a long cell in the middle: "Alice … · +1212…0123" keeps the number in view.

    Signals: none of its own.
    """

    def initStyleOption(self, option: QStyleOptionViewItem, index: Any) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle


def message_header_html(m: IncomingSms, *, masked: bool, post: ReplyPost | None = None) -> str:
    """The details' summary line(s) as HTML (QLabel's subset)."""
    esc = html.escape
    rows = [
        ("From", esc(sender_label(m, masked))),
        ("Received", esc(format_full_time(m.received_at))),
    ]
    if m.sent_at:
        rows.append(("Sent", esc(format_full_time(m.sent_at))))
    if m.modem:
        rows.append(("Modem", esc(m.modem)))
    if m.parts_total > 1:
        parts = f"{m.parts_received} of {m.parts_total} received"
        if not m.complete:
            parts = (
                f"<span style='color:{INCOMPLETE_COLOUR}'>{parts}, incomplete"
                " ([…] marks what is missing)</span>"
            )
        rows.append(("Parts", parts))
    if post is not None:
        if post.receiver:
            rows.append(("Conversation", esc(f"{conversation_label(post)} as {post.on_behalf_of}")))
        state = esc(post.summary)
        if post.state.value == "failed":
            state = f"<span style='color:{FAILED_COLOUR}'>{state}</span>"
        rows.append(("CometChat", state))
        if post.note:
            rows.append(("Note", esc(post.note)))
    return "&nbsp;&nbsp;·&nbsp;&nbsp;".join(
        f"<span style='color:gray'>{k}</span> {v}" for k, v in rows
    )


class InboxView(QWidget):
    """Received SMS: a table, the selected message in full, Copy, Post again and Delete.

    Signals:
        message_posted(str): a short result for the status bar.
        message_received(object): an ``IncomingSms`` arrived (new, or another part).
    """

    message_posted = Signal(str)
    message_received = Signal(object)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.model = InboxModel(None, self, runner=self._run_read)
        self.model.set_masked(ctx.settings.gui.mask_numbers)

        # -- actions and the bar
        self.act_copy = self._action("Copy text", self.copy_text, QKeySequence.StandardKey.Copy)
        self.act_delete = self._action(
            "Delete…", self._delete_clicked, QKeySequence.StandardKey.Delete
        )
        self.act_post_again = self._action("Post again", self.post_again, QKeySequence())
        self.act_post_again.setToolTip(
            "Post the selected replies into their CometChat conversation again"
            " (those that failed or were not posted; never an unknown sender's)"
        )
        self.show_numbers = QCheckBox("Show numbers")
        self.show_numbers.setChecked(not ctx.settings.gui.mask_numbers)
        self.show_numbers.toggled.connect(self._set_show_numbers)
        self.total = QLabel()
        bar = QHBoxLayout()
        for act in (self.act_copy, self.act_post_again, self.act_delete):
            button = QToolButton()
            button.setDefaultAction(act)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            bar.addWidget(button)
        bar.addStretch(1)
        bar.addWidget(self.show_numbers)
        bar.addWidget(self.total)

        # -- table, details, empty state
        self.table = list_table(self.model, COLUMN_WIDTHS)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(InboxModel.COL_MESSAGE, QHeaderView.ResizeMode.Stretch)
        self.from_delegate = ElideMiddleDelegate(self.table)
        self.table.setItemDelegateForColumn(InboxModel.COL_FROM, self.from_delegate)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.addActions([self.act_copy, self.act_post_again, self.act_delete])
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

        self.details_header = QLabel(NO_SELECTION)
        self.details_header.setWordWrap(True)
        self.details_header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_text = QPlainTextEdit()
        self.details_text.setReadOnly(True)
        self.details_text.hide()
        details = QWidget()
        details_layout = QVBoxLayout(details)
        details_layout.setContentsMargins(2, 6, 2, 0)
        details_layout.addWidget(self.details_header)
        details_layout.addWidget(self.details_text, 1)
        details_layout.addStretch(0)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([420, 160])
        self.empty = QLabel(EMPTY_HINT)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet(HINT_STYLE)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.splitter)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)

        self.model.total_changed.connect(self._show_total)
        self.model.dataChanged.connect(self._data_changed)
        for sig in (self.model.modelReset, self.model.rowsInserted, self.model.rowsRemoved):
            sig.connect(self._rows_changed)
        self._shown_id: int | None = None
        self._show_total(0)
        self._rows_changed()

    def _action(self, text: str, slot: Any, shortcut: Any) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        return action

    def _run_read(self, fn: Any, on_done: Any) -> None:
        self.ctx.tasks.run("Load the inbox", fn, on_done=on_done)

    # -- store and events ------------------------------------------------------------------

    def set_store(self, store: Any) -> None:
        self.model.set_store(store)

    @Slot()
    def on_history_changed(self) -> None:
        """Many jobs changed at once (a bulk action, or old history pruned, replies too)."""
        self.model.reload()

    @Slot(object)
    def on_sms_received(self, message: IncomingSms) -> None:
        """A message, or another part of one, was stored (queued from the core)."""
        self.model.upsert(message)
        emit(self.message_received, message)

    @Slot(bool)
    def _set_show_numbers(self, show: bool) -> None:
        self.model.set_masked(not show)
        self._refresh_details()

    @Slot(int)
    def _show_total(self, total: int) -> None:
        shown = self.model.rowCount()
        text = f"{total:,} message{'s' if total != 1 else ''}"
        if total > shown:
            text += f" (latest {shown:,} shown)"
        self.total.setText(text)

    @Slot()
    def _rows_changed(self) -> None:
        self.stack.setCurrentWidget(self.splitter if self.model.rowCount() else self.empty)
        self._selection_changed()

    # -- selection and details ----------------------------------------------------------------

    def selected_messages(self) -> list[IncomingSms]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [m for row in rows if (m := self.model.message(row)) is not None]

    def selected_ids(self) -> list[int]:
        return [m.id for m in self.selected_messages()]

    def select_ids(self, ids: list[int]) -> None:
        self.table.clearSelection()
        flags = self.table.selectionModel().SelectionFlag
        for message_id in ids:
            row = self.model.row_of(message_id)
            if row >= 0:
                index = self.model.index(row, 0)
                self.table.selectionModel().select(index, flags.Select | flags.Rows)
                self.table.setCurrentIndex(index)

    @Slot()
    @Slot(QItemSelection, QItemSelection)
    def _selection_changed(self, *_args: Any) -> None:
        selected = self.selected_messages()
        self.act_copy.setEnabled(bool(selected))
        self.act_delete.setEnabled(bool(selected) and self.ctx.store is not None)
        self.act_post_again.setEnabled(bool(self._repostable()) and self.ctx.running)
        self._refresh_details()

    def _refresh_details(self) -> None:
        selected = self.selected_messages()
        if len(selected) != 1:
            self._shown_id = None
            self.details_header.setText(
                f"{len(selected)} messages selected." if selected else NO_SELECTION
            )
            self.details_text.hide()
            return
        m = selected[0]
        self._shown_id = m.id
        self.details_header.setText(
            message_header_html(m, masked=self.model.masked, post=self.model.post(m.id))
        )
        if self.details_text.toPlainText() != m.text:
            self.details_text.setPlainText(m.text)
        self.details_text.show()

    @Slot(QModelIndex, QModelIndex)
    def _data_changed(self, top: QModelIndex, bottom: QModelIndex) -> None:
        if self._shown_id is not None:
            if top.row() <= self.model.row_of(self._shown_id) <= bottom.row():
                self._refresh_details()
                self.act_post_again.setEnabled(bool(self._repostable()) and self.ctx.running)

    @Slot(QPoint)
    def _context_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        menu.addAction(self.act_copy)
        menu.addAction(self.act_post_again)
        menu.addSeparator()
        menu.addAction(self.act_delete)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    # -- actions ------------------------------------------------------------------------------

    @Slot()
    def copy_text(self) -> None:
        messages = self.selected_messages()
        if messages:
            QGuiApplication.clipboard().setText("\n\n".join(m.text for m in messages))
            n = len(messages)
            emit(self.message_posted, f"Copied the text of {n} message{'s' if n != 1 else ''}")

    def _repostable(self) -> list[int]:
        return [m.id for m in self.selected_messages() if reposting_allowed(self.model.post(m.id))]

    @Slot()
    def post_again(self) -> None:
        """Post the selected failed replies again (the poster works on its own thread)."""
        ids = self._repostable()
        bridge = self.ctx.bridge if self.ctx.running else None
        if not ids or bridge is None or bridge.replies is None:
            return
        replies = bridge.replies

        def run() -> list[ReplyPost]:
            done = replies.post_again(ids)
            return [p for i in done if (p := replies.store.get_post(i)) is not None]

        self.ctx.tasks.run("Post again", run, on_done=self._posted_again)

    def _posted_again(self, posts: list[ReplyPost]) -> None:
        for post in posts:
            self.model.set_post(post)
        n = len(posts)
        emit(self.message_posted, f"Posting {n} repl{'ies' if n != 1 else 'y'} again")

    @Slot()
    def _delete_clicked(self) -> None:
        self.delete_selected(confirm=True)

    def delete_selected(self, *, confirm: bool = True) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        if confirm:
            n = len(ids)
            answer = QMessageBox.question(
                self,
                "Delete messages",
                f"Delete {n} received message{'s' if n != 1 else ''}? This cannot be undone.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.delete(ids)

    def delete(self, ids: list[int]) -> None:
        """Delete from the store on the pool, then from the table."""
        store = self.ctx.store
        if store is None:
            return
        self.ctx.tasks.run(
            "Delete messages",
            store.delete_incoming,
            list(ids),
            on_done=lambda n: self._deleted(ids, n),
        )

    def _deleted(self, ids: list[int], n: int) -> None:
        self.model.remove_ids(ids)
        emit(self.message_posted, f"Deleted {n} received message{'s' if n != 1 else ''}")


class UnreadBadge(QObject):
    """Counts messages that arrived while a tab was not shown: "Inbox (2)".

    Another part of a message already counted does not count again; showing
    the tab clears the count.

    Signals: none.
    """

    def __init__(self, tabs: QTabWidget, page: QWidget, title: str) -> None:
        super().__init__(tabs)
        self._tabs = tabs
        self._page = page
        self._title = title
        self._unread: set[int] = set()
        tabs.currentChanged.connect(self._current_changed)

    @property
    def count(self) -> int:
        return len(self._unread)

    @Slot(object)
    def note(self, message: IncomingSms) -> None:
        if self._tabs.currentWidget() is self._page or message.id in self._unread:
            return
        self._unread.add(message.id)
        self._show()

    def clear(self) -> None:
        self._unread.clear()
        self._show()

    @Slot(int)
    def _current_changed(self, index: int) -> None:
        if self._tabs.widget(index) is self._page:
            self.clear()

    def _show(self) -> None:
        index = self._tabs.indexOf(self._page)
        if index >= 0:
            n = self.count
            self._tabs.setTabText(index, f"{self._title} ({n})" if n else self._title)


__all__ = ["InboxView", "UnreadBadge"]
