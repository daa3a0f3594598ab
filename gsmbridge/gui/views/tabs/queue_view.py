"""The queue: a filterable table of jobs, actions on the selection, and details."""

from __future__ import annotations

import html
import json
import logging
from typing import Any

from PySide6.QtCore import QItemSelection, QModelIndex, QPoint, Qt, Signal, Slot
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gsmbridge.core.models import CANCELLABLE, NUMBER_EDITABLE, RETRYABLE, WENT_OUT, Job, State
from gsmbridge.core.store import Store
from gsmbridge.gui.compat import emit
from gsmbridge.gui.context import AppContext
from gsmbridge.gui.models import JobTableModel
from gsmbridge.gui.throttle import Throttle
from gsmbridge.gui.views.dialogs.number_dialog import NumberDialog
from gsmbridge.gui.views.tabs.job_details import JobDetails
from gsmbridge.gui.views.widgets import EmptyHint, list_table

log = logging.getLogger(__name__)

# (label, states) for the filter box; None means every state.
STATE_FILTERS: list[tuple[str, list[str] | None]] = [
    ("All jobs", None),
    ("Waiting (queued, sending, needs a number)", ["queued", "sending", "needs-number"]),
    ("Problems (failed, needs a number)", ["failed", "needs-number"]),
] + [(s.value, [s.value]) for s in State]

EMPTY_QUEUE = "No SMS yet. CometChat's notifications appear here as they reach the webhook."

COLUMN_WIDTHS = {
    JobTableModel.COL_ID: 56,
    JobTableModel.COL_TIME: 80,
    JobTableModel.COL_RECIPIENT: 140,
    JobTableModel.COL_NUMBER: 120,
    JobTableModel.COL_TEXT: 300,
    JobTableModel.COL_STATE: 124,
    JobTableModel.COL_ATTEMPTS: 64,
    JobTableModel.COL_NEXT: 90,
}


class QueueView(QWidget):
    """The queue tab.

    Signals:
        message_posted(str): a short result for the status bar ("Retried 3 jobs").
    """

    message_posted = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.model = JobTableModel(None, self, runner=self._run_read)
        self.model.set_masked(ctx.settings.gui.mask_numbers)

        # -- filter bar
        self.state_filter = QComboBox()
        for label, _states in STATE_FILTERS:
            self.state_filter.addItem(label)
        self.state_filter.currentIndexChanged.connect(self._apply_filter)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search text, user, number, error…")
        self.search.setClearButtonEnabled(True)
        # One query per pause in typing.
        self._search_throttle = Throttle(300, self._apply_filter, self, restart=True)
        self.search.textChanged.connect(self._search_throttle.trigger)
        self.show_numbers = QCheckBox("Show numbers")
        self.show_numbers.setChecked(not ctx.settings.gui.mask_numbers)
        self.show_numbers.toggled.connect(self._set_show_numbers)
        self.total = QLabel()

        # -- actions
        self.act_retry = self._action("Retry now", self.retry_selected, "Ctrl+R")
        self.act_cancel = self._action("Cancel", self.cancel_selected)
        self.act_edit = self._action("Edit number…", self.edit_number_selected, "Ctrl+E")
        self.act_delete = self._action("Delete…", self._delete_clicked, QKeySequence.Delete)
        self.act_copy_text = self._action("Copy text", self.copy_text, QKeySequence.Copy)
        self.act_copy_json = self._action("Copy as JSON", self.copy_json, "Ctrl+Shift+C")
        self.act_retry_failed = self._action("Retry all failed", self.retry_all_failed)
        self.act_retry_failed.setToolTip("Queue every failed job again now")
        bar = QHBoxLayout()
        bar.addWidget(self.state_filter)
        bar.addWidget(self.search, 1)
        bar.addWidget(self.show_numbers)
        bar.addWidget(self.total)
        actions = QHBoxLayout()
        for act in (self.act_retry, self.act_cancel, self.act_edit, self.act_delete):
            actions.addWidget(self._button(act))
        copy = QToolButton()
        copy.setText("Copy")
        copy.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        copy_menu = QMenu(copy)
        copy_menu.addAction(self.act_copy_text)
        copy_menu.addAction(self.act_copy_json)
        copy.setMenu(copy_menu)
        actions.addWidget(copy)
        actions.addStretch(1)
        # act_retry_failed has no button here: the window's toolbar shows it, above this row.

        # -- table and details
        self.table = list_table(self.model, COLUMN_WIDTHS)
        self.table.setSortingEnabled(True)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSortIndicator(JobTableModel.COL_TIME, Qt.SortOrder.DescendingOrder)
        header.sortIndicatorChanged.connect(self._sort_indicator_changed)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.addActions(
            [self.act_retry, self.act_edit, self.act_delete, self.act_copy_text, self.act_copy_json]
        )
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(self._double_clicked)
        self.details = JobDetails()
        self.details.masked = self.model.masked
        self.empty_hint = EmptyHint(self.table, self._empty_text)
        self.empty_hint.linkActivated.connect(self.clear_filter)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([400, 200])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addLayout(actions)
        layout.addWidget(splitter, 1)

        self.model.total_changed.connect(self._show_total)
        self.model.dataChanged.connect(self._data_changed)
        self.model.modelReset.connect(self._selection_changed)
        self._update_actions()

    # -- construction helpers ------------------------------------------------------------

    def _action(self, text: str, slot: Any, shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        return action

    @staticmethod
    def _button(action: QAction) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        return button

    def _run_read(self, fn: Any, on_done: Any) -> None:
        self.ctx.tasks.run("Load the queue", fn, on_done=on_done)

    # -- store and filters -----------------------------------------------------------------

    def set_store(self, store: Store | None) -> None:
        self.model.set_store(store)
        if store is None:
            self.details.show_none()

    @Slot()
    def _apply_filter(self) -> None:
        _label, states = STATE_FILTERS[self.state_filter.currentIndex()]
        self.model.set_filter(states, self.search.text())

    @Slot()
    def clear_filter(self) -> None:
        self.search.blockSignals(True)  # one reload, not one per control
        self.search.clear()
        self.search.blockSignals(False)
        self._search_throttle.cancel()
        if self.state_filter.currentIndex() != 0:
            self.state_filter.setCurrentIndex(0)  # applies the filter
        else:
            self._apply_filter()

    def _empty_text(self) -> str:
        """Why the table is empty: nothing yet, or nothing matches the filter."""
        if self.model.store is None or self.model.loading:
            return ""
        label, states = STATE_FILTERS[self.state_filter.currentIndex()]
        search = self.model.search
        if states is None and not search:
            return EMPTY_QUEUE
        parts = [f"“{html.escape(label)}”"] if states else []
        if search:
            parts.append(f"“{html.escape(search)}”")
        return f"No jobs match {' and '.join(parts)}. <a href='clear'>Clear the filter</a>"

    @Slot(bool)
    def _set_show_numbers(self, show: bool) -> None:
        self.model.set_masked(not show)
        self.details.masked = not show
        self._refresh_details()

    @Slot(int, Qt.SortOrder)
    def _sort_indicator_changed(self, column: int, order: Qt.SortOrder) -> None:
        if column not in JobTableModel.SORTABLE:
            # Only time sorts (the store pages by id); put the indicator back.
            order = (
                Qt.SortOrder.DescendingOrder
                if self.model.newest_first
                else (Qt.SortOrder.AscendingOrder)
            )
            header = self.table.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(JobTableModel.COL_TIME, order)
            header.blockSignals(False)
            emit(self.message_posted, "The queue sorts by time only")

    @Slot(int)
    def _show_total(self, total: int) -> None:
        self.total.setText(f"{total:,} job{'s' if total != 1 else ''}")

    # -- selection and details ----------------------------------------------------------------

    def selected_jobs(self) -> list[Job]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [job for row in rows if (job := self.model.job(row)) is not None]

    def selected_ids(self) -> list[int]:
        return [job.id for job in self.selected_jobs()]

    def select_ids(self, ids: list[int]) -> None:
        self.table.clearSelection()
        flags = self.table.selectionModel().SelectionFlag
        for job_id in ids:
            row = self.model.row_of(job_id)
            if row >= 0:
                self.table.selectionModel().select(
                    self.model.index(row, 0), flags.Select | flags.Rows
                )
                self.table.setCurrentIndex(self.model.index(row, 0))

    @Slot()
    @Slot(QItemSelection, QItemSelection)
    def _selection_changed(self, *_args: Any) -> None:
        self._update_actions()
        self._refresh_details()

    def _refresh_details(self) -> None:
        jobs = self.selected_jobs()
        if len(jobs) == 1:
            self.details.show_job(self.model.store, jobs[0].id)
        elif jobs:
            self.details.show_none(f"{len(jobs)} jobs selected.")
        else:
            self.details.show_none()

    @Slot(QModelIndex, QModelIndex)
    def _data_changed(self, top: QModelIndex, bottom: QModelIndex) -> None:
        job_id = self.details.job_id
        if job_id is not None and top.row() <= self.model.row_of(job_id) <= bottom.row():
            self.details.show_job(self.model.store, job_id)
            self._update_actions()

    def _update_actions(self) -> None:
        jobs = self.selected_jobs()
        running = self.ctx.store is not None
        self.act_retry.setEnabled(running and any(j.state in RETRYABLE for j in jobs))
        self.act_cancel.setEnabled(running and any(j.state in CANCELLABLE for j in jobs))
        editable = [j for j in jobs if j.state in NUMBER_EDITABLE]  # not sending, not sent
        self.act_edit.setEnabled(running and bool(editable) and len({j.uid for j in jobs}) == 1)
        self.act_delete.setEnabled(running and any(j.state is not State.SENDING for j in jobs))
        self.act_copy_text.setEnabled(bool(jobs))
        self.act_copy_json.setEnabled(bool(jobs))
        self.act_retry_failed.setEnabled(running)

    @Slot(QPoint)
    def _context_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        for act in (self.act_retry, self.act_cancel, self.act_edit, self.act_delete):
            menu.addAction(act)
        menu.addSeparator()
        menu.addAction(self.act_copy_text)
        menu.addAction(self.act_copy_json)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    @Slot(QModelIndex)
    def _double_clicked(self, index: QModelIndex) -> None:
        job = self.model.job(index.row())
        if job is not None and job.state is State.NEEDS_NUMBER:
            self.edit_number_selected()

    # -- actions (each runs on the pool; the core's events update the table) ------------------

    def _done(self, template: str) -> Any:
        def report(result: Any) -> None:
            n = len(result) if isinstance(result, list) else int(result or 0)
            emit(self.message_posted, template.format(n=n, s="" if n == 1 else "s"))

        return report

    def _failed(self, what: str) -> Any:
        def report(exc: BaseException) -> None:
            emit(self.message_posted, f"{what} failed: {exc}")
            QMessageBox.warning(self, what, str(exc))

        return report

    def retry(self, ids: list[int], *, force: bool = False) -> None:
        """Requeue jobs; ``force`` also sends again those that already went out."""
        self.ctx.tasks.run(
            "Retry",
            self.ctx.bridge.jobs.retry,
            ids,
            force=force,
            on_done=self._done("Retrying {n} job{s}"),
        )

    def cancel(self, ids: list[int]) -> None:
        self.ctx.tasks.run(
            "Cancel", self.ctx.bridge.jobs.cancel, ids, on_done=self._done("Cancelled {n} job{s}")
        )

    def delete(self, ids: list[int]) -> None:
        self.ctx.tasks.run(
            "Delete", self.ctx.bridge.jobs.delete, ids, on_done=self._done("Deleted {n} job{s}")
        )

    def set_number(self, ids: list[int], number: str, save_contact: bool = True) -> None:
        report = self._done("New number set on {n} job{s}")

        def done(changed: list[int]) -> None:
            report(changed)
            if save_contact and changed:
                self.ctx.note_contacts_changed()  # the Contacts tab shows the new number

        self.ctx.tasks.run(
            "Edit number",
            self.ctx.bridge.jobs.set_number,
            ids,
            number,
            save_contact=save_contact,
            on_done=done,
            on_error=self._failed("Edit number"),
        )

    @Slot()
    def retry_selected(self) -> None:
        jobs = [j for j in self.selected_jobs() if j.state in RETRYABLE]
        went_out = [j for j in jobs if j.state in WENT_OUT]
        others = [j.id for j in jobs if j.state not in WENT_OUT]
        if not went_out:
            if others:
                self.retry(others)
            return
        # Sending again texts the person twice: only when the user says so.
        states = ", ".join(sorted({j.state.value for j in went_out}))
        buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel
        which = f"Job {went_out[0].id}" if len(jobs) == 1 else f"{len(went_out)} of these"
        question = (
            f"Send again? {which} already went out ({states}); "
            "the recipient gets the SMS a second time."
        )
        if others:
            buttons |= QMessageBox.StandardButton.No
            question += f"\n\nNo: retry only the other {len(others)}."
        answer = QMessageBox.question(
            self, "Retry", question, buttons, QMessageBox.StandardButton.Cancel
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.retry([j.id for j in jobs], force=True)
        elif answer == QMessageBox.StandardButton.No and others:
            self.retry(others)

    @Slot()
    def cancel_selected(self) -> None:
        ids = [j.id for j in self.selected_jobs() if j.state in CANCELLABLE]
        if ids:
            self.cancel(ids)

    @Slot()
    def _delete_clicked(self) -> None:
        self.delete_selected(confirm=True)

    def delete_selected(self, *, confirm: bool = True) -> None:
        ids = [j.id for j in self.selected_jobs() if j.state is not State.SENDING]
        if not ids:
            return
        if confirm:
            which = f"job {ids[0]} and its" if len(ids) == 1 else f"{len(ids):,} jobs and their"
            answer = QMessageBox.question(
                self,
                "Delete jobs" if len(ids) != 1 else "Delete job",
                f"Delete {which} history? This cannot be undone.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.delete(ids)

    @Slot()
    def edit_number_selected(self) -> None:
        selected = self.selected_jobs()
        jobs = [j for j in selected if j.state in NUMBER_EDITABLE]
        if not jobs or len({j.uid for j in selected}) != 1:
            return
        first = jobs[0]
        who = f"{first.name} ({first.uid})" if first.name else first.uid
        dialog = NumberDialog(
            self.ctx.settings.sending.default_region,
            recipients=who,
            count=len(jobs),
            current=first.number or first.raw_number,
            parent=self,
        )
        if dialog.exec() == NumberDialog.DialogCode.Accepted and dialog.e164:
            self.set_number([j.id for j in jobs], dialog.e164, dialog.save_contact.isChecked())

    @Slot()
    def retry_all_failed(self) -> None:
        self.ctx.tasks.run(
            "Retry all failed",
            self.ctx.bridge.jobs.retry_all_failed,
            on_done=self._done("Retrying {n} failed job{s}"),
        )

    @Slot()
    def copy_text(self) -> None:
        jobs = self.selected_jobs()
        if jobs:
            QGuiApplication.clipboard().setText("\n\n".join(j.text for j in jobs))
            emit(self.message_posted, f"Copied the text of {len(jobs)} job(s)")

    @Slot()
    def copy_json(self) -> None:
        jobs = self.selected_jobs()
        if not jobs:
            return
        # Fresh reads: the rows may be a throttle interval old.
        store = self.model.store
        fresh = [store.get(j.id) or j for j in jobs] if store is not None else jobs
        data = [j.to_dict(with_payload=True) for j in fresh]
        text = json.dumps(data[0] if len(data) == 1 else data, indent=2, ensure_ascii=False)
        QGuiApplication.clipboard().setText(text)
        emit(self.message_posted, f"Copied {len(jobs)} job(s) as JSON")
