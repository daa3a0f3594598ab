"""The Inbox tab against a real Bridge: SMS the simulated modem receives, parts, delete, badge."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from gsmbridge.core.store import Store
from gsmbridge.gui.inbox_model import InboxModel
from gsmbridge.modem.deliver import encode_deliver
from gsmbridge.service import DB_NAME

ALICE = "+12125550100"
BOB = "+12125550111"


def cell(view, row: int, col: int) -> str:
    return view.model.index(row, col).data() or ""


def from_another_thread(bridge, sender: str, text: str, concat=None):
    """Store a message part and fire the event on a worker thread, as the modem's reader does."""
    out = []

    def receive() -> None:
        message = bridge.store.add_incoming(sender, text, concat=concat, modem="sim")
        bridge.events.sms_received(message)
        out.append(message)

    worker = threading.Thread(target=receive)
    worker.start()
    worker.join()
    return out[0]


def simulated_modem(gui, qtbot):
    bridge = gui.ctx.bridge
    (modem,) = bridge.modems
    qtbot.waitUntil(lambda: modem.status.state == "ready", timeout=10000)
    return modem


def test_received_sms_appears_with_the_sender_named(gui, qtbot):
    bridge, view = gui.ctx.bridge, gui.window.inbox
    assert view.stack.currentWidget() is view.empty
    assert "No SMS received yet" in view.empty.text()
    bridge.contacts.add("alice", ALICE, "Alice")
    modem = simulated_modem(gui, qtbot)

    gui.ctx.bridge.modems.simulators[modem.url].receive_sms(ALICE, "Yes, see you at 9")
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=10000)
    assert cell(view, 0, InboxModel.COL_MESSAGE) == "Yes, see you at 9"
    # Named from the contacts; the number shown masked, as in the queue.
    assert cell(view, 0, InboxModel.COL_FROM) == "Alice (alice) · +*******0100"
    assert cell(view, 0, InboxModel.COL_RECEIVED)
    assert cell(view, 0, InboxModel.COL_MODEM) == bridge.store.list_incoming()[0].modem
    assert view.stack.currentWidget() is view.splitter
    assert view.total.text() == "1 message"

    view.show_numbers.setChecked(True)
    assert cell(view, 0, InboxModel.COL_FROM) == f"Alice (alice) · {ALICE}"
    view.select_ids(view.model.loaded_ids())
    assert view.details_text.toPlainText() == "Yes, see you at 9"
    assert "Alice (alice)" in view.details_header.text()

    view.copy_text()
    assert QApplication.clipboard().text() == "Yes, see you at 9"


def test_a_long_sms_from_the_modem_is_one_row(gui, qtbot):
    bridge, view = gui.ctx.bridge, gui.window.inbox
    modem = simulated_modem(gui, qtbot)
    text = "Running late, the train is stuck outside the station. " * 4
    assert len(encode_deliver(BOB, text)) > 1

    gui.ctx.bridge.modems.simulators[modem.url].receive_sms(BOB, text, concat_ref=9)
    qtbot.waitUntil(lambda: bridge.store.count_incoming() == 1, timeout=10000)
    qtbot.waitUntil(
        lambda: view.model.rowCount() == 1 and view.model.message(0).complete, timeout=10000
    )
    assert view.model.message(0).text == text
    assert view.model.rowCount() == 1
    # Nobody known with this number: the number alone.
    assert cell(view, 0, InboxModel.COL_FROM) == "+*******0111"


def test_later_parts_update_the_same_row(gui, qtbot):
    bridge, view = gui.ctx.bridge, gui.window.inbox
    first = from_another_thread(bridge, BOB, "Part one, ", concat=(7, 3, 1))
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=5000)
    shown = cell(view, 0, InboxModel.COL_MESSAGE)
    assert shown.startswith("Part one, […][…]")
    assert "incomplete, 2 of 3 parts missing" in shown
    index = view.model.index(0, InboxModel.COL_MESSAGE)
    assert "2 of 3 parts missing" in index.data(Qt.ItemDataRole.ToolTipRole)
    assert index.data(Qt.ItemDataRole.DecorationRole) is not None  # the amber dot
    view.select_ids([first.id])
    assert "incomplete" in view.details_header.text()

    third = from_another_thread(bridge, BOB, "part three.", concat=(7, 3, 3))
    assert third.id == first.id
    qtbot.waitUntil(lambda: "1 of 3 parts missing" in cell(view, 0, InboxModel.COL_MESSAGE))
    assert view.model.rowCount() == 1
    # the selected message's details follow its row
    assert view.details_text.toPlainText() == "Part one, […]part three."

    from_another_thread(bridge, BOB, "part two, ", concat=(7, 3, 2))
    qtbot.waitUntil(lambda: view.model.message(0).complete, timeout=5000)
    assert view.model.rowCount() == 1
    assert cell(view, 0, InboxModel.COL_MESSAGE) == "Part one, part two, part three."
    assert view.model.index(0, InboxModel.COL_MESSAGE).data(Qt.ItemDataRole.DecorationRole) is None
    assert view.details_text.toPlainText() == "Part one, part two, part three."
    assert view.total.text() == "1 message"


def test_new_messages_go_on_top(gui, qtbot):
    bridge, view = gui.ctx.bridge, gui.window.inbox
    older = from_another_thread(bridge, ALICE, "older")
    newer = from_another_thread(bridge, BOB, "newer")
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=5000)
    assert view.model.loaded_ids() == [newer.id, older.id]
    assert view.total.text() == "2 messages"


def test_delete_asks_then_removes_from_store_and_table(gui, qtbot, monkeypatch):
    bridge, view = gui.ctx.bridge, gui.window.inbox
    keep = from_another_thread(bridge, ALICE, "keep me")
    gone = from_another_thread(bridge, BOB, "delete me")
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=5000)
    view.select_ids([gone.id])
    assert view.act_delete.isEnabled()

    asked = []

    def answer(reply):
        def question(parent, title, text, *args):
            asked.append(text)
            return reply

        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Cancel))
    view.act_delete.trigger()
    assert asked == ["Delete 1 received message? This cannot be undone."]
    assert bridge.store.get_incoming(gone.id) is not None

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    view.act_delete.trigger()
    qtbot.waitUntil(lambda: view.model.row_of(gone.id) == -1, timeout=5000)
    assert bridge.store.get_incoming(gone.id) is None
    assert bridge.store.get_incoming(keep.id) is not None
    assert view.model.loaded_ids() == [keep.id]
    assert view.total.text() == "1 message"

    view.select_ids([keep.id])
    view.delete_selected(confirm=False)
    qtbot.waitUntil(lambda: view.model.rowCount() == 0, timeout=5000)
    assert bridge.store.count_incoming() == 0
    assert view.stack.currentWidget() is view.empty


def test_tab_badge_counts_new_messages_and_clears_when_shown(gui, qtbot):
    bridge, window = gui.ctx.bridge, gui.window
    tabs, inbox = window.tabs, window.inbox
    index = tabs.indexOf(inbox)
    assert tabs.tabText(index) == "Inbox"
    assert index == tabs.indexOf(window.contacts) + 1
    tabs.setCurrentWidget(window.queue)

    first = from_another_thread(bridge, ALICE, "One, ", concat=(3, 2, 1))
    from_another_thread(bridge, BOB, "hello")
    qtbot.waitUntil(lambda: tabs.tabText(index) == "Inbox (2)", timeout=5000)
    # Another part of a message already counted is not a new message.
    from_another_thread(bridge, ALICE, "two.", concat=(3, 2, 2))
    qtbot.waitUntil(lambda: inbox.model.message(inbox.model.row_of(first.id)).complete)
    assert tabs.tabText(index) == "Inbox (2)"

    tabs.setCurrentWidget(inbox)
    assert tabs.tabText(index) == "Inbox"
    from_another_thread(bridge, BOB, "seen at once")
    qtbot.waitUntil(lambda: inbox.model.rowCount() == 3, timeout=5000)
    assert tabs.tabText(index) == "Inbox"

    tabs.setCurrentWidget(window.queue)
    from_another_thread(bridge, BOB, "while away")
    qtbot.waitUntil(lambda: tabs.tabText(index) == "Inbox (1)", timeout=5000)


def test_messages_stored_before_the_window_load_at_start(gui_factory, tmp_path, qtbot):
    data = tmp_path / "kept"
    data.mkdir()
    before = Store(data / DB_NAME)
    for i in range(3):
        before.add_incoming(ALICE, f"stored {i}")
    before.close()

    view = gui_factory(data_dir=data).window.inbox
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=5000)
    assert [view.model.message(r).text for r in range(3)] == ["stored 2", "stored 1", "stored 0"]
    assert view.total.text() == "3 messages"


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "q.db")
    yield s
    s.close()


def test_model_loads_the_latest_and_keeps_the_total(store, qtbot):
    for i in range(5):
        store.add_incoming(BOB, f"message {i}")
    model = InboxModel(store, limit=3)
    assert model.rowCount() == 3
    assert model.total == 5
    assert [model.message(r).text for r in range(3)] == ["message 4", "message 3", "message 2"]

    newest = store.add_incoming(ALICE, "newest")
    assert model.upsert(newest) is True
    assert model.message(0).id == newest.id
    assert (model.rowCount(), model.total) == (4, 6)
    assert model.upsert(newest) is False  # the same id again: updated, not added
    assert (model.rowCount(), model.total) == (4, 6)

    assert model.remove_ids([newest.id, 12345]) == 1
    assert (model.rowCount(), model.total) == (3, 5)


def test_model_shows_an_alphanumeric_sender_as_is(store, qtbot):
    store.add_incoming("Vodafone", "Your balance is low")
    model = InboxModel(store)
    assert model.index(0, InboxModel.COL_FROM).data() == "Vodafone"
    model.set_masked(False)
    assert model.index(0, InboxModel.COL_FROM).data() == "Vodafone"


class RecordingTray:
    """Stands in for the system tray (none under the offscreen platform)."""

    def __init__(self) -> None:
        self.notes: list[tuple[str, str, bool]] = []

    def notify(self, title: str, message: str, *, warning: bool = True) -> None:
        self.notes.append((title, message, warning))


def test_a_complete_reply_notifies_once_unless_the_window_is_in_use(gui, qtbot, monkeypatch):
    bridge, window = gui.ctx.bridge, gui.window
    tray = RecordingTray()
    # Through the notifier only: the window itself has no tray here (offscreen), so
    # nothing else calls the stand-in (a counts update once called its missing set_state).
    monkeypatch.setattr(window.notifier, "tray", tray)
    active = [False]
    monkeypatch.setattr(window, "isActiveWindow", lambda: active[0])
    first = from_another_thread(bridge, ALICE, "Part one, ", concat=(8, 2, 1))
    qtbot.waitUntil(lambda: window.inbox.model.row_of(first.id) == 0, timeout=5000)
    assert tray.notes == []  # incomplete: nothing yet
    from_another_thread(bridge, ALICE, "part two.", concat=(8, 2, 2))
    qtbot.waitUntil(lambda: len(tray.notes) == 1, timeout=5000)
    title, text, warning = tray.notes[0]
    assert title == "Reply from +*******0100" and text == "Part one, part two." and not warning
    from_another_thread(bridge, ALICE, "part two.", concat=(8, 2, 2))  # read again
    active[0] = True
    from_another_thread(bridge, BOB, "x" * 300)  # the window is in use: no notification
    qtbot.waitUntil(lambda: window.inbox.model.rowCount() == 2, timeout=5000)
    assert len(tray.notes) == 1


def test_replies_pruned_by_housekeeping_leave_the_table(gui, qtbot):
    from gsmbridge.core.housekeeping import Housekeeping

    bridge, view = gui.ctx.bridge, gui.window.inbox
    old = from_another_thread(bridge, ALICE, "an old reply")
    qtbot.waitUntil(lambda: view.model.row_of(old.id) == 0, timeout=5000)
    house = Housekeeping(
        lambda: bridge.store, lambda: 1, bridge.events.jobs_changed, clock=lambda: 10**10
    )
    assert house.run_once() == (0, 1)
    qtbot.waitUntil(lambda: view.model.rowCount() == 0, timeout=5000)
