"""Retry through the API: what already went out is sent again only with ?force=true."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from gsmbridge.core.models import State
from gsmbridge.service import Bridge
from tests.helpers import Client, payload


def _wait(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def _sent_job(bridge: Bridge, client: Client, uid: str) -> int:
    """A job the simulated modem really sent (sent, or delivered once reported)."""
    body = payload(data__to__uid=uid, data__smsContent=f"hello {uid}")
    job_id = client.post("/webhook", body)[2]["id"]
    _wait(lambda: bridge.store.get(job_id).state in (State.SENT, State.DELIVERED))
    return job_id


def _outbox_texts(bridge: Bridge, text: str) -> int:
    return sum(1 for m in bridge.modems.simulator_outbox() if m.text == text)


def test_a_job_that_went_out_is_not_sent_again_without_force(
    bridge: Bridge, client: Client
) -> None:
    job_id = _sent_job(bridge, client, "went-out")
    state = bridge.store.get(job_id).state.value
    status, _, body = client.post(f"/api/jobs/{job_id}/retry")
    assert status == 409
    assert body == {
        "error": f"job {job_id} is {state}: it already went out; "
        "retry with ?force=true to send it again"
    }
    assert bridge.store.get(job_id).state.value == state
    assert "retry-requested" not in [e.kind for e in bridge.store.events(job_id)]
    assert client.post(f"/api/jobs/{job_id}/retry?force=false")[0] == 409


def test_force_sends_it_again(bridge: Bridge, client: Client) -> None:
    job_id = _sent_job(bridge, client, "again")
    assert _outbox_texts(bridge, "hello again") == 1
    status, _, body = client.post(f"/api/jobs/{job_id}/retry?force=true")
    assert (status, body["id"]) == (200, job_id)
    assert body["status"] in ("queued", "sending", "sent", "delivered")
    _wait(lambda: _outbox_texts(bridge, "hello again") == 2)
    _wait(lambda: bridge.store.get(job_id).state in (State.SENT, State.DELIVERED))
    assert [e.kind for e in bridge.store.events(job_id)].count("retry-requested") == 1


@pytest.mark.parametrize("value", ["maybe", "2", "TRUEISH"])
def test_a_bad_force_value_is_a_400(bridge: Bridge, client: Client, value: str) -> None:
    job_id = _sent_job(bridge, client, f"bad-force-{value}")
    status, _, body = client.post(f"/api/jobs/{job_id}/retry?force={value}")
    assert status == 400 and "force" in body["error"]
    assert "retry-requested" not in [e.kind for e in bridge.store.events(job_id)]


def test_failed_and_cancelled_jobs_retry_without_force(bridge: Bridge, client: Client) -> None:
    job_id = client.post("/webhook", payload(data__to__uid="nobody", data__to__phno=None))[2]["id"]
    assert client.post(f"/api/jobs/{job_id}/cancel")[0] == 200
    status, _, body = client.post(f"/api/jobs/{job_id}/retry")
    # No number: back to needs-number, as before; no force needed.
    assert (status, body["status"]) == (200, "needs-number")


def test_bridge_retry_returns_only_the_requeued_ids(bridge: Bridge, client: Client) -> None:
    sent = _sent_job(bridge, client, "bridge-sent")
    waiting = client.post("/webhook", payload(data__to__uid="w", data__to__phno=None))[2]["id"]
    assert client.post(f"/api/jobs/{waiting}/cancel")[0] == 200
    assert bridge.jobs.retry([sent, waiting]) == [waiting]
    assert bridge.store.get(sent).state in (State.SENT, State.DELIVERED)
    assert bridge.jobs.retry([sent], force=True) == [sent]
