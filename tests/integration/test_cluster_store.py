"""The Bridge on the shared store ([store] url/node/lease_s, GSMBRIDGE_STORE_*, --store):
a webhook lands in PostgreSQL, not in a SQLite file, under this PC's node name."""

from __future__ import annotations

import pytest

from gsmbridge.config import ConfigError, Settings, load_settings
from gsmbridge.core.store import Store
from gsmbridge.core.store_pg import StoreConfigError
from gsmbridge.service import DB_NAME, Bridge
from tests.conftest import PASSWORD, USER
from tests.helpers import Client, payload


def test_the_store_settings_come_from_the_file_and_the_environment(tmp_path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[store]\nurl = "postgresql://gsm@db.lan/queue"\nlease_s = 30\n')
    settings = load_settings(config, environ={"GSMBRIDGE_STORE_NODE": "front-desk"})
    assert settings.store.url == "postgresql://gsm@db.lan/queue"
    assert (settings.store.node, settings.store.lease_s) == ("front-desk", 30)
    env = {"GSMBRIDGE_STORE_URL": "postgresql://gsm@other/queue", "GSMBRIDGE_STORE_LEASE_S": "90"}
    settings = load_settings(config, environ=env)
    assert (settings.store.url, settings.store.lease_s) == ("postgresql://gsm@other/queue", 90)
    with pytest.raises(ConfigError, match="store.url must be empty"):
        load_settings(None, environ={"GSMBRIDGE_STORE_URL": "mysql://db/queue"})
    with pytest.raises(ConfigError, match="store.lease_s must be at least"):
        load_settings(None, environ={"GSMBRIDGE_STORE_LEASE_S": "1"})


def test_a_bridge_on_the_shared_store_queues_there_as_its_node(
    settings: Settings, tmp_path, pg_url: str
) -> None:
    settings.store.url = pg_url
    settings.store.node = "pc-1"
    bridge = Bridge(settings, tmp_path / "data")
    bridge.start()
    try:
        status, _, body = Client(bridge.web.port, USER, PASSWORD).post(
            "/webhook", payload(data__to__uid="shared")
        )
        assert status == 200
        other = Store(pg_url)  # another PC's view of the same queue
        try:
            job = other.get(body["id"])
            assert job is not None and job.uid == "shared"
        finally:
            other.close()
        assert bridge.store.node == "pc-1"
    finally:
        bridge.stop()
    assert not (tmp_path / "data" / DB_NAME).exists()


def test_a_bridge_refused_by_the_shared_store_does_not_start(
    settings: Settings, tmp_path, pg_cluster
) -> None:
    settings.store.url = pg_cluster.url("no_such_queue")
    bridge = Bridge(settings, tmp_path / "data")
    with pytest.raises(StoreConfigError, match="no such database"):
        bridge.start()
    bridge.stop()


def test_the_store_flag_overrides_the_file(tmp_path) -> None:
    from gsmbridge.__main__ import build_parser, settings_from_args

    config = tmp_path / "config.toml"
    config.write_text('[store]\nurl = "postgresql://gsm@db.lan/queue"\n')
    args = build_parser().parse_args(
        ["--config", str(config), "--store", "postgresql://gsm@backup/queue", "--headless"]
    )
    assert settings_from_args(args).store.url == "postgresql://gsm@backup/queue"


def test_the_webhook_answers_200_through_a_database_outage_and_status_says_so(
    settings: Settings, tmp_path, pg_url: str, pg_cluster
) -> None:
    import time

    settings.store.url = pg_url
    bridge = Bridge(settings, tmp_path / "data")
    bridge.start()
    client = Client(bridge.web.port, USER, PASSWORD)
    try:
        status, _, body = client.get("/api/status")
        assert body["store"]["backend"] == "postgresql" and body["store"]["reachable"] is True
        pg_cluster.halt()
        try:
            status, _, body = client.post("/webhook", payload(data__to__uid="in-the-outage"))
            assert status == 200 and body["id"] < 0, body  # on this PC's disk, not yet a job
            status, _, body = client.get("/api/status")
            assert status == 200
            assert body["store"]["reachable"] is False and body["store"]["spooled"] == 1
        finally:
            pg_cluster.resume()
        deadline = time.monotonic() + 15
        while client.get("/api/status")[2]["store"]["spooled"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert [j.uid for j in bridge.store.list_jobs()] == ["in-the-outage"]
    finally:
        bridge.stop()


@pytest.mark.parametrize(
    "database, user, says",
    [
        ("nowhere", "postgres", "has no such database"),
        ("postgres", "nobody", "refused the credentials"),
    ],
)
def test_a_node_the_shared_store_refuses_says_why_in_one_line_and_does_not_start(
    pg_cluster, tmp_path, database: str, user: str, says: str
) -> None:
    import subprocess
    import sys

    url = pg_cluster.url(database, user=user)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gsmbridge",
            "--headless",
            "--data-dir",
            str(tmp_path),
            "--store",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("gsmbridge: the shared store") and says in last
    assert "Traceback" not in done.stderr
