"""The CometChat number lookup against a local server that answers like the documented API."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gsmbridge.config import Settings
from gsmbridge.core.cometchat import LookupFailed, LookupRequest, fetch_phone
from gsmbridge.service import Bridge
from tests.helpers import Client, payload


class FakeCometChat:
    """GET /v3/notifications/v1/contact-details with apikey + onBehalfOf headers."""

    def __init__(self, numbers: dict[str, str | None], key: str = "rest-key") -> None:
        self.numbers, self.key = numbers, key
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                outer.requests.append(
                    {
                        "path": self.path,
                        "host": self.headers["Host"],
                        "apikey": self.headers["apikey"],
                        "uid": self.headers["onBehalfOf"],
                    }
                )
                if self.headers["apikey"] != outer.key:
                    return self._send(401, {"error": {"code": "AUTH_ERR_APIKEY_NOT_FOUND"}})
                if self.path != "/v3/notifications/v1/contact-details":
                    return self._send(404, {"error": {"code": "NOT_FOUND"}})
                uid = self.headers["onBehalfOf"]
                if uid not in outer.numbers:
                    return self._send(404, {"error": {"code": "ERR_UID_NOT_FOUND"}})
                return self._send(200, {"data": {"email": "", "phno": outer.numbers[uid]}})

            def _send(self, status: int, body: dict) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def cometchat():
    server = FakeCometChat({"alice": "+12125550111", "nophone": None, "bad": "12"})
    yield server
    server.close()


def template_for(server: FakeCometChat) -> str:
    return f"http://127.0.0.1:{server.server.server_port}/v3"


def test_fetch_sends_the_documented_request(cometchat: FakeCometChat) -> None:
    number = fetch_phone(
        template_for(cometchat), "rest-key", LookupRequest("alice", "app123", "eu"), "US"
    )
    assert number == "+12125550111"
    assert cometchat.requests == [
        {
            "path": "/v3/notifications/v1/contact-details",
            "host": f"127.0.0.1:{cometchat.server.server_port}",
            "apikey": "rest-key",
            "uid": "alice",
        }
    ]


def test_url_template_is_filled_with_app_and_region() -> None:
    from gsmbridge.core.cometchat import contact_details_url

    url = contact_details_url("https://{app_id}.api-{region}.cometchat.io/v3", "app123", "EU")
    assert url == "https://app123.api-eu.cometchat.io/v3/notifications/v1/contact-details"
    with pytest.raises(LookupFailed, match="region"):
        contact_details_url("https://{app_id}.api-{region}.x/v3", "app123", "mars")
    with pytest.raises(LookupFailed, match="app ID"):
        contact_details_url("https://{app_id}.api-{region}.x/v3", "evil.com/x", "us")


@pytest.mark.parametrize(
    ("uid", "key", "fragment"),
    [
        ("nobody", "rest-key", "404"),
        ("alice", "wrong", "AUTH_ERR_APIKEY_NOT_FOUND"),
        ("nophone", "rest-key", "no phone number stored"),
        ("bad", "rest-key", "unusable"),
    ],
)
def test_fetch_failures_say_why(
    cometchat: FakeCometChat, uid: str, key: str, fragment: str
) -> None:
    with pytest.raises(LookupFailed, match=fragment):
        fetch_phone(template_for(cometchat), key, LookupRequest(uid, "app123", "us"), "US")


def test_an_unusable_number_is_named_by_its_reason_not_whole(cometchat: FakeCometChat) -> None:
    """The reason goes to the log (WARNING) and to the waiting jobs' error: it carried
    the whole number ("phone number '12' has ..."), and not the country it was read in."""
    with pytest.raises(LookupFailed) as caught:
        fetch_phone(template_for(cometchat), "rest-key", LookupRequest("bad", "a", "us"), "US")
    assert str(caught.value) == (
        "CometChat's number for bad is unusable: the number has an impossible length,"
        " read as a US number: use + and the country code, or set Default country"
        " (sending.default_region)"
    )


def test_unreachable_server_is_a_lookup_failure() -> None:
    with pytest.raises(LookupFailed, match="could not be reached"):
        fetch_phone("http://127.0.0.1:9/v3", "k", LookupRequest("a", "app", "us"), "US", 2)


def _wait(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_bridge_looks_up_caches_and_releases(
    settings: Settings, tmp_path, cometchat: FakeCometChat
) -> None:
    settings.cometchat.api_key = "rest-key"
    settings.cometchat.api_url = template_for(cometchat)
    settings.modem.port = ["sim"]
    bridge = Bridge(settings, tmp_path)
    bridge.start()
    try:
        client = Client(bridge.web.port, "cometchat", "s3cret-pass")
        status, _, body = client.post(
            "/webhook", payload(data__to__uid="alice", data__to__phno=None)
        )
        assert (status, body["status"]) == (200, "needs-number")
        job = bridge.store.get(body["id"])  # unless the lookup has already released it
        assert "looking it up" in job.last_error or job.number == "+12125550111", job
        _wait(lambda: bridge.store.get(body["id"]).number == "+12125550111")
        assert bridge.store.get_contact("alice").number == "+12125550111"  # cached
        _wait(lambda: bridge.store.get(body["id"]).state.value in ("sent", "delivered"))
        # The next notification for alice uses the cached contact: no new request.
        again = payload(data__to__uid="alice", data__to__phno=None, data__smsContent="more")
        assert client.post("/webhook", again)[2]["status"] == "queued"
        # A failed lookup leaves the job waiting, with the reason.
        status, _, body = client.post(
            "/webhook", payload(data__to__uid="nobody", data__to__phno=None)
        )
        _wait(lambda: "lookup failed" in bridge.store.get(body["id"]).last_error)
        assert bridge.store.get(body["id"]).state.value == "needs-number"
        assert [r["uid"] for r in cometchat.requests] == ["alice", "nobody"]
    finally:
        bridge.stop()
