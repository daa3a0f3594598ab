"""PCs sharing a queue time each other's claims by their own clocks: a PC whose clock
disagrees with the database server's is told, in the log, /api/status and the window."""

from __future__ import annotations

import logging
import time

import pytest

from gsmbridge.core.store import Store


def test_a_shared_store_measures_this_pc_s_clock_against_the_server_s(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(pg_url, node="pc-1")
    try:
        assert store.health()["clock_skew_s"] is None  # not measured before a heartbeat
        store.heartbeat("1.0", [], starting=True)
        skew = store.health()["clock_skew_s"]
        assert isinstance(skew, float) and abs(skew) < 1.0  # one machine: the same clock
        caplog.set_level(logging.INFO, logger="gsmbridge.core.store_nodes")

        store.wall_clock = lambda: time.time() + 120  # this PC's clock is 2 min fast
        store.heartbeat("1.0", [])
        store.heartbeat("1.0", [])
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1  # said once, not at every heartbeat
        assert warnings[0].startswith("This PC's clock is 120 s ahead of the database server's")
        assert "sent twice" in warnings[0] and "Set time automatically" in warnings[0]
        assert 119 < store.health()["clock_skew_s"] < 121  # type: ignore[operator]

        store.wall_clock = time.time
        store.heartbeat("1.0", [])
        assert "agrees with the database server's again" in caplog.messages[-1]
    finally:
        store.close()


def test_one_pc_s_own_queue_has_no_other_clock(tmp_path) -> None:
    store = Store(tmp_path / "q.db")
    try:
        store.heartbeat("1.0", [], starting=True)
        assert store.health()["clock_skew_s"] is None
    finally:
        store.close()
