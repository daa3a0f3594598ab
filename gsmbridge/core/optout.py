"""STOP honoured: a reply that is an opt-out keyword puts its number on the opt-out
list, and notifications to a number on it end failed "recipient opted out" unsent.

Checked twice: when a notification arrives (Bridge.accept) and just before it is
sent (Sender.refuse), for jobs queued before the STOP came in.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from enum import Enum

from gsmbridge.config import RepliesSettings
from gsmbridge.core.db import StoreClosed
from gsmbridge.core.events import Listener
from gsmbridge.core.intake import Accepted
from gsmbridge.core.models import Job, NewJob, State
from gsmbridge.core.phones import mask
from gsmbridge.core.store import Store
from gsmbridge.core.store_replies import OPTED_OUT, RepliesStore

log = logging.getLogger(__name__)

CONFIRM_UID = "gsmbridge-opt-out"  # the uid of the confirmation SMS (always sent)
CONFIRM_TEXT = "You will get no more notifications. Reply START to resume."


class Keyword(Enum):
    OPT_OUT = "opt-out"
    OPT_IN = "opt-in"


def keyword_of(text: str, opt_out: Iterable[str], opt_in: Iterable[str]) -> Keyword | None:
    """The keyword a reply is, if it is one: alone on its line, in any case ("Stop",
    "STOP." too); "please stop texting me" is a message, not a keyword."""
    word = text.strip().rstrip(".!").strip().casefold()
    if not word or "\n" in word:
        return None
    if word in {k.strip().casefold() for k in opt_out}:
        return Keyword.OPT_OUT
    if word in {k.strip().casefold() for k in opt_in}:
        return Keyword.OPT_IN
    return None


class OptOuts:
    """The opt-out list's rules over the store.

    ``confirm(number, text)`` queues the optional confirmation SMS.
    """

    def __init__(
        self,
        store: RepliesStore,
        settings: Callable[[], RepliesSettings],
        listener: Listener,
        confirm: Callable[[str, str], object],
        *,
        exempt: Iterable[str] = (),
    ) -> None:
        self.store = store
        self._settings = settings
        self._listener = listener
        self._confirm = confirm
        # uids of jobs sent whatever the list says (the confirmation, a user's test SMS)
        self._exempt = {CONFIRM_UID, *exempt}
        # Whether the list has anyone, read at most every LIST_TTL_S: most offices have
        # nobody on it, and then a webhook pays no read for it (issue 19).  Another PC's
        # new entry may be seen up to that late at intake; the sender's check just before
        # sending is what keeps such a job from going out.
        self._anyone = True
        self._anyone_read_at = -LIST_TTL_S

    def keyword(self, text: str) -> Keyword | None:
        s = self._settings()
        return keyword_of(text, s.opt_out_keywords, s.opt_in_keywords)

    def handle(self, number: str, keyword: Keyword, word: str) -> str:
        """Apply a keyword received from ``number``; return what it did, in words."""
        if keyword is Keyword.OPT_OUT:
            added = self.add(number, f"replied {word}")
            if added and self._settings().confirm_opt_out:
                self._confirm(number, CONFIRM_TEXT)
            # No number in the text: the Inbox shows it where numbers may be masked.
            return f"opt-out ({word}): the number is on the opt-out list" + (
                "" if added else " (it already was)"
            )
        removed = self.remove(number)
        return f"opt-in ({word}): the number " + (
            "is off the opt-out list" if removed else "was not on the opt-out list"
        )

    def _list_has_anyone(self) -> bool:
        now = time.monotonic()
        if now - self._anyone_read_at >= LIST_TTL_S:
            self._anyone = self.store.has_opt_outs()
            self._anyone_read_at = now
        return self._anyone

    def add(self, number: str, source: str) -> bool:
        """Put a number on the list; its waiting notifications end failed, unsent."""
        added = self.store.add_opt_out(number, source)
        self._anyone_read_at = -LIST_TTL_S  # read it again at the next webhook
        if added:
            log.info("%s opted out of notifications (%s)", mask(number), source)
        for job_id in self.store.fail_opted_out(self.store.waiting_jobs_to(number)):
            self._listener.job_changed(job_id, "failed")
        return added

    def remove(self, number: str) -> bool:
        removed = self.store.remove_opt_out(number)
        self._anyone_read_at = -LIST_TTL_S
        if removed:
            log.info("%s opted in to notifications again", mask(number))
        return removed

    def refuse(self, job: Job) -> str:
        """Why a job must not be sent ("" = send it): its number opted out."""
        if job.uid in self._exempt or not job.number:
            return ""
        return OPTED_OUT if self.store.is_opted_out(job.number) else ""

    def after_intake(self, accepted: Accepted) -> Accepted:
        """At intake: a notification queued for a number that opted out ends failed at
        once, unsent (the answer to the webhook says so, unless the sender took it first:
        then its own check fails it just before sending)."""
        if accepted.duplicate or accepted.state is not State.QUEUED:
            return accepted
        if accepted.id <= 0:  # in the local spool (shared store away): checked at sending
            return accepted
        try:
            if not self._list_has_anyone():
                return accepted
            if not self.store.job_opted_out(accepted.id, tuple(self._exempt)):
                return accepted
            if not self.store.fail_opted_out([accepted.id]):
                return accepted
        except StoreClosed as exc:
            # The job is on disk and acknowledged: the sender's check fails it before sending.
            log.info("Opt-out check of job %d left to the sender: %s", accepted.id, exc)
            return accepted
        log.info("Job %d not sent: %s", accepted.id, OPTED_OUT)
        self._listener.job_changed(accepted.id, "failed")
        return dataclasses.replace(accepted, state=State.FAILED)


LIST_TTL_S = 1.0  # how stale "nobody opted out" may be at intake


def queue_confirmation(store: Store, number: str, text: str) -> int:
    """Queue the opt-out confirmation SMS (sent although the number is on the list)."""
    job_id, _, _ = store.enqueue(
        NewJob(
            uid=CONFIRM_UID,
            name="Opt-out confirmation",
            text=text,
            payload={"optOutConfirmation": True, "number": number},
            dedup_key="",
            state=State.QUEUED,
            number=number,
            conversation="gsmbridge opt-out",
        )
    )
    log.info("Opt-out confirmation queued for %s as job %d", mask(number), job_id)
    return job_id
