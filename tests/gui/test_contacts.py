"""The contacts editor: validation as you type, add, CSV import with a bad row, masking,
reloads on the window's and other processes' changes, the empty state."""

from __future__ import annotations

import subprocess
import sys

from PySide6.QtWidgets import QLineEdit, QMessageBox, QStyleOptionViewItem

from gsmbridge.core.models import Contact
from gsmbridge.core.store import Store
from gsmbridge.gui.list_models import ContactsModel
from gsmbridge.gui.views.tabs.contacts_view import POLL_MS
from tests.gui.conftest import make_jobs


def test_add_form_validates_as_you_type(gui, qtbot):
    view = gui.window.contacts
    view.new_uid.setText("alice")
    view.new_number.setText("12")
    assert not view.add_button.isEnabled()
    assert "cannot be read" in view.feedback.text() or "length" in view.feedback.text()
    assert "d64541" in view.new_number.styleSheet()  # red
    view.new_number.setText("(212) 555-0100")
    assert view.add_button.isEnabled()
    assert "+12125550100" in view.feedback.text()
    view.new_name.setText("Alice")
    view.add_from_form()
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=5000)
    contact = gui.ctx.store.get_contact("alice")
    assert (contact.number, contact.name) == ("+12125550100", "Alice")


def test_number_editor_turns_red_with_the_reason(gui, qtbot):
    view = gui.window.contacts
    gui.ctx.bridge.contacts.add("bob", "+12125550101", "Bob")
    view.model.reload()
    index = view.proxy.index(0, ContactsModel.COL_NUMBER)
    editor = view.number_delegate.createEditor(view.table.viewport(), QStyleOptionViewItem(), index)
    assert isinstance(editor, QLineEdit)
    editor.setText("Germany")
    assert "d64541" in editor.styleSheet()
    assert editor.toolTip()
    assert view.feedback.text() == editor.toolTip()
    editor.setText("+1 212 555 0177")
    assert editor.styleSheet() == ""
    view.number_delegate.setModelData(editor, view.proxy, index)
    qtbot.waitUntil(lambda: gui.ctx.store.get_contact("bob").number == "+12125550177", timeout=5000)


def test_csv_import_reports_bad_rows_with_line_numbers(gui, qtbot, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text(
        "uid,phone,name\n"
        "carol,+12125550102,Carol\n"
        "dave,not a number,Dave\n"
        "erin,+12125550103\n"
        ",+12125550104,No uid\n",
        encoding="utf-8",
    )
    view = gui.window.contacts
    view.import_file(path)
    qtbot.waitUntil(lambda: view.report.isVisibleTo(view), timeout=5000)
    report = view.report.toPlainText()
    assert "imported 2 contacts, 2 bad rows" in report
    assert "line 3:" in report and "line 5:" in report
    assert view.model.rowCount() == 2

    out = tmp_path / "out.csv"
    view.export_file(out)
    qtbot.waitUntil(out.exists, timeout=5000)
    assert out.read_text(encoding="utf-8-sig").splitlines()[0] == "uid,phone,name"  # BOM: Excel


def _show_contacts(gui, qtbot):
    view = gui.window.contacts
    gui.window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(view.isVisible, timeout=5000)
    return view


def _shown_uids(view) -> list[str]:
    return [view.proxy.index(r, ContactsModel.COL_UID).data() for r in range(view.proxy.rowCount())]


def test_a_contact_added_by_another_process_appears(gui, qtbot):
    """`gsmbridge contacts add` in another process writes the same file; the open tab shows it."""
    view = _show_contacts(gui, qtbot)
    assert view.poll_timer.isActive()
    result = subprocess.run(
        [sys.executable, "-m", "gsmbridge", "contacts", "add", "frank", "+12125550105"]
        + ["--name", "Frank", "--data-dir", str(gui.ctx.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    qtbot.waitUntil(lambda: _shown_uids(view) == ["frank"], timeout=POLL_MS * 3)


def test_changes_by_a_second_store_show_while_the_tab_is_open(gui, qtbot):
    view = _show_contacts(gui, qtbot)
    other = Store(gui.ctx.store.path)  # another process's connection to the same file
    try:
        other.upsert_contact(Contact("gina", "+12125550106", "Gina"))
        qtbot.waitUntil(lambda: _shown_uids(view) == ["gina"], timeout=POLL_MS * 3)
        other.upsert_contact(Contact("gina", "+12125550107", "Gina"))
        qtbot.waitUntil(
            lambda: view.model.contact(0) and view.model.contact(0).number == "+12125550107",
            timeout=POLL_MS * 3,
        )
        other.delete_contact("gina")
        qtbot.waitUntil(lambda: _shown_uids(view) == [], timeout=POLL_MS * 3)
    finally:
        other.close()
    gui.window.tabs.setCurrentWidget(gui.window.queue)
    qtbot.waitUntil(lambda: not view.poll_timer.isActive(), timeout=5000)  # no polling unseen


def test_edit_number_saved_as_contact_reloads_the_tab(gui, qtbot):
    """The window's own change arrives by signal (the tab is hidden: no polling)."""
    view = gui.window.contacts
    assert not view.isVisible() and not view.poll_timer.isActive()
    (job_id,) = make_jobs(gui.ctx.bridge, 1, uid="hana", phno=None)
    gui.window.queue.set_number([job_id], "+12125550108", save_contact=True)
    qtbot.waitUntil(lambda: _shown_uids(view) == ["hana"], timeout=5000)
    assert view.model.contact(0).number == "+12125550108"


def test_numbers_are_masked_while_mask_numbers_is_on(gui, qtbot):
    assert gui.ctx.settings.gui.mask_numbers
    view = _show_contacts(gui, qtbot)
    gui.ctx.bridge.contacts.add("ivan", "+12125550109", "Ivan")
    view.model.reload()
    index = view.proxy.index(0, ContactsModel.COL_NUMBER)
    assert index.data() == "+*******0109"
    assert not view.show_numbers.isChecked()
    # Editing is an explicit action: the editor holds the real number.
    editor = view.number_delegate.createEditor(view.table.viewport(), QStyleOptionViewItem(), index)
    view.number_delegate.setEditorData(editor, index)
    assert editor.text() == "+12125550109"
    # Search still finds the real number; the masked text does not leak through the search.
    view.search.setText("5550109")
    assert _shown_uids(view) == ["ivan"]
    view.search.clear()
    view.show_numbers.setChecked(True)
    assert view.proxy.index(0, ContactsModel.COL_NUMBER).data() == "+12125550109"


def test_empty_table_says_why(gui, qtbot):
    view = _show_contacts(gui, qtbot)
    hint = view.empty_hint
    qtbot.waitUntil(hint.isVisible, timeout=5000)
    assert "No contacts yet" in hint.text()
    assert hint.geometry() == view.table.viewport().rect()
    gui.ctx.bridge.contacts.add("jane", "+12125550110", "Jane")
    gui.ctx.note_contacts_changed()
    qtbot.waitUntil(lambda: not hint.isVisible(), timeout=5000)
    view.search.setText("nobody")
    assert hint.isVisible() and "No contacts match “nobody”" in hint.text()
    hint.linkActivated.emit("clear")
    assert view.search.text() == "" and not hint.isVisible()


def test_delete_question_names_one_contact(gui, qtbot, monkeypatch):
    view = _show_contacts(gui, qtbot)
    gui.ctx.bridge.contacts.add("kim", "+12125550111")
    view.model.reload()
    view.table.selectRow(0)
    asked: list[str] = []

    def question(parent, title, text, *args):
        asked.append(text)
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    view._delete_clicked()
    assert asked == ["Delete contact kim? Queued jobs keep their numbers."]
