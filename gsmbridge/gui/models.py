"""The queue's Qt model: jobs from the store, paged, filtered, kept live.

Reads here are cheap by design (a page of 200 rows by primary key order, a
COUNT, single rows by id), so they run on the GUI thread; whole reloads (a
search scans every job) go to a runner when one is given.  Writes never
happen here.
"""

from __future__ import annotations

import bisect
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QBrush, QColor

from gsmbridge.core.models import Job, State
from gsmbridge.core.store import Store, StoreClosed
from gsmbridge.gui.compat import emit
from gsmbridge.gui.formatting import format_full_time, format_number, format_time, preview
from gsmbridge.gui.icons import state_colour, state_icon
from gsmbridge.gui.throttle import Throttle

log = logging.getLogger(__name__)

Index = QModelIndex | QPersistentModelIndex
# A read can meet a store that is closing (restart, exit): the view empties instead.
READ_ERRORS = (sqlite3.Error, StoreClosed)
# runner(fn, on_done): run fn off the GUI thread, then on_done(result) on it.
Runner = Callable[[Callable[[], Any], Callable[[Any], None]], Any]

JOB_ID_ROLE = Qt.ItemDataRole.UserRole
JOB_ROLE = Qt.ItemDataRole.UserRole + 1
STATE_ROLE = Qt.ItemDataRole.UserRole + 2

PAGE_SIZE = 200
# Above this many changed ids in one flush, one reload is cheaper than many reads.
MAX_ROW_UPDATES = 1000
# A bulk change reloads what was loaded, up to this many rows.
MAX_RELOAD_ROWS = 5000

_ALIGN_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


class RowTableModel(QAbstractTableModel):
    """A flat table: one row per item of ``self._rows``, one column per ``HEADERS`` entry.

    Subclasses fill ``_rows`` and implement ``data``; ``_row_at`` is the item for an
    index, or None for an invalid index or a row out of range.

    Signals: those of QAbstractTableModel.
    """

    HEADERS: tuple[str, ...] = ()
    _rows: list[Any]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def _row_at(self, index: Index) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        return self._rows[index.row()]


class JobTableModel(RowTableModel):
    """The queue, newest first by default, loaded a page at a time.

    Rows are kept sorted by job id (the creation order).  ``job_changed`` /
    ``jobs_changed`` slots only mark work; a single-shot timer applies it at
    most every ``throttle_ms``, re-reading just the changed jobs.  With a
    ``runner``, whole reloads (a new filter or search: a scan of every job)
    run off the GUI thread; the old rows stay until the new ones are in.

    Signals:
        reloaded(): the rows were replaced (filter, sort or a bulk change).
        total_changed(int): the number of jobs matching the filter changed.
    """

    COL_ID, COL_TIME, COL_RECIPIENT, COL_NUMBER, COL_TEXT = range(5)
    COL_STATE, COL_ATTEMPTS, COL_NEXT, COL_NOTE = range(5, 9)
    HEADERS = (
        "#",
        "Time",
        "Recipient",
        "Number",
        "Text",
        "State",
        "Attempts",
        "Next attempt",
        "Last error / note",
    )
    SORTABLE = (COL_ID, COL_TIME)

    reloaded = Signal()
    total_changed = Signal(int)

    def __init__(
        self,
        store: Store | None = None,
        parent: QObject | None = None,
        *,
        throttle_ms: int = 250,
        page_size: int = PAGE_SIZE,
        runner: Runner | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._runner = runner
        self._generation = 0  # a reload's result applies only if no newer one started
        self.loading = False
        self.page_size = page_size
        self._rows: list[Job] = []
        self._keys: list[int] = []  # ascending sort keys, parallel to _rows
        self._total = 0
        self._states: tuple[str, ...] = ()
        self._search = ""
        self._newest_first = True
        self._masked = True
        self._pending: set[int] = set()
        self._reload_pending = False
        self._throttle = Throttle(throttle_ms, self.flush, self)
        if store is not None:
            self.reload()

    # -- configuration ---------------------------------------------------------------

    @property
    def store(self) -> Store | None:
        return self._store

    def set_store(self, store: Store | None) -> None:
        self._store = store
        self.reload()

    @property
    def states(self) -> tuple[str, ...]:
        return self._states

    @property
    def search(self) -> str:
        return self._search

    @property
    def total(self) -> int:
        """Jobs matching the filter in the store (loaded or not)."""
        return self._total

    @property
    def newest_first(self) -> bool:
        return self._newest_first

    def set_filter(self, states: Iterable[str] | None = None, search: str = "") -> None:
        states_t = tuple(State(s).value for s in states or ())
        search = search.strip()
        if states_t == self._states and search == self._search:
            return
        self._states, self._search = states_t, search
        self.reload()

    def set_masked(self, masked: bool) -> None:
        if masked == self._masked:
            return
        self._masked = masked
        if self._rows:
            emit(
                self.dataChanged,
                self.index(0, self.COL_NUMBER),
                self.index(len(self._rows) - 1, self.COL_NOTE),
            )

    @property
    def masked(self) -> bool:
        return self._masked

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by time (the id order) only: the store pages in that order."""
        if column not in self.SORTABLE:
            return
        newest_first = order == Qt.SortOrder.DescendingOrder
        if newest_first != self._newest_first:
            self._newest_first = newest_first
            self.reload()

    # -- loading ----------------------------------------------------------------------

    def _key(self, job_id: int) -> int:
        return -job_id if self._newest_first else job_id

    def _query(self) -> dict[str, Any]:
        return {"states": list(self._states) or None, "search": self._search or None}

    def reload(self, keep_loaded: bool = False, *, sync: bool = False) -> None:
        """Re-read from the store: the first page, or as many rows as were loaded."""
        self._reload_pending = False
        self._throttle.cancel()
        want = self.page_size
        if keep_loaded:
            want = max(self.page_size, min(len(self._rows), MAX_RELOAD_ROWS))
        store, query, newest_first = self._store, self._query(), self._newest_first
        self._generation += 1
        generation = self._generation

        def read() -> tuple[int, list[Job]]:  # on a worker thread when there is a runner
            if store is None:
                return 0, []
            try:
                total = store.count_jobs(**query)
                return total, store.list_jobs(
                    **query, limit=want, offset=0, newest_first=newest_first
                )
            except READ_ERRORS as exc:
                log.debug("queue not loaded: %s", exc)
                return 0, []

        if self._runner is None or sync or store is None:
            self._pending.clear()
            self._apply_reload(generation, read())
            return
        # Changes noted from now on are re-read after the new rows are in.
        self._pending.clear()
        self.loading = True
        self._runner(read, lambda result: self._apply_reload(generation, result))

    def _apply_reload(self, generation: int, result: tuple[int, list[Job]]) -> None:
        if generation != self._generation:
            return  # a newer reload (another filter, another store) is under way
        total, rows = result
        self.loading = False
        self.beginResetModel()
        self._rows = rows
        self._keys = [self._key(j.id) for j in rows]
        self._total = total
        self.endResetModel()
        emit(self.reloaded)
        emit(self.total_changed, self._total)
        if self._pending:
            self._throttle.trigger()

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        if parent.isValid() or self._store is None or self.loading:
            return False
        return len(self._rows) < self._total

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if parent.isValid() or self._store is None or self.loading:
            return
        try:
            page = self._store.list_jobs(
                **self._query(),
                limit=self.page_size,
                offset=len(self._rows),
                newest_first=self._newest_first,
            )
        except READ_ERRORS as exc:
            log.debug("page not loaded: %s", exc)
            return
        # Jobs that arrived since the last flush shift the offsets: skip what we have.
        last = self._keys[-1] if self._keys else None
        page = [j for j in page if last is None or self._key(j.id) > last]
        if not page:
            # The store has fewer rows than we thought (deleted meanwhile).
            self._total = len(self._rows)
            emit(self.total_changed, self._total)
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(page) - 1)
        self._rows.extend(page)
        self._keys.extend(self._key(j.id) for j in page)
        self.endInsertRows()

    # -- live updates -----------------------------------------------------------------

    @Slot(int, str)
    def note_job_changed(self, job_id: int, state: str = "") -> None:
        self._pending.add(job_id)
        self._throttle.trigger()

    @Slot(object)
    def note_jobs_updated(self, batch: dict[int, str]) -> None:
        """A batch of job changes ({id: state}), as ``CoreEvents.jobs_updated`` sends."""
        self._pending.update(batch)
        self._throttle.trigger()

    @Slot()
    def note_jobs_changed(self) -> None:
        self._reload_pending = True
        self._throttle.trigger()

    def matches(self, job: Job) -> bool:
        if self._states and job.state.value not in self._states:
            return False
        if self._search:
            needle = self._search.casefold()
            fields = (job.text, job.uid, job.name, job.number or "", job.last_error)
            return any(needle in f.casefold() for f in fields)
        return True

    @Slot()
    def flush(self) -> None:
        """Apply the changes noted since the last flush."""
        self._throttle.cancel()
        if self._store is None:
            self._pending.clear()
            return
        if self.loading:
            return  # the rows are about to be replaced; _apply_reload flushes after
        if self._reload_pending or len(self._pending) > MAX_ROW_UPDATES:
            self.reload(keep_loaded=True)
            return
        pending, self._pending = sorted(self._pending), set()
        total_before = self._total
        for job_id in pending:
            try:
                job = self._store.get(job_id)
            except READ_ERRORS as exc:
                log.debug("job %d not re-read: %s", job_id, exc)
                continue
            self._update_one(job_id, job)
        if self._total != total_before:
            emit(self.total_changed, self._total)

    def _update_one(self, job_id: int, job: Job | None) -> None:
        key = self._key(job_id)
        pos = bisect.bisect_left(self._keys, key)
        loaded = pos < len(self._keys) and self._keys[pos] == key
        wanted = job is not None and self.matches(job)
        if loaded and wanted:
            assert job is not None
            self._rows[pos] = job
            emit(self.dataChanged, self.index(pos, 0), self.index(pos, len(self.HEADERS) - 1))
        elif loaded:
            self.beginRemoveRows(QModelIndex(), pos, pos)
            del self._rows[pos]
            del self._keys[pos]
            self.endRemoveRows()
            self._total -= 1
        elif wanted:
            assert job is not None
            all_loaded = len(self._rows) >= self._total
            self._total += 1
            # Insert only inside the loaded range; beyond it, fetchMore brings it.
            if pos < len(self._keys) or all_loaded:
                self.beginInsertRows(QModelIndex(), pos, pos)
                self._rows.insert(pos, job)
                self._keys.insert(pos, key)
                self.endInsertRows()

    # -- access -------------------------------------------------------------------------

    def job(self, row: int) -> Job | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, job_id: int) -> int:
        key = self._key(job_id)
        pos = bisect.bisect_left(self._keys, key)
        return pos if pos < len(self._keys) and self._keys[pos] == key else -1

    def loaded_ids(self) -> list[int]:
        return [j.id for j in self._rows]

    # -- QAbstractTableModel ------------------------------------------------------------

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        job = self._row_at(index)
        if job is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(job, col)
        if role == JOB_ID_ROLE:
            return job.id
        if role == JOB_ROLE:
            return job
        if role == STATE_ROLE:
            return job.state.value
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(job, col)
        if col == self.COL_STATE:
            if role == Qt.ItemDataRole.DecorationRole:
                return state_icon(job.state.value)
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(state_colour(job.state.value))
        if role == Qt.ItemDataRole.ForegroundRole and col == self.COL_NOTE and job.last_error:
            return QBrush(QColor("#c0392b"))
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (self.COL_ID, self.COL_ATTEMPTS):
            return int(_ALIGN_RIGHT)
        return None

    def _display(self, job: Job, col: int) -> str:
        if col == self.COL_ID:
            return str(job.id)
        if col == self.COL_TIME:
            return format_time(job.created_at)
        if col == self.COL_RECIPIENT:
            return job.name or job.uid
        if col == self.COL_NUMBER:
            return format_number(job.number, self._masked) or "—"
        if col == self.COL_TEXT:
            return preview(job.text)
        if col == self.COL_STATE:
            if job.state is State.SENDING and job.parts_total > 1:
                return f"sending {job.parts_sent}/{job.parts_total}"
            return job.state.value
        if col == self.COL_ATTEMPTS:
            return str(job.attempts)
        if col == self.COL_NEXT:
            if job.state is not State.QUEUED:
                return ""
            return "due" if job.next_attempt_at <= time.time() else format_time(job.next_attempt_at)
        if col == self.COL_NOTE:
            return preview(job.last_error or job.note, 120)
        return ""

    def _tooltip(self, job: Job, col: int) -> str | None:
        if col == self.COL_TEXT:
            return job.text
        if col == self.COL_RECIPIENT:
            return f"{job.name} ({job.uid})" if job.name else job.uid
        if col == self.COL_TIME:
            return format_full_time(job.created_at)
        if col == self.COL_NOTE:
            return job.last_error or job.note or None
        if col == self.COL_NEXT and job.state is State.QUEUED:
            return format_full_time(job.next_attempt_at)
        return None
