"""The seam between the store's repositories and the database that holds them.

A backend runs write functions in a durable transaction and hands out a reader;
both speak the same small connection interface (``execute(sql, params)`` with
``?`` placeholders, rows readable by column name or position), so the
repositories' SQL is written once.  What the two databases spell differently
lives in a ``Dialect``.  Backends: SQLite (db.py, one PC, group commit) and
PostgreSQL (store_pg.py, several PCs sharing one queue).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

# Values a query takes and returns: numbers, texts, None.
SqlValue = int | float | str | bytes | None


class Row(tuple[Any, ...]):
    """A result row: a tuple (equal to one) whose values are also read by column name."""

    _index: dict[str, int] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)


_ROW_TYPES: dict[tuple[str, ...], type[Row]] = {}


def row_type(names: tuple[str, ...]) -> type[Row]:
    """The Row class for one set of column names (made once, then shared)."""
    cls = _ROW_TYPES.get(names)
    if cls is None:
        cls = type("Row", (Row,), {"_index": {n: i for i, n in enumerate(names)}})
        _ROW_TYPES[names] = cls
    return cls


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """What a repository's SQL runs on: a write transaction or a reader."""

    def execute(self, sql: str, params: Sequence[SqlValue] = (), /) -> Cursor: ...


@dataclass(frozen=True)
class Dialect:
    """What the repositories' SQL spells differently on each database."""

    name: str
    # Case-insensitive LIKE (SQLite's LIKE already is, for ASCII).
    ilike: str
    # Appended to the claim's sub-select: rows another node is claiming are skipped.
    skip_locked: str
    # Null-safe comparison of a column with a parameter.
    is_distinct: str
    # Serialises the writers of one key until commit (dedup across nodes); "": not needed.
    key_lock: str
    # Tells the other nodes that jobs became due (at commit); "": nobody to tell.
    notify: str
    # Several nodes: claims carry a lease that other nodes may take over.
    shared: bool
    # The database server's clock in epoch seconds, as "now"; "": no other clock to compare.
    server_clock: str = ""


# One writer at a time (group commit): nothing to lock.
SQLITE = Dialect(
    name="sqlite",
    ilike="LIKE",
    skip_locked="",
    is_distinct="IS NOT",
    key_lock="",
    notify="",
    shared=False,
)
POSTGRESQL = Dialect(
    name="postgresql",
    ilike="ILIKE",
    skip_locked=" FOR UPDATE SKIP LOCKED",
    is_distinct="IS DISTINCT FROM",
    key_lock="SELECT pg_advisory_xact_lock(hashtext(?))",
    notify="SELECT pg_notify('gsmbridge_jobs', ?)",
    shared=True,
    server_clock="SELECT EXTRACT(EPOCH FROM clock_timestamp()) AS now",
)


class Backend(Protocol):
    """A database the store's repositories run on."""

    dialect: Dialect
    clock: Callable[[], float]

    @property
    def location(self) -> str: ...

    def _write(self, fn: Callable[[Conn], T]) -> T: ...

    def _write_soon(self, fn: Callable[[Conn], object]) -> None: ...

    def _reader(self) -> Conn: ...

    def schema_version(self) -> int: ...

    def listen(self, on_jobs: Callable[[str], None]) -> None: ...

    @property
    def down(self) -> str: ...

    def probe(self) -> bool: ...

    def close(self, timeout: float = 10.0) -> None: ...
