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

log = logging.getLogger(__name__)
T = TypeVar("T")


class StoreClosed(RuntimeError):
    pass


class _Write:
    """One write waiting for its commit.

    ``wake`` is a bare lock, held from creation, released when the write has
    committed (or failed) or when its thread is asked to lead the next batch.
    A bare lock, not a Future: Future's Condition cost about 15% of the
    webhook throughput, and nothing here needs callbacks.
    """

    __slots__ = ("fn", "waits", "value", "error", "done", "wake")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any], *, waits: bool) -> None:
        self.fn = fn
        self.waits = waits
        self.value: Any = None
        self.error: BaseException | None = None
        self.done = False
        self.wake = threading.Lock()
        self.wake.acquire()

    def finish(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value, self.error, self.done = value, error, True
        self.wake.release()


class Database:
    """One SQLite file: durable writes by group commit, a connection per reader thread."""

    def __init__(
        self,
        path: Path | str,
        migrations: list[str],
        *,
        clock: Callable[[], float] = time.time,
        max_batch: int = 256,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._migrations = migrations
        self._max_batch = max_batch
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        # _mutex guards _pending, _leading and _closed; the write connection is
        # used only by the thread that leads (one at a time).
        self._mutex = threading.Lock()
        self._pending: list[_Write] = []
        self._leading = False
        self._idle = threading.Event()
        self._idle.set()
        self._closed = False
        self._conn = self._connect()
        try:
            self._migrate(self._conn)
        except BaseException:
            self._conn.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

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
            log.info("database schema upgraded to version %d", number + 1)

    # -- group commit -------------------------------------------------------------
    #
    # Leader/follower: a writer that finds nobody committing commits itself, at
    # once, in its own thread; writers that arrive meanwhile wait, and the first
    # of them then commits all of them in one transaction (one fsync).  Alone, a
    # write costs no thread hand-off; under load, batches form while the leader
    # is inside fsync (sqlite3 releases the GIL there).  Measured against a
    # dedicated writer thread: see tests/perf/bench_webhook.py.

    def _submit(self, fn: Callable[[sqlite3.Connection], Any], *, wait: bool) -> _Write:
        write = _Write(fn, waits=wait)
        with self._mutex:
            if self._closed:
                raise StoreClosed("the queue database is closed")
            self._pending.append(write)
            lead = not self._leading
            if lead:
                self._leading = True
                self._idle.clear()
        if lead:
            self._lead(write)
        elif wait:
            write.wake.acquire()  # committed, or asked to lead
            if not write.done:
                self._lead(write)
        return write

    def _lead(self, mine: _Write) -> None:
        """Commit batches until mine is done, then hand the lead to a waiting writer.

        Writes queued without waiting (_write_soon) have nobody to hand the lead
        to, so the leader commits them too when only they are left.
        """
        while True:
            with self._mutex:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
            escaped = True
            try:
                self._run_batch(self._conn, batch)
                escaped = False
            finally:
                handed_over = self._after_batch(batch, mine, escaped)
            if handed_over:
                return

    def _after_batch(self, batch: list[_Write], mine: _Write, escaped: bool) -> bool:
        """Give up the lead when mine is done (or on an escape); True when given up."""
        if escaped:  # such as KeyboardInterrupt in the middle of a batch
            if self._conn.in_transaction:
                self._rollback(self._conn)
            for write in batch:
                if not write.done:
                    write.finish(error=StoreClosed("the write was interrupted"))
        with self._mutex:
            if not (mine.done or escaped):
                return False
            successor = next((w for w in self._pending if w.waits), None)
            if successor is not None:
                successor.wake.release()  # its thread leads from here
                return True
            if self._pending and not escaped:
                return False  # only writes queued without waiting: commit them too
            for write in self._pending:  # nobody waits for these
                write.finish(error=StoreClosed("the write was interrupted"))
            self._pending.clear()
            self._leading = False
            self._idle.set()
            return True

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Write]) -> None:
        """One transaction for the whole batch; when a write fails, redo each alone.

        The happy path has no savepoints (they cost two statements a write).  After
        a failure the batch is rolled back and every write runs in its own
        transaction, so the others still commit and the bad one gets its error.
        """
        try:
            conn.execute("BEGIN IMMEDIATE")
            results = [write.fn(conn) for write in batch]
            conn.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - handed to the caller(s)
            self._rollback(conn)
            if len(batch) == 1:
                batch[0].finish(error=exc)
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
        with self._mutex:
            if self._closed:
                return
            self._closed = True  # no new writes; those pending are still committed
        self._idle.wait(timeout=10)
        with self._readers_lock:
            for conn in [self._conn, *self._readers]:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._readers.clear()
