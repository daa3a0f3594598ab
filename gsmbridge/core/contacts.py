"""The contacts directory's CSV import and export (header ``uid,phone,name``)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from gsmbridge.core.models import Contact
from gsmbridge.core.phones import InvalidNumber, normalise
from gsmbridge.core.store import Store

HEADER = ["uid", "phone", "name"]


@dataclass
class ImportResult:
    imported: int = 0
    released_jobs: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, problem)


def add_contact(
    store: Store, uid: str, number: str, name: str, region: str
) -> tuple[Contact, list[int]]:
    """Validate and save one contact; return it and the ids of jobs it released."""
    uid = uid.strip()
    if not uid:
        raise ValueError("uid is empty")
    contact = Contact(uid=uid, number=normalise(number, region), name=name.strip())
    return contact, store.upsert_contact(contact)


def import_csv(store: Store, source: Path | str, region: str) -> ImportResult:
    """Import good rows, report bad ones with their line numbers."""
    result = ImportResult()
    try:
        text = Path(source).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        result.errors.append((0, "the file is not UTF-8 text"))
        return result
    reader = csv.reader(io.StringIO(text))
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
        try:
            _, released = add_contact(store, uid, phone, name, region)
        except (InvalidNumber, ValueError) as exc:
            result.errors.append((line, str(exc)))
            continue
        result.imported += 1
        result.released_jobs += len(released)
    return result


def export_csv(store: Store, target: Path | str) -> int:
    contacts = store.list_contacts()
    with open(target, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for c in contacts:
            writer.writerow([c.uid, c.number, c.name])
    return len(contacts)
