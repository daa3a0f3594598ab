"""The contacts directory: add, remove, CSV import and export (header ``uid,phone,name``).

The CLI and the GUI's Contacts tab both use these functions.
"""

from __future__ import annotations

import codecs
import csv
import io
import locale
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from gsmbridge.core.models import Contact
from gsmbridge.core.phones import InvalidNumber, normalise
from gsmbridge.core.store import Store

HEADER = ["uid", "phone", "name"]
DELIMITERS = (",", ";", "\t")
# A phone number a spreadsheet turned into a number: 1.41555E+10, 4,15555E+09.
_EXCEL_NUMBER = re.compile(r"^[+-]?\d+([.,]\d+)?[eE][+-]?\d+$")


class ContactsFileError(OSError):
    """A CSV file that cannot be read or written; ``str()`` is one plain sentence."""

    def __init__(self, action: str, path: Path, reason: str) -> None:
        super().__init__(reason)
        self.filename = str(path)
        self.sentence = f"cannot {action} {path}: {reason}"

    def __str__(self) -> str:
        return self.sentence


def _reason(exc: OSError, path: Path) -> str:
    if isinstance(exc, FileNotFoundError) and not path.parent.is_dir():
        return f"the folder {path.parent} does not exist"
    if isinstance(exc, IsADirectoryError) or path.is_dir():
        return "it is a folder, not a file"
    return exc.strerror or str(exc)


@dataclass
class ImportResult:
    imported: int = 0
    released_jobs: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, problem)
    # (line number, remark) for rows that were imported but deserve a word, e.g. a uid
    # repeated further down the file (the later line wins).
    notes: list[tuple[int, str]] = field(default_factory=list)


def add_contact(
    store: Store, uid: str, number: str, name: str, region: str
) -> tuple[Contact, list[int]]:
    """Validate and save one contact; return it and the ids of jobs it released."""
    uid = uid.strip()
    if not uid:
        raise ValueError("uid is empty")
    contact = Contact(uid=uid, number=normalise(number, region), name=name.strip())
    return contact, store.upsert_contact(contact)


def remove_contact(store: Store, uid: str) -> bool:
    """Delete one contact; False when there is no contact with this uid."""
    uid = uid.strip()
    if not uid:
        raise ValueError("uid is empty")
    return store.delete_contact(uid)


def import_csv(store: Store, source: Path | str, region: str) -> ImportResult:
    """Import good rows, report bad ones with their line numbers."""
    result = ImportResult()
    path = Path(source)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ContactsFileError("read", path, _reason(exc, path)) from exc
    text = _decode(data, result)
    if text is None:
        return result
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    header = next(reader, None)
    if header is None:
        result.errors.append((1, "the file is empty"))
        return result
    columns = [h.strip().lower() for h in header]
    if "uid" not in columns or "phone" not in columns:
        result.errors.append((1, "header must name the columns uid,phone[,name]"))
        return result
    uid_i, phone_i = columns.index("uid"), columns.index("phone")
    name_i = columns.index("name") if "name" in columns else None
    seen: dict[str, int] = {}  # uid -> the line that saved it
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        try:
            uid, phone = row[uid_i], row[phone_i]
            name = row[name_i] if name_i is not None and name_i < len(row) else ""
        except IndexError:
            result.errors.append((line, "too few columns"))
            continue
        if _EXCEL_NUMBER.match(phone.strip()):
            result.errors.append(
                (
                    line,
                    f"phone {phone.strip()!r} was turned into a number by a spreadsheet "
                    "(the + and digits are lost): format the column as Text and save again",
                )
            )
            continue
        try:
            contact, released = add_contact(store, uid, phone, name, region)
        except (InvalidNumber, ValueError) as exc:
            result.errors.append((line, str(exc)))
            continue
        earlier = seen.get(contact.uid)
        if earlier is None:
            result.imported += 1
        else:
            result.notes.append(
                (line, f"uid {contact.uid} is also on line {earlier}; this line ({line}) wins")
            )
        seen[contact.uid] = line
        result.released_jobs += len(released)
    return result


def ansi_encoding() -> str:
    """The encoding of a CSV that Excel saved as plain "CSV": the Windows ANSI code page
    (cp1252 in Western Europe and the Americas; elsewhere there, the system's)."""
    if sys.platform == "win32":
        preferred = locale.getpreferredencoding(False)
        if preferred and codecs.lookup(preferred).name not in ("utf-8", "ascii"):
            return preferred
    return "cp1252"


def _decode(data: bytes, result: ImportResult) -> str | None:
    """UTF-8 (with or without a BOM), UTF-16 with its BOM (Excel's "Unicode Text"), else
    the ANSI code page, noted; None if none of them."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            result.errors.append((0, "the file starts like UTF-16 text but is not"))
            return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    encoding = ansi_encoding()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        result.errors.append((0, f"the file is neither UTF-8 nor {encoding} text"))
        return None
    result.notes.append((0, f"the file is not UTF-8; read it as {encoding} (Excel's ANSI CSV)"))
    return text


def _delimiter(text: str) -> str:
    """The separator the header uses: ',' or, from Excel in decimal-comma locales, ';'
    (or a tab); ',' when the header names no uid and phone columns either way."""
    first = text.split("\n", 1)[0]
    for delimiter in DELIMITERS:
        columns = {c.strip().strip('"').strip().lower() for c in first.split(delimiter)}
        if {"uid", "phone"} <= columns:
            return delimiter
    return ","


def export_csv(store: Store, target: Path | str) -> int:
    """Write all contacts; through a temporary file, so a failed export never leaves a
    file half written (or an existing one truncated).  OSError says why it failed.

    UTF-8 with a BOM, so Excel shows names with accents as written; numbers are
    E.164 text (+CC...), which every importer reads back as text."""
    contacts = store.list_contacts()
    target = Path(target)
    if target.is_dir():
        raise ContactsFileError("write", target, "it is a folder, not a file")
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise ContactsFileError("write", target, _reason(exc, target)) from exc
    try:
        with open(fd, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            for c in contacts:
                writer.writerow([c.uid, c.number, c.name])
        os.replace(tmp, target)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ContactsFileError("write", target, _reason(exc, target)) from exc
        raise
    return len(contacts)
