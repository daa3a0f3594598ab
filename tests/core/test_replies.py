"""Replies posted into CometChat, against a real HTTP server answering like its REST
API (records requests, fails on cue), over a real store on each backend."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gsmbridge.config import Settings
from gsmbridge.core.events import Listener
from gsmbridge.core.models import IncomingSms
from gsmbridge.core.optout import OptOuts
from gsmbridge.core.replies import (
    IDLE_POLL_S,
    SOURCE,
    TURNED_OFF,
    UNKNOWN_SENDER,
    Replies,
    conversation_of,
)
from gsmbridge.core.store import Store
from gsmbridge.core.store_inbox import MISSING
from gsmbridge.core.store_replies import AnsweredJob, PostState, RepliesStore
from tests.core.test_replies_store import NUMBER, sent_job
from tests.helpers import GROUP_NO_CONTENT, ONE_TO_ONE, FakeClock, payload


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: Any


class CometChatStub:
    """A real HTTP server on 127.0.0.1 answering ``POST /v3/messages`` like CometChat.

    ``fail`` holds answers to give first, in order: (status, error code, headers) and
    optionally the error's message.
    Every request is recorded in ``requests``; a success answers ``{"data": {"id"}}``.
    """

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.fail: list[tuple[Any, ...]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with outer.lock:
                    outer.requests.append(Request(self.path, headers, json.loads(raw)))
                    answer = outer.fail.pop(0) if outer.fail else None
                    n = len(outer.requests)
                if answer is None:
                    status, extra = 200, {}
                    body: dict[str, Any] = {"data": {"id": str(1000 + n), "sentAt": 1}}
                else:
                    status, code, extra, *text = answer
                    message = text[0] if text else f"stand-in {code}"
                    body = {"error": {"code": code, "message": message}} if code else {}
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def posts(self) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path.endswith("/messages")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def cometchat() -> Iterator[CometChatStub]:
    stub = CometChatStub()
    yield stub
    stub.close()


class Seen(Listener):
    def __init__(self) -> None:
        self.jobs: list[tuple[int, str]] = []
        self.messages: list[int] = []

    def job_changed(self, job_id: int, state: str) -> None:
        self.jobs.append((job_id, state))

    def sms_received(self, message: Any) -> None:
        self.messages.append(message.id)


def make_settings(url: str) -> Settings:
    s = Settings()
    s.replies.to_cometchat = True
    s.cometchat.api_key = "rest-key"
    s.cometchat.app_id = "app123"
    s.cometchat.region = "us"
    s.cometchat.api_url = url + "/v3"
    s.retry.base_delay_s = 10
    s.retry.max_delay_s = 40
    return s


@dataclass
class Rig:
    store: Store
    replies: Replies
    settings: Settings
    clock: FakeClock
    seen: Seen
    confirmations: list[tuple[str, str]]

    def receive(self, text: str, number: str = NUMBER, **kw: Any) -> IncomingSms:
        message = self.store.add_incoming(number, text, **kw)
        self.replies.received(message, number)
        return message

    def state(self, message: IncomingSms) -> PostState:
        post = self.replies.store.get_post(message.id)
        assert post is not None
        return post.state


def make_rig(store: Store, settings: Settings, clock: FakeClock) -> Rig:
    seen = Seen()
    confirmations: list[tuple[str, str]] = []
    repo = RepliesStore.over(store)
    opt_outs = OptOuts(
        repo, lambda: settings.replies, seen, lambda n, t: confirmations.append((n, t))
    )
    replies = Replies(repo, store, settings, seen, opt_outs, clock=clock, rng=lambda: 1.0)
    return Rig(store, replies, settings, clock, seen, confirmations)


@pytest.fixture
def rig(store: Store, clock: FakeClock, cometchat: CometChatStub) -> Rig:
    return make_rig(store, make_settings(cometchat.url), clock)


def test_one_on_one_and_group_replies_each_posted_once_as_the_recipient(
    rig: Rig, cometchat: CometChatStub
) -> None:
    one = sent_job(rig.store, ONE_TO_ONE)
    a = rig.receive("Yes, see you at 5 👍", sent_at=rig.clock.now)
    rig.clock.now += 10
    sent_job(rig.store, payload(GROUP_NO_CONTENT, data__to__phno="+12125550124"), "+12125550124")
    b = rig.receive("Trail at 9 works", "+12125550124")
    rig.receive("Yes, see you at 5 👍", sent_at=a.sent_at)  # read twice from the SIM
    assert rig.replies._work_once() == IDLE_POLL_S  # nothing due: looks again in a minute
    first, second = cometchat.posts()
    assert len(cometchat.posts()) == 2
    assert first.path == "/v3/messages"
    assert first.headers["apikey"] == "rest-key"
    assert first.headers["onbehalfof"] == "cometchat-uid-1"
    assert first.headers["content-type"] == "application/json"
    assert first.body["receiver"] == "cometchat-uid-4" and first.body["receiverType"] == "user"
    assert first.body["category"] == "message" and first.body["type"] == "text"
    assert first.body["data"]["text"] == "Yes, see you at 5 👍"
    meta = first.body["data"]["metadata"]
    assert meta["source"] == SOURCE and meta["sms"]["inReplyToJob"] == one
    assert first.body["muid"] == rig.replies.store.get_post(a.id).muid
    assert second.headers["onbehalfof"] == "cometchat-uid-2"
    assert second.body["receiver"] == "cometchat-guid-1" and second.body["receiverType"] == "group"
    post = rig.replies.store.get_post(b.id)
    assert post.state is PostState.POSTED and post.message_id == "1002"
    assert post.conversation == "Hiking Group" and post.on_behalf_of == "cometchat-uid-2"
    assert b.id in rig.seen.messages  # the Inbox hears of the new state


def test_gsmbridge_s_own_sms_answer_no_conversation(rig: Rig, cometchat: CometChatStub) -> None:
    sent_job(rig.store, ONE_TO_ONE)
    rig.clock.now += 5
    # An opt-out confirmation (or a test SMS) sent later is not what a reply answers.
    from gsmbridge.core.optout import queue_confirmation

    own = queue_confirmation(rig.store, NUMBER, "You will get no more notifications.")
    assert rig.store.claim_next(now=rig.clock.now).id == own
    rig.store.mark_sent(own, parts_total=1)
    message = rig.receive("ok thanks")
    assert rig.replies.store.get_post(message.id).receiver == "cometchat-uid-4"


def test_an_unknown_number_is_never_posted(rig: Rig, cometchat: CometChatStub) -> None:
    sent_job(rig.store, ONE_TO_ONE)
    stranger = rig.receive("Who is this?", "+12125550999")
    alpha = rig.store.add_incoming("Vodafone", "Your bill")
    rig.replies.received(alpha, None)
    rig.clock.now += 72 * 3600 + 1  # the notification is out of the window now
    late = rig.receive("Sorry, late answer")
    for message in (stranger, alpha, late):
        post = rig.replies.store.get_post(message.id)
        assert post.state is PostState.NOT_POSTED and post.error == UNKNOWN_SENDER
        assert post.summary == "not posted: unknown sender"
    assert rig.replies.post_again([stranger.id]) == []  # never as anybody
    rig.replies._work_once()
    assert cometchat.posts() == []


def test_turned_off_nothing_is_posted(rig: Rig, cometchat: CometChatStub) -> None:
    sent_job(rig.store, ONE_TO_ONE)
    rig.settings.replies.to_cometchat = False
    message = rig.receive("hello")
    rig.replies._work_once()
    assert cometchat.posts() == []
    assert rig.replies.store.get_post(message.id).error == TURNED_OFF


def test_a_reply_from_while_posting_was_off_can_be_posted_once_it_is_on(
    rig: Rig, cometchat: CometChatStub
) -> None:
    """Post again refused it as "its sender is unknown": its conversation was never
    looked up, since posting was off when it came."""
    sent_job(rig.store, ONE_TO_ONE)
    rig.settings.replies.to_cometchat = False
    message = rig.receive("hello")
    stranger = rig.receive("who?", "+12125550999")
    assert rig.replies.post_again([message.id]) == []  # still off: nothing
    assert rig.replies.store.get_post(message.id).error == TURNED_OFF
    rig.settings.replies.to_cometchat = True
    assert rig.replies.post_again([message.id, stranger.id]) == [message.id]
    rig.replies._work_once()
    [posted] = cometchat.posts()
    assert posted.body["receiver"] == "cometchat-uid-4"
    assert rig.state(message) is PostState.POSTED
    assert rig.replies.store.get_post(stranger.id).error == UNKNOWN_SENDER  # never as anybody


def test_failing_twice_then_succeeding_is_posted_once_honouring_retry_after(
    rig: Rig, cometchat: CometChatStub
) -> None:
    sent_job(rig.store, ONE_TO_ONE)
    cometchat.fail = [(503, "", {}), (429, "ERR_TOO_MANY_REQUESTS", {"Retry-After": "7"})]
    message = rig.receive("ok")
    assert rig.replies._work_once() == pytest.approx(10)  # backoff (rng 1.0: the full step)
    post = rig.replies.store.get_post(message.id)
    assert post.state is PostState.PENDING and post.error == "CometChat answered 503"
    assert rig.replies._work_once() == pytest.approx(10)  # not due yet: nothing posted
    assert len(cometchat.posts()) == 1
    rig.clock.now += 10
    assert rig.replies._work_once() == pytest.approx(7)  # Retry-After, not the backoff
    assert "429 ERR_TOO_MANY_REQUESTS" in rig.replies.store.get_post(message.id).summary
    rig.clock.now += 7
    rig.replies._work_once()
    assert len(cometchat.posts()) == 3
    assert len({r.body["muid"] for r in cometchat.posts()}) == 1  # one reply, one muid
    post = rig.replies.store.get_post(message.id)
    assert post.state is PostState.POSTED and post.attempts == 3 and post.message_id == "1003"


def test_a_network_error_is_retried(rig: Rig, cometchat: CometChatStub) -> None:
    sent_job(rig.store, ONE_TO_ONE)
    rig.settings.cometchat.api_url = "http://127.0.0.1:9/v3"  # nothing listens there
    message = rig.receive("ok")
    rig.replies._work_once()
    post = rig.replies.store.get_post(message.id)
    assert post.state is PostState.PENDING and "could not be reached" in post.error


def test_a_4xx_fails_with_the_code_and_post_again_works(rig: Rig, cometchat: CometChatStub) -> None:
    sent_job(rig.store, ONE_TO_ONE)
    cometchat.fail = [(404, "ERR_UID_NOT_FOUND", {})]
    message = rig.receive("ok")
    assert rig.replies._work_once() == IDLE_POLL_S  # no retry of a permanent error
    post = rig.replies.store.get_post(message.id)
    assert post.state is PostState.FAILED
    assert (
        post.summary
        == "failed: CometChat answered 404 ERR_UID_NOT_FOUND: stand-in ERR_UID_NOT_FOUND"
    )
    assert rig.replies.post_again([message.id]) == [message.id]
    rig.replies._work_once()
    assert rig.state(message) is PostState.POSTED and len(cometchat.posts()) == 2


def test_without_an_api_key_it_fails_saying_so(rig: Rig, cometchat: CometChatStub) -> None:
    sent_job(rig.store, ONE_TO_ONE)
    rig.settings.cometchat.api_key = ""
    message = rig.receive("ok")
    rig.replies._work_once()
    assert "cometchat.api_key is not set" in rig.replies.store.get_post(message.id).error
    assert cometchat.posts() == []


def test_a_long_reply_is_posted_once_all_parts_are_in(rig: Rig, cometchat: CometChatStub) -> None:
    sent_job(rig.store, ONE_TO_ONE)
    first = rig.receive("Part one, ", concat=(7, 2, 1))
    rig.replies._work_once()
    assert rig.replies.store.next_post_due() == first.received_at + 600  # waits for part 2
    assert cometchat.posts() == []
    rig.clock.now += 5
    done = rig.receive("part two.", concat=(7, 2, 2))
    assert done.id == first.id and done.complete
    rig.replies._work_once()
    (post,) = cometchat.posts()
    assert post.body["data"]["text"] == "Part one, part two."
    assert "missingParts" not in post.body["data"]["metadata"]["sms"]


def test_a_long_reply_missing_a_part_is_posted_after_the_timeout_marked(
    rig: Rig, cometchat: CometChatStub
) -> None:
    sent_job(rig.store, ONE_TO_ONE)
    rig.receive("Part one, ", concat=(8, 3, 1))
    rig.receive("three.", concat=(8, 3, 3))
    rig.clock.now += 600
    rig.replies._work_once()
    (post,) = cometchat.posts()
    assert post.body["data"]["text"] == f"Part one, {MISSING}three."
    assert post.body["data"]["metadata"]["sms"]["missingParts"] == 1


def test_a_restart_between_receipt_and_posting_posts_after_it(
    location: str, clock: FakeClock, cometchat: CometChatStub
) -> None:
    settings = make_settings(cometchat.url)
    store = Store(location, clock=clock)
    rig = make_rig(store, settings, clock)
    sent_job(store, ONE_TO_ONE)
    message = rig.receive("on my way")
    # Stopped while the post was in flight (claimed, never answered).
    assert rig.replies.store.claim_post(clock.now) is not None
    store.close()

    store = Store(location, clock=clock)
    try:
        rig = make_rig(store, settings, clock)
        rig.replies.start()  # releases this node's claim, then posts
        try:
            deadline = threading.Event()
            for _ in range(100):
                if cometchat.posts():
                    break
                deadline.wait(0.05)
        finally:
            rig.replies.stop()
        assert len(cometchat.posts()) == 1
        assert rig.state(message) is PostState.POSTED
    finally:
        store.close()


def test_a_coalesced_sms_reply_goes_to_the_newest_conversation_and_says_so() -> None:
    job = AnsweredJob(5, "cometchat-uid-2", "", json.dumps(GROUP_NO_CONTENT), 1.0, carried=3)
    conversation, why = conversation_of(job, "app123", "eu")
    assert conversation is not None and not why
    assert conversation.receiver == "cometchat-guid-1" and conversation.region == "eu"
    assert "carried 3 notifications" in conversation.note
    bad = AnsweredJob(6, "u", "", json.dumps({"test": True}), 1.0, carried=1)
    assert conversation_of(bad, "", "") == (
        None,
        "the notification answered (job 6) has no CometChat payload",
    )
