"""Received SMS (replies to notifications): stored once, parts joined, sender named."""

from __future__ import annotations

import json
from typing import cast

from gsmbridge.core.models import IncomingSms
from gsmbridge.core.store_backend import Conn, Row, SqlValue
from gsmbridge.core.store_base import StoreBase

# The parts of one long message arrive within minutes; an 8-bit reference from the
# same sender seen again after this long starts a new message.
PART_WINDOW_S = 24 * 3600.0
PART_STAMP_S = 3600.0  # parts of one message: SMS-centre time stamps this close
MISSING = "[…]"

_COLUMNS = (
    "id, received_at, updated_at, sender, sent_at, text, parts_total, parts_json, uid, name, modem"
)


def _clean(text: str) -> str:
    """Pair the halves of a surrogate pair split across parts; a lone half becomes U+FFFD
    (SQLite takes only valid UTF-8)."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _joined(parts: dict[str, str], total: int) -> str:
    return _clean("".join(parts.get(str(seq), MISSING) for seq in range(1, total + 1)))


def _from_row(row: Row) -> IncomingSms:
    parts = json.loads(row["parts_json"])
    total = row["parts_total"]
    return IncomingSms(
        id=row["id"],
        received_at=row["received_at"],
        updated_at=row["updated_at"],
        sender=row["sender"],
        sent_at=row["sent_at"],
        text=row["text"],
        parts_total=total,
        parts_received=len(parts) if total > 1 else 1,
        uid=row["uid"],
        name=row["name"],
        modem=row["modem"],
    )


class InboxStore(StoreBase):
    def add_incoming(
        self,
        sender: str,
        text: str,
        *,
        sent_at: float | None = None,
        concat: tuple[int, int, int] | None = None,
        modem: str = "",
        lookup_number: str | None = None,
    ) -> IncomingSms:
        """Store one received SMS part durably; return its message as it stands now.

        ``lookup_number`` (the sender in E.164, when it is a number) names the sender
        from the contacts or the jobs sent."""
        now = self.clock()

        def fn(conn: Conn) -> int:
            values: tuple[str, int | None, int, str]
            if concat is not None and concat[1] > 1:
                ref, total, seq = concat
                # The SMS centre stamps the parts of one message within moments of each
                # other: a reference reused later by the same sender is another message.
                stamp, stamp_params = "", cast(tuple[SqlValue, ...], ())
                if sent_at is not None:
                    stamp = " AND (sent_at IS NULL OR abs(sent_at - ?) <= ?)"
                    stamp_params = (sent_at, PART_STAMP_S)
                row = conn.execute(
                    "SELECT id, parts_json FROM inbox WHERE sender=? AND concat_ref=?"
                    f" AND parts_total=? AND received_at>=?{stamp} ORDER BY id DESC LIMIT 1",
                    (sender, ref, total, now - PART_WINDOW_S, *stamp_params),
                ).fetchone()
                parts = json.loads(row[1]) if row else {}
                if row is not None and parts.get(str(seq)) == text:
                    return int(row[0])  # read again (the modem kept it): stored once
                if row is not None and str(seq) not in parts:
                    parts[str(seq)] = text
                    conn.execute(
                        "UPDATE inbox SET parts_json=?, text=?, updated_at=? WHERE id=?",
                        (json.dumps(parts), _joined(parts, total), now, row[0]),
                    )
                    return int(row[0])
                parts = {str(seq): text}
                values = (_joined(parts, total), ref, total, json.dumps(parts))
            else:
                # The same SMS read again after a crash between storing and deleting it
                # (same sender, SMS-centre time stamp and text) is stored once; without
                # a time stamp, the same text from the same sender within the window.
                text_clean = _clean(text)
                since = 0.0 if sent_at is not None else now - PART_WINDOW_S
                same_stamp = "sent_at IS NULL" if sent_at is None else "sent_at=?"
                row = conn.execute(
                    f"SELECT id FROM inbox WHERE sender=? AND {same_stamp} AND text=?"
                    " AND parts_total=1 AND received_at>=?",
                    (sender, *(() if sent_at is None else (sent_at,)), text_clean, since),
                ).fetchone()
                if row is not None:
                    return int(row[0])
                values = (text_clean, None, 1, "{}")
            uid, name = self._who(conn, lookup_number or sender)
            row = conn.execute(
                "INSERT INTO inbox(received_at, updated_at, sender, sent_at, text, concat_ref,"
                " parts_total, parts_json, uid, name, modem) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
                " RETURNING id",
                (now, now, sender, sent_at, *values, uid, name, modem),
            ).fetchone()
            return int(row[0])

        message_id = self._write(fn)
        found = self.get_incoming(message_id)
        assert found is not None
        return found

    @staticmethod
    def _who(conn: Conn, number: str) -> tuple[str, str]:
        """The contact with this number, else the user last sent an SMS to it."""
        row = conn.execute(
            "SELECT uid, name FROM contacts WHERE number=? ORDER BY updated_at DESC LIMIT 1",
            (number,),
        ).fetchone()
        if row is None:
            row = conn.execute(
                "SELECT uid, name FROM jobs WHERE number=? AND sent_at IS NOT NULL"
                " ORDER BY sent_at DESC LIMIT 1",
                (number,),
            ).fetchone()
        return (row[0], row[1]) if row else ("", "")

    def get_incoming(self, message_id: int) -> IncomingSms | None:
        row = (
            self._reader()
            .execute(f"SELECT {_COLUMNS} FROM inbox WHERE id=?", (message_id,))
            .fetchone()
        )
        return _from_row(row) if row else None

    def list_incoming(self, *, limit: int = 100, offset: int = 0) -> list[IncomingSms]:
        rows = self._reader().execute(
            f"SELECT {_COLUMNS} FROM inbox ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset)
        )
        return [_from_row(r) for r in rows]

    def count_incoming(self) -> int:
        return int(self._reader().execute("SELECT COUNT(*) FROM inbox").fetchone()[0])

    def delete_incoming(self, ids: list[int]) -> int:
        def fn(conn: Conn) -> int:
            return sum(conn.execute("DELETE FROM inbox WHERE id=?", (i,)).rowcount for i in ids)

        return self._write(fn)

    def prune_incoming(self, before: float, *, batch: int = 500) -> int:
        """Remove replies received before a time (retention), in small transactions."""
        sql = (
            "DELETE FROM inbox WHERE id IN (SELECT id FROM inbox WHERE received_at < ?"
            " ORDER BY id LIMIT ?)"
        )
        return self._delete_in_batches(sql, (before,), batch)
