"""What a person does to the queue and the contacts, from the window or the API.

Retry, cancel, delete, fix a number, send a test SMS; add or import contacts.  Each
action writes through the store, tells the listeners what changed (the window, the
log) and wakes the sender when there is something new to send.  Qt-free and
independent of the running service: tests make one over a store and a recorder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from gsmbridge.config import Settings
from gsmbridge.core.contacts import ImportResult, add_contact, import_csv
from gsmbridge.core.events import Listener
from gsmbridge.core.models import Contact, NewJob, State
from gsmbridge.core.optout import queue_confirmation
from gsmbridge.core.phones import InvalidNumber, normalise
from gsmbridge.core.store import Store

log = logging.getLogger("gsmbridge.service")

TEST_UID = "gsmbridge-test"  # the recipient uid of test SMS (not a CometChat user)


class _Actions:
    def __init__(
        self, store: Store, events: Listener, wake: Callable[[], None], settings: Settings
    ) -> None:
        self.store = store
        self.events = events
        self.wake = wake
        self.settings = settings  # the shared object: the default region is read live

    @property
    def region(self) -> str:
        return self.settings.sending.default_region

    def announce(self, ids: list[int]) -> list[int]:
        """Announce each job's new state; wake the sender if any changed."""
        for job_id in ids:
            job = self.store.get(job_id)
            self.events.job_changed(job_id, job.state.value if job else "deleted")
        if ids:
            self.wake()
        return ids


class JobActions(_Actions):
    """Actions on jobs; each returns the ids it changed (or how many it deleted)."""

    def retry(self, ids: list[int], *, force: bool = False) -> list[int]:
        """Requeue jobs; sent or delivered ones only with ``force`` (they already went out)."""
        changed = self.announce(self.store.retry(ids, force=force))
        if changed:
            log.info(
                "Retry requested for job(s) %s%s",
                ", ".join(map(str, changed)),
                " (sent again on purpose)" if force else "",
            )
        return changed

    def retry_all_failed(self) -> list[int]:
        return self.announce(self.store.retry_all_failed())

    def cancel(self, ids: list[int]) -> list[int]:
        changed = self.announce(self.store.cancel(ids))
        if changed:
            log.info("Cancelled job(s) %s", ", ".join(map(str, changed)))
        return changed

    def delete(self, ids: list[int]) -> int:
        n = self.store.delete(ids)
        self.events.jobs_changed()
        return n

    def recheck_numbers(self) -> list[int]:
        """Jobs waiting because their number did not fit the default country, read again
        with the one set now (Settings, the config file): those that fit are queued."""
        changed: list[int] = []
        for job in self.store.list_jobs(states=[State.NEEDS_NUMBER], limit=1_000_000):
            if not job.raw_number:
                continue  # no number at all: the default country does not help
            try:
                e164 = normalise(job.raw_number, self.region)
            except InvalidNumber:
                continue
            changed += self.store.set_number([job.id], e164)
        if changed:
            log.info(
                "Default country %s: %d job(s) waiting for a number have one now",
                self.region,
                len(changed),
            )
        return self.announce(changed)

    def set_number(self, ids: list[int], number: str, *, save_contact: bool = True) -> list[int]:
        """Fix the number of jobs (and, by default, save it as the recipient's contact)."""
        e164 = normalise(number, self.region)
        changed = self.store.set_number(ids, e164)
        if save_contact:
            for job_id in changed:
                job = self.store.get(job_id)
                if job is not None:
                    self.store.upsert_contact(Contact(uid=job.uid, number=e164, name=job.name))
        return self.announce(changed)

    def send_test(self, number: str, text: str) -> int:
        """Queue a test SMS through the normal path; return its job id."""
        e164 = normalise(number, self.region)
        job_id, state, _ = self.store.enqueue(
            NewJob(
                uid=TEST_UID,
                name="Test SMS",
                text=text,
                payload={"test": True, "number": e164, "text": text},
                dedup_key="",
                state=State.QUEUED,
                number=e164,
                raw_number=number,
                conversation="gsmbridge test",
            )
        )
        log.info("Test SMS queued as job %d", job_id)
        self.events.job_changed(job_id, state.value)
        self.wake()
        return job_id

    def send_opt_out_confirmation(self, number: str, text: str) -> int:
        """Queue the reply to a STOP or START (sent although the number opted out)."""
        job_id = queue_confirmation(self.store, number, text)
        self.events.job_changed(job_id, State.QUEUED.value)
        self.wake()
        return job_id


class ContactActions(_Actions):
    """Adding and importing contacts; the waiting jobs they release are queued."""

    def add(self, uid: str, number: str, name: str = "") -> tuple[Contact, list[int]]:
        contact, released = add_contact(self.store, uid, number, name, self.region)
        if released:
            log.info("Contact %s released %d waiting job(s)", uid, len(released))
        return contact, self.announce(released)

    def import_csv(self, path: Path | str) -> ImportResult:
        """Import a CSV of contacts; waiting jobs they release are queued and announced."""
        result = import_csv(self.store, path, self.region)
        if result.released_jobs:
            self.events.jobs_changed()
            self.wake()
        return result

    def number_found(self, uid: str, number: str) -> None:
        """CometChat gave a recipient's number: saved as a contact, it releases their jobs."""
        released = self.store.upsert_contact(Contact(uid=uid, number=number))
        log.info("Saved %s's number from CometChat; %d job(s) released", uid, len(released))
        self.announce(released)

    def number_not_found(self, uid: str, reason: str) -> None:
        """CometChat could not give the number: the waiting jobs say why."""
        for job_id in self.store.explain_needs_number(uid, f"number lookup failed: {reason}"):
            self.events.job_changed(job_id, State.NEEDS_NUMBER.value)
