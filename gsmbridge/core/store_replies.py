"""Replies posted into CometChat (a durable posting state per received SMS) and the
numbers that opted out of notifications (STOP).

A repository over the same backend as the Store (SQLite or PostgreSQL), composed by
the Bridge: ``RepliesStore.over(store)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gsmbridge.core.store_backend import Conn, Row
from gsmbridge.core.store_base import StoreBase

OPTED_OUT = "recipient opted out"
CLAIM_S = 60.0  # a post in progress on one node; another takes it over after this


class PostState(StrEnum):
    PENDING = "pending"  # to post (now, or at next_attempt_at)
    POSTED = "posted"  # CometChat took it: message_id
    NOT_POSTED = "not-posted"  # deliberately not posted: error says why
    FAILED = "failed"  # CometChat refused it: error has its code


@dataclass(frozen=True)
class Conversation:
    """Where a reply goes: the conversation of the notification it answers."""

    job_id: int
    receiver: str  # a uid (one-on-one) or a guid (group)
    receiver_type: str  # "user" or "group"
    name: str  # the user's or group's name, for people
    on_behalf_of: str  # the notification's recipient, who wrote the reply
    app_id: str
    region: str
    note: str = ""  # e.g. the SMS answered carried several conversations


def _conversation_values(c: Conversation | None) -> tuple[int | None, *tuple[str, ...]]:
    """A post's conversation columns, job_id through note (empty without one)."""
    if c is None:
        return (None, "", "", "", "", "", "", "")
    return (
        c.job_id,
        c.receiver,
        c.receiver_type,
        c.name,
        c.on_behalf_of,
        c.app_id,
        c.region,
        c.note,
    )


@dataclass(frozen=True)
class AnsweredJob:
    """The most recent notification sent to a number, as the store has it."""

    id: int
    uid: str
    app_id: str
    payload_json: str
    sent_at: float
    carried: int  # notifications the SMS carried (coalescing), this one included


@dataclass(frozen=True)
class ReplyPost:
    inbox_id: int
    state: PostState
    job_id: int | None
    receiver: str
    receiver_type: str
    conversation: str
    on_behalf_of: str
    app_id: str
    region: str
    muid: str
    note: str
    message_id: str
    error: str
    attempts: int
    next_attempt_at: float
    updated_at: float

    @property
    def summary(self) -> str:
        """The state in words, as the Inbox and the API show it."""
        if self.state is PostState.POSTED:
            return "posted"
        if self.state is PostState.PENDING:
            return f"retrying: {self.error}" if self.error else "pending"
        return f"{'not posted' if self.state is PostState.NOT_POSTED else 'failed'}: {self.error}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "summary": self.summary,
            "conversation": (
                {
                    "receiver": self.receiver,
                    "receiver_type": self.receiver_type,
                    "name": self.conversation,
                    "on_behalf_of": self.on_behalf_of,
                    "job_id": self.job_id,
                }
                if self.receiver
                else None
            ),
            "note": self.note,
            "message_id": self.message_id,
            "error": self.error,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at if self.state is PostState.PENDING else None,
            "muid": self.muid,
        }


@dataclass(frozen=True)
class OptOut:
    number: str
    at: float
    source: str  # "reply STOP", "added by hand"


_POST_COLUMNS = (
    "inbox_id, state, job_id, receiver, receiver_type, conversation, on_behalf_of, app_id,"
    " region, muid, note, message_id, error, attempts, next_attempt_at, updated_at"
)


def _post(row: Row) -> ReplyPost:
    return ReplyPost(
        inbox_id=int(row["inbox_id"]),
        state=PostState(row["state"]),
        job_id=row["job_id"],
        receiver=row["receiver"],
        receiver_type=row["receiver_type"],
        conversation=row["conversation"],
        on_behalf_of=row["on_behalf_of"],
        app_id=row["app_id"],
        region=row["region"],
        muid=row["muid"],
        note=row["note"],
        message_id=row["message_id"],
        error=row["error"],
        attempts=int(row["attempts"]),
        next_attempt_at=float(row["next_attempt_at"]),
        updated_at=float(row["updated_at"]),
    )


class RepliesStore(StoreBase):
    """Posting states of replies, and the opt-out list.  Thread-safe."""

    @classmethod
    def over(cls, store: StoreBase) -> RepliesStore:
        """A repository on the Store's backend (same database, same transactions)."""
        return cls(store.backend, node=store.node, lease_s=store.lease_s)

    # -- which conversation ------------------------------------------------------

    def last_job_sent_to(
        self, number: str, since: float, *, exclude_uids: tuple[str, ...] = ()
    ) -> AnsweredJob | None:
        """The most recent notification that went out to ``number`` since a time; of
        the several one coalesced SMS carried, the newest.  ``exclude_uids``: gsmbridge's
        own SMS (a test, an opt-out confirmation), which answer no conversation."""
        conn = self._reader()
        skip = f" AND uid NOT IN ({','.join('?' * len(exclude_uids))})" if exclude_uids else ""
        row = conn.execute(
            "SELECT id, uid, app_id, payload, sent_at, COALESCE(merged_into, id) AS carrier"
            f" FROM jobs WHERE number=? AND sent_at IS NOT NULL AND sent_at>=?{skip}"
            " AND state IN ('sent','delivered') ORDER BY sent_at DESC, id DESC LIMIT 1",
            (number, since, *exclude_uids),
        ).fetchone()
        if row is None:
            return None
        carried = conn.execute(
            "SELECT COUNT(*) FROM jobs WHERE id=? OR merged_into=?", (row[5], row[5])
        ).fetchone()[0]
        return AnsweredJob(row[0], row[1], row[2], row[3], float(row[4]), int(carried))

    # -- posting states ------------------------------------------------------------

    def open_post(
        self,
        inbox_id: int,
        muid: str,
        *,
        conversation: Conversation | None,
        state: PostState,
        error: str = "",
        due_at: float,
    ) -> tuple[ReplyPost, bool]:
        """Record a reply's posting state once; return (the state as stored, new).

        A reply read again (the SIM kept it) finds its row and changes nothing."""
        now = self.clock()

        def fn(conn: Conn) -> bool:
            inserted = conn.execute(
                "INSERT INTO reply_posts(inbox_id, state, job_id, receiver, receiver_type,"
                " conversation, on_behalf_of, app_id, region, note, muid, error,"
                " next_attempt_at, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(inbox_id) DO NOTHING",
                (
                    inbox_id,
                    state.value,
                    *_conversation_values(conversation),
                    muid,
                    error,
                    due_at,
                    now,
                    now,
                ),
            ).rowcount
            return bool(inserted)

        new = self._write(fn)
        post = self.get_post(inbox_id)
        assert post is not None
        return post, new

    def post_now(self, inbox_id: int) -> bool:
        """A long reply whose last part arrived: post it now, not at the parts' timeout."""
        now = self.clock()
        return bool(
            self._write(
                lambda c: (
                    c.execute(
                        "UPDATE reply_posts SET next_attempt_at=?, updated_at=? WHERE inbox_id=?"
                        " AND state='pending' AND attempts=0 AND next_attempt_at>?",
                        (now, now, inbox_id, now),
                    ).rowcount
                )
            )
        )

    def claim_post(self, now: float) -> ReplyPost | None:
        """Take the next due post for this node (others skip it while the claim holds)."""

        def fn(conn: Conn) -> int | None:
            rows = conn.execute(
                "SELECT inbox_id FROM reply_posts WHERE state='pending' AND next_attempt_at<=?"
                " AND (claimed_until IS NULL OR claimed_until<?)"
                " ORDER BY next_attempt_at, inbox_id LIMIT 8",
                (now, now),
            ).fetchall()
            for (inbox_id,) in rows:
                taken = conn.execute(
                    "UPDATE reply_posts SET claimed_until=?, node=?, attempts=attempts+1"
                    " WHERE inbox_id=? AND state='pending'"
                    " AND (claimed_until IS NULL OR claimed_until<?)",
                    (now + CLAIM_S, self.node, inbox_id, now),
                ).rowcount
                if taken:
                    return int(inbox_id)
            return None

        inbox_id = self._write(fn)
        return None if inbox_id is None else self.get_post(inbox_id)

    def next_post_due(self) -> float | None:
        row = (
            self._reader()
            .execute(
                "SELECT MIN(CASE WHEN claimed_until IS NOT NULL AND claimed_until>next_attempt_at"
                " THEN claimed_until ELSE next_attempt_at END) FROM reply_posts"
                " WHERE state='pending'"
            )
            .fetchone()
        )
        return None if row[0] is None else float(row[0])

    def release_claims(self) -> int:
        """At start: posts this node had claimed when it stopped are due again."""
        return int(
            self._write(
                lambda c: (
                    c.execute(
                        "UPDATE reply_posts SET claimed_until=NULL WHERE node=? AND state='pending'"
                        " AND claimed_until IS NOT NULL",
                        (self.node,),
                    ).rowcount
                )
            )
        )

    def _finish(self, inbox_id: int, sets: str, params: tuple[str | float, ...]) -> None:
        now = self.clock()
        self._write(
            lambda c: c.execute(
                f"UPDATE reply_posts SET {sets}, claimed_until=NULL, updated_at=? WHERE inbox_id=?",
                (*params, now, inbox_id),
            )
        )

    def mark_posted(self, inbox_id: int, message_id: str) -> None:
        self._finish(inbox_id, "state='posted', message_id=?, error=''", (message_id,))

    def mark_post_retry(self, inbox_id: int, error: str, at: float) -> None:
        self._finish(inbox_id, "state='pending', error=?, next_attempt_at=?", (error, at))

    def mark_post_failed(self, inbox_id: int, error: str) -> None:
        self._finish(inbox_id, "state='failed', error=?", (error,))

    def mark_not_posted(self, inbox_id: int, reason: str) -> None:
        self._finish(inbox_id, "state='not-posted', error=?", (reason,))

    def repost(self, ids: list[int]) -> list[int]:
        """Post again replies that failed or were not posted, when their conversation is
        known (an unknown sender is never posted as anybody); return the ids."""
        now = self.clock()

        def fn(conn: Conn) -> list[int]:
            done = []
            for inbox_id in ids:
                n = conn.execute(
                    "UPDATE reply_posts SET state='pending', error='', attempts=0,"
                    " next_attempt_at=?, claimed_until=NULL, updated_at=?"
                    " WHERE inbox_id=? AND state IN ('failed','not-posted') AND receiver!=''",
                    (now, now, inbox_id),
                ).rowcount
                if n:
                    done.append(inbox_id)
            return done

        return self._write(fn)

    def address_post(self, inbox_id: int, conversation: Conversation | None, error: str) -> None:
        """Give a reply recorded without a conversation (posting was off) the one found
        now, or the reason none was; only while it is not posted."""

        def fn(conn: Conn) -> None:
            conn.execute(
                "UPDATE reply_posts SET job_id=?, receiver=?, receiver_type=?, conversation=?,"
                " on_behalf_of=?, app_id=?, region=?, note=?, error=?, updated_at=?"
                " WHERE inbox_id=? AND receiver='' AND state='not-posted'",
                (*_conversation_values(conversation), error, self.clock(), inbox_id),
            )

        self._write(fn)

    def get_post(self, inbox_id: int) -> ReplyPost | None:
        row = (
            self._reader()
            .execute(f"SELECT {_POST_COLUMNS} FROM reply_posts WHERE inbox_id=?", (inbox_id,))
            .fetchone()
        )
        return _post(row) if row else None

    def posts_for(self, ids: list[int]) -> dict[int, ReplyPost]:
        """The posting states of some replies (a page of the Inbox), by inbox id."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._reader().execute(
            f"SELECT {_POST_COLUMNS} FROM reply_posts WHERE inbox_id IN ({marks})", ids
        )
        return {int(r["inbox_id"]): _post(r) for r in rows}

    def posts_version(self) -> tuple[int, float]:
        """(count, newest change): cheap to poll for changes made by the poster."""
        row = (
            self._reader()
            .execute("SELECT COUNT(*), COALESCE(MAX(updated_at), 0) FROM reply_posts")
            .fetchone()
        )
        return int(row[0]), float(row[1])

    # -- the opt-out list ------------------------------------------------------------

    def add_opt_out(self, number: str, source: str) -> bool:
        """Put a number on the opt-out list; False if it already was."""
        now = self.clock()

        def fn(conn: Conn) -> bool:
            added = conn.execute(
                "INSERT INTO opt_outs(number, at, source) VALUES (?,?,?)"
                " ON CONFLICT(number) DO NOTHING",
                (number, now, source),
            ).rowcount
            return bool(added)

        return self._write(fn)

    def remove_opt_out(self, number: str) -> bool:
        return bool(
            self._write(
                lambda c: c.execute("DELETE FROM opt_outs WHERE number=?", (number,)).rowcount
            )
        )

    def is_opted_out(self, number: str) -> bool:
        row = self._reader().execute("SELECT 1 FROM opt_outs WHERE number=?", (number,)).fetchone()
        return row is not None

    def has_opt_outs(self) -> bool:
        """Is anyone on the opt-out list?"""
        return self._reader().execute("SELECT 1 FROM opt_outs LIMIT 1").fetchone() is not None

    def job_opted_out(self, job_id: int, exempt_uids: tuple[str, ...] = ()) -> bool:
        """Is this job's number on the opt-out list?  One read (a webhook pays for it)."""
        skip = f" AND j.uid NOT IN ({','.join('?' * len(exempt_uids))})" if exempt_uids else ""
        row = (
            self._reader()
            .execute(
                f"SELECT 1 FROM jobs j JOIN opt_outs o ON o.number=j.number WHERE j.id=?{skip}",
                (job_id, *exempt_uids),
            )
            .fetchone()
        )
        return row is not None

    def list_opt_outs(self) -> list[OptOut]:
        rows = self._reader().execute("SELECT number, at, source FROM opt_outs ORDER BY at DESC")
        return [OptOut(r[0], float(r[1]), r[2]) for r in rows]

    def fail_opted_out(self, job_ids: list[int]) -> list[int]:
        """Jobs waiting to go to a number that opted out end failed, unsent; return them."""
        now = self.clock()

        def fn(conn: Conn) -> list[int]:
            failed = []
            for job_id in job_ids:
                n = conn.execute(
                    "UPDATE jobs SET state='failed', last_error=?, note='', updated_at=?"
                    " WHERE id=? AND state IN ('queued','needs-number')",
                    (OPTED_OUT, now, job_id),
                ).rowcount
                if n:
                    self._event(conn, job_id, "failed", OPTED_OUT)
                    self._follow(conn, job_id)
                    failed.append(job_id)
            return failed

        return self._write(fn)

    def waiting_jobs_to(self, number: str) -> list[int]:
        rows = self._reader().execute(
            "SELECT id FROM jobs WHERE number=? AND state='queued'", (number,)
        )
        return [int(r[0]) for r in rows]
