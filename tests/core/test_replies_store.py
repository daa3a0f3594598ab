"""The replies' repository, on SQLite and PostgreSQL: one posting state per reply,
claims, Post again, the opt-out list, and which notification a reply answers."""

from __future__ import annotations

import json

from gsmbridge.core.models import NewJob, State
from gsmbridge.core.store import Store
from gsmbridge.core.store_replies import (
    CLAIM_S,
    OPTED_OUT,
    Conversation,
    PostState,
    RepliesStore,
)
from tests.helpers import GROUP_NO_CONTENT, ONE_TO_ONE, FakeClock, payload

NUMBER = "+12125550123"


def sent_job(
    store: Store, body: dict, number: str = NUMBER, *, merge_into: int | None = None
) -> int:
    """A notification that went out to ``number`` (claimed and marked sent)."""
    job_id, _, _ = store.enqueue(
        NewJob(
            uid=body["data"]["to"]["uid"],
            name="N",
            text="hello",
            payload=body,
            dedup_key="",
            state=State.QUEUED,
            number=number,
            app_id=body.get("appId", ""),
        )
    )
    claimed = store.claim_next(now=store.clock())
    assert claimed is not None and claimed.id == job_id
    if merge_into is None:
        store.mark_sent(job_id, parts_total=1)
    return job_id


CONV = Conversation(1, "cometchat-uid-4", "user", "Susan", "cometchat-uid-1", "app123", "us")


def test_a_post_is_recorded_once_and_claimed_by_one(store: Store, clock: FakeClock) -> None:
    replies = RepliesStore.over(store)
    msg = store.add_incoming(NUMBER, "yes")
    post, new = replies.open_post(
        msg.id, "m-1", conversation=CONV, state=PostState.PENDING, due_at=clock.now
    )
    assert new and post.state is PostState.PENDING and post.receiver == "cometchat-uid-4"
    again, new = replies.open_post(
        msg.id, "m-2", conversation=None, state=PostState.NOT_POSTED, error="x", due_at=0
    )
    assert not new and again == post  # read twice from the SIM: the first state stands
    claimed = replies.claim_post(clock.now)
    assert claimed is not None and claimed.attempts == 1
    assert replies.claim_post(clock.now) is None  # held by the claim
    assert replies.next_post_due() == clock.now + CLAIM_S
    replies.mark_post_retry(msg.id, "CometChat answered 503", clock.now + 30)
    assert replies.claim_post(clock.now + 29) is None
    assert replies.get_post(msg.id).summary == "retrying: CometChat answered 503"
    assert replies.claim_post(clock.now + 30) is not None
    replies.mark_posted(msg.id, "msg-77")
    done = replies.get_post(msg.id)
    assert done.state is PostState.POSTED and done.message_id == "msg-77" and not done.error
    assert replies.next_post_due() is None
    assert replies.posts_for([msg.id, 999]) == {msg.id: done}


def test_a_claim_left_by_a_stop_is_released_at_the_next_start(
    store: Store, clock: FakeClock
) -> None:
    replies = RepliesStore.over(store)
    msg = store.add_incoming(NUMBER, "yes")
    replies.open_post(msg.id, "m", conversation=CONV, state=PostState.PENDING, due_at=clock.now)
    assert replies.claim_post(clock.now) is not None
    assert replies.release_claims() == 1
    assert replies.claim_post(clock.now).attempts == 2


def test_post_again_only_with_a_known_conversation(store: Store, clock: FakeClock) -> None:
    replies = RepliesStore.over(store)
    failed = store.add_incoming(NUMBER, "a")
    unknown = store.add_incoming("+12125550999", "b")
    replies.open_post(failed.id, "m1", conversation=CONV, state=PostState.PENDING, due_at=0)
    replies.claim_post(clock.now)
    replies.mark_post_failed(failed.id, "CometChat answered 404 ERR_UID_NOT_FOUND: no such uid")
    replies.open_post(
        unknown.id, "m2", conversation=None, state=PostState.NOT_POSTED,
        error="unknown sender", due_at=0,
    )  # fmt: skip
    assert replies.get_post(failed.id).summary.startswith("failed: CometChat answered 404")
    assert replies.get_post(unknown.id).summary == "not posted: unknown sender"
    assert replies.repost([failed.id, unknown.id]) == [failed.id]
    post = replies.get_post(failed.id)
    assert post.state is PostState.PENDING and post.attempts == 0 and not post.error
    # A deleted reply takes its posting state with it.
    store.delete_incoming([failed.id])
    assert replies.get_post(failed.id) is None


def test_the_reply_answers_the_latest_notification_in_the_window(
    store: Store, clock: FakeClock
) -> None:
    replies = RepliesStore.over(store)
    assert replies.last_job_sent_to(NUMBER, 0) is None
    first = sent_job(store, ONE_TO_ONE)
    clock.now += 60
    group = sent_job(store, payload(GROUP_NO_CONTENT, data__to__phno=NUMBER))
    sent_job(store, ONE_TO_ONE, "+12125550777")  # another number
    found = replies.last_job_sent_to(NUMBER, clock.now - 3600)
    assert found is not None and found.id == group and found.carried == 1
    assert json.loads(found.payload_json)["data"]["groupDetails"]["guid"] == "cometchat-guid-1"
    assert replies.last_job_sent_to(NUMBER, clock.now - 30).id == group
    assert replies.last_job_sent_to(NUMBER, clock.now + 1) is None  # outside the window
    assert first != group


def test_a_coalesced_sms_answers_its_newest_notification(store: Store, clock: FakeClock) -> None:
    replies = RepliesStore.over(store)
    older, _, _ = store.enqueue(
        NewJob(uid="cometchat-uid-1", name="A", text="one", payload=ONE_TO_ONE, dedup_key="",
               state=State.QUEUED, number=NUMBER)
    )  # fmt: skip
    clock.now += 1
    newer, _, _ = store.enqueue(
        NewJob(uid="cometchat-uid-1", name="A", text="two", payload=GROUP_NO_CONTENT,
               dedup_key="", state=State.QUEUED, number=NUMBER)
    )  # fmt: skip
    carrier = store.claim_next(now=clock.now)
    assert carrier is not None and carrier.id == older
    assert store.merge_waiting(carrier, 600) == [newer]
    store.mark_sent(older, parts_total=1)
    found = replies.last_job_sent_to(NUMBER, 0)
    assert found is not None and found.id == newer and found.carried == 2


def test_the_opt_out_list(store: Store, clock: FakeClock) -> None:
    replies = RepliesStore.over(store)
    waiting, _, _ = store.enqueue(
        NewJob(uid="u", name="U", text="t", payload={}, dedup_key="", state=State.QUEUED,
               number=NUMBER)
    )  # fmt: skip
    assert not replies.is_opted_out(NUMBER)
    assert replies.add_opt_out(NUMBER, "replied STOP")
    assert not replies.add_opt_out(NUMBER, "again")
    assert replies.is_opted_out(NUMBER)
    assert [(o.number, o.source) for o in replies.list_opt_outs()] == [(NUMBER, "replied STOP")]
    assert replies.waiting_jobs_to(NUMBER) == [waiting]
    assert replies.fail_opted_out([waiting]) == [waiting]
    job = store.get(waiting)
    assert job.state is State.FAILED and job.last_error == OPTED_OUT
    assert [e.kind for e in store.events(waiting)][-1] == "failed"
    assert replies.fail_opted_out([waiting]) == []  # only jobs still waiting
    assert replies.remove_opt_out(NUMBER) and not replies.remove_opt_out(NUMBER)
    assert not replies.is_opted_out(NUMBER)
