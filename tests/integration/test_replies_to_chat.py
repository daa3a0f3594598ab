"""Replies go back into the chat (issue 17), end to end: the real gsmbridge command, the
modem simulator delivering the replies, a stand-in CometChat REST API that records
requests and fails on cue."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gsmbridge.core.optout import CONFIRM_TEXT
from gsmbridge.simulator import ModemSimulator, fast_options
from tests.core.test_replies import CometChatStub
from tests.helpers import GROUP_NO_CONTENT, Client, payload
from tests.integration.headless import Headless
from tests.integration.test_end_to_end import FAST, wait_all
from tests.modem.conftest import wait_until

ALICE = "+14155550142"
BOB = "+14155550143"
STRANGER = "+14155550199"


@pytest.fixture
def cometchat() -> Iterator[CometChatStub]:
    stub = CometChatStub()
    yield stub
    stub.close()


@pytest.fixture
def sim() -> Iterator[ModemSimulator]:
    simulator = ModemSimulator(fast_options())
    simulator.serve_tcp()
    yield simulator
    simulator.stop()


def start(
    tmp_path, sim: ModemSimulator, cometchat: CometChatStub, **more: str
) -> tuple[Headless, Client]:
    env = {
        **more,
        **FAST,
        "GSMBRIDGE_REPLIES_TO_COMETCHAT": "true",
        "GSMBRIDGE_COMETCHAT_API_KEY": "rest-key",
        "GSMBRIDGE_COMETCHAT_APP_ID": "app123",
        "GSMBRIDGE_COMETCHAT_REGION": "us",
        "GSMBRIDGE_COMETCHAT_API_URL": cometchat.url + "/v3",
    }
    app = Headless(tmp_path, "--modem", sim.url, env=env)
    return app, Client(app.port(), "u", "p")


def inbox(client: Client) -> list[dict]:
    status, _, body = client.get("/api/inbox")
    assert status == 200
    return body["messages"]


def posting(client: Client, text: str) -> dict | None:
    found = [m for m in inbox(client) if m["text"] == text]
    return found[0]["posting"] if found else None


def state_of(client: Client, text: str) -> str:
    post = posting(client, text)
    return post["state"] if post else ""


def notify(client: Client, body: dict) -> int:
    status, _, out = client.post("/webhook", body)
    assert status == 200, out
    return out["id"]


def test_replies_are_posted_once_to_their_conversation_and_strangers_never(
    tmp_path, sim: ModemSimulator, cometchat: CometChatStub
) -> None:
    app, client = start(tmp_path, sim, cometchat)
    try:
        one = notify(client, payload(data__to__uid="alice", data__to__phno=ALICE))
        group = notify(client, payload(GROUP_NO_CONTENT, data__to__uid="bob", data__to__phno=BOB))
        wait_all(client, [one, group], {"sent", "delivered"})

        sim.receive_sms(ALICE, "Yes, see you at 5")
        sim.receive_sms(BOB, "Trail at 9 works " * 12)  # a long reply, several parts
        sim.receive_sms(STRANGER, "Who is this?")
        assert wait_until(lambda: state_of(client, "Yes, see you at 5") == "posted", timeout=20)
        assert wait_until(lambda: state_of(client, "Trail at 9 works " * 12) == "posted", 20)
        assert wait_until(lambda: state_of(client, "Who is this?") == "not-posted", 20)

        posts = cometchat.posts()
        assert len(posts) == 2  # each once; the stranger never
        by_receiver = {p.body["receiver"]: p for p in posts}
        alice = by_receiver["cometchat-uid-4"]
        assert alice.headers["onbehalfof"] == "alice" and alice.headers["apikey"] == "rest-key"
        assert alice.body["receiverType"] == "user"
        assert alice.body["data"]["metadata"]["sms"]["inReplyToJob"] == one
        bob = by_receiver["cometchat-guid-1"]
        assert bob.headers["onbehalfof"] == "bob" and bob.body["receiverType"] == "group"
        assert bob.body["data"]["text"] == "Trail at 9 works " * 12

        shown = posting(client, "Yes, see you at 5")
        assert shown["conversation"]["receiver"] == "cometchat-uid-4"
        assert shown["conversation"]["name"] == "Susan Marie"
        assert shown["message_id"] and shown["summary"] == "posted"
        stranger = posting(client, "Who is this?")
        assert stranger["summary"] == "not posted: unknown sender"
        assert stranger["conversation"] is None
        reply_id = next(m["id"] for m in inbox(client) if m["text"] == "Who is this?")
        status, _, body = client.post(f"/api/inbox/{reply_id}/post-again", {})
        assert status == 409 and "unknown" in body["error"]
        assert len(cometchat.posts()) == 2
    finally:
        assert app.stop() == 0


def test_failures_retries_a_4xx_post_again_and_a_restart(
    tmp_path, sim: ModemSimulator, cometchat: CometChatStub
) -> None:
    app, client = start(tmp_path, sim, cometchat)
    try:
        job = notify(client, payload(data__to__uid="alice", data__to__phno=ALICE))
        wait_all(client, [job], {"sent", "delivered"})

        # Failing twice, then taking it: posted once.
        cometchat.fail = [(503, "", {}), (500, "", {})]
        sim.receive_sms(ALICE, "first")
        assert wait_until(lambda: state_of(client, "first") == "posted", timeout=20)
        assert [p.body["data"]["text"] for p in cometchat.posts()] == ["first"] * 3
        assert posting(client, "first")["attempts"] == 3

        # A permanent error: failed with CometChat's code, then Post again.
        cometchat.fail = [(403, "ERR_NOT_A_MEMBER", {})]
        sim.receive_sms(ALICE, "second")
        assert wait_until(lambda: state_of(client, "second") == "failed", timeout=20)
        assert "403 ERR_NOT_A_MEMBER" in posting(client, "second")["error"]
        reply_id = next(m["id"] for m in inbox(client) if m["text"] == "second")
        status, _, body = client.post(f"/api/inbox/{reply_id}/post-again", {})
        assert status == 200, body
        assert wait_until(lambda: state_of(client, "second") == "posted", timeout=20)

        # CometChat down when the reply comes, gsmbridge restarted before it is posted.
        cometchat.fail = [(503, "", {"Retry-After": "3"})]
        sim.receive_sms(ALICE, "third")
        assert wait_until(lambda: state_of(client, "third") == "pending", timeout=20)
        assert wait_until(lambda: len(cometchat.posts()) == 6, timeout=10)
        assert app.stop() == 0
        app, client = start(tmp_path, sim, cometchat)
        assert wait_until(lambda: state_of(client, "third") == "posted", timeout=30)
        texts = [p.body["data"]["text"] for p in cometchat.posts()]
        assert texts.count("third") == 2  # the failed try, then once after the restart
    finally:
        app.stop()


def test_stop_then_start(tmp_path, sim: ModemSimulator, cometchat: CometChatStub) -> None:
    app, client = start(tmp_path, sim, cometchat, GSMBRIDGE_REPLIES_CONFIRM_OPT_OUT="true")
    try:
        first = notify(client, payload(data__to__uid="alice", data__to__phno=ALICE))
        wait_all(client, [first], {"sent", "delivered"})
        sim.receive_sms(ALICE, "STOP")
        assert wait_until(lambda: state_of(client, "STOP") == "not-posted", timeout=20)
        assert "opt-out" in posting(client, "STOP")["error"]

        refused = notify(
            client, payload(data__to__uid="alice", data__to__phno=ALICE, data__smsContent="Two")
        )
        # Failed at intake, or just before sending if the sender claimed it first.
        wait_all(client, [refused], {"failed"})
        job = client.get(f"/api/jobs/{refused}")[2]
        assert job["last_error"] == "recipient opted out"
        # The confirmation goes out although the number is on the list; nothing else.
        assert wait_until(lambda: len([m for m in sim.sent if m.number == ALICE]) == 2)
        assert sim.sent[-1].text == CONFIRM_TEXT

        sim.receive_sms(ALICE, "start")
        assert wait_until(lambda: state_of(client, "start") == "not-posted", timeout=20)
        again = notify(
            client, payload(data__to__uid="alice", data__to__phno=ALICE, data__smsContent="Three")
        )
        wait_all(client, [again], {"sent", "delivered"})
        sent_to_alice = [m.text for m in sim.sent if m.number == ALICE]
        assert len(sent_to_alice) == 3 and "Three" in sent_to_alice[-1]
        assert not any("Two" in t for t in sent_to_alice)
        assert cometchat.posts() == []  # keywords are never posted
    finally:
        assert app.stop() == 0
