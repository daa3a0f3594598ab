"""The PostgreSQL backend: the queue several PCs share (psycopg 3 and its pool).

Every write function runs in its own transaction on a pooled connection (PostgreSQL
commits durably and lets many writers in at once: no group commit of our own);
reads run in autocommit on whichever connection is free.  The repositories' SQL
uses ``?`` placeholders, turned into psycopg's ``%s`` here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import errors
from psycopg.rows import RowMaker
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from gsmbridge.core.db import StoreClosed, StoreConfigError, StoreUnavailable, log_migrated
from gsmbridge.core.schema import PG_MIGRATIONS
from gsmbridge.core.store_backend import POSTGRESQL, Dialect, Row, SqlValue, row_type

log = logging.getLogger(__name__)
T = TypeVar("T")

# Any constant: one node at a time upgrades the schema.
_MIGRATION_LOCK = 0x67736D62  # "gsmb"
# NOTIFY channel: a job became due (payload: the node whose write made it due).
JOBS_CHANNEL = "gsmbridge_jobs"
# While the listening connection is down: wake this often anyway (polling), and try
# to listen again.
POLL_S = 2.0
# Conflicts PostgreSQL resolves by rolling one transaction back: safe to run it again.
_RETRY = (errors.DeadlockDetected, errors.SerializationFailure)


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def _rows(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    names = tuple(c.name for c in cursor.description or ())
    return row_type(names)


class _Conn:
    """A psycopg connection speaking the repositories' ``?`` placeholders."""

    __slots__ = ("_conn",)

    def __init__(self, conn: psycopg.Connection[Row]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[SqlValue] = (), /) -> psycopg.Cursor[Row]:
        if params:
            return self._conn.execute(_pg_sql(sql), params)
        return self._conn.execute(sql)


class _Result:
    """A read's rows, fetched before its connection went back to the pool."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self._rows, self.rowcount = rows, rowcount

    def fetchone(self) -> Row | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Row]:
        return self._rows

    def __iter__(self) -> Iterator[Row]:
        return iter(self._rows)


class _Reader:
    __slots__ = ("_db",)

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def execute(self, sql: str, params: Sequence[SqlValue] = (), /) -> _Result:
        try:
            with self._db._connection() as conn:
                cur = _Conn(conn).execute(sql, params)
                return _Result(cur.fetchall() if cur.description else [], cur.rowcount)
        except PoolClosed as exc:
            raise StoreClosed("the queue database is closed") from exc
        except PoolTimeout as exc:
            lost = StoreUnavailable(f"the shared store {self._db.location} is unreachable: {exc}")
            self._db._mark_down(lost)
            raise lost from exc
        except psycopg.OperationalError as exc:
            error = classify(exc, self._db.location)
            if isinstance(error, StoreUnavailable):
                self._db._mark_down(error)
            raise error from exc


def classify(exc: psycopg.Error, location: str) -> RuntimeError:
    """A connection failure: the user's to fix (StoreConfigError) or passing (StoreUnavailable)."""
    text = " ".join(str(exc).split())
    # libpq's "connection to server at ... failed: FATAL:  <reason>": the reason is the news.
    reason = text.rsplit("FATAL:", 1)[-1].strip() if "FATAL:" in text else text
    reason = reason or type(exc).__name__
    sqlstate = getattr(exc, "sqlstate", None) or ""
    if (
        sqlstate in ("28P01", "28000")
        or "password authentication failed" in text
        or "no password supplied" in text
        or ("role" in text and "does not exist" in text)
        or "no pg_hba.conf entry" in text
    ):
        return StoreConfigError(f"the shared store {location} refused the credentials: {reason}")
    if sqlstate == "3D000" or ("database" in text and "does not exist" in text):
        return StoreConfigError(f"the shared store {location} has no such database: {reason}")
    return StoreUnavailable(f"the shared store {location} is unreachable: {reason}")


class PgDatabase:
    """The PostgreSQL backend.  At start: StoreConfigError when the store refuses this
    node; when it is unreachable, StoreUnavailable, or with ``offline_ok`` a backend
    that is down until ``probe()`` finds the server.  While down, every use fails at
    once with StoreUnavailable (no wait for a pool timeout per webhook)."""

    dialect: Dialect = POSTGRESQL

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] = time.time,
        migrations: list[str] = PG_MIGRATIONS,
        max_size: int = 8,
        connect_timeout: float = 5.0,
        offline_ok: bool = False,
    ) -> None:
        self.url = url
        self.location = redact(url)
        self.clock = clock
        self._migrations = migrations
        self._closed = False
        self._listener: threading.Thread | None = None
        self._listen_stop = threading.Event()
        self._listen_conn: psycopg.Connection[Any] | None = None
        self._connect_timeout = connect_timeout
        self._down = ""  # why the store cannot be reached now ("": it can)
        self._down_lock = threading.Lock()
        self._migrated = False
        self._prober: threading.Thread | None = None
        try:
            self._connect_and_migrate()
        except StoreUnavailable as exc:
            if not offline_ok:
                raise
            self._down = str(exc)
            self._start_prober()
        self._pool: ConnectionPool[psycopg.Connection[Row]] = ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            kwargs={"autocommit": True, "row_factory": _rows},
            # No check on each use: a connection the server dropped fails its statement at
            # once, the store is marked down (webhooks spooled), and probe() renews the pool.
            timeout=connect_timeout * 2,
            open=False,
            name="gsmbridge-store",
        )
        if not self._down:
            self._pool.open(wait=True, timeout=connect_timeout * 2)

    def _connect_and_migrate(self) -> None:
        try:
            timeout = max(int(self._connect_timeout), 1)
            with psycopg.connect(self.url, autocommit=True, connect_timeout=timeout) as conn:
                if not self._migrated:
                    self._migrate(conn)
                    self._migrated = True
        except psycopg.Error as exc:
            raise classify(exc, self.location) from exc

    @property
    def down(self) -> str:
        """Why the store cannot be reached now; "" while it can."""
        return self._down

    def _mark_down(self, exc: StoreUnavailable) -> None:
        with self._down_lock:
            if not self._down:
                log.warning("%s", exc)
            self._down = str(exc)
            self._start_prober()

    def _start_prober(self) -> None:
        """One thread tries the server every POLL_S while the store is down."""
        if self._prober is not None and self._prober.is_alive():
            return
        self._prober = threading.Thread(target=self._probe_loop, name="store probe", daemon=True)
        self._prober.start()

    def _probe_loop(self) -> None:
        while not self._listen_stop.wait(POLL_S):
            if self._closed or self.probe():
                return

    def probe(self) -> bool:
        """While down: try the server again; True once it answers (the pool reopens)."""
        if not self._down:
            return True
        if self._closed:
            return False
        try:
            self._connect_and_migrate()
            if self._pool.closed:
                self._pool.open(wait=True, timeout=self._connect_timeout * 2)
            else:
                self._pool.check()  # drop the connections the outage broke
        except (StoreUnavailable, PoolTimeout, psycopg.Error):
            return False
        with self._down_lock:
            self._down = ""
        log.info("The shared store %s is reachable again", self.location)
        return True

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS gsmbridge_schema (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM gsmbridge_schema").fetchone()
            if row is None:
                conn.execute("INSERT INTO gsmbridge_schema VALUES (0)")
            version = int(row[0]) if row else 0
            if version > len(self._migrations):
                raise StoreConfigError(
                    f"the shared store {self.location} is schema version {version}, newer than"
                    f" this gsmbridge understands ({len(self._migrations)}); upgrade gsmbridge"
                )
            for number in range(version, len(self._migrations)):
                for statement in self._migrations[number].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("UPDATE gsmbridge_schema SET version=%s", (number + 1,))
            log_migrated("shared store", self.location, version, len(self._migrations))

    def _connection(self) -> Any:
        if self._closed:
            raise StoreClosed("the queue database is closed")
        if self._down:
            raise StoreUnavailable(self._down)
        return self._pool.connection()

    def _write(self, fn: Callable[[Any], T]) -> T:
        """Run fn in one transaction; return after it has committed."""
        for attempt in range(5):
            try:
                with self._connection() as conn, conn.transaction():
                    return fn(_Conn(conn))
            except _RETRY:
                if attempt == 4:
                    raise
                time.sleep(0.01 * (attempt + 1))
            except PoolClosed as exc:
                raise StoreClosed("the queue database is closed") from exc
            except PoolTimeout as exc:
                lost = StoreUnavailable(f"the shared store {self.location} is unreachable: {exc}")
                self._mark_down(lost)
                raise lost from exc
            except psycopg.OperationalError as exc:
                error = classify(exc, self.location)
                if isinstance(error, StoreUnavailable):
                    self._mark_down(error)
                raise error from exc
        raise AssertionError("unreachable")

    def _write_soon(self, fn: Callable[[Any], object]) -> None:
        """Committed now (before any later write); a failure is logged, as nobody waits,
        except the store being unreachable, which the caller is told."""
        try:
            self._write(fn)
        except StoreUnavailable:
            raise  # the caller keeps it until the store answers (Sender._settle)
        except Exception as exc:  # noqa: BLE001 - nobody would see it otherwise
            log.error("A queued database write failed: %r", exc)

    def _reader(self) -> _Reader:
        if self._closed:
            raise StoreClosed("the queue database is closed")
        return _Reader(self)

    def schema_version(self) -> int:
        row = self._reader().execute("SELECT version FROM gsmbridge_schema").fetchone()
        return int(row[0]) if row else 0

    # -- wake-ups: LISTEN/NOTIFY, polling while it is down -----------------------------

    def listen(self, on_jobs: Callable[[str], None]) -> None:
        """Call ``on_jobs(node)`` when a node's write makes jobs due (NOTIFY, sent at its
        commit); while the listening connection is down, every POLL_S with node "".
        One listener per backend; stopped by close()."""
        if self._listener is not None:
            return
        self._listen_stop.clear()
        self._listener = threading.Thread(
            target=self._listen, args=(on_jobs,), name="store listen", daemon=True
        )
        self._listener.start()

    def _listen(self, on_jobs: Callable[[str], None]) -> None:
        down_since: float | None = None
        while not self._listen_stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                    self._listen_conn = conn
                    conn.execute(f"LISTEN {JOBS_CHANNEL}")
                    if down_since is not None:
                        log.info("Wake-ups from the shared store work again")
                        down_since = None
                        on_jobs("")  # what was missed meanwhile
                    while not self._listen_stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            on_jobs(note.payload)
            except psycopg.Error as exc:
                if self._listen_stop.is_set():
                    break
                if down_since is None:
                    down_since = time.monotonic()
                    log.warning(
                        "Wake-ups from the shared store lost (%s); polling every %.0f s",
                        " ".join(str(exc).split()) or type(exc).__name__,
                        POLL_S,
                    )
                on_jobs("")
                self._listen_stop.wait(POLL_S)
            finally:
                self._listen_conn = None

    def close(self, timeout: float = 10.0) -> None:
        if self._closed:
            return
        self._closed = True
        self._listen_stop.set()
        if self._listener is not None:
            self._listener.join(timeout)
        self._pool.close(timeout)
