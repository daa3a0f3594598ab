"""Replies go back into the chat: an SMS reply is posted into the CometChat
conversation of the notification it answers, as that notification's recipient.

``Replies.received`` runs in the modem's thread, before the modem deletes the SMS:
it decides where the reply goes (or why it goes nowhere) and records a durable
posting state.  A worker thread posts what is due (``POST {api_url}/messages`` on
behalf of the recipient), retrying 5xx, 429 and network errors with backoff
(``Retry-After`` honoured), across restarts; a 4xx ends ``failed`` with CometChat's
error code until a person asks to *Post again*.  Uses urllib, as cometchat.py does.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http.client import HTTPException
from typing import Any, Protocol

from gsmbridge.config import RetrySettings, Settings
from gsmbridge.core.actions import TEST_UID
from gsmbridge.core.cometchat import api_url
from gsmbridge.core.db import StoreUnavailable
from gsmbridge.core.events import Listener
from gsmbridge.core.models import IncomingSms
from gsmbridge.core.optout import CONFIRM_UID, Keyword, OptOuts
from gsmbridge.core.phones import InvalidNumber, mask, normalise
from gsmbridge.core.sender import backoff_delay
from gsmbridge.core.store_inbox import MISSING
from gsmbridge.core.store_replies import (
    AnsweredJob,
    Conversation,
    PostState,
    RepliesStore,
    ReplyPost,
)

log = logging.getLogger(__name__)

UNKNOWN_SENDER = "unknown sender"
TURNED_OFF = "posting replies into CometChat is off (replies.to_cometchat)"
SOURCE = "gsmbridge-sms-reply"
MAX_RETRY_AFTER_S = 3600.0
# Idle, the worker still looks every minute: in a shared store another PC's replies
# may be left to post (that PC stopped), and a claim it held may have run out.
IDLE_POLL_S = 60.0
OWN_UIDS = (TEST_UID, CONFIRM_UID)  # gsmbridge's own SMS answer no conversation
TIMEOUT_S = 15.0


class PostFailed(Exception):
    """CometChat did not take the message.  ``transient``: worth retrying;
    ``retry_after``: the seconds CometChat asked to wait (429/503)."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None):
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


def conversation_of(
    job: AnsweredJob, default_app_id: str, default_region: str
) -> tuple[Conversation | None, str]:
    """Where a reply to this notification goes; (None, why) when its payload names no
    conversation."""
    try:
        payload = json.loads(job.payload_json)
    except ValueError:
        payload = None
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        return None, f"the notification answered (job {job.id}) has no CometChat payload"
    group, sender = data.get("groupDetails"), data.get("senderDetails")
    receiver, receiver_type, name = "", "", ""
    if isinstance(group, dict) and isinstance(group.get("guid"), str) and group["guid"]:
        receiver, receiver_type = group["guid"], "group"
        name = str(group.get("name") or "")
    elif isinstance(sender, dict) and isinstance(sender.get("uid"), str) and sender["uid"]:
        receiver, receiver_type = sender["uid"], "user"
        name = str(sender.get("name") or "")
    if not receiver:
        return None, (
            f"the notification answered (job {job.id}) names no conversation"
            " (no senderDetails.uid or groupDetails.guid)"
        )
    region = payload.get("region") if isinstance(payload.get("region"), str) else ""
    note = ""
    if job.carried > 1:
        note = (
            f"the SMS answered carried {job.carried} notifications;"
            " posted to the most recent conversation"
        )
    return (
        Conversation(
            job_id=job.id,
            receiver=receiver,
            receiver_type=receiver_type,
            name=name or receiver,
            on_behalf_of=job.uid,
            app_id=job.app_id or default_app_id,
            region=region or default_region,
            note=note,
        ),
        "",
    )


def message_body(post: ReplyPost, message: IncomingSms) -> dict[str, Any]:
    """The message CometChat gets: the reply's text, marked as an SMS reply."""
    metadata: dict[str, Any] = {
        "source": SOURCE,
        "sms": {
            "inReplyToJob": post.job_id,
            "receivedAt": message.received_at,
            "parts": message.parts_total,
        },
    }
    if not message.complete:
        missing = message.parts_total - message.parts_received
        metadata["sms"]["missingParts"] = missing
    return {
        "receiver": post.receiver,
        "receiverType": post.receiver_type,
        "category": "message",
        "type": "text",
        "muid": post.muid,
        "data": {"text": message.text, "metadata": metadata},
    }


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


def post_message(url: str, api_key: str, on_behalf_of: str, body: dict[str, Any]) -> str:
    """POST one message on behalf of a user; return CometChat's message id."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "apikey": api_key,
            "onBehalfOf": on_behalf_of,
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            raw = response.read(256 * 1024)
    except urllib.error.HTTPError as exc:
        detail = exc.read(4096).decode("utf-8", "replace")
        code, text = "", detail.strip()[:200]
        try:
            error = json.loads(detail).get("error", {})
            code, text = str(error.get("code", "")), str(error.get("message", ""))[:200]
        except (ValueError, AttributeError):
            pass
        what = f"CometChat answered {exc.code}" + (f" {code}" if code else "")
        message = f"{what}: {text}" if text else what
        transient = exc.code == 429 or exc.code >= 500
        retry_after = _retry_after(exc.headers.get("Retry-After")) if exc.headers else None
        raise PostFailed(message, transient=transient, retry_after=retry_after) from exc
    except (urllib.error.URLError, TimeoutError, OSError, HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise PostFailed(f"CometChat could not be reached: {reason}", transient=True) from exc
    try:
        message_id = json.loads(raw)["data"]["id"]
    except (ValueError, KeyError, TypeError) as exc:
        # It answered 2xx: the message is in; do not post it twice for a bad body.
        log.warning("CometChat took a reply but its answer has no data.id: %s", exc)
        return ""
    return str(message_id)


class Inbox(Protocol):
    def get_incoming(self, message_id: int) -> IncomingSms | None: ...


Poster = Callable[[str, str, str, dict[str, Any]], str]


@dataclass
class Replies:
    """Decides where each reply goes and posts it from a worker thread."""

    store: RepliesStore
    inbox: Inbox
    settings: Settings
    listener: Listener
    opt_outs: OptOuts
    clock: Callable[[], float] = time.time
    rng: Callable[[], float] = random.random
    post: Poster = post_message

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- control -----------------------------------------------------------------

    def start(self) -> None:
        try:
            released = self.store.release_claims()
        except StoreUnavailable:  # the shared store is away: the claims expire by themselves
            released = 0
        if released:
            log.info("%d reply post(s) interrupted by the last stop are due again", released)
        self._thread = threading.Thread(target=self._run, name="replies", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    # -- intake (the modem's thread) ------------------------------------------------

    def received(self, message: IncomingSms, number: str | None) -> ReplyPost | None:
        """A reply (or a part of one) is on disk: record where it goes.  ``number``:
        the sender in E.164, None when it is not a number."""
        if message.complete and number:
            keyword = self.opt_outs.keyword(message.text)
            if keyword is not None:
                did = self.opt_outs.handle(number, keyword, message.text.strip())
                post, _ = self.store.open_post(
                    message.id,
                    self._muid(message),
                    conversation=None,
                    state=PostState.NOT_POSTED,
                    error=f"{did} (keywords are never posted)",
                    due_at=self.clock(),
                )
                if keyword is Keyword.OPT_OUT:
                    log.info("Reply #%d from %s is an opt-out", message.id, mask(number))
                return post
        existing = self.store.get_post(message.id)
        if existing is not None:
            if message.complete and self.store.post_now(message.id):
                self._wake.set()  # the last part of a long reply: post it now
            return existing
        return self._open(message, number)

    def _open(self, message: IncomingSms, number: str | None) -> ReplyPost:
        now = self.clock()
        muid = self._muid(message)
        conversation, why = None, TURNED_OFF
        if self.settings.replies.to_cometchat:
            conversation, why = self._conversation(message, number)
        if conversation is None:
            post, _ = self.store.open_post(
                message.id, muid, conversation=None, state=PostState.NOT_POSTED, error=why,
                due_at=now,
            )  # fmt: skip
            if why == UNKNOWN_SENDER:
                log.info("Reply #%d not posted: unknown sender", message.id)
            return post
        wait = 0.0 if message.complete else self.settings.replies.part_timeout_s
        post, new = self.store.open_post(
            message.id,
            muid,
            conversation=conversation,
            state=PostState.PENDING,
            due_at=message.received_at + wait,
        )
        if new:
            log.info(
                "Reply #%d goes to %s %s as %s",
                message.id,
                conversation.receiver_type,
                conversation.name,
                conversation.on_behalf_of,
            )
            self._wake.set()
        return post

    def _conversation(
        self, message: IncomingSms, number: str | None
    ) -> tuple[Conversation | None, str]:
        if not number:
            return None, UNKNOWN_SENDER
        since = message.received_at - self.settings.replies.window_hours * 3600.0
        job = self.store.last_job_sent_to(number, since, exclude_uids=OWN_UIDS)
        if job is None:
            return None, UNKNOWN_SENDER
        cc = self.settings.cometchat
        return conversation_of(job, cc.app_id, cc.region)

    @staticmethod
    def _muid(message: IncomingSms) -> str:
        # Stable for the reply: a repeated post of it is recognisable.
        return f"gsmbridge-sms-{message.id}-{int(message.received_at * 1000)}"

    # -- user actions -------------------------------------------------------------------

    def post_again(self, ids: list[int]) -> list[int]:
        """Post again replies that failed or were not posted (their conversation known).
        One received while posting was off is looked up now that it is on."""
        if self.settings.replies.to_cometchat:
            for inbox_id in ids:
                self._address_now(inbox_id)
        done = self.store.repost(ids)
        if done:
            self._wake.set()
        return done

    def _address_now(self, inbox_id: int) -> None:
        post = self.store.get_post(inbox_id)
        if post is None or post.receiver or post.error != TURNED_OFF:
            return
        message = self.inbox.get_incoming(inbox_id)
        if message is None:
            return
        try:
            number: str | None = normalise(message.sender, self.settings.sending.default_region)
        except InvalidNumber:
            number = None
        conversation, why = self._conversation(message, number)
        self.store.address_post(inbox_id, conversation, "" if conversation else why)

    # -- the worker -----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self._work_once()
            except StoreUnavailable as exc:  # the shared store is away: said once per try
                log.warning("Replies not posted for now: %s; trying again in a minute", exc)
                wait = 60.0
            except Exception:  # noqa: BLE001 - the worker must outlive a bug or a closed store
                log.exception("Posting replies failed; trying again in a minute")
                wait = 60.0
            if self._stop.is_set():
                return
            self._wake.wait(wait)
            self._wake.clear()

    def _work_once(self) -> float | None:
        """Post every due reply; return how long to wait (None: until woken)."""
        while not self._stop.is_set():
            post = self.store.claim_post(self.clock())
            if post is None:
                break
            self._post(post)
        due = self.store.next_post_due()
        if due is None:
            return IDLE_POLL_S
        return min(max(due - self.clock(), 0.05), IDLE_POLL_S)

    def _post(self, post: ReplyPost) -> None:
        message = self.inbox.get_incoming(post.inbox_id)
        if message is None:
            return  # deleted from the Inbox: its posting state went with it
        if not self.settings.replies.to_cometchat:
            self._finish(message, lambda: self.store.mark_not_posted(post.inbox_id, TURNED_OFF))
            return
        cc = self.settings.cometchat
        if not cc.api_key:
            error = "cometchat.api_key is not set (a REST API key with full access is needed)"
            self._finish(message, lambda: self.store.mark_post_failed(post.inbox_id, error))
            return
        try:
            url = api_url(cc.api_url, post.app_id, post.region, "/messages")
        except ValueError as exc:
            reason = f"cannot post: {exc} (set cometchat.app_id and region)"
            self._finish(message, lambda: self.store.mark_post_failed(post.inbox_id, reason))
            return
        try:
            message_id = self.post(url, cc.api_key, post.on_behalf_of, message_body(post, message))
        except PostFailed as exc:
            self._failed(post, message, exc)
            return
        missing = "" if message.complete else f" ({MISSING} marks parts that never arrived)"
        log.info(
            "Reply #%d posted to %s %s as %s (message %s)%s",
            post.inbox_id,
            post.receiver_type,
            post.conversation,
            post.on_behalf_of,
            message_id or "?",
            missing,
        )
        self._finish(message, lambda: self.store.mark_posted(post.inbox_id, message_id))

    def _failed(self, post: ReplyPost, message: IncomingSms, exc: PostFailed) -> None:
        error = str(exc)
        if not exc.transient:
            log.warning("Reply #%d not posted: %s", post.inbox_id, error)
            self._finish(message, lambda: self.store.mark_post_failed(post.inbox_id, error))
            return
        retry: RetrySettings = self.settings.retry
        delay = backoff_delay(post.attempts, retry, self.rng)
        if exc.retry_after is not None:
            delay = min(exc.retry_after, MAX_RETRY_AFTER_S)
        log.warning(
            "Reply #%d: posting attempt %d failed (%s); retrying in %.0f s",
            post.inbox_id,
            post.attempts,
            error,
            delay,
        )
        at = self.clock() + delay
        self._finish(message, lambda: self.store.mark_post_retry(post.inbox_id, error, at))

    def _finish(self, message: IncomingSms, record: Callable[[], None]) -> None:
        record()
        self.listener.sms_received(message)  # the Inbox shows the new posting state
