"""The queue and contacts models against a real SQLite store, without widgets."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QBrush, QIcon

from gsmbridge.core.models import Contact, NewJob, State
from gsmbridge.core.store import Store
from gsmbridge.gui.list_models import ContactsModel
from gsmbridge.gui.models import JOB_ID_ROLE, JOB_ROLE, STATE_ROLE, JobTableModel


def new_job(i: int, state: State = State.QUEUED, number: str | None = "+12125550123") -> NewJob:
    return NewJob(
        uid=f"uid-{i % 7}",
        name=f"User {i % 7}",
        text=f"hello number {i}" + (" urgent" if i % 10 == 0 else ""),
        payload={"n": i},
        dedup_key="",
        state=state,
        number=number if state is not State.NEEDS_NUMBER else None,
    )


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "q.db")
    yield s
    s.close()


def fill(store: Store, n: int) -> list[int]:
    ids = []
    for i in range(n):
        state = State.NEEDS_NUMBER if i % 5 == 0 else State.QUEUED
        ids.append(store.enqueue(new_job(i, state))[0])
    return ids


def test_pages_and_fetch_more(qtbot, store):
    ids = fill(store, 450)
    model = JobTableModel(store, page_size=200)
    assert model.rowCount() == 200
    assert model.total == 450
    assert model.canFetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    assert model.rowCount() == 400
    model.fetchMore(QModelIndex())
    assert model.rowCount() == 450
    assert not model.canFetchMore(QModelIndex())
    # newest first, no duplicates
    assert model.loaded_ids() == sorted(ids, reverse=True)


def test_data_roles(qtbot, store):
    fill(store, 3)
    model = JobTableModel(store)
    top = model.index(0, JobTableModel.COL_STATE)
    job = model.data(top, JOB_ROLE)
    assert model.data(top, JOB_ID_ROLE) == job.id == 3
    assert model.data(top, STATE_ROLE) == "queued"
    assert model.data(top) == "queued"
    assert isinstance(model.data(top, Qt.ItemDataRole.DecorationRole), QIcon)
    assert isinstance(model.data(top, Qt.ItemDataRole.ForegroundRole), QBrush)
    number = model.index(0, JobTableModel.COL_NUMBER)
    assert model.data(number) == "+*******0123"  # masked by default
    model.set_masked(False)
    assert model.data(number) == "+12125550123"
    assert model.data(model.index(0, JobTableModel.COL_RECIPIENT)) == "User 2"
    assert model.data(model.index(0, JobTableModel.COL_TEXT)) == "hello number 2"
    assert model.headerData(JobTableModel.COL_STATE, Qt.Orientation.Horizontal) == "State"
    # the first job had no number: a dash, and its reason would be in the note
    last = model.index(2, JobTableModel.COL_NUMBER)
    assert model.data(last) == "—"


def test_filter_by_state_and_search(qtbot, store):
    fill(store, 50)
    model = JobTableModel(store)
    model.set_filter(["needs-number"])
    assert model.total == model.rowCount() == 10
    assert {model.data(model.index(r, 0), STATE_ROLE) for r in range(10)} == {"needs-number"}
    model.set_filter(None, "urgent")
    assert model.rowCount() == 5
    model.set_filter(["queued"], "urgent")
    assert model.rowCount() == 0  # every "urgent" job (i % 10 == 0) needs a number
    model.set_filter(None, "")
    assert model.rowCount() == 50


def test_sort_oldest_first(qtbot, store):
    ids = fill(store, 5)
    model = JobTableModel(store)
    model.sort(JobTableModel.COL_TIME, Qt.SortOrder.AscendingOrder)
    assert model.loaded_ids() == ids
    model.sort(JobTableModel.COL_STATE, Qt.SortOrder.AscendingOrder)  # not sortable: ignored
    assert model.loaded_ids() == ids
    model.sort(JobTableModel.COL_TIME, Qt.SortOrder.DescendingOrder)
    assert model.loaded_ids() == ids[::-1]


def test_job_changed_updates_one_row(qtbot, store):
    ids = fill(store, 10)
    model = JobTableModel(store, throttle_ms=10)
    target = ids[3]
    row = model.row_of(target)
    store.cancel([target])
    with qtbot.waitSignal(model.dataChanged, timeout=2000) as blocker:
        model.note_job_changed(target, "cancelled")
    top_left, bottom_right = blocker.args[0], blocker.args[1]
    assert top_left.row() == bottom_right.row() == row
    assert model.job(row).state is State.CANCELLED


def test_burst_is_coalesced_and_new_jobs_appear_on_top(qtbot, store):
    fill(store, 5)
    model = JobTableModel(store, throttle_ms=50)
    inserted: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _p, first, last: inserted.append((first, last)))
    new_ids = [store.enqueue(new_job(100 + i))[0] for i in range(20)]
    for job_id in new_ids:
        model.note_job_changed(job_id, "queued")
    assert model.rowCount() == 5  # nothing yet: the throttle holds it
    qtbot.waitUntil(lambda: model.rowCount() == 25, timeout=2000)
    assert model.loaded_ids()[:20] == sorted(new_ids, reverse=True)
    assert all(first == 0 for first, _ in inserted)


def test_filtered_view_follows_state_changes(qtbot, store):
    ids = fill(store, 10)
    model = JobTableModel(store, throttle_ms=10)
    model.set_filter(["cancelled"])
    assert model.rowCount() == 0
    store.cancel(ids[1:3])
    for job_id in ids[1:3]:
        model.note_job_changed(job_id, "cancelled")
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=2000)
    store.retry([ids[1]])
    model.note_job_changed(ids[1], "queued")
    qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=2000)
    assert model.total == 1


def test_bulk_change_reloads(qtbot, store):
    ids = fill(store, 10)
    model = JobTableModel(store, throttle_ms=10)
    store.delete(ids[:4])
    with qtbot.waitSignal(model.reloaded, timeout=2000):
        model.note_jobs_changed()
    assert model.rowCount() == 6


def test_contacts_model_validates_numbers(qtbot, store):
    store.upsert_contact(Contact("alice", "+12125550100", "Alice"))
    model = ContactsModel(store, region="US")
    assert model.rowCount() == 1
    edits, refusals = [], []
    model.contact_edited.connect(edits.append)
    model.edit_refused.connect(refusals.append)
    number = model.index(0, ContactsModel.COL_NUMBER)
    assert not model.setData(number, "12")
    assert refusals and "alice" in refusals[0]
    assert model.data(number) == "+12125550100"
    assert model.setData(number, "(212) 555-0199")
    assert model.data(number) == "+12125550199"
    assert edits[-1].number == "+12125550199"
    assert not model.flags(model.index(0, ContactsModel.COL_UID)) & Qt.ItemFlag.ItemIsEditable
    assert model.validate_number("Germany")[0] is None
    assert model.validate_number("+49 30 1234567")[0] == "+49301234567"


def test_contacts_model_masks_the_shown_number_and_notices_other_writers(qtbot, store, tmp_path):
    store.upsert_contact(Contact("alice", "+12125550100", "Alice"))
    model = ContactsModel(store, region="US")
    number = model.index(0, ContactsModel.COL_NUMBER)
    model.set_masked(True)
    assert model.data(number) == "+*******0100"
    assert model.data(number, Qt.ItemDataRole.EditRole) == "+12125550100"  # editor, sort
    assert not model.changed_in_store()
    other = Store(tmp_path / "q.db")  # another process's connection
    try:
        other.upsert_contact(Contact("bob", "+12125550101"))
        assert model.changed_in_store()
        model.reload()
        assert model.rowCount() == 2 and not model.changed_in_store()
        other.delete_contact("alice")
        assert model.changed_in_store()
    finally:
        other.close()


def test_reloads_run_off_the_gui_thread_and_the_newest_wins(qtbot, store):
    from PySide6.QtCore import QThread
    from PySide6.QtWidgets import QApplication

    from gsmbridge.gui.tasks import TaskRunner

    fill(store, 50)
    tasks = TaskRunner()
    threads = []

    def runner(fn, on_done):
        def read():
            threads.append(QThread.currentThread())
            return fn()

        tasks.run("read", read, on_done=on_done)

    model = JobTableModel(store, runner=runner)
    qtbot.waitUntil(lambda: model.rowCount() == 50, timeout=3000)
    with qtbot.waitSignal(model.reloaded, timeout=3000):
        model.set_filter(["needs-number"])
        model.set_filter(None, "urgent")  # supersedes the first before it lands
    qtbot.waitUntil(lambda: not model.loading, timeout=3000)
    tasks.wait()
    assert model.search == "urgent" and model.rowCount() == 5 and model.total == 5
    assert QApplication.instance().thread() not in threads
    tasks.shutdown()
