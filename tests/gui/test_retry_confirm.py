"""Retry now in the window: jobs that already went out are sent again only when confirmed."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from gsmbridge.core.models import State
from tests.gui.conftest import make_jobs

WENT_OUT = (State.SENT, State.DELIVERED)
Button = QMessageBox.StandardButton


class Dialog:
    """Stands in for QMessageBox.question: records each question, gives ``answer``."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, Button]] = []
        self.answer = Button.Cancel

    def question(self, parent, title, text, buttons, default):  # noqa: ANN001 - Qt's
        self.asked.append((text, buttons))
        return self.answer


@pytest.fixture
def dialog(monkeypatch: pytest.MonkeyPatch) -> Dialog:
    fake = Dialog()
    monkeypatch.setattr(QMessageBox, "question", fake.question)
    return fake


def _setup(gui, qtbot):
    """Two jobs the simulator sent and one cancelled job without a number, all selected."""
    bridge, view = gui.ctx.bridge, gui.window.queue
    sent = make_jobs(bridge, 2)
    (cancelled,) = make_jobs(bridge, 1, uid="nobody", phno=None)
    assert bridge.jobs.cancel([cancelled]) == [cancelled]

    def shown(job_id: int):
        row = view.model.row_of(job_id)
        return view.model.job(row).state if row >= 0 else None

    qtbot.waitUntil(lambda: all(shown(j) in WENT_OUT for j in sent), timeout=15000)
    qtbot.waitUntil(lambda: shown(cancelled) is State.CANCELLED, timeout=5000)
    # A refresh of the table (reports arriving) may clear a selection: select until it holds.
    qtbot.waitUntil(lambda: _select(view, [*sent, cancelled]), timeout=5000)
    return bridge, view, sent, cancelled


def _select(view, ids: list[int]) -> bool:
    """Select these rows (QueueView.select_ids keeps only the last: its setCurrentIndex)."""
    selection = view.table.selectionModel()
    selection.clearSelection()
    flags = selection.SelectionFlag
    for job_id in ids:
        row = view.model.row_of(job_id)
        if row >= 0:
            selection.select(view.model.index(row, 0), flags.Select | flags.Rows)
    return sorted(view.selected_ids()) == sorted(ids)


def _retried(bridge, job_id: int) -> bool:
    return "retry-requested" in [e.kind for e in bridge.store.events(job_id)]


def test_cancel_in_the_dialog_retries_nothing(gui, qtbot, dialog: Dialog) -> None:
    bridge, view, sent, cancelled = _setup(gui, qtbot)
    view.retry_selected()
    [(text, buttons)] = dialog.asked
    assert text.startswith("Send again? 2 of these already went out (")
    assert "retry only the other 1" in text
    assert buttons & Button.No and buttons & Button.Yes and buttons & Button.Cancel
    bridge.wake_sender()
    qtbot.wait(200)  # nothing may happen: give a wrong retry the time to show
    assert not any(_retried(bridge, j) for j in [*sent, cancelled])
    assert bridge.store.get(cancelled).state is State.CANCELLED


def test_no_retries_only_the_jobs_that_did_not_go_out(gui, qtbot, dialog: Dialog) -> None:
    bridge, view, sent, cancelled = _setup(gui, qtbot)
    dialog.answer = Button.No
    view.retry_selected()
    assert len(dialog.asked) == 1
    qtbot.waitUntil(lambda: _retried(bridge, cancelled), timeout=5000)
    assert bridge.store.get(cancelled).state is State.NEEDS_NUMBER
    assert not any(_retried(bridge, j) for j in sent)


def test_yes_sends_them_again(gui, qtbot, dialog: Dialog) -> None:
    bridge, view, sent, cancelled = _setup(gui, qtbot)
    before = len(bridge.modems.simulator_outbox())
    dialog.answer = Button.Yes
    view.retry_selected()
    qtbot.waitUntil(lambda: all(_retried(bridge, j) for j in [*sent, cancelled]), timeout=5000)
    qtbot.waitUntil(lambda: len(bridge.modems.simulator_outbox()) == before + 2, timeout=15000)


def test_no_question_when_nothing_went_out(gui, qtbot, dialog: Dialog) -> None:
    bridge, view = gui.ctx.bridge, gui.window.queue
    (job,) = make_jobs(bridge, 1, uid="nobody", phno=None)
    assert bridge.jobs.cancel([job]) == [job]
    qtbot.waitUntil(lambda: view.model.row_of(job) >= 0, timeout=5000)
    qtbot.waitUntil(lambda: view.model.job(view.model.row_of(job)).state is State.CANCELLED)
    qtbot.waitUntil(lambda: _select(view, [job]), timeout=5000)
    view.retry_selected()
    qtbot.waitUntil(lambda: _retried(bridge, job), timeout=5000)
    assert dialog.asked == []


def test_one_job_names_it(gui, qtbot, dialog: Dialog) -> None:
    bridge, view, sent, _ = _setup(gui, qtbot)
    qtbot.waitUntil(lambda: _select(view, [sent[0]]), timeout=5000)
    view.retry_selected()
    [(text, buttons)] = dialog.asked
    assert text.startswith(f"Send again? Job {sent[0]} already went out (")
    assert not buttons & Button.No  # nothing else to retry
