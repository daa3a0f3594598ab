"""Test helpers: an HTTP client over http.client, and sample CometChat payloads."""

from __future__ import annotations

import base64
import copy
import http.client
import json
from typing import Any

ONE_TO_ONE: dict[str, Any] = {
    "trigger": "sms-notification-payload-generated",
    "data": {
        "to": {"uid": "cometchat-uid-1", "phno": "+12125550123", "name": "Andrew Joseph"},
        "messages": [
            {
                "sender": {
                    "uid": "cometchat-uid-4",
                    "avatar": "https://assets.cometchat.io/sampleapp/v2/users/cometchat-uid-4.webp",
                    "name": "Susan Marie",
                },
                "message": "Are we meeting on this weekend?",
            },
            {
                "sender": {"uid": "cometchat-uid-4", "name": "Susan Marie"},
                "message": "📷 Has shared an image",
            },
        ],
        "senderDetails": {"uid": "cometchat-uid-4", "name": "Susan Marie"},
        "smsContent": "You've received new messages from Susan Marie! Read them at https://example.com.",
    },
    "appId": "app123",
    "region": "us",
    "webhook": "custom",
}

GROUP_NO_CONTENT: dict[str, Any] = {
    "trigger": "sms-notification-payload-generated",
    "data": {
        "to": {"uid": "cometchat-uid-2", "phno": "+12125550124", "name": "George"},
        "messages": [
            {"sender": {"uid": "cometchat-uid-4", "name": "Susan Marie"}, "message": "Trail at 9?"},
            {"sender": {"uid": "cometchat-uid-5", "name": "John Paul"}, "message": "Yes!"},
        ],
        "groupDetails": {"guid": "cometchat-guid-1", "name": "Hiking Group"},
    },
    "appId": "app123",
    "region": "eu",
    "webhook": "custom",
}


class FakeClock:
    """A clock the test moves by hand (``clock.now += 60``)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


NUMBER = "+12125550123"


def add_job(store: Any, text: str, number: str = NUMBER) -> int:
    """Queue a plain job for ``number`` straight into a store; return its id."""
    from gsmbridge.core.models import NewJob, State

    job_id, _, _ = store.enqueue(
        NewJob(
            uid="u",
            name="U",
            text=text,
            payload={},
            dedup_key="",
            state=State.QUEUED,
            number=number,
        )
    )
    return int(job_id)


def payload(base: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """A deep copy of a sample payload with dotted-path changes (None deletes)."""
    out = copy.deepcopy(base or ONE_TO_ONE)
    for dotted, value in changes.items():
        node = out
        *path, last = dotted.split("__")
        for key in path:
            node = node[key]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return out


class Client:
    """A tiny HTTP client for a server on 127.0.0.1 (a new connection per request)."""

    def __init__(self, port: int, user: str | None = None, password: str | None = None) -> None:
        self.port = port
        self.user, self.password = user, password

    def auth_header(self, user: str | None = None, password: str | None = None) -> str:
        raw = f"{user or self.user}:{password or self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | dict | list | None = None,
        *,
        headers: dict[str, str] | None = None,
        auth: bool = True,
        timeout: float = 10,
    ) -> tuple[int, dict[str, str], Any]:
        all_headers = {"Content-Type": "application/json"}
        if auth and self.user:
            all_headers["Authorization"] = self.auth_header()
        all_headers.update(headers or {})
        if isinstance(body, dict | list):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            raw = response.read()
            data: Any
            try:
                data = json.loads(raw) if raw else None
            except ValueError:
                data = raw.decode(errors="replace")
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()

    def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, dict[str, str], Any]:
        return self.request("POST", path, body, **kw)

    def get(self, path: str, **kw: Any) -> tuple[int, dict[str, str], Any]:
        return self.request("GET", path, **kw)
