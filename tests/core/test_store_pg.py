"""The PostgreSQL backend itself: its schema versions and what it says when it cannot
be used (the behaviour both backends share is tested by every store test, on both)."""

from __future__ import annotations

import socket

import psycopg
import pytest

from gsmbridge.core.schema import PG_MIGRATIONS
from gsmbridge.core.store import Store
from gsmbridge.core.store_pg import StoreConfigError, StoreUnavailable, redact
from tests.core.conftest import new_job
from tests.pgcluster import PgCluster


def test_a_new_database_gets_the_schema_once(pg_cluster: PgCluster) -> None:
    url = pg_cluster.new_database()
    first = Store(url)
    second = Store(url)  # another node starting on the same store: nothing to do
    assert first.schema_version() == second.schema_version() == len(PG_MIGRATIONS)
    job_id, _, _ = first.enqueue(new_job())
    assert second.get(job_id) is not None
    first.close()
    second.close()
    pg_cluster.drop_database(url)


def test_a_newer_schema_is_refused_in_one_line(pg_cluster: PgCluster) -> None:
    url = pg_cluster.new_database()
    Store(url).close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE gsmbridge_schema SET version=%s", (len(PG_MIGRATIONS) + 1,))
    with pytest.raises(StoreConfigError, match="newer than this gsmbridge") as caught:
        Store(url)
    assert "\n" not in str(caught.value)
    pg_cluster.drop_database(url)


def test_an_unknown_database_or_user_is_the_users_to_fix(pg_cluster: PgCluster) -> None:
    with pytest.raises(StoreConfigError, match="no such database") as caught:
        Store(pg_cluster.url("nowhere"))
    assert "\n" not in str(caught.value)
    with pytest.raises(StoreConfigError, match="refused the credentials"):
        Store(pg_cluster.url("postgres", user="nobody"))


def test_a_server_not_listening_is_unreachable_not_misconfigured() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once closed
    with pytest.raises(StoreUnavailable, match="unreachable") as caught:
        Store(f"postgresql://gsm:secret@127.0.0.1:{port}/queue")
    assert "secret" not in str(caught.value)


def test_messages_never_show_the_password() -> None:
    assert redact("postgresql://gsm:pa55@db.lan:5433/queue") == (
        "postgresql://gsm:***@db.lan:5433/queue"
    )
    assert redact("postgresql://db.lan/queue") == "postgresql://db.lan/queue"
