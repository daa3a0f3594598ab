"""Contacts: add, remove, CSV import (repeated uids, bad rows) and export (a failed
export leaves the old file), phone-number messages in plain words."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from gsmbridge.core.contacts import (
    ContactsFileError,
    add_contact,
    export_csv,
    import_csv,
    remove_contact,
)
from gsmbridge.core.phones import InvalidNumber, normalise


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("abc", "does not look like a phone number"),
        ("+999 123", "has no valid country code"),
        ("1" * 30, "is too long"),
        ("12345", "impossible length"),
    ],
)
def test_phone_errors_are_plain_words(raw: str, words: str) -> None:
    with pytest.raises(InvalidNumber) as caught:
        normalise(raw, "US")
    message = str(caught.value)
    assert words in message
    assert "(0)" not in message and "(1)" not in message and "(4)" not in message
    assert "The string supplied" not in message  # phonenumbers' own text


def test_national_numbers_use_the_region() -> None:
    assert normalise("+1 415 555 0123", "US") == "+14155550123"
    assert normalise("4155550123", "US") == "+14155550123"
    assert normalise("030 1234567", "DE") == "+49301234567"


def test_remove_contact(store) -> None:
    add_contact(store, "alice", "+14155550123", "Alice", "US")
    assert remove_contact(store, " alice ")
    assert store.get_contact("alice") is None
    assert not remove_contact(store, "alice")
    with pytest.raises(ValueError, match="uid is empty"):
        remove_contact(store, "  ")


def test_import_says_which_line_of_a_repeated_uid_won(store, tmp_path: Path) -> None:
    csv_file = tmp_path / "c.csv"
    csv_file.write_text(
        "uid,phone,name\n"
        "alice,+14155550100,Alice Old\n"
        "bob,+14155550101,Bob\n"
        "alice,+14155550102,Alice New\n",
        encoding="utf-8",
    )
    result = import_csv(store, csv_file, "US")
    assert result.errors == []
    assert result.imported == 2  # two contacts, not three
    assert result.notes == [(4, "uid alice is also on line 2; this line (4) wins")]
    contact = store.get_contact("alice")
    assert contact is not None
    assert (contact.number, contact.name) == ("+14155550102", "Alice New")


def test_import_reports_bad_rows_without_library_codes(store, tmp_path: Path) -> None:
    csv_file = tmp_path / "c.csv"
    csv_file.write_text("uid,phone\nalice,abc\nbob,4155550101\n", encoding="utf-8")
    result = import_csv(store, csv_file, "US")
    assert result.imported == 1
    assert result.errors == [(2, "phone number 'abc' does not look like a phone number")]


def test_import_of_a_folder_is_a_plain_error(store, tmp_path: Path) -> None:
    with pytest.raises(ContactsFileError) as caught:
        import_csv(store, tmp_path, "US")
    assert str(caught.value) == f"cannot read {tmp_path}: it is a folder, not a file"


def test_export_into_a_missing_folder_is_a_plain_error(store, tmp_path: Path) -> None:
    target = tmp_path / "nope" / "x.csv"
    with pytest.raises(ContactsFileError) as caught:
        export_csv(store, target)
    assert isinstance(caught.value, OSError)
    assert str(caught.value) == f"cannot write {target}: the folder {target.parent} does not exist"


def test_export_round_trips(store, tmp_path: Path) -> None:
    add_contact(store, "alice", "+14155550123", "Älice, Q.", "US")
    target = tmp_path / "out" / "contacts.csv"
    target.parent.mkdir()
    assert export_csv(store, target) == 1
    store.delete_contact("alice")
    assert import_csv(store, target, "US").imported == 1
    contact = store.get_contact("alice")
    assert contact is not None and contact.name == "Älice, Q."
    assert [p.name for p in target.parent.iterdir()] == ["contacts.csv"]  # no temp file left


@pytest.mark.skipif(os.name == "nt", reason="RLIMIT_FSIZE is POSIX")
def test_a_failed_export_leaves_the_old_file_whole(store, tmp_path: Path) -> None:
    import resource
    import signal

    for i in range(100):
        add_contact(store, f"user{i:03}", f"+1415555{i:04}", "Someone With A Long Name", "US")
    target = tmp_path / "contacts.csv"
    mine = "uid,phone,name\nmine,+14155550100,kept\n"
    target.write_text(mine, encoding="utf-8")
    # A full disk, for real: writes past 1000 bytes fail with EFBIG.
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, hard))
    try:
        with pytest.raises(ContactsFileError, match="cannot write"):
            export_csv(store, target)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert target.read_text(encoding="utf-8") == mine
    assert sorted(p.name for p in tmp_path.iterdir() if "csv" in p.name) == ["contacts.csv"]


def test_the_contacts_tab_shows_which_line_won(store, tmp_path: Path) -> None:
    pytest.importorskip("PySide6")
    from gsmbridge.gui.views.tabs.contacts_view import import_report

    csv_file = tmp_path / "c.csv"
    csv_file.write_text("uid,phone\nalice,+14155550100\nalice,+14155550102\n", encoding="utf-8")
    report = import_report(csv_file, import_csv(store, csv_file, "US"))
    assert "imported 1 contact" in report
    assert "line 3: uid alice is also on line 2; this line (3) wins" in report


# -- CSV from and for Excel ------------------------------------------------------------


def test_excel_ansi_csv_with_semicolons(store, tmp_path: Path) -> None:
    """Excel's plain "CSV" in a decimal-comma locale: ANSI code page, ';' separators."""
    csv_file = tmp_path / "excel.csv"
    csv_file.write_bytes(
        "uid;phone;name\r\nmueller;030 1234567;Müller; Jürgen\r\n".encode("cp1252")
    )
    result = import_csv(store, csv_file, "DE")
    assert result.errors == []
    assert result.imported == 1
    assert result.notes == [(0, "the file is not UTF-8; read it as cp1252 (Excel's ANSI CSV)")]
    contact = store.get_contact("mueller")
    assert contact is not None
    assert (contact.number, contact.name) == ("+49301234567", "Müller")


def test_tab_separated_and_quoted_header(store, tmp_path: Path) -> None:
    csv_file = tmp_path / "tabs.csv"
    csv_file.write_text('"UID"\t"Phone"\nbob\t+14155550101\n', encoding="utf-8")
    result = import_csv(store, csv_file, "US")
    assert (result.imported, result.errors, result.notes) == (1, [], [])


def test_the_windows_ansi_code_page_is_the_systems(store, tmp_path: Path, monkeypatch) -> None:
    import locale

    from gsmbridge.core import contacts

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(locale, "getpreferredencoding", lambda do_setlocale=True: "cp1250")
    assert contacts.ansi_encoding() == "cp1250"
    csv_file = tmp_path / "cz.csv"
    csv_file.write_bytes("uid,phone,name\ndvorak,+420601123456,Dvořák\n".encode("cp1250"))
    assert import_csv(store, csv_file, "CZ").imported == 1
    contact = store.get_contact("dvorak")
    assert contact is not None and contact.name == "Dvořák"
    # Python's UTF-8 mode reports utf-8: Excel still saved in the ANSI code page.
    monkeypatch.setattr(locale, "getpreferredencoding", lambda do_setlocale=True: "UTF-8")
    assert contacts.ansi_encoding() == "cp1252"


def test_a_number_a_spreadsheet_mangled_says_what_to_do(store, tmp_path: Path) -> None:
    csv_file = tmp_path / "sci.csv"
    csv_file.write_text("uid;phone\nalice;1,41556E+10\n", encoding="utf-8")
    result = import_csv(store, csv_file, "US")
    assert result.imported == 0
    [(line, problem)] = result.errors
    assert line == 2 and "format the column as Text" in problem


def test_export_has_a_bom_for_excel_and_reads_back(store, tmp_path: Path) -> None:
    add_contact(store, "zoe", "+33612345678", "Zoé", "FR")
    target = tmp_path / "out.csv"
    export_csv(store, target)
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data[3:].decode("utf-8") == "uid,phone,name\r\nzoe,+33612345678,Zoé\r\n"
    store.delete_contact("zoe")
    result = import_csv(store, target, "US")
    assert (result.imported, result.errors, result.notes) == (1, [], [])
