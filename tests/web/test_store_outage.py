"""A shared-store (PostgreSQL) outage seen from the API: every route answers 503 with the
reason and logs one line; a webhook kept in the local spool answers without a job id;
housekeeping says why it did not prune, in one line.  The real server is stopped."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from gsmbridge.config import Settings
from gsmbridge.core.housekeeping import Housekeeping
from gsmbridge.service import Bridge
from tests.conftest import PASSWORD, USER
from tests.helpers import Client, payload
from tests.pgcluster import PgCluster


@pytest.fixture
def halted(pg_cluster: PgCluster):
    """Stops the test run's server when the test asks; always started again after."""
    yield pg_cluster
    if not pg_cluster.started:
        pg_cluster.resume()


def test_the_api_answers_503_with_the_reason_while_the_shared_store_is_down(
    settings: Settings,
    tmp_path: Path,
    pg_url: str,
    halted: PgCluster,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.store.url = pg_url
    bridge = Bridge(settings, tmp_path / "data")
    bridge.start()
    client = Client(bridge.web.port, USER, PASSWORD)
    try:
        status, _, body = client.post("/webhook", payload(data__to__uid="before"))
        assert status == 200
        job_id = body["id"]
        halted.halt()
        caplog.clear()
        with (
            caplog.at_level(logging.WARNING),
            caplog.at_level(logging.INFO, logger="gsmbridge.core.intake"),
        ):
            routes = [
                ("GET", "/api/stats"),
                ("GET", "/api/jobs"),
                ("GET", f"/api/jobs/{job_id}"),
                ("GET", "/api/inbox"),
                ("POST", f"/api/jobs/{job_id}/retry"),
                ("POST", f"/api/jobs/{job_id}/cancel"),
            ]
            for method, path in routes:
                answer = client.get(path) if method == "GET" else client.post(path, {})
                status, headers, body = answer
                assert status == 503, (path, status, body)
                assert "unreachable" in body["error"], (path, body)
                assert headers.get("retry-after") == "5", path
            # Taken into this PC's spool: 200, said so, and no made-up job id.
            status, _, body = client.post("/webhook", payload(data__to__uid="in-the-outage"))
            assert status == 200 and body == {"status": "queued", "spooled": True}, body
        web = [r for r in caplog.records if r.name.startswith("gsmbridge.web.")]
        assert len(web) == len(routes), [r.getMessage() for r in web]
        assert all(r.exc_info is None and "503" in r.getMessage() for r in web)
        assert not [r for r in caplog.records if r.exc_info], "no traceback in the log"
        taken = [r.getMessage() for r in caplog.records if r.name == "gsmbridge.core.intake"]
        assert taken and taken[-1].startswith("Webhook accepted: in the local spool for"), taken
    finally:
        if not halted.started:
            halted.resume()
        bridge.stop()


def test_housekeeping_says_why_it_did_not_prune_in_one_line(
    pg_url: str, halted: PgCluster, caplog: pytest.LogCaptureFixture
) -> None:
    from gsmbridge.core.store import Store

    store = Store(pg_url)
    try:
        halted.halt()
        pruned = threading.Event()
        keeper = Housekeeping(lambda: store, lambda: 30, pruned.set, interval_s=0.05)
        with caplog.at_level(logging.WARNING, logger="gsmbridge.core.housekeeping"):
            keeper.start()
            try:
                deadline = threading.Event()
                for _ in range(200):
                    if any("not pruned" in r.getMessage() for r in caplog.records):
                        break
                    deadline.wait(0.05)
            finally:
                keeper.stop()
        lines = [r for r in caplog.records if "not pruned" in r.getMessage()]
        assert lines and not pruned.is_set()
        assert all(r.exc_info is None for r in lines)
        assert "unreachable" in lines[0].getMessage()
    finally:
        if not halted.started:
            halted.resume()
        store.close()


def test_the_replies_poster_says_why_in_one_line(
    settings: Settings,
    tmp_path: Path,
    pg_url: str,
    halted: PgCluster,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Its worker met the outage with a full traceback before."""
    settings.store.url = pg_url
    bridge = Bridge(settings, tmp_path / "data")
    bridge.start()
    try:
        halted.halt()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="gsmbridge"):
            bridge.replies._wake.set()  # look now, not in a minute
            deadline = threading.Event()
            for _ in range(100):
                if any("Replies not posted" in r.getMessage() for r in caplog.records):
                    break
                deadline.wait(0.05)
        said = [r for r in caplog.records if "Replies not posted" in r.getMessage()]
        assert said and said[0].exc_info is None
        assert not [r for r in caplog.records if r.exc_info], "no traceback in the log"
    finally:
        if not halted.started:
            halted.resume()
        bridge.stop()
