"""The durable queue and the contacts directory, in one SQLite file.

Durability: WAL journal with ``synchronous=FULL``, so a transaction that has
committed survives ``kill -9`` and a power cut.  Every write goes through one
writer thread that batches whatever writes are waiting into one transaction
(group commit): 32 webhooks arriving together cost one fsync, not 32, and a
caller is answered only after the commit that holds its write.  (Measured: a
writer thread beats "flat combining" under a shared lock, where every commit
holds all other request threads.)  Reads use a connection per thread; WAL lets
them run beside the writer.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from gsmbridge.core.models import (
    CANCELLABLE,
    RETRYABLE,
    Contact,
    Job,
    JobEvent,
    NewJob,
    State,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# Each entry moves the schema from version i to i+1; never edit a shipped one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        state TEXT NOT NULL,
        uid TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        number TEXT,
        raw_number TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL,
        payload TEXT NOT NULL,
        dedup_key TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT '',
        modem TEXT NOT NULL DEFAULT '',
        concat_ref INTEGER,
        parts_total INTEGER NOT NULL DEFAULT 0,
        parts_sent INTEGER NOT NULL DEFAULT 0,
        refs TEXT NOT NULL DEFAULT '[]',
        sent_at REAL,
        delivered_at REAL,
        app_id TEXT NOT NULL DEFAULT '',
        conversation TEXT NOT NULL DEFAULT '',
        merged_into INTEGER REFERENCES jobs(id)
    );
    CREATE INDEX jobs_due ON jobs(state, next_attempt_at);
    CREATE INDEX jobs_dedup ON jobs(dedup_key, created_at);
    CREATE INDEX jobs_uid ON jobs(uid, state);
    CREATE TABLE job_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX job_events_job ON job_events(job_id);
    CREATE TABLE contacts (
        uid TEXT PRIMARY KEY,
        number TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        updated_at REAL NOT NULL
    );
    """,
    # 2: per-part delivery reports, and indexes for the rate limits.
    """
    ALTER TABLE jobs ADD COLUMN delivered_refs TEXT NOT NULL DEFAULT '[]';
    CREATE INDEX jobs_sent_modem ON jobs(modem, sent_at);
    CREATE INDEX jobs_sent_number ON jobs(number, sent_at);
    """,
    # 3: coalesced jobs point at the job that carries them.
    """
    CREATE INDEX jobs_merged ON jobs(merged_into);
    """,
]

# A user's retry of a job that went out sends it again from part 1; a retry of a
# failed one resumes after the parts that were confirmed.
_RESEND_IF_SENT = (
    "parts_sent=CASE WHEN state IN ('sent','delivered') THEN 0 ELSE parts_sent END,"
    " refs=CASE WHEN state IN ('sent','delivered') THEN '[]' ELSE refs END,"
    " delivered_refs='[]',"
    " concat_ref=CASE WHEN state IN ('sent','delivered') THEN NULL ELSE concat_ref END"
)

JOB_COLUMNS = (
    "id, created_at, updated_at, state, uid, name, number, raw_number, text, attempts,"
    " next_attempt_at, last_error, note, modem, concat_ref, parts_total, parts_sent, refs,"
    " sent_at, delivered_at, app_id, conversation, merged_into, payload"
)


def _job(row: Sequence[Any]) -> Job:
    return Job(
        id=row[0],
        created_at=row[1],
        updated_at=row[2],
        state=State(row[3]),
        uid=row[4],
        name=row[5],
        number=row[6],
        raw_number=row[7],
        text=row[8],
        attempts=row[9],
        next_attempt_at=row[10],
        last_error=row[11],
        note=row[12],
        modem=row[13],
        concat_ref=row[14],
        parts_total=row[15],
        parts_sent=row[16],
        references=json.loads(row[17]),
        sent_at=row[18],
        delivered_at=row[19],
        app_id=row[20],
        conversation=row[21],
        merged_into=row[22],
        payload_json=row[23],
    )


class StoreClosed(RuntimeError):
    pass


class _Result:
    """A one-shot result handed from the writer thread to a waiting caller.

    A bare lock instead of concurrent.futures.Future: Future's Condition cost
    about 15% of the webhook throughput, and nothing here needs callbacks.
    """

    __slots__ = ("_done", "_value", "_error")

    def __init__(self) -> None:
        self._done = threading.Lock()
        self._done.acquire()
        self._value: Any = None
        self._error: BaseException | None = None

    def set_result(self, value: Any) -> None:
        self._value = value
        self._done.release()

    def set_exception(self, error: BaseException) -> None:
        self._error = error
        self._done.release()

    def result(self) -> Any:
        self._done.acquire()
        self._done.release()  # result() may be asked again
        if self._error is not None:
            raise self._error
        return self._value


class Store:
    """Jobs, their history, and contacts.  Thread-safe; one instance per file."""

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Callable[[], float] = time.time,
        max_batch: int = 256,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._max_batch = max_batch
        self._writes: queue.SimpleQueue[tuple[Callable[[sqlite3.Connection], Any], _Result] | None]
        self._writes = queue.SimpleQueue()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        ready = _Result()
        self._writer = threading.Thread(
            target=self._writer_main, args=(ready,), name="store-writer", daemon=True
        )
        self._writer.start()
        ready.result()  # re-raises a failure to open or migrate

    # -- connections and the writer -------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"database {self.path} is schema version {version}, newer than this "
                f"gsmbridge understands ({len(MIGRATIONS)}); upgrade gsmbridge"
            )
        for number in range(version, len(MIGRATIONS)):
            conn.execute("BEGIN IMMEDIATE")
            for statement in MIGRATIONS[number].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={number + 1}")
            conn.execute("COMMIT")
            log.info("database schema upgraded to version %d", number + 1)

    def _writer_main(self, ready: _Result) -> None:
        try:
            conn = self._connect()
            self._migrate(conn)
        except Exception as exc:  # noqa: BLE001 - handed to the constructor
            ready.set_exception(exc)
            return
        ready.set_result(None)
        stop = False
        while not stop:
            item = self._writes.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < self._max_batch:
                try:
                    more = self._writes.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._run_batch(conn, batch)
        conn.close()

    def _run_batch(
        self,
        conn: sqlite3.Connection,
        batch: list[tuple[Callable[[sqlite3.Connection], Any], _Result]],
    ) -> None:
        """One transaction for the whole batch; when a write fails, redo each alone.

        The happy path has no savepoints (they cost two statements a write).  After
        a failure the batch is rolled back and every write runs in its own
        transaction, so the others still commit and the bad one gets its error.
        """
        try:
            conn.execute("BEGIN IMMEDIATE")
            results = [fn(conn) for fn, _ in batch]
            conn.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - handed to the caller(s)
            self._rollback(conn)
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
            else:
                for item in batch:
                    self._run_batch(conn, [item])
            return
        for value, (_, future) in zip(results, batch, strict=True):
            future.set_result(value)

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn in the writer's transaction; return after it has committed."""
        if self._closed:
            raise StoreClosed("the queue database is closed")
        result = _Result()
        self._writes.put((fn, result))
        return result.result()  # type: ignore[no-any-return]

    def _write_soon(self, fn: Callable[[sqlite3.Connection], Any]) -> None:
        """Queue fn without waiting: it commits with the next batch (FIFO, before
        any later write), so a later synchronous write also makes it durable."""
        if self._closed:
            raise StoreClosed("the queue database is closed")
        self._writes.put((fn, _Result()))

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise StoreClosed("the queue database is closed")
            conn = self._connect()
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writes.put(None)  # after the writes already queued
        self._writer.join(timeout=10)
        with self._readers_lock:
            for conn in self._readers:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._readers.clear()

    # -- helpers used inside write functions ---------------------------------

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

    def _update_ids(
        self,
        ids: Iterable[int],
        allowed: Sequence[State],
        sets: str,
        params: Sequence[Any],
        kind: str,
        detail: str = "",
    ) -> list[int]:
        """Update jobs whose state is allowed; return the ids that changed."""
        ids = list(ids)
        allowed_values = [s.value for s in allowed]

        def fn(conn: sqlite3.Connection) -> list[int]:
            changed = []
            marks = ",".join("?" * len(allowed_values))
            for job_id in ids:
                # A person acting on a merged job takes it out of its group.
                cur = conn.execute(
                    f"UPDATE jobs SET {sets}, merged_into=NULL, updated_at=?"
                    f" WHERE id=? AND state IN ({marks})",
                    (*params, self.clock(), job_id, *allowed_values),
                )
                if cur.rowcount:
                    self._event(conn, job_id, kind, detail)
                    self._follow(conn, job_id)
                    changed.append(job_id)
            return changed

        return self._write(fn)

    # -- intake ---------------------------------------------------------------

    def enqueue(self, new: NewJob, *, dedup_window_s: float = 600.0) -> tuple[int, State, bool]:
        """Store a notification durably; return (id, state, duplicate).

        A notification whose dedup key was seen within the window is not
        stored again: the first job's id and state are returned.
        """

        def fn(conn: sqlite3.Connection) -> tuple[int, State, bool]:
            now = self.clock()
            if new.dedup_key and dedup_window_s > 0:
                row = conn.execute(
                    "SELECT id, state FROM jobs WHERE dedup_key=? AND created_at>=?"
                    " ORDER BY id LIMIT 1",
                    (new.dedup_key, now - dedup_window_s),
                ).fetchone()
                if row:
                    self._event(conn, row[0], "duplicate", "the same notification arrived again")
                    return row[0], State(row[1]), True
            cur = conn.execute(
                "INSERT INTO jobs(created_at, updated_at, state, uid, name, number, raw_number,"
                " text, payload, dedup_key, last_error, next_attempt_at, app_id, conversation)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    now,
                    now,
                    new.state.value,
                    new.uid,
                    new.name,
                    new.number,
                    new.raw_number,
                    new.text,
                    # ASCII JSON: survives lone surrogates that UTF-8 cannot hold
                    json.dumps(new.payload, separators=(",", ":")),
                    new.dedup_key,
                    new.last_error,
                    now,
                    new.app_id,
                    new.conversation,
                ),
            )
            # No "received" event row: events() derives it from created_at (one
            # insert less on the webhook's path).
            return int(cur.lastrowid or 0), new.state, False

        return self._write(fn)

    # -- the sender's side ------------------------------------------------------

    def claim_next(self, *, modem: str = "", now: float | None = None) -> Job | None:
        """Atomically move the next due queued job to ``sending`` and return it."""

        def fn(conn: sqlite3.Connection) -> Job | None:
            at = self.clock() if now is None else now
            row = conn.execute(
                f"UPDATE jobs SET state='sending', modem=?, updated_at=? WHERE id = ("
                " SELECT id FROM jobs WHERE state='queued' AND next_attempt_at<=?"
                " AND merged_into IS NULL ORDER BY next_attempt_at, id LIMIT 1)"
                f" RETURNING {JOB_COLUMNS}",
                (modem, at, at),
            ).fetchone()
            return _job(row) if row else None

        return self._write(fn)

    def next_due_at(self) -> float | None:
        row = (
            self._reader()
            .execute(
                "SELECT MIN(next_attempt_at) FROM jobs WHERE state='queued' AND merged_into IS NULL"
            )
            .fetchone()
        )
        return row[0]

    def record_part(
        self, job_id: int, seq: int, reference: int, concat_ref: int, *, wait: bool = True
    ) -> None:
        """Persist one sent part, so a retry resumes after it instead of resending it.

        ``wait=False`` saves a commit on the sending path: the record is queued
        ahead of every later write (the next part's, the job's "sent"), so only a
        crash in between can lose it, which the crash policy already covers.
        """

        def fn(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT refs FROM jobs WHERE id=?", (job_id,)).fetchone()
            refs = json.loads(row[0]) if row else []
            refs.append(reference)
            conn.execute(
                "UPDATE jobs SET parts_sent=?, refs=?, concat_ref=?, updated_at=? WHERE id=?",
                (seq, json.dumps(refs), concat_ref, self.clock(), job_id),
            )
            self._event(conn, job_id, "part-sent", f"part {seq}, reference {reference}")

        if wait:
            self._write(fn)
        else:
            self._write_soon(fn)

    def mark_sent(self, job_id: int, *, parts_total: int, detail: str = "") -> None:
        def fn(conn: sqlite3.Connection) -> None:
            now = self.clock()
            conn.execute(
                "UPDATE jobs SET state='sent', attempts=attempts+1, sent_at=?, updated_at=?,"
                " parts_total=?, last_error='', note='' WHERE id=?",
                (now, now, parts_total, job_id),
            )
            self._event(conn, job_id, "sent", detail)
            self._follow(conn, job_id)

        self._write(fn)

    def hold(self, job_id: int, until: float, note: str) -> None:
        """Back to ``queued`` until ``until`` without using an attempt (a rate limit)."""

        def fn(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE jobs SET state='queued', next_attempt_at=?, note=?, updated_at=?"
                " WHERE id=?",
                (until, note, self.clock(), job_id),
            )
            self._follow(conn, job_id)

        self._write(fn)

    def annotate_waiting(self, note: str, *, prefix: str = "waiting:") -> int:
        """Set (or, with "", clear) a note on due queued jobs: why they are not going out."""

        def fn(conn: sqlite3.Connection) -> int:
            if note:
                return conn.execute(
                    "UPDATE jobs SET note=? WHERE state='queued' AND next_attempt_at<=?"
                    " AND note!=?",
                    (note, self.clock(), note),
                ).rowcount
            return conn.execute(
                "UPDATE jobs SET note='' WHERE state='queued' AND note LIKE ?", (prefix + "%",)
            ).rowcount

        return self._write(fn)

    def _sent_stat(self, expr: str, since: float, modem: str | None, number: str | None) -> Any:
        sql = f"SELECT {expr} FROM jobs WHERE sent_at>=?"
        params: list[Any] = [since]
        for column, value in (("modem", modem), ("number", number)):
            if value is not None:
                sql += f" AND {column}=?"
                params.append(value)
        return self._reader().execute(sql, params).fetchone()[0]

    def sent_count(
        self, *, since: float, modem: str | None = None, number: str | None = None
    ) -> int:
        """Messages sent since a time, by one modem or to one number (for rate limits)."""
        return int(self._sent_stat("COUNT(*)", since, modem, number))

    def oldest_sent_at(
        self, *, since: float, modem: str | None = None, number: str | None = None
    ) -> float | None:
        return self._sent_stat("MIN(sent_at)", since, modem, number)

    def record_report(
        self,
        modem: str,
        reference: int,
        recipient_digits: str,
        *,
        delivered: bool,
        detail: str,
        within_s: float = 3 * 86400,
    ) -> tuple[int, str] | None:
        """Apply a delivery report to the newest sent job with that part reference.

        A job becomes ``delivered`` when every part is reported delivered, and
        ``failed`` as soon as one part finally fails.  Returns (job id, new state)
        or None when no job matches (reports for unknown references are logged).
        """

        def fn(conn: sqlite3.Connection) -> tuple[int, str] | None:
            now = self.clock()
            rows = conn.execute(
                "SELECT id, refs, delivered_refs, number FROM jobs WHERE state='sent' AND modem=?"
                " AND sent_at>=? ORDER BY id DESC",
                (modem, now - within_s),
            ).fetchall()
            for job_id, refs_json, delivered_json, number in rows:
                refs = json.loads(refs_json)
                digits = (number or "").lstrip("+")
                if reference not in refs or (recipient_digits and digits != recipient_digits):
                    continue
                if not delivered:
                    conn.execute(
                        "UPDATE jobs SET state='failed', last_error=?, updated_at=? WHERE id=?",
                        (f"not delivered: {detail}", now, job_id),
                    )
                    self._event(conn, job_id, "report", f"part {reference}: {detail}")
                    self._follow(conn, job_id)
                    return job_id, State.FAILED.value
                done = json.loads(delivered_json)
                if reference not in done:
                    done.append(reference)
                complete = all(r in done for r in refs)
                conn.execute(
                    "UPDATE jobs SET delivered_refs=?, state=?, delivered_at=?, updated_at=?"
                    " WHERE id=?",
                    (
                        json.dumps(done),
                        State.DELIVERED.value if complete else State.SENT.value,
                        now if complete else None,
                        now,
                        job_id,
                    ),
                )
                self._event(conn, job_id, "report", f"reference {reference}: {detail}")
                self._follow(conn, job_id)
                return job_id, State.DELIVERED.value if complete else State.SENT.value
            return None

        return self._write(fn)

    def schedule_retry(
        self, job_id: int, error: str, next_attempt_at: float, *, count_attempt: bool = True
    ) -> None:
        """Back to ``queued`` for a later try; ``count_attempt=False`` when the modem was down."""

        def fn(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE jobs SET state='queued', attempts=attempts+?, next_attempt_at=?,"
                " last_error=?, updated_at=? WHERE id=?",
                (1 if count_attempt else 0, next_attempt_at, error, self.clock(), job_id),
            )
            self._event(conn, job_id, "retry" if count_attempt else "paused", error)
            self._follow(conn, job_id)

        self._write(fn)

    def mark_failed(self, job_id: int, error: str, *, count_attempt: bool = True) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE jobs SET state='failed', attempts=attempts+?, last_error=?, updated_at=?"
                " WHERE id=?",
                (1 if count_attempt else 0, error, self.clock(), job_id),
            )
            self._event(conn, job_id, "failed", error)
            self._follow(conn, job_id)

        self._write(fn)

    def set_note(self, job_id: int, note: str) -> None:
        """A visible reason a queued job waits (a rate limit, the modem being down)."""

        def fn(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE jobs SET note=? WHERE id=?", (note, job_id))

        self._write(fn)

    def recover_interrupted(self, policy: str = "resend") -> list[int]:
        """Jobs left ``sending`` by a crash: they may or may not have gone out.

        ``resend`` queues them again (at-least-once: the recipient may get a
        duplicate); ``fail`` marks them failed for a person to decide.  Parts
        confirmed before the crash are never resent either way.
        """

        def fn(conn: sqlite3.Connection) -> list[int]:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM jobs WHERE state='sending' AND merged_into IS NULL"
                )
            ]
            now = self.clock()
            for job_id in ids:
                if policy == "fail":
                    conn.execute(
                        "UPDATE jobs SET state='failed', updated_at=?, last_error=? WHERE id=?",
                        (now, "interrupted while sending; it may have been sent", job_id),
                    )
                else:
                    conn.execute(
                        "UPDATE jobs SET state='queued', next_attempt_at=?, updated_at=?,"
                        " note=? WHERE id=?",
                        (now, now, "interrupted while sending; sending again", job_id),
                    )
                self._event(conn, job_id, "recovered", f"found sending at start ({policy})")
                self._follow(conn, job_id)
            return ids

        return self._write(fn)

    def merge_waiting(self, primary: Job, window_s: float) -> list[int]:
        """Coalescing: attach the recipient's other waiting jobs to ``primary``.

        Only jobs queued, due, unmerged and created within the window join, and
        only while nothing of the primary has been sent (its text must not change
        between parts).  Returns the ids that joined.
        """

        def fn(conn: sqlite3.Connection) -> list[int]:
            now = self.clock()
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM jobs WHERE state='queued' AND number=? AND id!=?"
                    " AND merged_into IS NULL AND next_attempt_at<=? AND created_at>=?"
                    " AND parts_sent=0 ORDER BY id",
                    (primary.number, primary.id, now, now - window_s),
                )
            ]
            for job_id in ids:
                conn.execute(
                    "UPDATE jobs SET merged_into=?, note=? WHERE id=?",
                    (primary.id, f"merged into job {primary.id}", job_id),
                )
                self._event(conn, job_id, "merged", f"into job {primary.id}")
            if ids:
                self._event(conn, primary.id, "merged", f"with jobs {', '.join(map(str, ids))}")
                self._follow(conn, primary.id)
            return ids

        if primary.parts_sent:
            return []
        return self._write(fn)

    def merged_texts(self, primary_id: int) -> list[str]:
        rows = self._reader().execute(
            "SELECT text FROM jobs WHERE merged_into=? ORDER BY id", (primary_id,)
        )
        return [r[0] for r in rows]

    # -- user actions -----------------------------------------------------------

    def retry(self, ids: Iterable[int]) -> list[int]:
        """Queue again now, with a fresh attempt budget.  needs-number jobs need a number."""
        now = self.clock()
        return self._update_ids(
            ids,
            RETRYABLE,
            "state=CASE WHEN number IS NULL THEN 'needs-number' ELSE 'queued' END,"
            " next_attempt_at=?, attempts=0, last_error='', note='', " + _RESEND_IF_SENT,
            (now,),
            "retry-requested",
        )

    def retry_all_failed(self) -> list[int]:
        ids = [r[0] for r in self._reader().execute("SELECT id FROM jobs WHERE state='failed'")]
        return self.retry(ids)

    def cancel(self, ids: Iterable[int]) -> list[int]:
        return self._update_ids(ids, CANCELLABLE, "state='cancelled'", (), "cancelled")

    def delete(self, ids: Iterable[int]) -> int:
        ids = list(ids)

        def fn(conn: sqlite3.Connection) -> int:
            n = 0
            for job_id in ids:
                row = conn.execute("SELECT state FROM jobs WHERE id=?", (job_id,)).fetchone()
                if row is None or row[0] == "sending":
                    continue  # the sender owns a job being sent until it returns
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
        allowed = (State.NEEDS_NUMBER, State.QUEUED, State.FAILED, State.CANCELLED)
        return self._update_ids(
            ids,
            allowed,
            "number=?, state='queued', next_attempt_at=?, attempts=0, last_error='', note='',"
            " parts_sent=0, refs='[]', delivered_refs='[]', concat_ref=NULL",
            (number, now),
            "number-set",
            number,
        )

    # -- reads ------------------------------------------------------------------

    def get(self, job_id: int) -> Job | None:
        row = (
            self._reader()
            .execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id=?", (job_id,))
            .fetchone()
        )
        return _job(row) if row else None

    @staticmethod
    def _where(states: Sequence[State | str] | None, search: str | None) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if states:
            clauses.append(f"state IN ({','.join('?' * len(states))})")
            params.extend(State(s).value for s in states)
        if search:
            pattern = f"%{search}%"
            clauses.append(
                "(text LIKE ? OR uid LIKE ? OR name LIKE ? OR number LIKE ? OR last_error LIKE ?)"
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
        return [_job(r) for r in rows]

    def count_jobs(
        self, *, states: Sequence[State | str] | None = None, search: str | None = None
    ) -> int:
        where, params = self._where(states, search)
        return self._reader().execute(f"SELECT COUNT(*) FROM jobs{where}", params).fetchone()[0]

    def counts_since(self, since: float) -> dict[str, int]:
        """Jobs sent, delivered and failed since a time (the status bar's "today")."""
        row = (
            self._reader()
            .execute(
                "SELECT"
                " COALESCE(SUM(sent_at >= ?), 0),"
                " COALESCE(SUM(state='delivered' AND delivered_at >= ?), 0),"
                " COALESCE(SUM(state='failed' AND updated_at >= ?), 0)"
                " FROM jobs WHERE updated_at >= ?",
                (since, since, since, since),
            )
            .fetchone()
        )
        return {"sent": row[0], "delivered": row[1], "failed": row[2]}

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in State}
        for state, n in self._reader().execute("SELECT state, COUNT(*) FROM jobs GROUP BY state"):
            out[state] = n
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

        def fn(conn: sqlite3.Connection) -> list[int]:
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
            return ids

        return self._write(fn)

    def explain_needs_number(self, uid: str, reason: str) -> list[int]:
        """Record why a uid's waiting jobs still have no number."""

        def fn(conn: sqlite3.Connection) -> list[int]:
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

    def list_contacts(self) -> list[Contact]:
        rows = self._reader().execute(
            "SELECT uid, number, name, updated_at FROM contacts ORDER BY uid"
        )
        return [Contact(*r) for r in rows]
