"""POST /webhook's two ways in (web/webhook.py): answered in plain WSGI, or handed on
to Flask (a chunked body, another content type, bad credentials).  Both must give
the same answers and be counted in /metrics; against a real waitress and SQLite."""

from __future__ import annotations

import http.client
import json
import logging
from typing import Any

import pytest

from gsmbridge.service import Bridge
from tests.helpers import Client, payload
from tests.web.test_metrics import scrape, value


def chunked_post(client: Client, body: bytes) -> tuple[int, dict[str, str], Any]:
    """A body without Content-Length (Transfer-Encoding: chunked): Flask's way."""
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=10)
    try:
        headers = {"Content-Type": "application/json", "Authorization": client.auth_header()}
        conn.request("POST", "/webhook", body=iter([body[:10], body[10:]]), headers=headers)
        response = conn.getresponse()
        raw = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(raw)
    finally:
        conn.close()


def test_both_ways_store_and_answer_alike(bridge: Bridge, client: Client) -> None:
    status, headers, plain = client.post("/webhook", payload(data__to__uid="plain"))
    assert status == 200 and headers["content-type"] == "application/json"
    body = json.dumps(payload(data__to__uid="chunked")).encode()
    status, headers, chunked = chunked_post(client, body)
    assert status == 200 and headers["content-type"] == "application/json"
    assert plain == {"id": plain["id"], "status": "queued"}
    assert chunked == {"id": plain["id"] + 1, "status": "queued"}
    assert bridge.store.get(chunked["id"]).uid == "chunked"
    # The same notification again: a duplicate either way.
    assert client.post("/webhook", payload(data__to__uid="chunked"))[2]["duplicate"] is True
    again = json.dumps(payload(data__to__uid="plain")).encode()
    assert chunked_post(client, again)[2] == {**plain, "duplicate": True}


@pytest.mark.parametrize("chunked", [False, True])
def test_bad_payloads_get_the_same_400(bridge: Bridge, client: Client, chunked: bool) -> None:
    post = (
        (lambda b: chunked_post(client, b)) if chunked else (lambda b: client.post("/webhook", b))
    )
    status, _, body = post(b"{not json")
    assert status == 400 and body["error"].startswith("body is not valid JSON")
    status, _, body = post(json.dumps(payload(trigger="other")).encode())
    assert status == 400 and "trigger must be" in body["error"]
    assert bridge.store.count_jobs() == 0


def test_every_answer_is_counted_whichever_way(bridge: Bridge, client: Client) -> None:
    assert client.post("/webhook", payload(data__to__uid="a"))[0] == 200  # plain WSGI
    assert chunked_post(client, json.dumps(payload(data__to__uid="b")).encode())[0] == 200
    assert client.post("/webhook", payload(), auth=False)[0] == 401  # Flask's
    assert client.post("/webhook", "x", headers={"Content-Type": "text/plain"})[0] == 415
    assert client.post("/webhook", b"[1")[0] == 400
    _, _, samples = scrape(client)
    counted = {
        code: value(samples, "gsmbridge_webhook_requests_total", code=code)
        for code in ("200", "400", "401", "415")
    }
    assert counted == {"200": 2, "400": 1, "401": 1, "415": 1}
    assert value(samples, "gsmbridge_webhook_request_duration_seconds_count") == 5


def test_an_unexpected_error_is_a_logged_500_not_a_lost_connection(
    bridge: Bridge,
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(payload: Any, text: str | None = None) -> Any:
        raise KeyError("a bug")

    monkeypatch.setattr(bridge.intake, "accept", broken)
    with caplog.at_level(logging.ERROR):
        status, headers, body = client.post("/webhook", payload())
    assert status == 500 and headers["content-type"] == "application/json"
    assert body == {"error": "internal error: KeyError"}
    logged = [r for r in caplog.records if r.exc_info and "POST /webhook" in r.getMessage()]
    assert logged and logged[0].exc_info[0] is KeyError
    _, _, samples = scrape(client)
    assert value(samples, "gsmbridge_webhook_requests_total", code="500") == 1


def test_new_credentials_apply_at_once(bridge: Bridge, client: Client) -> None:
    assert client.post("/webhook", payload(data__to__uid="before"))[0] == 200
    bridge.settings.auth.password = "another-password"
    bridge.web.app.extensions["gsmbridge.auth"].update(bridge.settings.auth)
    assert client.post("/webhook", payload(data__to__uid="after"))[0] == 401
    new = Client(client.port, client.user, "another-password")
    assert new.post("/webhook", payload(data__to__uid="after"))[0] == 200
