"""``gsmbridge --headless --modem socket://…`` against a simulator with faults."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from gsmbridge.simulator import ModemSimulator, fast_options
from tests.helpers import Client, payload
from tests.integration.headless import Headless

FAST = {
    "GSMBRIDGE_RETRY_BASE_DELAY_S": "0.05",
    "GSMBRIDGE_RETRY_MAX_DELAY_S": "0.2",
    "GSMBRIDGE_RETRY_MAX_ATTEMPTS": "20",
    "GSMBRIDGE_LIMITS_PER_MINUTE": "0",
}


def wait_all(client: Client, ids: list[int], states: set[str], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        jobs = {j: client.get(f"/api/jobs/{j}")[2] for j in ids}
        if all(job["state"] in states for job in jobs.values()):
            return jobs
        if time.monotonic() > deadline:
            raise AssertionError({j: (v["state"], v["last_error"]) for j, v in jobs.items()})
        time.sleep(0.1)


@pytest.fixture
def simulator():
    sims: list[ModemSimulator] = []

    def make(**options) -> ModemSimulator:
        sim = ModemSimulator(fast_options(**options))
        sim.serve_tcp()
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        sim.stop()


def test_batch_with_faults_is_sent_once_each(tmp_path, simulator) -> None:
    sim = simulator(
        cms_error_every=5, drop_every=7, garbage=0.1, pin="4321", register_delay_s=0.5, seed=7
    )
    app = Headless(tmp_path, "--modem", sim.url, env={**FAST, "GSMBRIDGE_MODEM_PIN": "4321"})
    try:
        client = Client(app.port(), "u", "p")
        numbers = [f"+1415555{i:04d}" for i in range(20)]

        def post(i: int) -> int:
            body = payload(data__to__uid=f"member-{i}", data__to__phno=numbers[i])
            status, _, out = client.post("/webhook", body)
            assert status == 200
            return out["id"]

        with ThreadPoolExecutor(10) as pool:  # a group message: one webhook per member
            ids = list(pool.map(post, range(20)))
        jobs = wait_all(client, ids, {"sent", "delivered"})
        assert {job["to"]["number"] for job in jobs.values()} == set(numbers)
        sent = [m.number for m in sim.sent]
        assert sorted(sent) == sorted(numbers)  # none lost, none twice
        assert sim.pin_attempts == ["4321"]
        _, _, status = client.get("/api/status")
        assert status["modems"][0]["state"] == "ready"
    finally:
        assert app.stop() == 0


def test_permanent_error_ends_failed_with_its_name(tmp_path, simulator) -> None:
    sim = simulator(cms_error_every=1, cms_error_code=21)
    app = Headless(tmp_path, "--modem", sim.url, env=FAST)
    try:
        client = Client(app.port(), "u", "p")
        job_id = client.post("/webhook", payload())[2]["id"]
        job = wait_all(client, [job_id], {"failed"})[job_id]
        assert "short message transfer rejected" in job["last_error"]
        assert job["attempts"] == 1
    finally:
        app.stop()


def test_restart_keeps_and_sends_what_was_queued(tmp_path, simulator) -> None:
    sim = simulator()
    # First run: a modem that never registers, so nothing can go out.
    offline = simulator(registration=3)
    app = Headless(tmp_path, "--modem", offline.url, env=FAST)
    client = Client(app.port(), "u", "p")
    ids = [client.post("/webhook", payload(data__to__uid=f"r{i}"))[2]["id"] for i in range(5)]
    time.sleep(0.5)
    assert {client.get(f"/api/jobs/{j}")[2]["state"] for j in ids} == {"queued"}
    assert app.stop() == 0
    # Second run with a working modem: everything goes out.
    app = Headless(tmp_path, "--modem", sim.url, env=FAST)
    try:
        client = Client(app.port(), "u", "p")
        wait_all(client, ids, {"sent", "delivered"})
        assert len(sim.sent) == 5
        assert not offline.sent
    finally:
        app.stop()


def test_modem_pinned_by_imei_is_found_among_the_ports(tmp_path, simulator, settings) -> None:
    from gsmbridge.service import Bridge

    other = simulator(imei="356938035643800")
    ours = simulator(imei="356938035643817")
    settings.modem.port = [other.url, ours.url]
    settings.modem.imei = "356938035643817"
    settings.limits.per_minute = 0
    bridge = Bridge(settings, tmp_path)
    bridge.start()
    try:
        assert [m.url for m in bridge.modems] == ["imei:356938035643817"]
        assert bridge.modems[0].wait_ready(15), bridge.modems[0].status
        client = Client(bridge.web.port, "cometchat", "s3cret-pass")
        job_id = client.post("/webhook", payload())[2]["id"]
        deadline = time.monotonic() + 15
        while bridge.store.get(job_id).state.value not in ("sent", "delivered"):
            assert time.monotonic() < deadline, bridge.store.get(job_id)
            time.sleep(0.05)
        assert len(ours.sent) == 1 and not other.sent
    finally:
        bridge.stop()
