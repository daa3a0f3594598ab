"""The SQLite file underneath the store: durable writes by group commit.

Durability: WAL journal with ``synchronous=FULL``, so a transaction that has
committed survives ``kill -9`` and a power cut.  Writes are batched into one
transaction (group commit): 32 webhooks arriving together cost one fsync, not
32, and a caller returns only after the commit that holds its write.  The
batches are made leader/follower style in the callers' own threads (see
_submit); reads use a connection per thread, which WAL lets run beside writes.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from gsmbridge.core.private import log_tightened, private_dir, private_file, tighten_existing
from gsmbridge.core.store_backend import SQLITE, Dialect, Row, row_type

log = logging.getLogger(__name__)
T = TypeVar("T")


def log_migrated(what: str, where: object, before: int, after: int) -> None:
    """One line for a new database or an upgrade (not one per migration step)."""
    if after == before:
        return
    if before == 0:
        log.info("%s created at %s (schema version %d)", what.capitalize(), where, after)
    else:
        log.info("%s %s upgraded from schema version %d to %d", what, where, before, after)


LOCK_NOTE_S = 0.5  # a write that waited this long for the lock is remembered (lock_waited)
BUSY_TIMEOUT_S = 30.0  # how long a write waits for another program's lock, then fails


def is_locked(exc: BaseException) -> bool:
    """The error of a write that gave up waiting for another connection's lock."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.OperationalError) and (
        (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
        if isinstance(code, int)
        else "locked" in str(exc)
    )


class StoreClosed(RuntimeError):
    pass


class StoreUnavailable(StoreClosed):
    """The shared store cannot be reached now (down, network): it may come back.
    A StoreClosed, so every reader that copes with a closed queue copes with this."""


class StoreConfigError(RuntimeError):
    """The shared store refuses this node (credentials, database, schema): the node
    must not start until a person fixes it.  The message is one line naming the problem."""


def _row(cursor: sqlite3.Cursor, values: tuple[object, ...]) -> Row:
    """Rows read by column name as well as by position (see store_backend.Row)."""
    return row_type(tuple(d[0] for d in cursor.description))(values)


class _Write:
    """One write waiting for its commit.

    ``wake`` is a bare lock, held from creation, released when the write has
    committed (or failed) or when its thread is asked to lead the next batch.
    A bare lock, not a Future: Future's Condition cost about 15% of the
    webhook throughput, and nothing here needs callbacks.
    """

    __slots__ = ("fn", "waits", "thread", "value", "error", "done", "wake")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any], *, waits: bool) -> None:
        self.fn = fn
        self.waits = waits
        self.thread = threading.get_ident()
        self.value: Any = None
        self.error: BaseException | None = None
        self.done = False
        self.wake = threading.Lock()
        self.wake.acquire()

    def finish(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value, self.error, self.done = value, error, True
        self.wake.release()


class Database:
    """The SQLite backend: one file, durable writes by group commit, a connection per
    reader thread."""

    dialect: Dialect = SQLITE

    def __init__(
        self,
        path: Path | str,
        migrations: list[str],
        *,
        clock: Callable[[], float] = time.time,
        max_batch: int = 256,
        busy_timeout: float | None = None,
    ) -> None:
        self.path = Path(path)
        # Seconds a write waits for another program's lock (BUSY_TIMEOUT_S unless given).
        self.busy_timeout = BUSY_TIMEOUT_S if busy_timeout is None else busy_timeout
        # Numbers and texts: private before SQLite creates anything (its -wal and
        # -shm take the database file's mode).
        tightened = private_dir(self.path.parent) + private_file(self.path)
        wal, shm = (self.path.with_name(self.path.name + end) for end in ("-wal", "-shm"))
        log_tightened(tightened + tighten_existing(wal, shm))
        self.clock = clock
        self._migrations = migrations
        self._max_batch = max_batch
        self._local = threading.local()
        # Each thread's read connection, with its thread: close() may close only those
        # nobody can be using (see close).
        self._readers: dict[int, tuple[threading.Thread, sqlite3.Connection]] = {}
        self._readers_lock = threading.Lock()
        # _mutex guards _pending, _leader and _closed; the write connection is
        # used only by the thread that leads (one at a time).
        self._mutex = threading.Lock()
        self._pending: list[_Write] = []
        # The thread that commits now (None: idle); only it uses the write connection.
        self._leader: int | None = None
        self._batch: list[_Write] = []  # the leader's batch under way
        self._batch_results: list[Any] | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._close_when_idle = False
        self._closed = False
        self._conn = self._connect()
        try:
            self._migrate(self._conn)
        except BaseException:
            self._conn.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=self.busy_timeout
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.row_factory = _row
        return conn

    def listen(self, on_jobs: Callable[[str], None]) -> None:
        """One PC: nobody else makes jobs due (the Bridge wakes its sender itself)."""

    # A file on this PC is never "unreachable" (a full disk is an error of its own).
    down = ""
    # The last write that waited for another program's lock: (monotonic end, seconds).
    lock_waited: tuple[float, float] = (-float("inf"), 0.0)

    def lock_wait_since(self, since: float) -> float:
        """How long a write waited for another connection's lock (a database browser, a
        backup) if that wait ended at or after ``since`` (monotonic); else 0."""
        ended, waited = self.lock_waited
        return waited if ended >= since else 0.0

    def probe(self) -> bool:
        return True

    def schema_version(self) -> int:
        return int(self._reader().execute("PRAGMA user_version").fetchone()[0])

    @property
    def location(self) -> str:
        """Where the queue is, for messages."""
        return str(self.path)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(self._migrations):
            raise RuntimeError(
                f"database {self.path} is schema version {version}, newer than this "
                f"gsmbridge understands ({len(self._migrations)}); upgrade gsmbridge"
            )
        for number in range(version, len(self._migrations)):
            conn.execute("BEGIN IMMEDIATE")
            for statement in self._migrations[number].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={number + 1}")
            conn.execute("COMMIT")
        log_migrated("database", self.path, version, len(self._migrations))

    # -- group commit -------------------------------------------------------------
    #
    # Leader/follower: a writer that finds nobody committing commits itself, at
    # once, in its own thread; writers that arrive meanwhile wait, and the first
    # of them then commits all of them in one transaction (one fsync).  Alone, a
    # write costs no thread hand-off; under load, batches form while the leader
    # is inside fsync (sqlite3 releases the GIL there).  Measured with
    # tests/perf/bench_webhook.py: about 8% more webhooks a second than a
    # dedicated writer thread, whose hand-off cost two thread switches a write.

    def _submit(self, fn: Callable[[sqlite3.Connection], Any], *, wait: bool) -> _Write:
        write = _Write(fn, waits=wait)
        try:
            with self._mutex:
                if self._closed:
                    raise StoreClosed("the queue database is closed")
                self._pending.append(write)
                lead = self._leader is None
                if lead:
                    self._leader = write.thread
                    self._idle.clear()
            if lead:
                self._lead(write)
            elif wait:
                write.wake.acquire()  # committed, or asked to lead (then _leader is us)
                if not write.done:
                    self._lead(write)
        except BaseException:  # KeyboardInterrupt while waiting or leading
            self._recover(write)
            raise
        return write

    def _lead(self, mine: _Write) -> None:
        """Commit batches until mine is done, then leave the lead (_release_lead)."""
        while True:
            with self._mutex:
                if mine.done:
                    break
                self._batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
            self._run_batch(self._conn, self._batch)
        self._release_lead()

    def _release_lead(self) -> None:
        """Hand the lead to a waiting writer; else commit what was queued without
        waiting (_write_soon: nobody else would); else go idle.  A no-op in a
        thread that does not lead (so that recovering twice is harmless)."""
        me = threading.get_ident()
        while True:
            with self._mutex:
                if self._leader != me:
                    return
                self._batch = []
                successor = next((w for w in self._pending if w.waits), None)
                if successor is not None:
                    self._leader = successor.thread
                    successor.wake.release()  # its thread leads from here
                    return
                if not self._pending:
                    self._leader = None
                    if self._close_when_idle:
                        self._conn.close()
                    self._idle.set()
                    return
                self._batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
            self._run_batch(self._conn, self._batch)

    def _recover(self, write: _Write) -> None:
        """An exception (Ctrl-C) hit a writer's thread: take its write back if still
        queued; if the thread leads, settle the batch under way and pass the lead on."""
        with self._mutex:
            if write in self._pending:
                self._pending.remove(write)
                write.error, write.done = StoreClosed("the write was interrupted"), True
            leading = self._leader == threading.get_ident()
        if not leading:
            return  # its write, if in a batch under way, is finished by that leader
        batch, self._batch = self._batch, []
        results, self._batch_results = self._batch_results, None
        if self._conn.in_transaction:
            self._rollback(self._conn)
            results = None
        for n, queued in enumerate(batch):
            if queued.done:
                continue
            if results is not None and len(results) == len(batch):
                queued.finish(results[n])  # interrupted after COMMIT: it is on disk
            else:
                queued.finish(error=StoreClosed("the write was interrupted"))
        self._release_lead()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Write]) -> None:
        """One transaction for the whole batch; when a write fails, redo each alone.

        The happy path has no savepoints (they cost two statements a write).  After
        a failure the batch is rolled back and every write runs in its own
        transaction, so the others still commit and the bad one gets its error.
        """
        self._batch_results = None
        began = time.monotonic()
        try:
            conn.execute("BEGIN IMMEDIATE")
            if (waited := time.monotonic() - began) >= LOCK_NOTE_S:
                self.lock_waited = (began + waited, waited)  # why a webhook was slow
            results = [write.fn(conn) for write in batch]
            self._batch_results = results  # for _recover, should COMMIT be interrupted
            conn.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - handed to the caller(s)
            self._batch_results = None
            locked = is_locked(exc)
            if locked:  # gave up waiting: why the webhook was lost, and slow
                ended = time.monotonic()
                self.lock_waited = (ended, ended - began)
            self._rollback(conn)
            # Another program's lock fails every write alike: redone one by one, each
            # would wait for it again (4 webhooks took 6 times the timeout to be told).
            if len(batch) == 1 or locked:
                for write in batch:
                    if not write.waits:  # nobody will see the error: log it
                        log.error("A queued database write failed: %r", exc)
                    write.finish(error=exc)
            else:
                for write in batch:
                    self._run_batch(conn, [write])
            return
        for value, write in zip(results, batch, strict=True):
            write.finish(value)

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn in a write transaction; return after it has committed."""
        write = self._submit(fn, wait=True)
        if write.error is not None:
            raise write.error
        return write.value  # type: ignore[no-any-return]

    def _write_soon(self, fn: Callable[[sqlite3.Connection], Any]) -> None:
        """Queue fn without waiting when a commit is under way: it commits with the
        next batch, before any later write.  With none under way it commits now."""
        self._submit(fn, wait=False)

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if self._closed:
            if conn is not None:  # closed by its own thread, never under a running query
                self._local.conn = None
                with self._readers_lock:
                    self._readers.pop(threading.get_ident(), None)
                conn.close()
            raise StoreClosed("the queue database is closed")
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._readers_lock:
                ended = [i for i, (thread, _) in self._readers.items() if not thread.is_alive()]
                gone = [self._readers.pop(i)[1] for i in ended]
                self._readers[threading.get_ident()] = (threading.current_thread(), conn)
            for old in gone:  # threads that ended: nobody reads through these any more
                old.close()
        return conn

    def close(self, timeout: float = 10.0) -> None:
        with self._mutex:
            if self._closed:
                return
            self._closed = True  # no new writes; those pending are still committed
        if not self._idle.wait(timeout):
            with self._mutex:
                if self._leader is not None:  # the last leader closes the connection
                    self._close_when_idle = True
                    log.warning("a database write is still under way; closing after it")
        # A read connection another thread may be using is left to that thread: closing
        # it under a running query crashes the process (SQLite frees the statement the
        # other thread is stepping).  That thread closes it at its next read, which
        # raises StoreClosed, or it goes when the thread ends.
        with self._readers_lock:
            mine = threading.get_ident()
            idle = [
                conn
                for ident, (thread, conn) in self._readers.items()
                if ident == mine or not thread.is_alive()
            ]
            self._readers.clear()
        if getattr(self._local, "conn", None) is not None:
            self._local.conn = None
        for conn in idle if self._close_when_idle else [self._conn, *idle]:
            try:
                conn.close()
            except sqlite3.Error:
                pass
