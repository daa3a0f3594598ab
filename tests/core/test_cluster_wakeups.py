"""Wake-ups across nodes (issue 16.4): a job one node takes wakes the others' idle
modems at once (LISTEN/NOTIFY), and polling stands in while that connection is down."""

from __future__ import annotations

import threading
import time

import pytest

from gsmbridge.core.store import Store
from gsmbridge.simulator import fast_options
from tests.core.conftest import new_job
from tests.core.test_sender import Rig, fast_settings
from tests.pgcluster import PgCluster


class Heard:
    def __init__(self) -> None:
        self.nodes: list[str] = []
        self.event = threading.Event()

    def __call__(self, node: str) -> None:
        self.nodes.append(node)
        self.event.set()

    def wait(self, timeout: float = 5.0) -> list[str]:
        assert self.event.wait(timeout), "no wake-up"
        self.event.clear()
        got, self.nodes = self.nodes, []
        return got


def _listening(store: Store, heard: Heard) -> None:
    store.listen(heard)
    deadline = time.monotonic() + 5
    while store.backend._listen_conn is None:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.1)  # LISTEN issued


@pytest.fixture
def two(pg_url: str):
    a, b = Store(pg_url, node="a"), Store(pg_url, node="b")
    yield a, b
    a.close()
    b.close()


def test_a_job_queued_on_one_node_wakes_the_other(two) -> None:
    a, b = two
    heard = Heard()
    _listening(b, heard)
    a.enqueue(new_job("x"))
    assert heard.wait() == ["a"]
    job_id, _, _ = a.enqueue(new_job("failing"))
    assert heard.wait() == ["a"]
    a.claim_next()
    a.claim_next()
    a.mark_failed(job_id, "boom")  # nothing became due: nobody is woken
    time.sleep(0.3)
    assert heard.nodes == []
    assert a.retry([job_id]) == [job_id]  # a retry from any PC's window wakes them too
    assert heard.wait() == ["a"]


def test_while_the_listening_connection_is_down_the_store_is_polled(
    two, pg_cluster: PgCluster
) -> None:
    a, b = two
    heard = Heard()
    _listening(b, heard)
    with pg_cluster.admin() as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'"
        )
    assert "" in heard.wait()  # polled (and once back, told to look for what it missed)
    deadline = time.monotonic() + 10
    while True:  # listening again: a notification arrives as such
        a.enqueue(new_job(f"after-{time.monotonic()}"))
        if "a" in heard.wait():
            break
        assert time.monotonic() < deadline


def test_an_idle_modem_sends_a_job_another_node_took_at_once(pg_url: str) -> None:
    rig = Rig(pg_url, fast_settings(), fast_options(status_reports=False), node="b")
    other = Store(pg_url, node="a")  # node a takes the webhook; it has no modem free
    try:
        time.sleep(0.5)  # b's worker is idle, waiting for work (up to a minute)
        started = time.monotonic()
        job_id, _, _ = other.enqueue(new_job("remote", number="+12125550100"))
        rig.wait_states([job_id], {"sent"}, timeout=5)
        assert time.monotonic() - started < 3
    finally:
        other.close()
        rig.close()
