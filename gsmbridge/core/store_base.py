"""What every repository of the store shares: its backend, job history and
merged-job bookkeeping."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from gsmbridge.core.models import State
from gsmbridge.core.store_backend import Backend, Conn, Dialect, SqlValue

T = TypeVar("T")


class StoreBase:
    """A repository over a backend (SQLite or PostgreSQL), with the helpers used
    inside write functions.  ``node``: this PC's name in a shared store; ``lease_s``:
    how long a claim holds without being renewed."""

    def __init__(self, backend: Backend, *, node: str = "", lease_s: float = 60.0) -> None:
        self.backend = backend
        self.node = node
        self.lease_s = lease_s

    @property
    def dialect(self) -> Dialect:
        return self.backend.dialect

    @property
    def clock(self) -> Callable[[], float]:
        return self.backend.clock

    def modem_key(self, modem_url: str) -> str:
        """A modem's identity in the store (jobs.modem, sent parts, its limits, the
        statistics and metrics): its port on one PC; in a shared store the node and the
        port (two PCs can both have a COM3, and a multi-port modem may give every port
        one IMEI)."""
        return f"{self.node}:{modem_url}" if self.dialect.shared and self.node else modem_url

    def _write(self, fn: Callable[[Conn], T]) -> T:
        """Run fn in a write transaction; return after it has committed."""
        return self.backend._write(fn)

    def _write_soon(self, fn: Callable[[Conn], object]) -> None:
        """Queue fn to commit before any later write, without waiting if the backend can."""
        self.backend._write_soon(fn)

    def _reader(self) -> Conn:
        return self.backend._reader()

    def schema_version(self) -> int:
        return self.backend.schema_version()

    def listen(self, on_jobs: Callable[[str], None]) -> None:
        """Shared store: ``on_jobs(node)`` when another node's write made jobs due
        (node "" while wake-ups are down and the store is polled instead)."""
        self.backend.listen(on_jobs)

    def _jobs_due(self, conn: Conn) -> None:
        """Inside a write that made jobs due: wake the other nodes' senders at commit."""
        if self.dialect.notify:
            conn.execute(self.dialect.notify, (self.node,))

    def close(self, timeout: float = 10.0) -> None:
        self.backend.close(timeout)

    def _delete_in_batches(self, sql: str, params: tuple[SqlValue, ...], batch: int) -> int:
        """Run a DELETE whose last parameter is a LIMIT, one transaction per batch, until
        fewer than ``batch`` rows go: webhooks never wait long behind a big clean-up."""
        total = 0
        while True:
            n = int(self._write(lambda c: c.execute(sql, (*params, batch)).rowcount))
            total += n
            if n < batch:
                return total

    def _event(self, conn: Conn, job_id: int, kind: str, detail: str = "") -> None:
        conn.execute(
            "INSERT INTO job_events(job_id, at, kind, detail) VALUES (?, ?, ?, ?)",
            (job_id, self.clock(), kind, detail),
        )

    def _follow(self, conn: Conn, primary_id: int) -> None:
        """Jobs merged into another (coalescing) take its state, times and error."""
        conn.execute(
            "UPDATE jobs SET (state, last_error, sent_at, delivered_at, updated_at, modem,"
            " attempts, next_attempt_at) = (SELECT state, last_error, sent_at, delivered_at,"
            " updated_at, modem, attempts, next_attempt_at FROM jobs WHERE id=?)"
            " WHERE merged_into=?",
            (primary_id, primary_id),
        )

    def _restart_carrier(self, conn: Conn, primary_id: int) -> None:
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
        due: bool = False,
    ) -> list[int]:
        """Update jobs whose state is allowed; return the ids that changed.

        ``release_members``: jobs merged into a changed job leave its group and
        are queued on their own (a new number must not carry them along).
        """
        ids = list(ids)
        allowed_values = [s.value for s in allowed]

        def fn(conn: Conn) -> list[int]:
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
            if changed and due:
                self._jobs_due(conn)
            return changed

        return self._write(fn)
