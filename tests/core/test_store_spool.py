"""The shared store out of reach (issue 16.5): webhooks are kept in a local SQLite spool
(on disk before they are answered) and moved into PostgreSQL when it is back, where
dedup applies; a node whose database PC is still booting starts on its spool.
The real server is stopped and started again."""

from __future__ import annotations

import time

import pytest

from gsmbridge.core.db import StoreClosed, StoreUnavailable
from gsmbridge.core.models import State
from gsmbridge.core.store import Store
from gsmbridge.core.store_spool import Spool
from tests.core.conftest import new_job
from tests.pgcluster import PgCluster


def _wait(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _state_or_none(store: Store, job_id: int) -> str | None:
    """A job's state, None while the store cannot be read (back only a moment later)."""
    try:
        job = store.get(job_id)
    except StoreClosed:
        return None
    return job.state.value if job else None


@pytest.fixture
def halted(pg_cluster: PgCluster):
    """Stops the test run's server when the test asks; always started again after."""
    yield pg_cluster
    if not pg_cluster.started:
        pg_cluster.resume()


def test_webhooks_while_the_store_is_down_are_spooled_then_moved_once(
    pg_url: str, halted: PgCluster, tmp_path
) -> None:
    store = Store(pg_url, node="a", spool=tmp_path / "spool.db")
    try:
        before, _, _ = store.enqueue(new_job("before"))
        assert before > 0
        halted.halt()
        spooled, state, duplicate = store.enqueue(new_job("during", key="k1"))
        assert spooled < 0 and state is State.QUEUED and not duplicate
        again, _, _ = store.enqueue(new_job("during", key="k1"))  # CometChat posted twice
        health = store.health()
        assert health["reachable"] is False and "unreachable" in str(health["error"])
        assert health["spooled"] == 2
        with pytest.raises(StoreClosed):
            store.counts()  # reads say the store is away, at once
        # On this PC's disk, whatever happens to the process now:
        waiting = Spool(tmp_path / "spool.db")
        assert [job.uid for _, _, _, job in waiting.oldest()] == ["during", "during"]
        waiting.close()
        halted.resume()
        _wait(lambda: store.health()["spooled"] == 0)
        assert store.health()["reachable"] is True
        jobs = store.list_jobs(newest_first=False)
        assert [j.uid for j in jobs] == ["before", "during"]  # dedup kept one
        assert [e.kind for e in store.events(jobs[1].id)][-1] == "duplicate"
    finally:
        store.close()


def test_a_node_starts_on_its_spool_while_the_database_pc_boots(
    pg_url: str, halted: PgCluster, tmp_path
) -> None:
    Store(pg_url).close()  # the schema exists; then the database PC goes down
    halted.halt()
    with pytest.raises(StoreUnavailable):
        Store(pg_url)  # without a spool there is nowhere to put a webhook: no start
    store = Store(pg_url, node="a", spool=tmp_path / "spool.db")
    try:
        assert store.health()["reachable"] is False
        job_id, _, _ = store.enqueue(new_job("early"))
        assert job_id < 0
        halted.resume()
        _wait(lambda: store.health()["spooled"] == 0)
        assert [j.uid for j in store.list_jobs()] == ["early"]
    finally:
        store.close()


def test_a_spooled_notification_without_a_number_gets_it_from_the_contacts_once_back(
    pg_url: str, halted: PgCluster, tmp_path
) -> None:
    from gsmbridge.core.models import Contact

    store = Store(pg_url, node="a", spool=tmp_path / "spool.db")
    try:
        store.upsert_contact(Contact(uid="known", number="+12125550199"))
        halted.halt()
        spooled, state, _ = store.enqueue(new_job("known", number=None))
        assert spooled < 0 and state is State.NEEDS_NUMBER  # contacts out of reach
        assert store.get(spooled) is None
        halted.resume()
        _wait(lambda: store.health()["spooled"] == 0)
        (job,) = store.list_jobs()
        assert (job.state, job.number) == (State.QUEUED, "+12125550199")
    finally:
        store.close()


def test_a_send_under_way_when_the_store_goes_finishes_and_its_result_waits(
    pg_url: str, halted: PgCluster
) -> None:
    from gsmbridge.simulator import fast_options
    from tests.core.test_sender import Rig, fast_settings

    rig = Rig(pg_url, fast_settings(), fast_options(send_latency_s=0.8, status_reports=False))
    try:
        job_id = rig.add("mid-send")
        rig.wait_states([job_id], {"sending"}, timeout=5)
        halted.halt()  # while the modem is inside its AT exchange
        rig.sims[0].wait_for_messages(1, timeout=5)  # the modem finished the SMS
        time.sleep(0.5)
        halted.resume()
        _wait(lambda: _state_or_none(rig.store, job_id) == "sent")  # kept, then written
        assert len(rig.sims[0].sent) == 1  # not sent again
    finally:
        rig.close()


def test_after_an_outage_longer_than_the_lease_no_node_takes_another_ones_send(
    pg_url: str, halted: PgCluster
) -> None:
    from gsmbridge.simulator import fast_options
    from tests.core.test_sender import Rig, fast_settings

    # Every node's lease runs out during the outage: when the store is back, a node
    # must let the others renew before it takes over anything.
    slow = fast_options(send_latency_s=0.8, status_reports=False)
    a = Rig(pg_url, fast_settings(), slow, node="a", lease_s=1.0)
    b: Rig | None = None
    try:
        job_id = a.add("long", text="x" * 400)  # 3 parts, ~2.5 s, on a's modem
        deadline = time.monotonic() + 5
        while (a.store.get(job_id).modem or "")[:2] != "a:":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # Node b, idle, watching for expired leases.
        b = Rig(pg_url, fast_settings(), fast_options(status_reports=False), node="b", lease_s=1.0)
        halted.halt()
        time.sleep(2.5)  # longer than the lease
        halted.resume()
        _wait(lambda: _state_or_none(a.store, job_id) == "sent", timeout=20)
        time.sleep(1.5)  # b had its chances to take it over
        assert len(a.sims[0].sent) == 1 and len(b.sims[0].sent) == 0  # sent once
        kinds = [e.kind for e in a.store.events(job_id)]
        assert "recovered" not in kinds and "lease-lost" not in kinds
    finally:
        a.close()
        if b is not None:
            b.close()
