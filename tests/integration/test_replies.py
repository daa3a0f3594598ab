"""Replies: an SMS sent back to the SIM ends in the inbox (API), even if it arrived while
gsmbridge was stopped."""

from __future__ import annotations

from gsmbridge.simulator import ModemSimulator, fast_options
from tests.helpers import Client, payload
from tests.integration.headless import Headless
from tests.integration.test_end_to_end import FAST, wait_all
from tests.modem.conftest import wait_until

NUMBER = "+14155550142"


def inbox(client: Client) -> list[dict]:
    status, _, body = client.get("/api/inbox")
    assert status == 200
    return body["messages"]


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
        # The row appears with the first part; it is complete once every part is in.
        assert wait_until(lambda: [m["complete"] for m in inbox(client)] == [True], timeout=20)
        (reply,) = inbox(client)
        assert reply["complete"] and reply["text"] == "Thanks, on my way! " * 12
        assert reply["from"] == {"number": NUMBER, "uid": "alice", "name": "Alice"}
        assert client.get("/api/inbox", auth=False)[0] == 401
        assert app.stop() == 0

        sim.receive_sms(NUMBER, "Are you there?")  # while gsmbridge is stopped
        assert sim.modem.memories["SM"].used == 1
        app = Headless(tmp_path, "--modem", sim.url, env=FAST)
        client = Client(app.port(), "u", "p")
        assert wait_until(lambda: len(inbox(client)) == 2, timeout=20)
        texts = [m["text"] for m in inbox(client)]
        assert texts == ["Are you there?", "Thanks, on my way! " * 12]
        assert wait_until(lambda: sim.modem.memories["SM"].used == 0)  # the SIM does not fill
        assert app.stop() == 0
    finally:
        sim.stop()
