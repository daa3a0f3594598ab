"""The durable queue and the contacts directory, over SQLite (db.py: one PC, group
commit) or PostgreSQL (store_pg.py: the queue several PCs share)."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from gsmbridge.core.db import Database, StoreClosed, StoreConfigError, StoreUnavailable
from gsmbridge.core.models import (
    CANCELLABLE,
    NUMBER_EDITABLE,
    RETRYABLE,
    WENT_OUT,
    Contact,
    Job,
    JobEvent,
    NewJob,
    State,
)
from gsmbridge.core.schema import JOB_COLUMNS, MIGRATIONS, job_from_row
from gsmbridge.core.store_backend import Backend, Conn, SqlValue
from gsmbridge.core.store_inbox import InboxStore
from gsmbridge.core.store_nodes import NodesStore
from gsmbridge.core.store_sending import SendingStore
from gsmbridge.core.store_spool import Spool

__all__ = ["MIGRATIONS", "Store", "StoreClosed"]

log = logging.getLogger(__name__)

# A user's retry of a job that went out, or of one with a part reported not
# delivered, sends it again from part 1; a retry of another failed one resumes
# after the parts that were confirmed.
_FROM_START = (
    "(state IN ('sent','delivered') OR EXISTS (SELECT 1 FROM job_parts f"
    " WHERE f.job_id=jobs.id AND f.status='failed' AND f.seq<=jobs.parts_sent))"
)
_RESEND_IF_SENT = (
    f"parts_sent=CASE WHEN {_FROM_START} THEN 0 ELSE parts_sent END,"
    f" refs=CASE WHEN {_FROM_START} THEN '[]' ELSE refs END,"
    " delivered_refs='[]',"
    f" concat_ref=CASE WHEN {_FROM_START} THEN NULL ELSE concat_ref END"
)


_JOB_FIELDS = (
    "created_at, updated_at, state, uid, name, number, raw_number, text, payload, dedup_key,"
    " last_error, next_attempt_at, app_id, conversation, note"
)
_INSERT = (
    f"INSERT INTO jobs({_JOB_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " RETURNING id"
)
_INSERT_IF_NEW = (
    f"INSERT INTO jobs({_JOB_FIELDS}) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
    " WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE dedup_key=? AND created_at>=?) RETURNING id"
)

_FIRST_OF_KEY = "SELECT id, state FROM jobs WHERE dedup_key=? AND created_at>=? ORDER BY id LIMIT 1"


def is_shared_url(location: Path | str) -> bool:
    """A PostgreSQL URL (the shared store), not a SQLite file."""
    return str(location).startswith(("postgresql://", "postgres://"))


class Store(SendingStore, InboxStore, NodesStore):
    """Jobs, their history, contacts and received SMS.  Thread-safe.

    ``location``: a SQLite file (one PC) or a ``postgresql://`` URL (the store
    several PCs share; ``node`` names this PC in it, ``lease_s`` is how long its
    claims hold unrenewed).  ``spool``: with a shared store, the local SQLite file
    that takes notifications while the shared store is unreachable (then the store
    also opens while it is down, and says so in ``health()``).
    """

    DRAIN_S = 1.0  # how often the spool looks for the shared store while it waits

    def __init__(
        self,
        location: Path | str,
        *,
        clock: Callable[[], float] = time.time,
        max_batch: int = 256,
        node: str = "",
        lease_s: float = 60.0,
        spool: Path | None = None,
    ) -> None:
        backend: Backend
        self.spool: Spool | None = None
        self._drainer: threading.Thread | None = None
        self._drain_stop = threading.Event()
        if is_shared_url(location):
            try:
                from gsmbridge.core.store_pg import PgDatabase  # psycopg only when used
            except ImportError as exc:  # its libpq did not load (a broken install)
                raise StoreConfigError(
                    f"the PostgreSQL client does not load ({exc}); reinstall gsmbridge "
                    "(on Windows, its installer) or pip install 'psycopg[binary]'"
                ) from exc

            backend = PgDatabase(str(location), clock=clock, offline_ok=spool is not None)
            self.path: Path | None = None
            if spool is not None:
                self.spool = Spool(spool, clock=clock)
        else:
            backend = Database(location, MIGRATIONS, clock=clock, max_batch=max_batch)
            self.path = backend.path
        super().__init__(backend, node=node, lease_s=lease_s)
        if self.spool is not None:
            self._drainer = threading.Thread(target=self._drain_loop, name="spool", daemon=True)
            self._drainer.start()

    def health(self) -> dict[str, str | int | bool | float | None]:
        """Where the queue is and whether it can be reached (for /api/status, the window);
        on a shared store, how far this PC's clock is from the server's (seconds)."""
        down = self.backend.down
        skew = self.clock_skew_s
        return {
            "backend": self.dialect.name,
            "location": self.location,
            "node": self.node,
            "reachable": not down,
            "error": down,
            "spooled": self.spool.count() if self.spool is not None else 0,
            "clock_skew_s": round(skew, 1) if skew is not None else None,
        }

    def close(self, timeout: float = 10.0) -> None:
        self._drain_stop.set()
        if self._drainer is not None and self._drainer is not threading.current_thread():
            self._drainer.join(timeout)
        if self.spool is not None:
            self.spool.close()
        super().close(timeout)

    # -- the spool (a shared store out of reach) ---------------------------------

    def _drain_loop(self) -> None:
        while not self._drain_stop.wait(self.DRAIN_S):
            try:
                self.drain()
            except StoreClosed:
                continue  # down again, or closing
            except Exception:  # noqa: BLE001 - the spool must keep trying
                log.exception("moving the spool into the shared store failed; trying again")

    def _number_from_contacts(self, new: NewJob) -> NewJob:
        """A notification spooled without a number: the contacts could not be read
        then; they can now."""
        contact = self.get_contact(new.uid)
        if contact is None:
            return new
        return dataclasses.replace(new, number=contact.number, state=State.QUEUED, last_error="")

    def drain(self) -> int:
        """Move spooled notifications into the shared store once it answers; return
        how many moved.  Each leaves the spool only after the shared store committed it
        (a crash in between moves it twice; dedup keeps one)."""
        if self.spool is None or self.backend.down:
            return 0  # the backend tries the server meanwhile
        moved = 0
        while batch := self.spool.oldest(100):
            for row_id, received_at, window, new in batch:
                if new.state is State.NEEDS_NUMBER and not new.raw_number:
                    new = self._number_from_contacts(new)
                self._enqueue(new, window, received_at=received_at)
                self.spool.remove(row_id)
                moved += 1
        if moved:
            log.info("%d notification(s) moved from the local spool into the shared store", moved)
        return moved

    @property
    def location(self) -> str:
        """The SQLite file or the PostgreSQL URL without its password (for messages)."""
        return self.backend.location

    # -- intake ---------------------------------------------------------------

    def enqueue(self, new: NewJob, *, dedup_window_s: float = 600.0) -> tuple[int, State, bool]:
        """Store a notification durably; return (id, state, duplicate).

        A notification whose dedup key was seen within the window is not
        stored again: the first job's id and state are returned.  With a shared
        store out of reach, it goes to the local spool: the id is then the spool's,
        negative (no job has it yet).
        """
        if self.spool is None:
            return self._enqueue(new, dedup_window_s)
        if not self.backend.down:
            try:
                return self._enqueue(new, dedup_window_s)
            except StoreUnavailable:
                pass  # lost under this write: it goes to the spool
        spooled = self.spool.put(new, dedup_window_s)
        log.warning(
            "Webhook for %s kept in the local spool (%d waiting): the shared store is unreachable",
            new.uid,
            self.spool.count(),
        )
        return -spooled, new.state, False

    def _enqueue(
        self, new: NewJob, dedup_window_s: float, *, received_at: float | None = None
    ) -> tuple[int, State, bool]:
        now = self.clock() if received_at is None else received_at
        values: tuple[SqlValue, ...] = (
            now,
            now,
            new.state.value,
            new.uid,
            new.name,
            new.number,
            new.raw_number,
            new.text,
            # As received; else ASCII JSON, which survives lone surrogates
            new.payload_json or json.dumps(new.payload, separators=(",", ":")),
            new.dedup_key,
            new.last_error,
            now,
            new.app_id,
            new.conversation,
            # While a rate limit holds the queue, a new job says so from the start: no
            # write of its own later (under load, thousands at each send).
            self.waiting_note if new.state is State.QUEUED else "",
        )
        check = bool(new.dedup_key) and dedup_window_s > 0
        # One statement per webhook: the duplicate check rides in the INSERT.  Every
        # statement the committing thread runs gives up the GIL, and under load
        # each hand-back costs a context switch (measured: a separate SELECT cost
        # 15% of the intake throughput).
        sql, params = _INSERT, values
        if check:
            sql, params = _INSERT_IF_NEW, (*values, new.dedup_key, now - dedup_window_s)

        key_lock = self.dialect.key_lock if check else ""

        def fn(conn: Conn) -> tuple[int, State, bool]:
            if key_lock:  # another node taking the same notification waits for this one
                conn.execute(key_lock, (new.dedup_key,))
            inserted = conn.execute(sql, params).fetchone()
            if inserted is not None:
                if new.state is State.QUEUED:
                    self._jobs_due(conn)
                # No "received" event row: events() derives it from created_at.
                return int(inserted[0]), new.state, False
            row = conn.execute(_FIRST_OF_KEY, (new.dedup_key, now - dedup_window_s)).fetchone()
            self._event(conn, row[0], "duplicate", "the same notification arrived again")
            return row[0], State(row[1]), True

        return self._write(fn)

    # -- user actions -----------------------------------------------------------

    def retry(self, ids: Iterable[int], *, force: bool = False) -> list[int]:
        """Queue again now, with a fresh attempt budget; return the ids requeued.

        A job that already went out (sent, delivered) is sent again only with
        ``force``: a retry by mistake must not text someone twice.  needs-number
        jobs need a number, not a retry.
        """
        now = self.clock()
        allowed = RETRYABLE if force else tuple(s for s in RETRYABLE if s not in WENT_OUT)
        return self._update_ids(
            ids,
            allowed,
            "state=CASE WHEN number IS NULL THEN 'needs-number' ELSE 'queued' END,"
            " next_attempt_at=?, attempts=0, last_error='', note='', " + _RESEND_IF_SENT,
            (now,),
            "retry-requested",
            due=True,
        )

    def retry_all_failed(self) -> list[int]:
        ids = [r[0] for r in self._reader().execute("SELECT id FROM jobs WHERE state='failed'")]
        return self.retry(ids)

    def cancel(self, ids: Iterable[int]) -> list[int]:
        return self._update_ids(ids, CANCELLABLE, "state='cancelled'", (), "cancelled")

    def delete(self, ids: Iterable[int]) -> int:
        ids = list(ids)

        def fn(conn: Conn) -> int:
            n = 0
            for job_id in ids:
                row = conn.execute(
                    "SELECT state, merged_into FROM jobs WHERE id=?", (job_id,)
                ).fetchone()
                if row is None or row[0] == "sending":
                    continue  # the sender owns a job being sent until it returns
                if row[1] is not None:
                    self._restart_carrier(conn, row[1])
                # Jobs merged into this one go back to the queue on their own.
                conn.execute(
                    "UPDATE jobs SET merged_into=NULL, state=CASE WHEN state IN"
                    " ('delivered','sent','failed','cancelled') THEN state ELSE 'queued' END"
                    " WHERE merged_into=?",
                    (job_id,),
                )
                n += conn.execute("DELETE FROM jobs WHERE id=?", (job_id,)).rowcount
            return n

        return self._write(fn)

    def set_number(self, ids: Iterable[int], number: str) -> list[int]:
        """Give jobs a (normalised) number and queue the ones that were waiting for it."""
        now = self.clock()
        allowed = NUMBER_EDITABLE
        return self._update_ids(
            ids,
            allowed,
            "number=?, state='queued', next_attempt_at=?, attempts=0, last_error='', note='',"
            " parts_sent=0, refs='[]', delivered_refs='[]', concat_ref=NULL",
            (number, now),
            "number-set",
            number,
            release_members=True,
            due=True,
        )

    def prune(self, before: float, *, batch: int = 500) -> int:
        """Remove finished jobs (and their history) last changed before a time; return
        how many.  Jobs still to send are never removed, nor a job another one that
        stays still points at (coalescing).  In small transactions, oldest first, so
        webhooks never wait long behind a big clean-up."""
        old = "state IN ('delivered','sent','failed','cancelled') AND updated_at < ?"
        sql = (
            f"DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE {old} AND id NOT IN"
            f" (SELECT merged_into FROM jobs WHERE merged_into IS NOT NULL AND NOT ({old}))"
            " ORDER BY id LIMIT ?)"
        )  # job_events go with them (ON DELETE CASCADE)
        return self._delete_in_batches(sql, (before, before), batch)

    # -- reads ------------------------------------------------------------------

    def get(self, job_id: int) -> Job | None:
        if job_id <= 0:
            return None  # a notification still in the local spool is no job yet
        row = (
            self._reader()
            .execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id=?", (job_id,))
            .fetchone()
        )
        return job_from_row(row) if row else None

    def _where(
        self, states: Sequence[State | str] | None, search: str | None
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if states:
            clauses.append(f"state IN ({','.join('?' * len(states))})")
            params.extend(State(s).value for s in states)
        if search:
            pattern = f"%{search}%"
            like = self.dialect.ilike
            clauses.append(
                f"(text {like} ? OR uid {like} ? OR name {like} ? OR number {like} ?"
                f" OR last_error {like} ?)"
            )
            params.extend([pattern] * 5)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def list_jobs(
        self,
        *,
        states: Sequence[State | str] | None = None,
        search: str | None = None,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = True,
    ) -> list[Job]:
        where, params = self._where(states, search)
        order = "DESC" if newest_first else "ASC"
        rows = self._reader().execute(
            f"SELECT {JOB_COLUMNS} FROM jobs{where} ORDER BY id {order} LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [job_from_row(r) for r in rows]

    def count_jobs(
        self, *, states: Sequence[State | str] | None = None, search: str | None = None
    ) -> int:
        where, params = self._where(states, search)
        return self._reader().execute(f"SELECT COUNT(*) FROM jobs{where}", params).fetchone()[0]

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in State}
        for state, n in self._reader().execute("SELECT state, COUNT(*) FROM jobs GROUP BY state"):
            out[state] = int(n)
        return out

    def events(self, job_id: int) -> list[JobEvent]:
        """A job's history, starting with its arrival."""
        conn = self._reader()
        row = conn.execute("SELECT created_at FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            return []
        rows = conn.execute(
            "SELECT job_id, at, kind, detail FROM job_events WHERE job_id=? ORDER BY id",
            (job_id,),
        )
        return [JobEvent(job_id, row[0], "received", ""), *(JobEvent(*r) for r in rows)]

    # -- contacts -------------------------------------------------------------------

    def upsert_contact(self, contact: Contact) -> list[int]:
        """Save a contact; queue that uid's ``needs-number`` jobs with the number.

        Returns the ids of the released jobs.
        """

        def fn(conn: Conn) -> list[int]:
            now = self.clock()
            conn.execute(
                "INSERT INTO contacts(uid, number, name, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(uid) DO UPDATE SET number=excluded.number,"
                " name=CASE WHEN excluded.name != '' THEN excluded.name ELSE contacts.name END,"
                " updated_at=excluded.updated_at",
                (contact.uid, contact.number, contact.name, now),
            )
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM jobs WHERE uid=? AND state='needs-number'", (contact.uid,)
                )
            ]
            for job_id in ids:
                conn.execute(
                    "UPDATE jobs SET number=?, state='queued', next_attempt_at=?, last_error='',"
                    " updated_at=? WHERE id=?",
                    (contact.number, now, now, job_id),
                )
                self._event(conn, job_id, "number-set", f"from contacts: {contact.number}")
            if ids:
                self._jobs_due(conn)
            return ids

        return self._write(fn)

    def explain_needs_number(self, uid: str, reason: str) -> list[int]:
        """Record why a uid's waiting jobs still have no number."""

        def fn(conn: Conn) -> list[int]:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM jobs WHERE uid=? AND state='needs-number'", (uid,)
                )
            ]
            for job_id in ids:
                conn.execute(
                    "UPDATE jobs SET last_error=?, updated_at=? WHERE id=?",
                    (reason, self.clock(), job_id),
                )
            return ids

        return self._write(fn)

    def delete_contact(self, uid: str) -> bool:
        return bool(
            self._write(lambda c: c.execute("DELETE FROM contacts WHERE uid=?", (uid,)).rowcount)
        )

    def get_contact(self, uid: str) -> Contact | None:
        row = (
            self._reader()
            .execute("SELECT uid, number, name, updated_at FROM contacts WHERE uid=?", (uid,))
            .fetchone()
        )
        return Contact(*row) if row else None

    def contacts_version(self) -> tuple[int, float]:
        """(count, newest change) of the contacts: cheap to poll for another process's edits."""
        row = (
            self._reader()
            .execute("SELECT COUNT(*), COALESCE(MAX(updated_at), 0) FROM contacts")
            .fetchone()
        )
        return int(row[0]), float(row[1])

    def list_contacts(self) -> list[Contact]:
        rows = self._reader().execute(
            "SELECT uid, number, name, updated_at FROM contacts ORDER BY uid"
        )
        return [Contact(*r) for r in rows]
