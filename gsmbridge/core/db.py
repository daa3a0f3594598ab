"""The SQLite file underneath the store: durable writes by group commit.

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

import logging
import queue
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


class Database:
    """One SQLite file: a writer thread for durable writes, a connection per reader thread."""

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
        self._writes: queue.SimpleQueue[tuple[Callable[[sqlite3.Connection], Any], _Result] | None]
        self._writes = queue.SimpleQueue()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        # Closing and queueing a write exclude each other, so no write can land
        # behind the writer's stop sentinel (its caller would wait forever).
        self._put_lock = threading.Lock()
        ready = _Result()
        self._writer = threading.Thread(
            target=self._writer_main, args=(ready,), name="store-writer", daemon=True
        )
        self._writer.start()
        ready.result()  # re-raises a failure to open or migrate

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
        result = _Result()
        with self._put_lock:
            if self._closed:
                raise StoreClosed("the queue database is closed")
            self._writes.put((fn, result))
        return result.result()  # type: ignore[no-any-return]

    def _write_soon(self, fn: Callable[[sqlite3.Connection], Any]) -> None:
        """Queue fn without waiting: it commits with the next batch (FIFO, before
        any later write), so a later synchronous write also makes it durable."""
        with self._put_lock:
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
        with self._put_lock:
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
