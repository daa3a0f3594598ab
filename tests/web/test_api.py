"""The monitoring API: status, jobs, retry and cancel."""

from __future__ import annotations

from gsmbridge import __version__
from gsmbridge.service import Bridge
from tests.helpers import Client, payload


def _post(client: Client, uid: str, **changes) -> int:
    return client.post("/webhook", payload(data__to__uid=uid, **changes))[2]["id"]


def test_api_needs_auth(client: Client) -> None:
    for path in ("/api/status", "/api/jobs", "/api/jobs/1"):
        assert client.get(path, auth=False)[0] == 401
    assert client.post("/api/jobs/1/retry", auth=False)[0] == 401


def test_status_reports_counts_and_version(client: Client) -> None:
    _post(client, "a")
    _post(client, "b", data__to__phno=None)
    status, _, body = client.get("/api/status")
    assert status == 200
    assert body["version"] == __version__
    assert body["counts"]["queued"] == 1
    assert body["counts"]["needs-number"] == 1
    assert "modems" in body


def test_jobs_list_filters_and_pages(client: Client) -> None:
    ids = [_post(client, f"user-{i}") for i in range(5)]
    waiting = _post(client, "nobody", data__to__phno=None)
    status, _, body = client.get("/api/jobs?limit=2")
    assert status == 200
    assert [j["id"] for j in body["jobs"]] == [waiting, ids[-1]]
    assert body["total"] == 6
    body = client.get("/api/jobs?limit=2&offset=2")[2]
    assert [j["id"] for j in body["jobs"]] == [ids[3], ids[2]]
    body = client.get("/api/jobs?state=needs-number")[2]
    assert [j["id"] for j in body["jobs"]] == [waiting]
    assert body["jobs"][0]["to"] == {"uid": "nobody", "name": "Andrew Joseph", "number": None}
    body = client.get("/api/jobs?state=queued,needs-number&q=user-3")[2]
    assert [j["id"] for j in body["jobs"]] == [ids[3]]


def test_jobs_list_rejects_bad_parameters(client: Client) -> None:
    for query in ("state=bogus", "limit=0", "limit=5000", "offset=-1", "limit=ten"):
        status, _, body = client.get(f"/api/jobs?{query}")
        assert status == 400, query
        assert body["error"]


def test_job_detail_has_payload_and_history(client: Client) -> None:
    job_id = _post(client, "detail")
    status, _, body = client.get(f"/api/jobs/{job_id}")
    assert status == 200
    assert body["payload"]["data"]["to"]["uid"] == "detail"
    assert [e["kind"] for e in body["events"]] == ["received"]
    assert client.get("/api/jobs/99999")[0] == 404


def test_cancel_then_retry(bridge: Bridge, client: Client) -> None:
    job_id = _post(client, "c")
    status, _, body = client.post(f"/api/jobs/{job_id}/cancel")
    assert (status, body) == (200, {"id": job_id, "status": "cancelled"})
    # Cancelling twice is a conflict, not a silent success.
    status, _, body = client.post(f"/api/jobs/{job_id}/cancel")
    assert status == 409 and "cancelled" in body["error"]
    status, _, body = client.post(f"/api/jobs/{job_id}/retry")
    assert (status, body["status"]) == (200, "queued")
    kinds = [e.kind for e in bridge.store.events(job_id)]
    assert kinds == ["received", "cancelled", "retry-requested"]
    assert client.post("/api/jobs/424242/retry")[0] == 404


def test_needs_number_cannot_be_retried_without_a_number(client: Client) -> None:
    job_id = _post(client, "nonum", data__to__phno=None)
    status, _, body = client.post(f"/api/jobs/{job_id}/retry")
    assert status == 409
    assert "needs-number" in body["error"]


def test_status_says_a_locked_sim_s_tries_left(settings, tmp_path) -> None:
    import time

    from gsmbridge.simulator import fast_options
    from tests.conftest import PASSWORD, USER

    settings.modem.pin = "1111"  # wrong: the simulated SIM wants 4321
    bridge = Bridge(settings, tmp_path / "data", simulator_options=fast_options(pin="4321"))
    bridge.start()
    try:
        client = Client(bridge.web.port, USER, PASSWORD)
        deadline = time.monotonic() + 10
        modem = client.get("/api/status")[2]["modems"][0]
        while modem["state"] != "pin-required" and time.monotonic() < deadline:
            time.sleep(0.05)
            modem = client.get("/api/status")[2]["modems"][0]
        assert modem["pin_tries"] == 2
        assert modem["last_error"].endswith("2 tries left before the SIM locks")
    finally:
        bridge.stop()
