"""The API as the README describes it: 415 for non-JSON types, a job's history."""

from __future__ import annotations

import http.client
import json

import pytest

from gsmbridge.service import Bridge
from tests.helpers import ONE_TO_ONE, Client, payload


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain; charset=utf-8", "application/octet-stream", "text/json", ""],
)
def test_other_content_types_get_415(bridge: Bridge, client: Client, content_type: str) -> None:
    status, _, body = client.post("/webhook", ONE_TO_ONE, headers={"Content-Type": content_type})
    assert status == 415
    shown = content_type.split(";")[0] or "none"
    assert body == {"error": f"Content-Type must be application/json, got {shown}"}
    assert bridge.store.count_jobs() == 0


def test_no_content_type_at_all_gets_415(bridge: Bridge, client: Client) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", bridge.web.port, timeout=10)
    try:
        conn.request(
            "POST",
            "/webhook",
            body=json.dumps(ONE_TO_ONE).encode(),
            headers={"Authorization": client.auth_header()},
        )
        response = conn.getresponse()
        assert response.status == 415
        assert json.loads(response.read())["error"].endswith("got none")
    finally:
        conn.close()


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/cloudevents+json",
    ],
)
def test_json_content_types_are_accepted(client: Client, content_type: str) -> None:
    body = payload(data__to__uid=f"type-{content_type}")
    assert client.post("/webhook", body, headers={"Content-Type": content_type})[0] == 200


def test_job_detail_has_its_history(bridge: Bridge, client: Client) -> None:
    job_id = client.post("/webhook", payload(data__to__uid="history", data__to__phno=None))[2]["id"]
    assert client.post(f"/api/jobs/{job_id}/cancel")[0] == 200
    status, _, body = client.get(f"/api/jobs/{job_id}")
    assert status == 200
    assert [e["kind"] for e in body["history"]] == ["received", "cancelled"]
    assert set(body["history"][0]) == {"at", "kind", "detail"}
    assert body["events"] == body["history"]  # the old name, for one release
