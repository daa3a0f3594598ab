"""Replies: an SMS sent back to the SIM ends in the inbox (API), even if it arrived while
gsmbridge was stopped."""

from __future__ import annotations

import time

from gsmbridge.modem.simulator import ModemSimulator, fast_options
from tests.helpers import Client, payload
from tests.integration.headless import Headless
from tests.integration.test_end_to_end import FAST, wait_all

NUMBER = "+14155550142"


def wait_inbox(client: Client, count: int, timeout: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        status, _, body = client.get("/api/inbox")
        assert status == 200
        if len(body["messages"]) >= count or time.monotonic() > deadline:
            return body["messages"]
        time.sleep(0.1)


def test_replies_reach_the_inbox_named_and_survive_a_stop(tmp_path) -> None:
    sim = ModemSimulator(fast_options())
    sim.serve_tcp()
    try:
        app = Headless(tmp_path, "--modem", sim.url, env=FAST)
        client = Client(app.port(), "u", "p")
        body = payload(data__to__uid="alice", data__to__name="Alice", data__to__phno=NUMBER)
        job_id = client.post("/webhook", body)[2]["id"]
        wait_all(client, [job_id], {"sent", "delivered"})

        sim.receive_sms(NUMBER, "Thanks, on my way! " * 12)  # a long reply, several parts
        (reply,) = wait_inbox(client, 1)
        assert reply["complete"] and reply["text"] == "Thanks, on my way! " * 12
        assert reply["from"] == {"number": NUMBER, "uid": "alice", "name": "Alice"}
        assert client.get("/api/inbox", auth=False)[0] == 401
        assert app.stop() == 0

        sim.receive_sms(NUMBER, "Are you there?")  # while gsmbridge is stopped
        assert sim.modem.memories["SM"].used == 1
        app = Headless(tmp_path, "--modem", sim.url, env=FAST)
        client = Client(app.port(), "u", "p")
        messages = wait_inbox(client, 2)
        assert [m["text"] for m in messages] == ["Are you there?", "Thanks, on my way! " * 12]
        deadline = time.monotonic() + 10
        while sim.modem.memories["SM"].used and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sim.modem.memories["SM"].used == 0  # the SIM does not fill up
        assert app.stop() == 0
    finally:
        sim.stop()
