"""From a validated notification to a durable job: number lookup, then the store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gsmbridge.core.db import StoreUnavailable
from gsmbridge.core.events import Listener
from gsmbridge.core.models import NewJob, State
from gsmbridge.core.notification import parse_notification
from gsmbridge.core.phones import InvalidNumber, mask, normalise
from gsmbridge.core.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    id: int  # negative while spooled: the spool's row, not a job yet
    state: State
    duplicate: bool

    @property
    def spooled(self) -> bool:
        """Kept in this PC's local spool (the shared store is away): no job id yet."""
        return self.id < 0


class Intake:
    """Accepts webhook payloads: validates, resolves the number, queues durably."""

    def __init__(
        self,
        store: Store,
        *,
        default_region: Callable[[], str],
        dedup_window_s: Callable[[], float],
        listener: Listener,
        wake_sender: Callable[[], None] = lambda: None,
        lookup: Callable[[str, str, str], bool] | None = None,
    ) -> None:
        self.store = store
        self._region = default_region
        self._window = dedup_window_s
        self._listener = listener
        self._wake = wake_sender
        # lookup(uid, app_id, region) asks CometChat for the number in the background;
        # False when lookups are not configured.
        self._lookup = lookup
        self.lookup_enabled: Callable[[], bool] = lambda: False

    def resolve_number(self, uid: str, phno: Any) -> tuple[str | None, str, str]:
        """Return (E.164 number or None, the raw number, the reason when None)."""
        if phno is not None and phno != "":
            raw = phno if isinstance(phno, str) else repr(phno)
            try:
                return normalise(phno, self._region()), raw[:64], ""
            except InvalidNumber as exc:
                # Without the number: it is the job's raw number, masked where it shows.
                return None, raw[:64], f"invalid number from CometChat: {exc.why}"
        try:
            contact = self.store.get_contact(uid)
        except StoreUnavailable:  # the shared store is away: its spool looks again later
            return None, "", "no phone number yet: the contacts are in the shared store"
        if contact is not None:
            return contact.number, "", ""
        return None, "", f"no phone number: CometChat sent none and {uid!r} is not in contacts"

    def accept(self, payload: Any, text: str | None = None) -> Accepted:
        """Raise PayloadError for a bad payload; otherwise the job is on disk on return.

        ``text`` is the payload's JSON text as received, when the caller has it.
        """
        note = parse_notification(payload)
        number, raw, reason = self.resolve_number(note.uid, note.phno)
        lookup = number is None and not raw and self.lookup_enabled()
        if lookup:
            reason = "no phone number yet: looking it up in CometChat"
        job = NewJob(
            uid=note.uid,
            name=note.name,
            text=note.text,
            payload=payload,
            dedup_key=note.dedup_key,
            state=State.QUEUED if number else State.NEEDS_NUMBER,
            number=number,
            raw_number=raw,
            last_error=reason,
            app_id=note.app_id,
            conversation=note.conversation,
            payload_json=text,
        )
        job_id, state, duplicate = self.store.enqueue(job, dedup_window_s=self._window())
        if duplicate:
            log.info("Webhook for %s is a duplicate of job %d (%s)", note.uid, job_id, state)
        else:
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "Webhook accepted: %s for %s (%s) %s",
                    f"job {job_id}" if job_id > 0 else "in the local spool",
                    note.uid,
                    mask(number) or "no number",
                    state.value if not reason else f"{state.value}: {reason}",
                )
            self._listener.job_changed(job_id, state.value)
            if state is State.QUEUED:
                self._wake()
            elif lookup and self._lookup is not None:
                region = payload.get("region") if isinstance(payload.get("region"), str) else ""
                self._lookup(note.uid, note.app_id, region)
        return Accepted(job_id, state, duplicate)
