"""The inbox's Qt model: received SMS, newest first, kept live by ``sms_received``.

The latest ``LOAD_LIMIT`` messages are read at start (off the GUI thread when
a runner is given); after that each event updates one row or inserts one,
nothing is reloaded.  Writes (deletes) never happen here.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable
from functools import cache
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QIcon

from gsmbridge.core.models import IncomingSms
from gsmbridge.core.store_replies import PostState, RepliesStore, ReplyPost
from gsmbridge.gui.compat import emit
from gsmbridge.gui.formatting import format_full_time, format_number, format_time, preview
from gsmbridge.gui.icons import dot_icon
from gsmbridge.gui.models import READ_ERRORS, Index, RowTableModel, Runner

log = logging.getLogger(__name__)

MESSAGE_ROLE = Qt.ItemDataRole.UserRole
LOAD_LIMIT = 500
INCOMPLETE_COLOUR = "#a8660c"
FAILED_COLOUR = "#b3261e"


@cache
def incomplete_icon() -> QIcon:
    """An amber dot before an incomplete message (cached: asked for on every paint)."""
    return dot_icon(INCOMPLETE_COLOUR)


def sender_number(message: IncomingSms, masked: bool) -> str:
    """The sender as the network gave it; masked like the queue's numbers when it is one."""
    if any(ch.isdigit() for ch in message.sender):
        return format_number(message.sender, masked)
    return message.sender  # an alphanumeric sender ("Vodafone") is no number to hide


def sender_label(message: IncomingSms, masked: bool) -> str:
    """ "Alice (alice) · +1212…0123": who, when known, and always the number."""
    number = sender_number(message, masked) or "unknown"
    if message.name and message.uid:
        who = f"{message.name} ({message.uid})"
    else:
        who = message.name or message.uid
    return f"{who} · {number}" if who else number


def missing_note(message: IncomingSms) -> str:
    """ "1 of 3 parts missing" for a long message still incomplete, else ""."""
    if message.complete:
        return ""
    missing = message.parts_total - message.parts_received
    return f"{missing} of {message.parts_total} parts missing"


def conversation_label(post: ReplyPost | None) -> str:
    """ "Susan Marie (user)", "Hiking Group (group)": where a reply went in CometChat."""
    if post is None or not post.receiver:
        return ""
    mark = " *" if post.note else ""  # a coalesced SMS: the tooltip says which one
    return f"{post.conversation or post.receiver} ({post.receiver_type}){mark}"


def conversation_tooltip(post: ReplyPost | None) -> str | None:
    if post is None or not post.receiver:
        return None
    text = (
        f"To the {post.receiver_type} {post.conversation} ({post.receiver}), as"
        f" {post.on_behalf_of}: the conversation of notification job {post.job_id}"
    )
    return text + (f"\n{post.note[0].upper()}{post.note[1:]}." if post.note else "")


def posting_label(post: ReplyPost | None) -> str:
    """The reply's posting state in words; "" before it has one."""
    return post.summary if post is not None else ""


def reposting_allowed(post: ReplyPost | None) -> bool:
    """Post again: a reply that failed or was not posted, its conversation known."""
    return (
        post is not None
        and bool(post.receiver)
        and post.state in (PostState.FAILED, PostState.NOT_POSTED)
    )


class InboxModel(RowTableModel):
    """Received SMS, newest first (by id: the order they were stored in).

    Signals:
        total_changed(int): the number of messages in the store changed.
    """

    COL_RECEIVED, COL_FROM, COL_MESSAGE, COL_MODEM, COL_CONVERSATION, COL_POSTING = range(6)
    HEADERS = ("Received", "From", "Message", "Modem", "Conversation", "Posted to CometChat")

    total_changed = Signal(int)

    def __init__(
        self,
        store: Any = None,
        parent: QObject | None = None,
        *,
        runner: Runner | None = None,
        limit: int = LOAD_LIMIT,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._runner = runner
        self.limit = limit
        self._rows: list[IncomingSms] = []
        self._keys: list[int] = []  # -id, ascending: parallel to _rows
        self._posts: dict[int, ReplyPost] = {}  # by message id: where each reply went
        self._total = 0
        self._masked = True
        self._generation = 0
        self.loading = False
        self._arrived: list[IncomingSms] = []  # events that came in while loading
        if store is not None:
            self.reload()

    # -- loading ------------------------------------------------------------------------

    @property
    def store(self) -> Any:
        return self._store

    @property
    def total(self) -> int:
        return self._total

    def set_store(self, store: Any) -> None:
        self._store = store
        self.reload()

    def reload(self, *, sync: bool = False) -> None:
        store, limit = self._store, self.limit
        self._generation += 1
        generation = self._generation

        def read() -> tuple[int, list[IncomingSms], dict[int, ReplyPost]]:  # a worker thread
            if store is None:
                return 0, [], {}
            try:
                rows = store.list_incoming(limit=limit)
                replies = _replies_of(store)
                posts = replies.posts_for([m.id for m in rows]) if replies else {}
                return store.count_incoming(), rows, posts
            except READ_ERRORS as exc:
                log.debug("inbox not loaded: %s", exc)
                return 0, [], {}

        self._arrived.clear()
        if self._runner is None or sync or store is None:
            self._apply(generation, read())
            return
        self.loading = True
        self._runner(read, lambda result: self._apply(generation, result))

    def _apply(
        self, generation: int, result: tuple[int, list[IncomingSms], dict[int, ReplyPost]]
    ) -> None:
        if generation != self._generation:
            return  # another store since: a newer read is on its way
        total, rows, posts = result
        self.loading = False
        self.beginResetModel()
        self._rows = list(rows)
        self._posts = dict(posts)
        self._keys = [-m.id for m in self._rows]
        self._total = total
        self.endResetModel()
        arrived, self._arrived = self._arrived, []
        for message in arrived:  # read before or after they were stored: upsert either way
            self.upsert(message, count=False)
        emit(self.total_changed, self._total)

    # -- live updates -------------------------------------------------------------------

    @Slot(object)
    def upsert(self, message: IncomingSms, *, count: bool = True) -> bool:
        """Show a message the store just saved: update its row, or insert it.

        Returns whether the row is new.  ``count``: a new row adds to the total.
        """
        if self._store is None:
            return False
        if self.loading:
            self._arrived.append(message)
            return False
        self._read_post(message.id)  # the poster announces a new posting state this way too
        key = -message.id
        pos = bisect.bisect_left(self._keys, key)
        if pos < len(self._keys) and self._keys[pos] == key:
            self._rows[pos] = message
            emit(self.dataChanged, self.index(pos, 0), self.index(pos, len(self.HEADERS) - 1))
            return False
        self.beginInsertRows(QModelIndex(), pos, pos)
        self._rows.insert(pos, message)
        self._keys.insert(pos, key)
        self.endInsertRows()
        if count or self._total < len(self._rows):
            self._total += 1
            emit(self.total_changed, self._total)
        return True

    def _read_post(self, message_id: int) -> None:
        replies = _replies_of(self._store)
        if replies is None:
            return
        try:
            post = replies.get_post(message_id)  # one row by key: cheap on the GUI thread
        except READ_ERRORS as exc:
            log.debug("posting state not read: %s", exc)
            return
        if post is not None:
            self._posts[message_id] = post

    def set_post(self, post: ReplyPost) -> None:
        """Show a reply's new posting state (after Post again)."""
        self._posts[post.inbox_id] = post
        row = self.row_of(post.inbox_id)
        if row >= 0:
            emit(self.dataChanged, self.index(row, 0), self.index(row, len(self.HEADERS) - 1))

    def post(self, message_id: int) -> ReplyPost | None:
        return self._posts.get(message_id)

    def remove_ids(self, ids: Iterable[int]) -> int:
        """Drop deleted messages from the table; returns how many rows went."""
        removed = 0
        for message_id in sorted(set(ids)):
            pos = self.row_of(message_id)
            if pos < 0:
                continue
            self.beginRemoveRows(QModelIndex(), pos, pos)
            del self._rows[pos]
            del self._keys[pos]
            self.endRemoveRows()
            removed += 1
        if removed:
            self._total = max(self._total - removed, len(self._rows))
            emit(self.total_changed, self._total)
        return removed

    # -- masking and access -------------------------------------------------------------

    @property
    def masked(self) -> bool:
        return self._masked

    def set_masked(self, masked: bool) -> None:
        if masked == self._masked:
            return
        self._masked = masked
        if self._rows:
            col = self.COL_FROM
            emit(self.dataChanged, self.index(0, col), self.index(len(self._rows) - 1, col))

    def message(self, row: int) -> IncomingSms | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, message_id: int) -> int:
        pos = bisect.bisect_left(self._keys, -message_id)
        return pos if pos < len(self._keys) and self._keys[pos] == -message_id else -1

    def loaded_ids(self) -> list[int]:
        return [m.id for m in self._rows]

    # -- QAbstractTableModel ------------------------------------------------------------

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        m: IncomingSms | None = self._row_at(index)
        if m is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(m, col)
        if role == MESSAGE_ROLE:
            return m
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(m, col)
        if col == self.COL_POSTING and role == Qt.ItemDataRole.ForegroundRole:
            post = self._posts.get(m.id)
            if post is not None and post.state is PostState.FAILED:
                return QBrush(QColor(FAILED_COLOUR))
            if post is not None and post.state is PostState.PENDING and post.error:
                return QBrush(QColor(INCOMPLETE_COLOUR))
            return None
        if col == self.COL_MESSAGE and not m.complete:
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(QColor(INCOMPLETE_COLOUR))
            if role == Qt.ItemDataRole.DecorationRole:
                return incomplete_icon()
        return None

    def _display(self, m: IncomingSms, col: int) -> str:
        if col == self.COL_RECEIVED:
            return format_time(m.received_at)
        if col == self.COL_FROM:
            return sender_label(m, self._masked)
        if col == self.COL_MESSAGE:
            note = missing_note(m)
            if note:  # a shorter preview, so the note stays in view
                return f"{preview(m.text, 80)}  — incomplete, {note}"
            return preview(m.text, 200)
        if col == self.COL_MODEM:
            return m.modem
        if col == self.COL_CONVERSATION:
            return conversation_label(self._posts.get(m.id))
        if col == self.COL_POSTING:
            return posting_label(self._posts.get(m.id))
        return ""

    def _tooltip(self, m: IncomingSms, col: int) -> str | None:
        if col == self.COL_RECEIVED:
            sent = f"\nSent (SMS centre): {format_full_time(m.sent_at)}" if m.sent_at else ""
            return f"Received: {format_full_time(m.received_at)}{sent}"
        if col == self.COL_FROM:
            return sender_label(m, self._masked)
        if col == self.COL_MESSAGE:
            note = missing_note(m)
            return m.text + (f"\n\nIncomplete: {note} ([…] marks them)." if note else "")
        if col == self.COL_CONVERSATION:
            return conversation_tooltip(self._posts.get(m.id))
        if col == self.COL_POSTING:
            post = self._posts.get(m.id)
            if post is None:
                return None
            extra = f"\nCometChat message id: {post.message_id}" if post.message_id else ""
            tries = f"\nAttempts: {post.attempts}" if post.attempts else ""
            return f"{post.summary}{extra}{tries}"
        return None


def _replies_of(store: Any) -> RepliesStore | None:
    """The replies' repository on the store's database (None for a store without one)."""
    backend = getattr(store, "backend", None)
    return RepliesStore(backend) if backend is not None else None
