"""The sender's side of the queue: claim, parts, outcomes, limits, reports, merging."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from gsmbridge.core.models import Job, State
from gsmbridge.core.schema import JOB_COLUMNS, job_from_row
from gsmbridge.core.store_backend import Conn, SqlValue
from gsmbridge.core.store_base import StoreBase

# A report's discharge time comes from the SMS centre's clock, and a long message's
# first part can be delivered before its job is marked sent: allow this much.
REPORT_CLOCK_SLACK_S = 600.0
# Held by a rate limit, the next this many jobs show when each will go (the queue's
# first pages); later ones show why they wait.
PLANNED_AHEAD = 100
# Jobs past the head another PC queued without the note get it this often.
BACKLOG_NOTE_S = 30.0


class SendingStore(StoreBase):
    """Queue operations the sender uses; Store adds intake, user actions and reads."""

    # The note a rate limit puts on due queued jobs ("" when none holds them).
    waiting_note = ""
    _backlog_noted_at = float("-inf")  # when the whole backlog last got the note

    def claim_next(self, *, modem: str = "", now: float | None = None) -> Job | None:
        """Atomically move the next due queued job to ``sending`` and return it.

        The claim carries a lease (this node, until when): in a shared store another
        node takes the job over once the lease has run out unrenewed (recover_expired).
        Rows another node is claiming at this moment are skipped, not waited for.
        """

        def fn(conn: Conn) -> Job | None:
            at = self.clock() if now is None else now
            row = conn.execute(
                "UPDATE jobs SET state='sending', modem=?, updated_at=?, planned_at=NULL,"
                " note=CASE WHEN note LIKE 'waiting:%' THEN '' ELSE note END,"
                " node=?, lease_until=? WHERE id = ("
                " SELECT id FROM jobs WHERE state='queued' AND next_attempt_at<=?"
                " AND merged_into IS NULL ORDER BY next_attempt_at, id LIMIT 1"
                f"{self.dialect.skip_locked})"
                f" RETURNING {JOB_COLUMNS}",
                (modem, at, self.node, at + self.lease_s, at),
            ).fetchone()
            return job_from_row(row) if row else None

        return self._write(fn)

    def renew_leases(self, job_ids: list[int]) -> int:
        """Extend the lease of jobs this node is sending (an AT exchange under way);
        return how many are still ours."""
        if not job_ids:
            return 0
        marks = ",".join("?" * len(job_ids))

        def fn(conn: Conn) -> int:
            return conn.execute(
                f"UPDATE jobs SET lease_until=? WHERE id IN ({marks}) AND state='sending'"
                " AND node=?",
                (self.clock() + self.lease_s, *job_ids, self.node),
            ).rowcount

        return self._write(fn)

    def _taken_over(self, conn: Conn, job_id: int, what: str) -> bool:
        """Shared store: True (and said in the job's history) when another node has
        claimed the job since this one did (its lease ran out): this node's result
        must not overwrite that node's claim.  Always False on SQLite (one node)."""
        if not self.dialect.shared:
            return False
        row = conn.execute("SELECT node FROM jobs WHERE id=? FOR UPDATE", (job_id,)).fetchone()
        if row is None or row[0] == self.node:
            return False
        self._event(
            conn, job_id, "lease-lost", f"{what} on {self.node} after {row[0]} took the job over"
        )
        return True

    def next_due_at(self) -> float | None:
        row = (
            self._reader()
            .execute(
                "SELECT MIN(next_attempt_at) FROM jobs WHERE state='queued' AND merged_into IS NULL"
            )
            .fetchone()
        )
        return row[0]

    def record_part(
        self, job_id: int, seq: int, reference: int, concat_ref: int, *, wait: bool = True
    ) -> None:
        """Persist one sent part, so a retry resumes after it instead of resending it,
        and its delivery report finds it (the modem is the one that claimed the job).

        ``wait=False`` saves a commit on the sending path: the record is queued
        ahead of every later write (the next part's, the job's "sent"), so only a
        crash in between can lose it, which the crash policy already covers.
        """

        def fn(conn: Conn) -> None:
            row = conn.execute("SELECT refs, modem FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is None or self._taken_over(conn, job_id, f"part {seq} sent"):
                return
            refs = json.loads(row[0])
            refs.append(reference)
            now = self.clock()
            conn.execute(
                "UPDATE jobs SET parts_sent=?, refs=?, concat_ref=?, updated_at=? WHERE id=?",
                (seq, json.dumps(refs), concat_ref, now, job_id),
            )
            conn.execute(
                "INSERT INTO job_parts(job_id, seq, modem, reference, sent_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (job_id, seq) DO UPDATE SET"
                " modem=excluded.modem, reference=excluded.reference,"
                " sent_at=excluded.sent_at, status='', detail=''",
                (job_id, seq, row[1], reference, now),
            )
            self._event(conn, job_id, "part-sent", f"part {seq}, reference {reference}")

        if wait:
            self._write(fn)
        else:
            self._write_soon(fn)

    def plan_parts(self, job_id: int, total: int) -> None:
        """How many parts the message being sent has, known before the first goes out,
        so a job that fails half-way shows "1 of 6 sent", not "1 of 0".  Queued like
        ``record_part(wait=False)``: ahead of the parts' own writes."""

        def fn(conn: Conn) -> None:
            conn.execute("UPDATE jobs SET parts_total=? WHERE id=?", (total, job_id))

        self._write_soon(fn)

    def mark_sent(self, job_id: int, *, parts_total: int, detail: str = "", note: str = "") -> str:
        """The last part went out; return the job's state.  Reports that arrived while
        it was sending count: "delivered" if every part was, "failed" if one was not.
        ``note`` stays on the job (what the user should know of the SMS, e.g. it was cut)."""

        def fn(conn: Conn) -> str:
            now = self.clock()
            if self._taken_over(conn, job_id, "sent"):
                return self._state(conn, job_id)
            conn.execute(
                "UPDATE jobs SET state='sent', attempts=attempts+1, sent_at=?, updated_at=?,"
                " parts_total=?, last_error='', note=?, lease_until=NULL WHERE id=?",
                (now, now, parts_total, note, job_id),
            )
            self._event(conn, job_id, "sent", detail)
            state = self._settle(conn, job_id, now)
            self._follow(conn, job_id)
            return state

        return self._write(fn)

    @staticmethod
    def _state(conn: Conn, job_id: int) -> str:
        row = conn.execute("SELECT state FROM jobs WHERE id=?", (job_id,)).fetchone()
        return str(row[0]) if row else State.FAILED.value

    def _settle(self, conn: Conn, job_id: int, now: float) -> str:
        """A sent (or waiting) job whose parts have reports: failed as soon as one part
        was not delivered, delivered once all were (only a sent job knows "all")."""
        row = conn.execute(
            "SELECT j.state, j.parts_total,"
            " COALESCE(SUM(CASE WHEN p.status='delivered' THEN 1 ELSE 0 END), 0),"
            " (SELECT detail FROM job_parts f WHERE f.job_id=j.id AND f.status='failed'"
            "  AND f.seq<=j.parts_sent ORDER BY f.seq LIMIT 1)"
            " FROM jobs j LEFT JOIN job_parts p ON p.job_id=j.id AND p.seq<=j.parts_sent"
            " WHERE j.id=? GROUP BY j.id",
            (job_id,),
        ).fetchone()
        if row is None:
            return State.FAILED.value  # deleted meanwhile: nothing left to send
        state, total, delivered, failure = row
        delivered = int(delivered)  # PostgreSQL sums to a decimal
        if state not in (State.SENT.value, State.QUEUED.value):
            return str(state)
        if failure is not None:
            error = f"not delivered: {failure}"
            conn.execute(
                "UPDATE jobs SET state='failed', last_error=?, note='', planned_at=NULL,"
                " updated_at=? WHERE id=?",
                (error, now, job_id),
            )
            # In the history like every failure: the statistics count failures from it,
            # whatever happens to the job afterwards (a retry, a cancel).
            self._event(conn, job_id, "failed", error)
            return State.FAILED.value
        if state == State.SENT.value and total and delivered >= total:
            conn.execute(
                "UPDATE jobs SET state='delivered', delivered_at=?, updated_at=? WHERE id=?",
                (now, now, job_id),
            )
            return State.DELIVERED.value
        return str(state)

    def last_send(self, modem: str) -> tuple[float, int] | None:
        """(sent_at, parts) of the last message a modem sent (for the rate limit)."""
        row = (
            self._reader()
            .execute(
                "SELECT sent_at, parts_total FROM jobs WHERE modem=? AND sent_at IS NOT NULL"
                " AND parts_total>0 ORDER BY sent_at DESC LIMIT 1",
                (modem,),
            )
            .fetchone()
        )
        return (float(row[0]), int(row[1])) if row else None

    def hold(self, job_id: int, until: float, note: str) -> None:
        """Back to ``queued`` until ``until`` without using an attempt (a rate limit)."""

        def fn(conn: Conn) -> None:
            if self._taken_over(conn, job_id, "held by a limit"):
                return
            conn.execute(
                "UPDATE jobs SET state='queued', next_attempt_at=?, note=?, updated_at=?,"
                " lease_until=NULL WHERE id=?",
                (until, note, self.clock(), job_id),
            )
            self._follow(conn, job_id)

        self._write(fn)

    def annotate_waiting(
        self,
        note: str,
        *,
        prefix: str = "waiting:",
        until: float | None = None,
        spacing_s: float = 0.0,
    ) -> int:
        """Set (or, with "", clear) a note on due queued jobs: why they are not going out.

        ``until``: when the first may go; the next ``PLANNED_AHEAD`` follow ``spacing_s``
        apart in claim order (planned_at, shown as their next attempt; one part each
        assumed, so it is the earliest they can go); the ones after them get the note
        alone.  A plan for the whole backlog rewrote every queued row at every send
        (80 ms for 25,000, while webhooks waited to commit).  Merged jobs keep their
        "merged into job N" note: their carrier shows the wait.
        """

        now = self.clock()
        # The backlog past the head is read (inside the write: rows carry whole payloads)
        # only when the note changes, or now and then for jobs another PC queued without
        # it; new jobs here get the note as they are written.
        whole = note != self.waiting_note or now - self._backlog_noted_at >= BACKLOG_NOTE_S
        if whole:
            self._backlog_noted_at = now
        self.waiting_note = note

        def fn(conn: Conn) -> int:
            if note and until is not None:
                head = (
                    "SELECT id FROM jobs WHERE state='queued' AND next_attempt_at<=?"
                    " AND merged_into IS NULL ORDER BY next_attempt_at, id LIMIT ?"
                )  # by the jobs_due index: the first few, without sorting the backlog
                planned = conn.execute(
                    "UPDATE jobs SET note=?, planned_at=? + held.k * ? FROM (SELECT id,"
                    " ROW_NUMBER() OVER (ORDER BY next_attempt_at, id) - 1 AS k FROM jobs"
                    f" WHERE id IN ({head})) AS held"
                    " WHERE jobs.id=held.id AND (note!=? OR planned_at"
                    f" {self.dialect.is_distinct} ? + held.k * ?)",
                    (note, until, spacing_s, now, PLANNED_AHEAD, note, until, spacing_s),
                ).rowcount
                if not whole:
                    return planned
                rest = conn.execute(
                    "UPDATE jobs SET note=?, planned_at=NULL WHERE state='queued'"
                    " AND next_attempt_at<=? AND merged_into IS NULL"
                    f" AND (note!=? OR planned_at IS NOT NULL) AND id NOT IN ({head})",
                    (note, now, note, now, PLANNED_AHEAD),
                ).rowcount
                return planned + rest
            if note:
                if not whole:
                    return 0
                return conn.execute(
                    "UPDATE jobs SET note=? WHERE state='queued' AND next_attempt_at<=?"
                    " AND merged_into IS NULL AND note!=?",
                    (note, now, note),
                ).rowcount
            return conn.execute(
                "UPDATE jobs SET note=CASE WHEN note LIKE ? THEN '' ELSE note END,"
                " planned_at=NULL WHERE state='queued' AND (note LIKE ? OR planned_at IS NOT NULL)",
                (prefix + "%", prefix + "%"),
            ).rowcount

        return self._write(fn)

    def _sent_stat(self, expr: str, since: float, modem: str | None, number: str | None) -> Any:
        # Jobs that went out inside another's SMS (merged) share its sent_at but have
        # no parts of their own, also once released from the group.
        sql = f"SELECT {expr} FROM jobs WHERE sent_at>=? AND parts_total>0"
        params: list[Any] = [since]
        for column, value in (("modem", modem), ("number", number)):
            if value is not None:
                sql += f" AND {column}=?"
                params.append(value)
        return self._reader().execute(sql, params).fetchone()[0]

    def sent_count(
        self, *, since: float, modem: str | None = None, number: str | None = None
    ) -> int:
        """Messages sent since a time, by one modem or to one number (for rate limits).

        A coalesced SMS counts once, however many notifications it carried.
        """
        return int(self._sent_stat("COUNT(*)", since, modem, number))

    def sent_parts(self, *, since: float, modem: str | None = None) -> int:
        """SMS parts sent since a time (what carriers and SIM plans count)."""
        return int(self._sent_stat("COALESCE(SUM(parts_total), 0)", since, modem, None))

    def oldest_sent_at(
        self, *, since: float, modem: str | None = None, number: str | None = None
    ) -> float | None:
        return self._sent_stat("MIN(sent_at)", since, modem, number)

    def record_report(
        self,
        modem: str,
        reference: int,
        recipient_digits: str,
        *,
        delivered: bool,
        detail: str,
        within_s: float = 3 * 86400,
        status_at: float | None = None,
    ) -> tuple[int, str] | None:
        """Apply a delivery report to the part the modem sent last with that reference.

        Parts are matched per modem (two modems' counters are unrelated) and whatever
        the job's state: the report for part 1 of a long message often arrives while
        part 2 is still going out.  A job becomes ``delivered`` when every part is
        reported delivered, and ``failed`` as soon as one part is not (a job still
        sending settles when its last part is out, see mark_sent).  Returns (job id,
        its state now) or None when no part matches (the caller logs it).

        ``status_at`` (the report's discharge time) rules out parts sent after it:
        an old report (read from the modem's memory days later) must not land on
        a newer part that got the same 8-bit reference after a wrap.
        """

        def fn(conn: Conn) -> tuple[int, str] | None:
            now = self.clock()
            latest = now if status_at is None else status_at + REPORT_CLOCK_SLACK_S
            rows = conn.execute(
                "SELECT p.job_id, p.seq, j.number FROM job_parts p JOIN jobs j ON j.id=p.job_id"
                " WHERE p.reference=? AND p.modem=? AND p.sent_at>=? AND p.sent_at<=?"
                " AND p.seq<=j.parts_sent ORDER BY p.sent_at DESC, p.job_id DESC",
                (reference, modem, now - within_s, latest),
            ).fetchall()
            for job_id, seq, number in rows:
                if recipient_digits and (number or "").lstrip("+") != recipient_digits:
                    continue
                conn.execute(
                    "UPDATE job_parts SET status=?, detail=? WHERE job_id=? AND seq=?",
                    ("delivered" if delivered else "failed", detail, job_id, seq),
                )
                self._event(conn, job_id, "report", f"part {seq} (reference {reference}): {detail}")
                state = self._settle(conn, job_id, now)
                self._follow(conn, job_id)
                return job_id, state
            return None

        return self._write(fn)

    def schedule_retry(
        self, job_id: int, error: str, next_attempt_at: float, *, count_attempt: bool = True
    ) -> str:
        """Back to ``queued`` for a later try; ``count_attempt=False`` when the modem was down.
        Returns the state: "failed" when a part sent earlier was reported not delivered."""

        def fn(conn: Conn) -> str:
            if self._taken_over(conn, job_id, f"to retry ({error})"):
                return self._state(conn, job_id)
            conn.execute(
                "UPDATE jobs SET state='queued', attempts=attempts+?, next_attempt_at=?,"
                " last_error=?, updated_at=?, lease_until=NULL WHERE id=?",
                (1 if count_attempt else 0, next_attempt_at, error, self.clock(), job_id),
            )
            self._event(conn, job_id, "retry" if count_attempt else "paused", error)
            # A part already reported not delivered: sending the rest is no use.
            state = self._settle(conn, job_id, self.clock())
            self._follow(conn, job_id)
            return state

        return self._write(fn)

    def mark_failed(self, job_id: int, error: str, *, count_attempt: bool = True) -> None:
        def fn(conn: Conn) -> None:
            if self._taken_over(conn, job_id, f"failed ({error})"):
                return
            conn.execute(
                "UPDATE jobs SET state='failed', attempts=attempts+?, last_error=?, updated_at=?,"
                " lease_until=NULL WHERE id=?",
                (1 if count_attempt else 0, error, self.clock(), job_id),
            )
            self._event(conn, job_id, "failed", error)
            self._follow(conn, job_id)

        self._write(fn)

    def recover_interrupted(self, policy: str = "resend") -> list[int]:
        """Jobs left ``sending`` by a crash: they may or may not have gone out.

        ``resend`` queues them again (at-least-once: the recipient may get a
        duplicate); ``fail`` marks them failed for a person to decide.  Parts
        confirmed before the crash are never resent either way (the job resumes
        after its recorded parts).  In a shared store: this node's own jobs, and
        any node's whose lease has run out.
        """
        if not self.dialect.shared:
            return self._recover("state='sending'", (), policy, "found sending at start")
        return self._recover(
            "state='sending' AND (node=? OR lease_until IS NULL OR lease_until<?)",
            (self.node, self.clock()),
            policy,
            "found sending at start",
        )

    def recover_expired(self, policy: str = "resend", *, busy: Sequence[int] = ()) -> list[int]:
        """Jobs a node claimed and stopped renewing (it died or lost the store): the
        crash policy applies to them as to a local crash.  ``busy``: the jobs this
        node is sending now (its own, whatever their lease says)."""
        where = "state='sending' AND lease_until<?"
        if busy:
            where += f" AND id NOT IN ({','.join('?' * len(busy))})"
        return self._recover(where, (self.clock(), *busy), policy, "lease expired")

    def _recover(
        self, where: str, params: tuple[SqlValue, ...], policy: str, why: str
    ) -> list[int]:
        def fn(conn: Conn) -> list[int]:
            found = conn.execute(
                f"SELECT id, node FROM jobs WHERE {where} AND merged_into IS NULL ORDER BY id",
                params,
            ).fetchall()
            now = self.clock()
            ids = []
            for job_id, node in found:
                # Re-checked in the UPDATE: another node recovering the same job at the
                # same time waits for this row and then finds it no longer sending.
                if policy == "fail":
                    cur = conn.execute(
                        "UPDATE jobs SET state='failed', updated_at=?, last_error=?,"
                        f" lease_until=NULL WHERE id=? AND {where}",
                        (now, "interrupted while sending; it may have been sent", job_id, *params),
                    )
                else:
                    cur = conn.execute(
                        "UPDATE jobs SET state='queued', next_attempt_at=?, updated_at=?,"
                        f" note=?, lease_until=NULL WHERE id=? AND {where}",
                        (now, now, "interrupted while sending; sending again", job_id, *params),
                    )
                if not cur.rowcount:
                    continue
                by = f", claimed by {node}" if node and node != self.node else ""
                self._event(conn, job_id, "recovered", f"{why}{by} ({policy})")
                self._follow(conn, job_id)
                ids.append(job_id)
            if ids and policy != "fail":
                self._jobs_due(conn)
            return ids

        return self._write(fn)

    def merge_waiting(self, primary: Job, window_s: float) -> list[int]:
        """Coalescing: attach the recipient's other waiting jobs to ``primary``.

        Only jobs queued, due, unmerged and created within the window join, and
        only while nothing of the primary has been sent (its text must not change
        between parts).  Returns the ids that joined.
        """

        def fn(conn: Conn) -> list[int]:
            now = self.clock()
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM jobs WHERE state='queued' AND number=? AND id!=?"
                    " AND merged_into IS NULL AND next_attempt_at<=? AND created_at>=?"
                    " AND parts_sent=0 ORDER BY id",
                    (primary.number, primary.id, now, now - window_s),
                )
            ]
            if not ids:
                return ids
            # A job that joins brings the jobs merged into it (groups stay one level deep).
            for row in conn.execute(
                f"SELECT id FROM jobs WHERE merged_into IN ({','.join('?' * len(ids))})", ids
            ).fetchall():
                ids.append(row[0])
            for job_id in ids:
                conn.execute(
                    "UPDATE jobs SET merged_into=?, note=? WHERE id=?",
                    (primary.id, f"merged into job {primary.id}", job_id),
                )
                self._event(conn, job_id, "merged", f"into job {primary.id}")
            if ids:
                self._event(conn, primary.id, "merged", f"with jobs {', '.join(map(str, ids))}")
                self._follow(conn, primary.id)
            return ids

        if primary.parts_sent:
            return []
        return self._write(fn)

    def merged_texts(self, primary_id: int) -> list[str]:
        rows = self._reader().execute(
            "SELECT text FROM jobs WHERE merged_into=? ORDER BY id", (primary_id,)
        )
        return [r[0] for r in rows]
