"""The window's polish (issue 12, item 17): labels that explain themselves, no duplicate
action, the last error in view, the chart's label off the line, empty states, plurals,
and the Help menu's user guide and log folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QColor, QDesktopServices, QTextCursor
from PySide6.QtWidgets import QAbstractButton, QMessageBox

from gsmbridge.core.models import NewJob, State
from gsmbridge.core.store import Store
from gsmbridge.gui.views.dialogs import user_guide
from gsmbridge.gui.views.header import HeaderBar
from gsmbridge.gui.views.tabs.job_details import JobDetails, job_summary_html
from gsmbridge.gui.views.tabs.queue_view import EMPTY_QUEUE
from gsmbridge.gui.views.tabs.signal_chart import DBM_MAX, DBM_MIN, SignalChart
from tests.gui.conftest import make_jobs

# -- header ------------------------------------------------------------------------------


def test_local_url_label_says_cometchat_cannot_reach_it(qtbot):
    header = HeaderBar()
    qtbot.addWidget(header)
    header.set_local_url("http://127.0.0.1:8080")
    assert header.url_kind.text() == "local only: CometChat cannot reach it"
    assert "tunnel" in header.url_kind.toolTip().lower()
    assert "127.0.0.1" in header.url_kind.toolTip()
    header.set_local_url("http://192.168.1.20:8080")
    assert header.url_kind.text().startswith("not public")
    assert "192.168.1.20" in header.url_kind.toolTip()
    header.set_public_url("https://x.trycloudflare.com")
    assert header.url_kind.text() == "public (tunnel)"
    assert header.url_kind.styleSheet() == ""  # no warning colour once reachable
    header.set_public_url("")
    assert header.url_kind.text().startswith("not public")


def test_state_counts_and_todays_totals_cannot_look_contradictory(qtbot):
    """One job sent and delivered today: 0 in state sent, 1 sent today."""
    header = HeaderBar()
    qtbot.addWidget(header)
    header.set_counts({"queued": 0, "sent": 0, "delivered": 1, "failed": 0})
    header.set_today({"sent": 1, "delivered": 1, "failed": 0})
    assert header.counts.text().startswith("By state: ")
    assert "0 sent" not in header.counts.text()
    assert "1 delivered" in header.counts.text()
    assert header.today.text() == "Today: 1 sent (1 delivered), 0 failed"
    assert "state" in header.counts.toolTip() and "midnight" in header.today.toolTip()
    header.set_counts({"sent": 2})
    assert "2 sent" in header.counts.text()


# -- the queue tab ----------------------------------------------------------------------------


def test_retry_all_failed_is_shown_once(gui, qtbot):
    window = gui.window
    window.tabs.setCurrentWidget(window.queue)
    qtbot.waitUntil(window.queue.isVisible, timeout=5000)
    shown = [
        b
        for b in window.findChildren(QAbstractButton)
        if b.isVisible() and b.text().replace("&", "") == "Retry all failed"
    ]
    assert len(shown) == 1


def test_filtered_queue_with_no_match_says_so_and_clears(gui, qtbot):
    queue = gui.window.queue
    make_jobs(gui.ctx.bridge, 2)
    qtbot.waitUntil(lambda: queue.model.rowCount() == 2, timeout=5000)
    hint = queue.empty_hint
    assert not hint.isVisible()
    queue.state_filter.setCurrentIndex(queue.state_filter.findText("failed"))
    qtbot.waitUntil(hint.isVisible, timeout=5000)
    assert "No jobs match “failed”" in hint.text() and "Clear the filter" in hint.text()
    queue.search.setText("zebra")
    qtbot.waitUntil(lambda: "“zebra”" in hint.text(), timeout=5000)
    assert "“failed” and “zebra”" in hint.text()
    hint.linkActivated.emit("clear")
    qtbot.waitUntil(lambda: queue.model.rowCount() == 2, timeout=5000)
    assert queue.state_filter.currentIndex() == 0 and queue.search.text() == ""
    assert not hint.isVisible()


def test_empty_queue_says_what_will_appear(gui_factory, qtbot):
    queue = gui_factory().window.queue
    qtbot.waitUntil(queue.empty_hint.isVisible, timeout=5000)
    assert queue.empty_hint.text() == EMPTY_QUEUE


@pytest.mark.parametrize(("n", "expected"), [(1, "job {id} and its"), (2, "2 jobs and their")])
def test_delete_question_has_proper_plurals(gui, qtbot, monkeypatch, n, expected):
    queue = gui.window.queue
    gui.ctx.bridge.pause_sending()  # all stay queued (a job being sent is not deletable)
    ids = make_jobs(gui.ctx.bridge, n)
    qtbot.waitUntil(lambda: queue.model.rowCount() == n, timeout=5000)
    queue.table.selectAll()
    asked: list[str] = []

    def question(parent, title, text, *args):
        asked.append(text)
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    queue.delete_selected(confirm=True)
    assert asked == [f"Delete {expected.format(id=ids[0])} history? This cannot be undone."]


# -- job details --------------------------------------------------------------------------------


@pytest.fixture
def failed_job(tmp_path):
    """A failed job with a long history, in a real store."""
    store = Store(tmp_path / "q.db")
    job_id, _, _ = store.enqueue(
        NewJob("u1", "U", "hi\n" * 20, {}, "", State.QUEUED, number="+12125550123")
    )
    for i in range(30):  # the sender's own calls: 30 retries, then it gives up
        store.schedule_retry(job_id, f"try {i}: +CMS ERROR: 332 (network timeout)", 0.0)
    store.mark_failed(job_id, "CMS ERROR 38: network out of order")
    yield store, job_id
    store.close()


def test_last_error_comes_first_and_is_visible_without_scrolling(qtbot, failed_job):
    store, job_id = failed_job
    job = store.get(job_id)
    assert job.state is State.FAILED
    page = job_summary_html(job, store.events(job_id), masked=False)
    assert page.index("network out of order") < page.index("State") < page.index("History")

    details = JobDetails()
    qtbot.addWidget(details)
    details.resize(600, 220)
    details.show()
    details.show_job(store, job_id)
    browser = details.summary
    assert browser.verticalScrollBar().maximum() > 0  # the page needs scrolling…
    cursor = browser.document().find("network out of order")
    assert not cursor.isNull()
    browser.setTextCursor(QTextCursor(cursor))
    rect = browser.cursorRect(cursor)
    browser.verticalScrollBar().setValue(0)
    assert browser.viewport().rect().contains(browser.cursorRect(cursor)), rect  # …the error not

    # Another job opens at its top, not at the previous job's scroll position.
    other, _, _ = store.enqueue(NewJob("u2", "", "x", {}, "", State.QUEUED, number="+12125550124"))
    browser.verticalScrollBar().setValue(browser.verticalScrollBar().maximum())
    details.show_job(store, other)
    assert browser.verticalScrollBar().value() == 0


# -- the signal chart ---------------------------------------------------------------------------


@pytest.mark.parametrize("last", [DBM_MIN, -90, DBM_MAX])
def test_signal_label_sits_beside_the_plot_not_on_the_line(qtbot, last):
    import time

    chart = SignalChart(window_s=600)
    qtbot.addWidget(chart)
    chart.resize(360, 140)
    now = time.time()
    # The line crosses the whole range, then ends at `last`.
    chart.set_samples([(now - 500, DBM_MAX), (now - 300, DBM_MIN), (now - 10, last)])
    plot, label = chart.plot_rect(), chart.value_label_rect(last)
    assert not label.intersects(plot)
    assert chart.rect().toRectF().contains(label)
    assert label.left() > plot.right()
    assert abs(label.center().y() - chart.y_of(last)) < label.height() or last == DBM_MAX

    image = chart.grab().toImage()
    line = QColor("#2f7de1")

    def blue(x: int, y: int) -> bool:
        c = image.pixelColor(x, y)
        return abs(c.red() - line.red()) + abs(c.green() - line.green()) < 60 and c.blue() > 150

    y = round(chart.y_of(last))
    assert any(blue(round(plot.right()) - 2, yy) for yy in range(y - 2, y + 3))  # the line's end
    label_px = label.toRect()
    assert any(
        blue(x, yy)
        for x in range(label_px.left(), label_px.right())
        for yy in range(label_px.top(), label_px.bottom())
    )  # the label is drawn, in the margin


# -- Help menu -------------------------------------------------------------------------------------


def _help_actions(window) -> dict[str, object]:
    menus = [a.menu() for a in window.menuBar().actions() if a.text() == "&Help"]
    assert menus
    return {a.text(): a for a in menus[0].actions() if a.text()}


def test_help_menu_has_the_guide_the_log_folder_and_about(gui):
    assert list(_help_actions(gui.window)) == ["User guide", "Open log folder", "About gsmbridge"]


def test_open_log_folder_opens_the_data_dirs_log_folder(gui, monkeypatch):
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    _help_actions(gui.window)["Open log folder"].trigger()
    folder = Path(gui.ctx.data_dir) / "logs"
    assert opened == [QUrl.fromLocalFile(str(folder))]
    assert folder.is_dir()


def test_open_log_folder_says_where_it_is_when_nothing_opens_it(gui, monkeypatch):
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
    warned: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "warning", staticmethod(lambda parent, title, text, *a: warned.append(text))
    )
    _help_actions(gui.window)["Open log folder"].trigger()
    assert warned and str(Path(gui.ctx.data_dir) / "logs") in warned[0]


def test_user_guide_shows_the_readme(gui, qtbot):
    readme = Path(__file__).resolve().parents[2] / "README.md"
    assert user_guide.find_user_guide() == (readme.read_text(encoding="utf-8"), readme.parent)
    _help_actions(gui.window)["User guide"].trigger()
    dialogs = gui.window.findChildren(user_guide.UserGuide)
    assert dialogs and dialogs[-1].isVisible()
    assert "Set-up" in dialogs[-1].browser.toPlainText()


def test_user_guide_falls_back_to_the_package_metadata_then_says_it_is_missing(
    gui, qtbot, monkeypatch, tmp_path
):
    monkeypatch.setattr(user_guide, "readme_candidates", lambda: [tmp_path / "none.md"])
    text, base = user_guide.find_user_guide()
    assert base is None and "gsmbridge" in text  # pip's copy, as the long description

    class NoMetadata:
        def get_payload(self) -> str:
            return ""

    monkeypatch.setattr(user_guide.importlib.metadata, "metadata", lambda name: NoMetadata())
    told: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "information", staticmethod(lambda parent, title, text, *a: told.append(text))
    )
    assert user_guide.show_user_guide(gui.window) is None
    assert told and "README.md" in told[0]
