"""The contacts editor: validation as you type, add, CSV import with a bad row."""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QStyleOptionViewItem

from gsmbridge.gui.list_models import ContactsModel


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
    gui.ctx.bridge.add_contact("bob", "+12125550101", "Bob")
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
    assert "imported 2 contact(s), 2 bad row(s)" in report
    assert "line 3:" in report and "line 5:" in report
    assert view.model.rowCount() == 2

    out = tmp_path / "out.csv"
    view.export_file(out)
    qtbot.waitUntil(out.exists, timeout=5000)
    assert out.read_text().splitlines()[0] == "uid,phone,name"
