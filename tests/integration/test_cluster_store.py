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
            # On this PC's disk, not yet a job: no id to give.
            assert status == 200 and body == {"status": "queued", "spooled": True}, body
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


# -- gsmbridge store check / copy --------------------------------------------------------


def _main(*argv: str) -> int:
    from gsmbridge.__main__ import main

    return main(list(argv))


def _single_pc_queue(data) -> dict[str, int]:
    """A SQLite queue as one PC leaves it: sent parts, a coalesced group, contacts, replies."""
    from gsmbridge.core.models import Contact
    from tests.core.conftest import new_job
    from tests.helpers import FakeClock

    store = Store(data / DB_NAME, clock=FakeClock())
    ids = {}
    ids["sent"], _, _ = store.enqueue(new_job("sent"))
    ids["member"], _, _ = store.enqueue(new_job("member"))
    ids["carrier"], _, _ = store.enqueue(new_job("carrier"))
    job = store.claim_next(modem="COM3")
    store.record_part(job.id, 1, 42, concat_ref=7)
    store.mark_sent(job.id, parts_total=1)
    carrier = store.get(ids["carrier"])
    store._write(  # the earlier job rides in the later one's SMS
        lambda c: c.execute("UPDATE jobs SET merged_into=? WHERE id=?", (carrier.id, ids["member"]))
    )
    store.upsert_contact(Contact(uid="known", number="+12125550100", name="Known"))
    store.add_incoming("+12125550123", "thanks", modem="COM3")
    from gsmbridge.core.store_replies import RepliesStore

    RepliesStore.over(store).add_opt_out("+12125550188", "replied stop")
    store.close()
    return ids


def test_store_copy_moves_a_single_pc_queue_into_an_empty_shared_store(
    tmp_path, pg_url: str, capsys
) -> None:
    ids = _single_pc_queue(tmp_path)
    assert _main("store", "copy", "--to", pg_url, "--data-dir", str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "3 job(s)" in out and "1 sent part(s)" in out and "1 contact(s)" in out
    assert "1 received SMS" in out and "1 opted-out number(s)" in out
    from tests.helpers import FakeClock

    shared = Store(pg_url, clock=FakeClock())  # the queue's own time, for the report
    try:
        assert [j.uid for j in shared.list_jobs(newest_first=False)] == [
            "sent",
            "member",
            "carrier",
        ]
        assert shared.get(ids["sent"]).state.value == "sent"
        assert shared.get(ids["member"]).merged_into == ids["carrier"]
        assert [e.kind for e in shared.events(ids["sent"])][-1] == "sent"
        assert shared.record_report("COM3", 42, "12125550123", delivered=True, detail="ok")
        assert shared.get_contact("known").number == "+12125550100"
        assert [m.text for m in shared.list_incoming()] == ["thanks"]
        from gsmbridge.core.store_replies import RepliesStore

        assert RepliesStore.over(shared).is_opted_out("+12125550188")  # still off the list
        from tests.core.conftest import new_job

        new_id, _, _ = shared.enqueue(new_job("after-the-move"))
        assert new_id > ids["carrier"]  # ids go on after the copied ones
    finally:
        shared.close()
    # Only into an empty store: a second copy would mix two queues.
    assert _main("store", "copy", "--to", pg_url, "--data-dir", str(tmp_path)) == 1
    assert "is not empty" in capsys.readouterr().err


def test_store_check_says_where_the_queue_is_and_its_schema(tmp_path, pg_url: str, capsys):
    from gsmbridge.core.schema import MIGRATIONS, PG_MIGRATIONS

    Store(tmp_path / DB_NAME).close()
    assert _main("store", "check", "--data-dir", str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert f"schema version {len(MIGRATIONS)} (this gsmbridge: {len(MIGRATIONS)})" in out
    assert _main("store", "check", "--store", pg_url) == 0
    out = capsys.readouterr().out
    assert out.startswith("shared store postgresql://") and "reachable" in out
    assert f"schema version {len(PG_MIGRATIONS)}" in out
    assert _main("store", "check", "--store", "postgresql://gsm:pw@127.0.0.1:1/queue") == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("gsmbridge: the shared store") and "unreachable" in err
    assert "pw" not in err and len(err.splitlines()) == 1


def test_contacts_commands_edit_the_shared_stores_contacts(tmp_path, pg_url: str, capsys):
    where = ("--data-dir", str(tmp_path), "--store", pg_url)
    assert _main("contacts", "add", "front", "+12125550142", *where) == 0
    shared = Store(pg_url)
    try:
        assert shared.get_contact("front").number == "+12125550142"  # every PC sees it
    finally:
        shared.close()
    assert not (tmp_path / DB_NAME).exists()
    assert _main("contacts", "list", *where) == 0
    assert "front" in capsys.readouterr().out


def test_a_bridge_starts_on_its_spool_while_the_database_pc_boots(
    settings: Settings, tmp_path, pg_url: str, pg_cluster
) -> None:
    import time

    Store(pg_url).close()  # the shared store exists; its PC is off when this one starts
    settings.store.url = pg_url
    pg_cluster.halt()
    try:
        bridge = Bridge(settings, tmp_path / "data")
        bridge.start()
    except BaseException:
        pg_cluster.resume()
        raise
    client = Client(bridge.web.port, USER, PASSWORD)
    try:
        status, _, body = client.get("/api/status")
        assert status == 200 and body["store"]["reachable"] is False
        status, _, body = client.post("/webhook", payload(data__to__uid="at-boot"))
        assert status == 200 and body == {"status": "queued", "spooled": True}
        pg_cluster.resume()
        deadline = time.monotonic() + 15
        while (store := client.get("/api/status")[2]["store"])["spooled"] or not store["reachable"]:
            assert time.monotonic() < deadline, store
            time.sleep(0.1)
        assert [j.uid for j in bridge.store.list_jobs()] == ["at-boot"]
    finally:
        if not pg_cluster.started:
            pg_cluster.resume()
        bridge.stop()


@pytest.mark.parametrize("command", [["store", "check"], ["--headless", "--port", "0"]])
def test_a_postgresql_client_that_does_not_load_is_one_line_not_a_traceback(
    tmp_path, command: list[str]
) -> None:
    """A frozen bundle without its libpq (or a broken install) died with "Failed to
    execute script" and a traceback; psycopg is made to fail the same way here."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PSYCOPG_IMPL": "c"}  # the C implementation is not installed
    done = subprocess.run(
        [sys.executable, "-m", "gsmbridge", *command, "--data-dir", str(tmp_path)]
        + ["--store", "postgresql://gsm@127.0.0.1:1/queue"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("gsmbridge: the PostgreSQL client does not load")
    assert "psycopg[binary]" in last and "Traceback" not in done.stderr
