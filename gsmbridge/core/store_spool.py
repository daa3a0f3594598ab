"""The local spool: notifications taken while the shared store is unreachable.

CometChat does not send a webhook again, so a node that cannot reach PostgreSQL
still answers 200, but only once the notification is on its own disk: a small
SQLite file in the data directory (the same durable group commit as the
single-PC queue).  The store moves it into the shared store as soon as that is
back, oldest first; dedup applies then, against the time it was received.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from gsmbridge.core.db import Database
from gsmbridge.core.models import NewJob, State

SPOOL_NAME = "spool.db"

SPOOL_MIGRATIONS: list[str] = [
    """
    CREATE TABLE spool (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        received_at REAL NOT NULL,
        dedup_window_s REAL NOT NULL,
        job TEXT NOT NULL
    )
    """,
]


class Spool:
    """Notifications waiting for the shared store, durable on this PC."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.db = Database(path, SPOOL_MIGRATIONS, clock=clock)
        self.clock = clock

    def put(self, new: NewJob, dedup_window_s: float) -> int:
        fields = asdict(new)
        fields["state"] = new.state.value
        record = json.dumps(fields, separators=(",", ":"))
        row_id = self.db._write(
            lambda c: c.execute(
                "INSERT INTO spool(received_at, dedup_window_s, job) VALUES (?, ?, ?) RETURNING id",
                (self.clock(), dedup_window_s, record),
            ).fetchone()[0]
        )
        return int(row_id)

    def count(self) -> int:
        return int(self.db._reader().execute("SELECT COUNT(*) FROM spool").fetchone()[0])

    def oldest(self, limit: int = 100) -> list[tuple[int, float, float, NewJob]]:
        """(id, received at, dedup window, job) of the oldest waiting notifications."""
        rows = self.db._reader().execute(
            "SELECT id, received_at, dedup_window_s, job FROM spool ORDER BY id LIMIT ?", (limit,)
        )
        out = []
        for row_id, received_at, window, record in rows:
            fields = json.loads(record)
            fields["state"] = State(fields["state"])
            out.append((int(row_id), float(received_at), float(window), NewJob(**fields)))
        return out

    def remove(self, row_id: int) -> None:
        self.db._write(lambda c: c.execute("DELETE FROM spool WHERE id=?", (row_id,)))

    def close(self) -> None:
        self.db.close()
