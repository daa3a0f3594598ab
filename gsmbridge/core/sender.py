"""The sender: from the queue to the modems, with retries, rate limits and reports.

One worker thread per modem.  Each worker claims the next due job only while
its modem is ready and its limits allow, so jobs spread across healthy modems
and move to another modem when one drops.  A failing job is rescheduled with
backoff and never blocks the jobs behind it.  Workers sleep on an Event and
are woken at once by a new job, a retry request or a modem becoming ready.

With a store several PCs share, a claim is a lease: one thread renews the leases
of the jobs being sent here (an AT exchange can outlast one) and takes over the
jobs of nodes that stopped renewing theirs (the crash policy applies to them).
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from gsmbridge import __version__
from gsmbridge.config import RetrySettings, Settings
from gsmbridge.core.db import StoreUnavailable
from gsmbridge.core.events import Listener
from gsmbridge.core.models import Job
from gsmbridge.core.notification import sms_text
from gsmbridge.core.phones import mask
from gsmbridge.core.store import Store
from gsmbridge.modem.errors import ModemError, ModemUnavailable
from gsmbridge.modem.pdu import StatusReport
from gsmbridge.modem.status import ModemStatus

log = logging.getLogger(__name__)
T = TypeVar("T")

IDLE_WAIT_S = 60.0  # wake up now and then even with nothing to do
NOT_READY_WAIT_S = 2.0  # a modem becoming ready also wakes the workers
NOTE_REFRESH_S = 1.0  # a held modem shows new jobs its "waiting: limit" note this often


class ModemLike(Protocol):
    url: str

    @property
    def status(self) -> ModemStatus: ...

    def next_concat_ref(self) -> int: ...

    def send_sms(
        self,
        number: str,
        text: str,
        *,
        concat_ref: int | None = None,
        first_part: int = 1,
        on_part_sent: Callable[[int, int], None] | None = None,
        on_parts_planned: Callable[[int], None] | None = None,
        more_to_come: bool = False,
    ) -> Any: ...


def backoff_delay(attempt: int, retry: RetrySettings, rng: Callable[[], float]) -> float:
    """Exponential backoff with "equal jitter": between half and all of the step.

    With the defaults (30 s base, 30 min cap, 8 attempts) the retries spread
    over about an hour.
    """
    step = min(retry.max_delay_s, retry.base_delay_s * (2 ** max(attempt - 1, 0)))
    return step / 2 + rng() * step / 2


class Sender:
    """Delivers queued jobs through one or more modems.

    ``listener`` receives ``job_changed`` for every state change the sender makes.
    """

    def __init__(
        self,
        store: Store,
        modems: Sequence[ModemLike],
        settings: Settings,
        listener: Listener,
        *,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.modems = modems
        self.settings = settings  # read on every job, so changes apply at once
        self.listener = listener
        self.clock = clock
        self.rng = rng
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._workers = [_Worker(self, modem) for modem in modems]
        # Why a job must not go out after all (a recipient who opted out since it was
        # queued); "" = send.  Set by the Bridge.
        self.refuse: Callable[[Job], str] = lambda job: ""
        # Jobs claimed here and not yet released: their leases are renewed.
        self._in_flight: set[int] = set()
        self._in_flight_lock = threading.Lock()
        self._leases: threading.Thread | None = None
        if store.dialect.shared:
            self._leases = threading.Thread(target=self._keep_leases, name="leases", daemon=True)

    # -- control --------------------------------------------------------------

    def start(self) -> None:
        for worker in self._workers:
            worker.start()
        if self._leases is not None:
            try:
                self.store.heartbeat(__version__, self.modem_summary(), starting=True)
            except StoreUnavailable:
                pass  # the first beat of the lease thread says it once the store answers
            self._leases.start()
            # A job taken by another node's webhook wakes the modems here at once.
            self.store.listen(self._jobs_elsewhere)

    @property
    def sending(self) -> bool:
        """Whether an SMS is under way on one of the modems."""
        return any(worker.sending for worker in self._workers)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming; a send in progress finishes (or the modem's stop aborts it)."""
        self._stop.set()
        self.wake()
        for worker in self._workers:
            worker.join(timeout)
        if self._leases is not None and self._leases.ident is not None:
            self._leases.join(timeout)

    def wake(self, *, force: bool = True) -> None:
        """Wake the workers; ``force=False`` (a new job) spares those held by a limit."""
        now = self.clock()
        for worker in self._workers:
            # A held worker shows new jobs why they wait (at most once a second): one
            # wake-up for a burst of webhooks, not one each.
            with worker._note_lock:
                pending, worker._refresh_note = worker._refresh_note, True
            if force or now >= worker._limited_until or not pending:
                worker.event.set()

    def pause(self) -> None:
        if not self._paused.is_set():
            self._paused.set()
            log.info("Sending paused; webhooks are still accepted and queued")

    def resume(self) -> None:
        if self._paused.is_set():
            self._paused.clear()
            log.info("Sending resumed")
            self.wake()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    # -- leases (a store several PCs share) ------------------------------------------

    def _jobs_elsewhere(self, node: str) -> None:
        # This node's own writes wake its sender too: the spool drained into the store
        # after an outage is such a write.
        self.wake(force=False)

    def _keep_leases(self) -> None:
        store = self.store
        interval = max(store.lease_s / 3, 0.1)
        store_down = False
        # After an outage of the store every node's leases ran out at once: take over
        # nobody's jobs until each node has had a lease's time to renew its own.
        hold_off_until = 0.0
        while not self._stop.wait(interval):
            try:
                store.heartbeat(__version__, self.modem_summary())
                with self._in_flight_lock:
                    ids = sorted(self._in_flight)
                if ids and store.renew_leases(ids) < len(ids):
                    log.warning("A job being sent here was taken over by another node")
                policy = self.settings.sending.crash_policy
                recovered = []
                if not store_down and time.monotonic() >= hold_off_until:
                    recovered = store.recover_expired(policy, busy=ids)
            except StoreUnavailable:
                store_down = True  # said by the store and by each worker, once
                continue
            except Exception as exc:  # noqa: BLE001 - retried at the next beat
                log.warning("Could not renew the leases in the shared store: %s", exc)
                continue
            if store_down:
                store_down = False
                hold_off_until = time.monotonic() + store.lease_s
                log.info("Heartbeats and leases in the shared store go on")
            if not recovered:
                continue
            log.warning(
                "%d job(s) claimed by a node that stopped answering were taken over "
                "(policy %r): %s",
                len(recovered),
                policy,
                ", ".join(map(str, recovered)),
            )
            for job_id in recovered:
                self.listener.job_changed(job_id, "failed" if policy == "fail" else "queued")
            self.wake()

    # -- callbacks from the modems ----------------------------------------------

    def status_report(self, modem_url: str, report: StatusReport) -> None:
        """A delivery report (+CDS) arrived on one modem (on its supervisor thread)."""
        if not report.final:
            log.info("Report for reference %d: %s", report.message_reference, report.status_text)
            return
        result = self._apply_report(modem_url, report)
        worker = next((w for w in self._workers if w.modem.url == modem_url), None)
        if result is None and worker is not None:
            # The modem answers +CMGS and may report at once, before the sender's
            # thread has recorded that reference: a report for a send under way
            # waits for the worker, which matches it again after each part it records.
            with worker.report_lock:
                if worker.sending:
                    worker.parked_reports.append(report)
                    return
            # A send that ended meanwhile recorded its parts before it ended.
            result = self._apply_report(modem_url, report)
        self._reported(modem_url, report, result)

    def modem_summary(self) -> list[dict[str, Any]]:
        """This node's modems for its heartbeat (the cluster view on every PC)."""
        out: list[dict[str, Any]] = []
        for modem in self.modems:
            status = modem.status
            out.append(
                {
                    "port": modem.url,
                    "key": self.modem_key(modem.url),
                    "state": status.state,
                    "simulated": status.simulated,
                    "operator": status.operator,
                    "signal_dbm": status.signal_dbm,
                    "imei": status.imei,
                    "last_error": status.last_error,
                }
            )
        return out

    def modem_key(self, modem_url: str) -> str:
        return self.store.modem_key(modem_url)

    def _apply_report(self, modem_url: str, report: StatusReport) -> tuple[int, str] | None:
        return self.store.record_report(
            self.modem_key(modem_url),
            report.message_reference,
            report.recipient.lstrip("+"),
            delivered=report.delivered,
            detail=report.status_text,
            status_at=report.discharge_time.timestamp() if report.discharge_time else None,
        )

    def _reported(
        self, modem_url: str, report: StatusReport, result: tuple[int, str] | None
    ) -> None:
        if result is None:
            log.info(
                "Report for unknown reference %d on %s (%s)",
                report.message_reference,
                modem_url,
                report.status_text,
            )
            return
        job_id, state = result
        if state == "delivered":
            log.info("Job %d delivered", job_id)
        elif state == "failed":
            log.warning("Job %d not delivered: %s", job_id, report.status_text)
        self.listener.job_changed(job_id, state)


class _Worker:
    """Sends through one modem; see Sender."""

    def __init__(self, sender: Sender, modem: ModemLike) -> None:
        self.sender = sender
        self.modem = modem
        self.event = threading.Event()
        self._waiting_note = ""
        self._sent_unheld = True  # the last send was not followed by a limit's hold
        # While a limit holds, wake-ups (every webhook) need not ask the database again.
        self._limited_until = 0.0
        self._limits_seen: tuple[int, int] = (0, 0)
        # Jobs that arrive while a limit holds get its note on a throttled wake-up.
        self._noted_at = 0.0
        self._refresh_note = False
        self._note_lock = threading.Lock()  # a wake-up's read-and-set vs the worker's reset
        self._away = ""  # why the modem is not ready, once logged ("" while it is ready)
        self._store_down = False  # the shared store is unreachable (said once)
        self.claims = 0  # jobs claimed (a worker waiting for its modem claims none)
        self._noted_until = 0.0  # the hold's end the held jobs' planned times start from
        # (start, parts) of this modem's last send: the per-minute limit spaces sends
        # from it (None: not sent since start, the database knows the last one).
        self._last_send: tuple[float, int] | None = None
        # Reports that arrived during a send before their part was recorded.
        self.report_lock = threading.Lock()
        self.sending = False
        self.parked_reports: list[StatusReport] = []
        self._thread = threading.Thread(target=self._run, name=f"sender {modem.url}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        stop = self.sender._stop
        while not stop.is_set():
            try:
                wait = self._work_once()
                self._store_down = False
            except StoreUnavailable as exc:  # the shared store: its own log says why
                if not self._store_down:
                    log.warning("Modem %s waits for the shared store: %s", self.modem.url, exc)
                self._store_down = True
                wait = NOT_READY_WAIT_S
            except Exception:  # noqa: BLE001 - the worker must survive a bug or a closed store
                log.exception("sender for %s failed; retrying in a moment", self.modem.url)
                wait = NOT_READY_WAIT_S
            if wait == 0:
                continue
            self.event.wait(IDLE_WAIT_S if wait is None else min(wait, IDLE_WAIT_S))
            self.event.clear()

    # -- one step -------------------------------------------------------------------

    def _note_waiting(self, note: str, until: float | None = None) -> None:
        """Show on the due jobs why they are not going out and when they will (or clear it)."""
        now = self.sender.clock()
        with self._note_lock:
            refresh = self._refresh_note and now - self._noted_at >= NOTE_REFRESH_S
            changed = (
                note != self._waiting_note
                or (until is not None and until != self._noted_until)
                or (refresh and bool(note))
            )
            if changed:
                self._noted_at, self._refresh_note = now, False
        if changed:
            self._waiting_note = note
            self._noted_until = until or 0.0
            per_minute = self.sender.settings.limits.per_minute
            spacing = 60.0 / per_minute if per_minute else 0.0
            if self.sender.store.annotate_waiting(note, until=until, spacing_s=spacing):
                self.sender.listener.jobs_changed()

    def _limit_delay(self, now: float) -> tuple[float, str]:
        """Seconds until this modem may send again under its limits, and why."""
        limits = self.sender.settings.limits
        seen = (limits.per_minute, limits.per_day)
        if now < self._limited_until and seen == self._limits_seen:
            return self._limited_until - now, self._waiting_note
        self._limits_seen = seen
        delay, reason = self._query_limits(now)
        self._limited_until = now + delay
        return delay, reason

    def _query_limits(self, now: float) -> tuple[float, str]:
        limits = self.sender.settings.limits
        store, url = self.sender.store, self.sender.modem_key(self.modem.url)
        # Per modem, SMS parts count (a 3-part message is 3 SMS to the carrier and
        # the SIM plan).  N a minute is one part every 60/N s, evenly: a burst of N
        # then a silent minute is what gets SIMs blocked.  A long message goes out
        # whole, then waits its parts' share.
        if limits.per_minute:
            last = self._last_send or store.last_send(url)
            if last is not None:
                until = last[0] + last[1] * 60.0 / limits.per_minute
                if until > now:
                    label = f"{limits.per_minute} SMS per minute"
                    return until - now, f"waiting: limit of {label} on {url}"
        # The last message may overshoot the day's allowance by its extra parts.
        if limits.per_day and store.sent_parts(since=now - 86400.0, modem=url) >= limits.per_day:
            oldest = store.oldest_sent_at(since=now - 86400.0, modem=url) or now
            label = f"{limits.per_day} SMS per day"
            return max(oldest + 86400.0 - now, 0.05), f"waiting: limit of {label} on {url}"
        return 0.0, ""

    def _work_once(self) -> float | None:
        """Send at most one job; return how long to wait (0: go on, None: until woken)."""
        sender = self.sender
        if sender.paused:
            return None
        status = self.modem.status
        if not status.ready:
            # Claim nothing: one log line for the outage, and the waiting jobs say why.
            self._modem_away(status.last_error or status.state)
            return NOT_READY_WAIT_S
        if self._away:
            self._away = ""
            log.info("Modem %s is ready again; sending resumes", self.modem.url)
        now = sender.clock()
        delay, reason = self._limit_delay(now)
        if delay > 0:
            self._sent_unheld = False
            self._note_waiting(reason, now + delay)
            if self._refresh_note:  # not yet shown: come back when the throttle allows
                return max(min(delay, self._noted_at + NOTE_REFRESH_S - now), 0.01)
            return delay
        if self._sent_unheld:
            # No limit held the queue after the last send: it no longer waits.  (When a
            # hold just ran out, the note stays on the backlog for the next hold: clearing
            # and writing it again cost two writes of every queued row per send.)
            self._note_waiting("")
        job = sender.store.claim_next(modem=sender.modem_key(self.modem.url), now=now)
        if job is None:
            due = sender.store.next_due_at()
            return None if due is None else max(due - now, 0.05)
        self.claims += 1
        self._sent_unheld = True  # until a limit holds the next one
        sender.listener.job_changed(job.id, "sending")
        with sender._in_flight_lock:
            sender._in_flight.add(job.id)
        try:
            self._send(job)
        finally:
            with sender._in_flight_lock:
                sender._in_flight.discard(job.id)
        # The modem went away under the send: wait for it (no claim-and-release loop).
        return NOT_READY_WAIT_S if self._away else 0

    def _modem_away(self, reason: str) -> None:
        url = self.modem.url
        if not self._away:
            log.info("Modem %s not ready (%s); jobs wait for it", url, reason)
        self._away = reason
        # With another modem ready the jobs go there: nothing to explain on them.
        others = [m for m in self.sender.modems if m is not self.modem]
        if not any(m.status.ready for m in others):
            self._note_waiting(f"waiting: modem {url} not ready ({reason})")

    def _recipient_hold(self, job: Job, now: float) -> bool:
        limit = self.sender.settings.limits.per_recipient_per_hour
        store = self.sender.store
        if not limit or store.sent_count(since=now - 3600, number=job.number) < limit:
            return False
        oldest = store.oldest_sent_at(since=now - 3600, number=job.number) or now
        store.hold(job.id, oldest + 3600, f"waiting: limit of {limit} per recipient per hour")
        self.sender.listener.job_changed(job.id, "queued")
        return True

    def _send(self, job: Job) -> None:
        sender, store = self.sender, self.sender.store
        if not job.number:  # cannot happen through the store's rules; never send blind
            store.mark_failed(job.id, "no number", count_attempt=False)
            sender.listener.job_changed(job.id, "failed")
            return
        refused = sender.refuse(job)
        if refused:
            store.mark_failed(job.id, refused, count_attempt=False)
            log.info("Job %d not sent: %s", job.id, refused)
            sender.listener.job_changed(job.id, "failed")
            return
        if self._recipient_hold(job, sender.clock()):
            return
        text = self._text_with_merged(job)
        concat_ref = job.concat_ref if job.concat_ref is not None else self.modem.next_concat_ref()
        first_part = job.parts_sent + 1

        parts_out = 0

        def on_part_sent(seq: int, reference: int) -> None:
            nonlocal parts_out
            parts_out += 1
            # Queued ahead of every later write (a report's too): a retry resumes
            # after this part, and its report finds it.
            self._settle(lambda: store.record_part(job.id, seq, reference, concat_ref, wait=False))
            if self.parked_reports:
                self._match_parked(final=False)

        due = store.next_due_at()
        started = sender.clock()
        with self.report_lock:
            self.sending = True
        try:
            result = self.modem.send_sms(
                job.number,
                text,
                concat_ref=concat_ref,
                first_part=first_part,
                on_part_sent=on_part_sent,
                on_parts_planned=lambda total: store.plan_parts(job.id, total),
                more_to_come=due is not None and due <= sender.clock(),
            )
        except ModemUnavailable as exc:
            # Not the message's fault: back in the queue without using an attempt.
            note = f"modem unavailable: {exc.name}"
            if exc.maybe_sent:
                note += " (the last part may have gone out; it will be sent again)"
            state = self._settle(
                lambda: store.schedule_retry(job.id, note, sender.clock(), count_attempt=False)
            )
            log.debug("Job %d back in the queue: %s", job.id, note)
            self._modem_away(exc.name or str(exc))
            sender.listener.job_changed(job.id, state)
            return
        except ModemError as exc:
            # The job's own fault (its number, its text): the whole reason, which says
            # what to fix; otherwise the modem's short name for what went wrong.
            reason = str(exc) if exc.kind == "input" else (exc.name or str(exc))
            self._failed_attempt(job, reason, exc.transient)
            return
        except Exception as exc:  # noqa: BLE001 - a bug must not lose the job
            log.exception("unexpected error sending job %d", job.id)
            self._failed_attempt(job, f"internal error: {type(exc).__name__}: {exc}", True)
            return
        finally:
            if parts_out:
                self._last_send = (started, parts_out)
            self._match_parked(final=True)
        parts = getattr(result, "parts", 1)
        detail = f"{parts} part(s), {getattr(result, 'encoding', '?')}, via {self.modem.url}"
        note = ""
        if getattr(result, "truncated", False):
            detail += ", truncated to the maximum number of parts"
            # On the job (the Queue tab's note column, its details, the API), not only in
            # its history: the recipient did not get the whole text.
            kept = len(getattr(result, "text_sent", "")) or "?"
            note = (
                f"text cut to {parts} part(s) (Longest message, sending.max_parts):"
                f" {kept} of {len(text)} characters went out"
            )
            log.warning("Job %d to %s: %s", job.id, mask(job.number), note)
        state = self._settle(
            lambda: store.mark_sent(job.id, parts_total=parts, detail=detail, note=note)
        )
        log.info("Job %d sent to %s (%s)", job.id, mask(job.number), detail)
        if state == "delivered":  # every part's report came while it was sending
            log.info("Job %d delivered", job.id)
        elif state == "failed":
            log.warning("Job %d %s", job.id, self._last_error(job.id))
        sender.listener.job_changed(job.id, state)

    def _settle(self, write: Callable[[], T]) -> T:
        """Write a send's result (a part, the outcome), which must not be lost: while
        the shared store is unreachable, or this PC's database cannot be written (a
        full disk), the worker waits here, its modem idle, and writes it once it can
        (a stop gives up: the crash policy covers it).  Left "sending", an SMS that
        went out would be sent again at the next start under crash_policy=resend."""
        warned = False
        while True:
            try:
                return write()
            except (StoreUnavailable, sqlite3.OperationalError) as exc:
                if not warned:
                    where = (
                        "the shared store"
                        if isinstance(exc, StoreUnavailable)
                        else "the queue database to be writable"
                    )
                    log.warning("A sent job's result waits for %s: %s", where, exc)
                    warned = True
                if self.sender._stop.wait(NOT_READY_WAIT_S):
                    raise

    def _last_error(self, job_id: int) -> str:
        job = self.sender.store.get(job_id)
        return job.last_error if job is not None else "removed"

    def _match_parked(self, *, final: bool) -> None:
        """Match again the reports that came before their part was recorded; ``final``
        (the send is over): those still unmatched are reported unknown."""
        with self.report_lock:
            parked, self.parked_reports = self.parked_reports, []
            if final:
                self.sending = False
        for report in parked:
            result = self.sender._apply_report(self.modem.url, report)
            if result is None and not final:
                with self.report_lock:
                    self.parked_reports.append(report)
                continue
            self.sender._reported(self.modem.url, report, result)

    def _text_with_merged(self, job: Job) -> str:
        """The job's text, or one SMS for it and the recipient's other waiting jobs."""
        sending = self.sender.settings.sending
        store = self.sender.store
        if sending.coalesce:
            joined = store.merge_waiting(job, sending.coalesce_window_s)
            if joined:
                log.info(
                    "Job %d carries %d more notification(s) for the same number",
                    job.id,
                    len(joined),
                )
                for job_id in joined:
                    self.sender.listener.job_changed(job_id, "sending")
        others = store.merged_texts(job.id)
        # Intake cleans a webhook's text; this covers the rest (a test SMS, an older job).
        if not others:
            return sms_text(job.text)
        texts = [job.text, *others]
        return sms_text(f"{len(texts)} new messages:\n" + "\n".join(f"- {t}" for t in texts))

    def _failed_attempt(self, job: Job, error: str, transient: bool) -> None:
        sender, store = self.sender, self.sender.store
        attempts = job.attempts + 1
        retry = sender.settings.retry
        if transient and attempts < retry.max_attempts:
            delay = backoff_delay(attempts, retry, sender.rng)
            state = self._settle(
                lambda: store.schedule_retry(job.id, error, sender.clock() + delay)
            )
            if state == "failed":
                log.warning("Job %d %s", job.id, self._last_error(job.id))
                sender.listener.job_changed(job.id, "failed")
                return
            log.warning(
                "Job %d attempt %d/%d failed (%s); retrying in %.0f s",
                job.id,
                attempts,
                retry.max_attempts,
                error,
                delay,
            )
            sender.listener.job_changed(job.id, "queued")
            return
        reason = error if not transient else f"gave up after {attempts} attempts: {error}"
        self._settle(lambda: store.mark_failed(job.id, reason))
        log.error("Job %d failed: %s", job.id, reason)
        sender.listener.job_changed(job.id, "failed")
