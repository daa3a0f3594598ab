"""What every part of the store shares: job history and merged-job bookkeeping."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from gsmbridge.core.db import Database
from gsmbridge.core.models import State


class StoreBase(Database):
    """Helpers used inside write functions."""

    def _delete_in_batches(self, sql: str, params: tuple[Any, ...], batch: int) -> int:
        """Run a DELETE whose last parameter is a LIMIT, one transaction per batch, until
        fewer than ``batch`` rows go: webhooks never wait long behind a big clean-up."""
        total = 0
        while True:
            n = int(self._write(lambda c: c.execute(sql, (*params, batch)).rowcount))
            total += n
            if n < batch:
                return total

    def _event(self, conn: sqlite3.Connection, job_id: int, kind: str, detail: str = "") -> None:
        conn.execute(
            "INSERT INTO job_events(job_id, at, kind, detail) VALUES (?, ?, ?, ?)",
            (job_id, self.clock(), kind, detail),
        )

    def _follow(self, conn: sqlite3.Connection, primary_id: int) -> None:
        """Jobs merged into another (coalescing) take its state, times and error."""
        conn.execute(
            "UPDATE jobs SET (state, last_error, sent_at, delivered_at, updated_at, modem,"
            " attempts, next_attempt_at) = (SELECT state, last_error, sent_at, delivered_at,"
            " updated_at, modem, attempts, next_attempt_at FROM jobs WHERE id=?)"
            " WHERE merged_into=?",
            (primary_id, primary_id),
        )

    def _restart_carrier(self, conn: sqlite3.Connection, primary_id: int) -> None:
        """A job left its carrier's group, so the carrier's text changed: a partly
        sent carrier starts again at part 1 (its parts would not join up)."""
        conn.execute(
            "UPDATE jobs SET parts_sent=0, refs='[]', delivered_refs='[]', concat_ref=NULL"
            " WHERE id=? AND parts_sent>0 AND state NOT IN ('sent','delivered')",
            (primary_id,),
        )

    def _update_ids(
        self,
        ids: Iterable[int],
        allowed: Sequence[State],
        sets: str,
        params: Sequence[Any],
        kind: str,
        detail: str = "",
        *,
        release_members: bool = False,
    ) -> list[int]:
        """Update jobs whose state is allowed; return the ids that changed.

        ``release_members``: jobs merged into a changed job leave its group and
        are queued on their own (a new number must not carry them along).
        """
        ids = list(ids)
        allowed_values = [s.value for s in allowed]

        def fn(conn: sqlite3.Connection) -> list[int]:
            changed = []
            marks = ",".join("?" * len(allowed_values))
            for job_id in ids:
                row = conn.execute("SELECT merged_into FROM jobs WHERE id=?", (job_id,)).fetchone()
                # A person acting on a merged job takes it out of its group.
                cur = conn.execute(
                    f"UPDATE jobs SET {sets}, merged_into=NULL, updated_at=?"
                    f" WHERE id=? AND state IN ({marks})",
                    (*params, self.clock(), job_id, *allowed_values),
                )
                if cur.rowcount:
                    if row and row[0] is not None:
                        self._restart_carrier(conn, row[0])
                    if release_members:
                        conn.execute(
                            "UPDATE jobs SET merged_into=NULL, note='', state='queued',"
                            " next_attempt_at=? WHERE merged_into=?",
                            (self.clock(), job_id),
                        )
                    self._event(conn, job_id, kind, detail)
                    self._follow(conn, job_id)
                    changed.append(job_id)
            return changed

        return self._write(fn)
