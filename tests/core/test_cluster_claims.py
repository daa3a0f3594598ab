"""Claiming across nodes (issue 16.3): several PCs on one PostgreSQL queue.

A claim is a lease (node, until); rows being claimed by another node are skipped;
a node that stops renewing loses its jobs to the others, under the crash policy,
and parts recorded before are not sent again.  Real PostgreSQL, real simulated
modems through pyserial for the sender's part.
"""

from __future__ import annotations

import threading
import time

import pytest

from gsmbridge.core.models import State
from gsmbridge.core.store import Store
from gsmbridge.simulator import fast_options
from tests.core.conftest import new_job
from tests.core.test_sender import Rig, fast_settings
from tests.helpers import FakeClock


@pytest.fixture
def nodes(pg_url: str, clock: FakeClock):
    """Two nodes' stores on one shared database, on one clock the test moves."""
    made: list[Store] = []

    def make(name: str, lease_s: float = 60.0) -> Store:
        store = Store(pg_url, clock=clock, node=name, lease_s=lease_s)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def test_each_job_is_claimed_once_by_concurrent_workers_of_two_nodes(nodes) -> None:
    a, b = nodes("a"), nodes("b")
    ids = {a.enqueue(new_job(f"u{i}"))[0] for i in range(120)}
    claimed: list[tuple[str, int]] = []
    lock = threading.Lock()

    def worker(store: Store, modem: str) -> None:
        while (job := store.claim_next(modem=modem)) is not None:
            with lock:
                claimed.append((store.node, job.id))

    threads = [
        threading.Thread(target=worker, args=(store, f"m{n}")) for store in (a, b) for n in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    got = [job_id for _, job_id in claimed]
    assert sorted(got) == sorted(ids)  # every job, each once
    assert {node for node, _ in claimed} == {"a", "b"}  # both nodes took some
    job = a.get(got[0])
    assert job is not None and job.state is State.SENDING


def test_an_expired_lease_goes_to_another_node_which_resumes_after_the_sent_parts(
    nodes, clock: FakeClock
) -> None:
    a, b = nodes("a", lease_s=30), nodes("b", lease_s=30)
    job_id, _, _ = a.enqueue(new_job())
    assert a.claim_next(modem="a:COM3") is not None
    a.record_part(job_id, 1, 17, concat_ref=5)  # then node a dies mid-message
    clock.now += 29
    assert b.recover_expired() == []  # still a's
    clock.now += 2
    assert b.recover_expired("resend") == [job_id]
    job = b.claim_next(modem="b:COM3")
    assert job is not None and job.id == job_id
    assert job.parts_sent == 1 and job.concat_ref == 5  # part 1 is not sent again
    kinds = [e.kind for e in b.events(job_id)]
    assert "recovered" in kinds
    assert "lease expired, claimed by a (resend)" in [e.detail for e in b.events(job_id)]


def test_the_fail_policy_applies_to_an_expired_lease(nodes, clock: FakeClock) -> None:
    a, b = nodes("a", lease_s=10), nodes("b", lease_s=10)
    job_id, _, _ = a.enqueue(new_job())
    a.claim_next()
    clock.now += 11
    assert b.recover_expired("fail") == [job_id]
    job = b.get(job_id)
    assert job is not None and job.state is State.FAILED
    assert "may have been sent" in job.last_error


def test_a_renewed_lease_is_not_taken_nor_a_job_its_node_is_sending(
    nodes, clock: FakeClock
) -> None:
    a, b = nodes("a", lease_s=10), nodes("b", lease_s=10)
    job_id, _, _ = a.enqueue(new_job())
    a.claim_next()
    for _ in range(3):  # a long AT exchange: renewed every few seconds
        clock.now += 6
        assert a.renew_leases([job_id]) == 1
        assert b.recover_expired() == []
    clock.now += 11
    assert a.recover_expired(busy=[job_id]) == []  # its own sender is still on it
    assert b.recover_expired() == [job_id]


def test_a_late_result_of_a_node_that_lost_its_job_does_not_overwrite_the_new_claim(
    nodes, clock: FakeClock
) -> None:
    a, b = nodes("a", lease_s=10), nodes("b", lease_s=10)
    job_id, _, _ = a.enqueue(new_job())
    a.claim_next()
    clock.now += 11  # a hangs (a network cut) past its lease
    b.recover_expired()
    assert b.claim_next() is not None
    assert a.renew_leases([job_id]) == 0  # a learns it lost the job
    assert a.mark_sent(job_id, parts_total=1) == "sending"  # b's claim stands
    a.mark_failed(job_id, "modem gone")
    job = b.get(job_id)
    assert job is not None and job.state is State.SENDING
    lost = [e.detail for e in b.events(job_id) if e.kind == "lease-lost"]
    assert lost == [
        "sent on a after b took the job over",
        "failed (modem gone) on a after b took the job over",
    ]
    assert b.mark_sent(job_id, parts_total=1) in ("sent", "delivered")


def test_a_restarted_node_recovers_its_own_jobs_only(nodes, clock: FakeClock) -> None:
    a, b = nodes("a"), nodes("b")
    mine, _, _ = a.enqueue(new_job("mine"))
    theirs, _, _ = a.enqueue(new_job("theirs"))
    a.claim_next()
    b.claim_next()
    a.close()
    again = nodes("a")  # node a starts again after a crash
    assert again.recover_interrupted("resend") == [mine]  # b is still sending its job
    theirs_job = again.get(theirs)
    assert theirs_job is not None and theirs_job.state is State.SENDING


def test_the_same_notification_posted_to_two_nodes_at_once_is_one_job(nodes) -> None:
    a, b = nodes("a"), nodes("b")
    results: list[tuple[int, State, bool]] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def post(store: Store) -> None:
        start.wait()
        outcome = store.enqueue(new_job(key="same-notification"))
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=post, args=(s,)) for s in (a, b) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len({job_id for job_id, _, _ in results}) == 1
    assert sorted(dup for _, _, dup in results) == [False] + [True] * 7
    assert a.count_jobs() == 1


# -- the sender: leases renewed while sending, dead nodes' jobs taken over -------------


@pytest.fixture
def rigs(pg_url: str):
    made: list[Rig] = []

    def make(*sim_options, node: str, lease_s: float) -> Rig:
        rig = Rig(pg_url, fast_settings(), *sim_options, node=node, lease_s=lease_s)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.close()


def test_a_send_longer_than_the_lease_keeps_its_job(rigs, pg_url: str) -> None:
    # Each part takes 0.7 s, the send about 2 s, the lease 1.2 s (renewed every 0.4 s):
    # only renewals keep the job here.
    rig = rigs(fast_options(send_latency_s=0.7, status_reports=False), node="a", lease_s=1.2)
    other = Store(pg_url, node="b", lease_s=1.2)  # a node watching for expired leases
    taken: list[int] = []
    try:
        job_id = rig.add("long", text="x" * 400)  # 3 parts, ~1.5 s
        deadline = time.monotonic() + 10
        while rig.store.get(job_id).state.value not in ("sent", "delivered"):
            taken += other.recover_expired()
            assert time.monotonic() < deadline, rig.store.get(job_id)
            time.sleep(0.05)
    finally:
        other.close()
    assert taken == []
    assert len(rig.sims[0].sent) == 1


def test_a_dead_nodes_claimed_job_is_sent_by_another_after_its_lease(rigs, pg_url: str) -> None:
    dead = Store(pg_url, node="dead", lease_s=0.5)
    job_id, _, _ = dead.enqueue(new_job("orphan", number="+12125550100"))
    claimed = dead.claim_next(modem="dead:COM3")
    assert claimed is not None
    dead.record_part(job_id, 1, 9, concat_ref=3)  # its part 1 went out, then it died
    dead.close()
    started = time.monotonic()
    rig = rigs(fast_options(status_reports=False), node="alive", lease_s=0.5)
    rig.wait_states([job_id], {"sent"}, timeout=10)
    assert time.monotonic() - started >= 0.3  # not before the lease ran out
    job = rig.store.get(job_id)
    assert job is not None and job.attempts == 1
    events = [(e.kind, e.detail) for e in rig.store.events(job_id)]
    assert ("recovered", "lease expired, claimed by dead (resend)") in events


def test_two_nodes_share_the_queue_each_modem_known_by_node_and_port(rigs) -> None:
    a = rigs(fast_options(send_latency_s=0.05), node="a", lease_s=5)
    b = rigs(fast_options(send_latency_s=0.05), node="b", lease_s=5)
    ids = [a.add(f"u{i}", f"+121255501{i:02d}") for i in range(12)]
    b.sender.wake()
    a.wait_states(ids, {"delivered"}, timeout=20)  # reports matched on each node's modem
    modems = {a.store.get(i).modem for i in ids}
    assert modems == {f"a:{a.modems[0].url}", f"b:{b.modems[0].url}"}  # both sent
    assert len(a.sims[0].sent) + len(b.sims[0].sent) == 12  # each once
    # A per-modem figure counts that node's modem only.
    assert a.store.sent_count(since=0, modem=f"a:{a.modems[0].url}") == len(a.sims[0].sent)


def test_nodes_heartbeat_and_one_silent_longer_than_the_lease_is_down(
    nodes, clock: FakeClock
) -> None:
    a, b = nodes("a", lease_s=30), nodes("b", lease_s=30)
    modem = {"port": "COM3", "key": "a:COM3", "state": "ready"}
    a.heartbeat("1.2.3", [modem], starting=True)
    b.heartbeat("1.2.3", [], starting=True)
    started = clock.now
    clock.now += 20
    a.heartbeat("1.2.3", [modem])
    seen = {n.name: n for n in b.nodes()}
    assert seen["a"].modems == [modem] and seen["a"].started_at == started
    assert seen["a"].up and seen["b"].up
    clock.now += 15  # b silent for 35 s, a for 15 s
    up = {n.name: n.up for n in a.nodes()}
    assert up == {"a": True, "b": False}
    assert [n["name"] for n in a.cluster()] == ["a", "b"]


def test_a_running_sender_beats_with_its_modems(rigs, pg_url: str) -> None:
    rig = rigs(fast_options(status_reports=False), node="pc-1", lease_s=0.6)
    deadline = time.monotonic() + 5
    while True:
        found = {n.name: n for n in rig.store.nodes()}
        if "pc-1" in found and found["pc-1"].modems[0]["state"] == "ready":
            break
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    node = found["pc-1"]
    assert node.up and node.modems[0]["key"] == f"pc-1:{rig.modems[0].url}"
