"""Two PCs, one queue (issue 16): two ``gsmbridge --headless`` processes on one real
PostgreSQL, each with its own simulated modem, behave as one gateway: both send,
the same notification posted to both is one job, and when one is killed with
SIGKILL in the middle of a burst the other sends its jobs once the lease is over."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from gsmbridge.core.store import Store
from tests.helpers import Client, payload
from tests.integration.headless import Headless

LEASE_S = 5


@pytest.fixture
def cluster(pg_url: str, tmp_path):
    nodes: list[Headless] = []

    def start(name: str) -> Headless:
        data = tmp_path / name
        data.mkdir()
        node = Headless(
            data,
            "--modem",
            "sim",
            env={
                "GSMBRIDGE_STORE_URL": pg_url,
                "GSMBRIDGE_STORE_NODE": name,
                "GSMBRIDGE_STORE_LEASE_S": str(LEASE_S),
                "GSMBRIDGE_LIMITS_PER_MINUTE": "0",
            },
        )
        nodes.append(node)
        node.port()
        return node

    yield start
    for node in nodes:
        node.stop(signal.SIGKILL if node.proc.poll() is None else signal.SIGTERM)


def _client(node: Headless) -> Client:
    return Client(node.port(), "u", "p")


def _wait_all_sent(store: Store, ids: list[int], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        states = {i: store.get(i).state.value for i in ids}
        if all(s in ("sent", "delivered") for s in states.values()):
            return
        assert time.monotonic() < deadline, states
        time.sleep(0.2)


def test_both_nodes_send_and_one_notification_to_both_is_one_job(cluster, pg_url) -> None:
    a, b = cluster("a"), cluster("b")
    ca, cb = _client(a), _client(b)
    ids = []
    for i in range(12):
        status, _, body = (ca if i % 2 else cb).post(
            "/webhook", payload(data__to__uid=f"user-{i}", data__to__phno=f"+1212555{i:04d}")
        )
        assert status == 200
        ids.append(body["id"])
    same = payload(data__to__uid="both", data__to__phno="+12125559999")
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda c: c.post("/webhook", same), (ca, cb)))
    assert [status for status, _, _ in answers] == [200, 200]
    bodies = [body for _, _, body in answers]
    assert bodies[0]["id"] == bodies[1]["id"]  # one job, answered with the same id
    assert sorted(bool(body.get("duplicate")) for body in bodies) == [False, True]
    store = Store(pg_url)
    try:
        _wait_all_sent(store, [*ids, bodies[0]["id"]])
        modems = {store.get(i).modem.split(":", 1)[0] for i in ids}
        assert modems == {"a", "b"}  # both PCs' modems drained the one queue
        assert store.count_jobs() == 13
        status, _, body = ca.get("/api/status")
        assert body["store"]["backend"] == "postgresql" and body["store"]["node"] == "a"
        cluster = {n["name"]: n for n in body["cluster"]}  # each PC sees both
        assert set(cluster) == {"a", "b"} and cluster["b"]["up"]
        assert cluster["b"]["modems"][0]["key"].startswith("b:")
    finally:
        store.close()


def test_a_node_killed_mid_burst_leaves_its_jobs_to_the_other(cluster, pg_url) -> None:
    a = cluster("a")
    cluster("b")  # the node that lives
    ca = _client(a)
    ids = []
    for i in range(30):
        status, _, body = ca.post(
            "/webhook", payload(data__to__uid=f"burst-{i}", data__to__phno=f"+1212556{i:04d}")
        )
        assert status == 200  # acknowledged: must be sent, whatever happens to node a
        ids.append(body["id"])
    store = Store(pg_url)
    try:
        deadline = time.monotonic() + 20
        while not any(
            (j := store.get(i)) is not None and j.state.value == "sending" and j.modem[:2] == "a:"
            for i in ids
        ):
            assert time.monotonic() < deadline, "node a never sent"
            time.sleep(0.02)
        killed_at = time.monotonic()
        a.stop(signal.SIGKILL)  # mid-send: its claimed job stays "sending" under its lease
        orphans = [
            i for i in ids if (j := store.get(i)).state.value == "sending" and j.modem[:2] == "a:"
        ]
        assert orphans
        _wait_all_sent(store, ids, timeout=LEASE_S + 60)
        for job_id in orphans:
            events = [(e.kind, e.detail) for e in store.events(job_id)]
            assert ("recovered", "lease expired, claimed by a (resend)") in events
            job = store.get(job_id)
            assert job.modem[:2] == "b:"  # sent by the node that lived
            recovered_at = next(e.at for e in store.events(job_id) if e.kind == "recovered")
            assert recovered_at >= job.created_at
        assert time.monotonic() - killed_at >= LEASE_S - 1  # not before the lease was over
        # At most the part in flight went twice: each orphan was sent once more, by b.
        assert sum(1 for i in orphans for e in store.events(i) if e.kind == "sent") == len(orphans)
    finally:
        store.close()


def test_webhooks_through_a_database_restart_are_all_answered_and_kept(
    cluster, pg_url, pg_cluster
) -> None:
    import threading

    a = cluster("a")
    ca = _client(a)
    answers: list[tuple[int, dict]] = []
    posting = threading.Event()

    def post_stream() -> None:
        for i in range(40):
            status, _, body = ca.post(
                "/webhook", payload(data__to__uid=f"stream-{i}", data__to__phno=f"+1212557{i:04d}")
            )
            answers.append((status, body))
            if i == 10:
                posting.set()
            time.sleep(0.03)

    poster = threading.Thread(target=post_stream)
    poster.start()
    try:
        assert posting.wait(20)
        pg_cluster.halt()  # the database PC restarts while webhooks arrive
        time.sleep(1.0)
    finally:
        pg_cluster.resume()
    poster.join(60)
    assert [status for status, _ in answers] == [200] * 40  # every one answered 200
    assert any(body.get("spooled") for _, body in answers)  # some went through the spool
    store = Store(pg_url)
    try:
        deadline = time.monotonic() + 30
        while True:
            uids = {j.uid for j in store.list_jobs(limit=100)}
            if {f"stream-{i}" for i in range(40)} <= uids:
                break
            assert time.monotonic() < deadline, sorted(uids)
            time.sleep(0.2)
        assert store.count_jobs() == 40  # each once
    finally:
        store.close()
    status, _, body = ca.get("/api/status")
    assert body["store"]["reachable"] is True and body["store"]["spooled"] == 0
