"""``gsmbridge store check`` and ``gsmbridge store copy --to postgresql://...``.

``check`` says whether the configured store (``store.url``, or this PC's SQLite
queue) can be reached and at which schema version.  ``copy`` moves a single PC's
queue into an empty shared store, when an office adds a second PC: every job with
its history and sent parts, the contacts, the received SMS with their posting into
CometChat, and the opt-out list; ids kept.
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gsmbridge.cli.common import data_dir_from_args, fail
from gsmbridge.config import Settings
from gsmbridge.core.db import StoreClosed, StoreConfigError, StoreUnavailable
from gsmbridge.core.schema import MIGRATIONS, PG_MIGRATIONS
from gsmbridge.core.store import Store, is_shared_url

if TYPE_CHECKING:
    import psycopg

DB_NAME = "gsmbridge.db"  # as service.DB_NAME (the cli stays below the service)
# Tables copied, parents first (job_events and job_parts point at jobs, reply_posts at
# inbox).  The opt-out list above all: a number that said STOP must stay off.
COPY_ORDER = (
    "jobs",
    "job_events",
    "job_parts",
    "contacts",
    "inbox",
    "reply_posts",
    "opt_outs",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    store = subparsers.add_parser(
        "store",
        help="the queue's store: check it, copy a PC's queue into a shared one",
        description="The queue's store: this PC's SQLite file (store.url empty) or the "
        "PostgreSQL database several PCs share (store.url, GSMBRIDGE_STORE_URL, --store).",
    )
    actions = store.add_subparsers(
        dest="store_command", metavar="ACTION", title="actions", required=True
    )
    check = actions.add_parser(
        "check", help="is the configured store reachable, at which schema version"
    )
    check.set_defaults(func=cmd_check)
    copy = actions.add_parser(
        "copy",
        help="copy this PC's queue into an empty shared store",
        description="Copies this PC's SQLite queue (jobs with their history, contacts, "
        "received SMS; ids kept) into an empty PostgreSQL store.  Stop gsmbridge first: "
        "what it takes meanwhile would not be copied.",
    )
    copy.add_argument("--to", required=True, metavar="URL", help="postgresql://user:pw@host/db")
    copy.add_argument(
        "--from",
        dest="source",
        type=Path,
        default=None,
        help="the SQLite queue to copy (default: gsmbridge.db in the data directory)",
    )
    copy.set_defaults(func=cmd_copy)


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    url = settings.store.url
    location: str | Path = url or data_dir_from_args(args) / DB_NAME
    if not url and not Path(location).exists():
        return fail(f"no queue yet at {location} (gsmbridge creates it when it starts)", 1)
    try:
        store = Store(location)
    except (StoreConfigError, StoreUnavailable) as exc:
        return fail(str(exc), 1)
    except (OSError, sqlite3.Error, RuntimeError) as exc:
        return fail(f"cannot open the queue {location}: {exc}", 1)
    try:
        known = len(PG_MIGRATIONS if is_shared_url(location) else MIGRATIONS)
        version = store.schema_version()
        jobs = store.count_jobs()
        kind = "shared store" if url else "queue"
        print(
            f"{kind} {store.location}: reachable, schema version {version} "
            f"(this gsmbridge: {known}), {jobs} job(s)"
        )
        if url:
            print(f"client: {pg_client()}")
    except StoreClosed as exc:
        return fail(str(exc), 1)
    finally:
        store.close()
    return 0


def pg_client() -> str:
    """psycopg's version, implementation and libpq, e.g. "psycopg 3.3.9 (binary), libpq
    18.6": a bundle must use "binary" (its own libpq), which installer/check_bundle.py
    checks here."""
    import psycopg  # only for a shared store
    from psycopg.pq.misc import version_pretty

    libpq = version_pretty(psycopg.pq.version())
    return f"psycopg {psycopg.__version__} ({psycopg.pq.__impl__}), libpq {libpq}"


def cmd_copy(args: argparse.Namespace) -> int:
    target_url: str = args.to
    if not is_shared_url(target_url):
        return fail("--to must be a postgresql:// URL", 2)
    source = args.source or data_dir_from_args(args) / DB_NAME
    if not Path(source).is_file():
        return fail(f"no queue to copy at {source}", 1)
    try:
        Store(source).close()  # brings an older queue to today's schema first
        target = Store(target_url)  # creates the shared schema when the database is new
    except (StoreConfigError, StoreUnavailable) as exc:
        return fail(str(exc), 1)
    except (OSError, sqlite3.Error, RuntimeError) as exc:
        return fail(f"cannot open {source}: {exc}", 1)
    location = target.location
    try:
        if target.count_jobs() or target.list_contacts() or target.count_incoming():
            return fail(f"{location} is not empty: copy only into a new shared store", 1)
    finally:
        target.close()
    try:
        counts = copy_queue(Path(source), target_url)
    except sqlite3.Error as exc:
        return fail(f"cannot read {source}: {exc}", 1)
    except Exception as exc:  # noqa: BLE001 - psycopg's errors: one line, nothing half-copied
        return fail(f"copy into {location} failed, nothing copied: {exc}", 1)
    print(
        f"copied into {location}: {counts['jobs']} job(s) with {counts['job_events']} history "
        f"event(s) and {counts['job_parts']} sent part(s), {counts['contacts']} contact(s), "
        f"{counts['inbox']} received SMS ({counts['reply_posts']} posted into CometChat),"
        f" {counts['opt_outs']} opted-out number(s)"
    )
    return 0


def copy_queue(source: Path, target_url: str) -> dict[str, int]:
    """Copy the tables in one PostgreSQL transaction (all or nothing) from one consistent
    read of the SQLite file; return the rows copied per table."""
    import psycopg  # only for a shared store

    counts: dict[str, int] = {}
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        src.execute("BEGIN")  # one snapshot across the tables
        with psycopg.connect(target_url) as dst, dst.transaction():
            merged: list[tuple[int, int]] = []
            for table in COPY_ORDER:
                columns = _common_columns(src, dst, table)
                if not columns:
                    counts[table] = 0
                    continue
                rows = src.execute(f"SELECT {', '.join(columns)} FROM {table}")
                n = 0
                merged_at = columns.index("merged_into") if table == "jobs" else -1
                names = ", ".join(columns)
                with dst.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        values = list(row)
                        if merged_at >= 0 and values[merged_at] is not None:
                            # Set after all jobs are in: a group's carrier may come later.
                            merged.append((values[0], values[merged_at]))
                            values[merged_at] = None
                        copy.write_row(values)
                        n += 1
                counts[table] = n
            with dst.cursor() as cur:
                cur.executemany(
                    "UPDATE jobs SET merged_into=%s WHERE id=%s", [(m, j) for j, m in merged]
                )
                for table in ("jobs", "job_events", "inbox"):  # new rows continue the ids
                    cur.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" GREATEST((SELECT MAX(id) FROM {table}), 1))"
                    )
    finally:
        src.close()
    return counts


def _common_columns(src: sqlite3.Connection, dst: psycopg.Connection[Any], table: str) -> list[str]:
    """The columns both stores have for a table, in the source's order."""
    ours = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
    theirs = _pg_columns(dst, table)
    return [c for c in ours if c in theirs]


def _pg_columns(dst: psycopg.Connection[Any], table: str) -> Sequence[str]:
    rows = dst.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name=%s", (table,)
    ).fetchall()
    return [r[0] for r in rows]
