"""Webhooks gsmbridge refused or answered slowly: logged (rate-limited), counted for
/api/status, and told to the window through the core's listeners.

CometChat does not retry a refused notification, and the answer it got is shown
nowhere the office looks: a password mistyped in its dashboard made every webhook
401 with a green "Basic auth on" in the window.  So every refusal of the webhook
(401, 400, 413, 415, 405, a POST to a wrong path) is noted here with a reason a
person can act on, and so is an answer slower than CometChat waits for.  A good
webhook answered 503 (the queue locked by another program, closing, unreachable)
was not queued: it is lost like a refused one, and noted as one (an ERROR line).

Nothing here runs for an ordinary accepted webhook but ``troubled`` (a plain
attribute read): the intake's fast path takes no lock and writes no log line.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from gsmbridge.core.db import BUSY_TIMEOUT_S

log = logging.getLogger("gsmbridge.web.webhook")

LOG_EVERY_S = 60.0  # after a logged line, the same kind of trouble is summed up once a minute
NOTIFY_EVERY_S = 0.5  # the window hears of a flood at most this often
WINDOW_S = 3600.0  # what /api/status and the window count ("in the last hour")
SLOW_S = 2.0  # CometChat gives up waiting for an answer after about 2 s
_MAX_KEYS = 20  # distinct reasons kept per summary; the rest are "other"


class RefusalKind(enum.Enum):
    """Why a webhook was refused; the value is its name in /api/status."""

    NO_CREDENTIALS = "no-credentials"
    NOT_BASIC = "not-basic"
    BAD_CREDENTIALS = "unreadable-credentials"
    WRONG_USER = "wrong-user"
    WRONG_PASSWORD = "wrong-password"
    CREDENTIALS_UNREADABLE = "config-unreadable"
    NOT_JSON = "not-json"
    TOO_DEEP = "too-deep"
    INVALID = "invalid-payload"
    TOO_LARGE = "too-large"
    CONTENT_TYPE = "content-type"
    METHOD = "method"
    PATH = "path"
    # Answered 503: not queued, so lost (CometChat does not send it again).
    QUEUE_LOCKED = "queue-locked"
    QUEUE_CLOSED = "queue-closed"
    QUEUE_UNREACHABLE = "queue-unreachable"
    QUEUE_ERROR = "queue-error"


_CHECK_CREDENTIALS = (
    "Check the user name and password in CometChat's dashboard (Notifications → SMS → "
    "the provider's Basic Auth) against Settings → Server here."
)
HINTS: Mapping[RefusalKind, str] = {
    RefusalKind.NO_CREDENTIALS: _CHECK_CREDENTIALS,
    RefusalKind.NOT_BASIC: _CHECK_CREDENTIALS,
    RefusalKind.BAD_CREDENTIALS: _CHECK_CREDENTIALS,
    RefusalKind.WRONG_USER: _CHECK_CREDENTIALS,
    RefusalKind.WRONG_PASSWORD: _CHECK_CREDENTIALS,
    RefusalKind.CREDENTIALS_UNREADABLE: (
        "Fix the [auth] section of the config file; every webhook is refused until it reads."
    ),
    RefusalKind.NOT_JSON: "CometChat posts JSON; check what posts to this URL.",
    RefusalKind.TOO_DEEP: "CometChat posts JSON; check what posts to this URL.",
    RefusalKind.INVALID: (
        "CometChat's SMS notifications carry trigger, webhook and data.to.uid: check what "
        "posts to this URL, or whether CometChat changed its payload."
    ),
    RefusalKind.TOO_LARGE: "Raise server.max_body_bytes if CometChat's notifications are this big.",
    RefusalKind.CONTENT_TYPE: "CometChat posts application/json; check what posts to this URL.",
    RefusalKind.METHOD: "CometChat posts (POST); opening the URL in a browser also gives this.",
    RefusalKind.PATH: "The webhook's URL ends in /webhook: check the URL in CometChat's dashboard.",
    RefusalKind.QUEUE_LOCKED: (
        "Close the program holding the queue database open in a transaction (a database "
        f"browser, a backup or sync tool copying it); gsmbridge waits for it up to "
        f"{BUSY_TIMEOUT_S:g} s."
    ),
    RefusalKind.QUEUE_CLOSED: (
        "gsmbridge was stopping or restarting: notifications in that moment are lost."
    ),
    RefusalKind.QUEUE_UNREACHABLE: (
        "Check that the shared store (PostgreSQL) runs and this PC reaches it."
    ),
    RefusalKind.QUEUE_ERROR: (
        "Check the disk of the queue database (full? read-only?) and the log's other errors."
    ),
}
LOST_STATUS = 503  # a refusal with this answer lost a good notification


def _iso(at: float) -> str:
    return datetime.datetime.fromtimestamp(at, datetime.UTC).isoformat(timespec="seconds")


def printable(text: str, limit: int = 64) -> str:
    """A client's text fit for a log line: no control characters, bounded."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text[:limit])
    return cleaned + ("…" if len(text) > limit else "")


def client_of(environ: Mapping[str, Any]) -> str:
    """Who sent it: the peer's address, and the address a tunnel or proxy on this PC
    says it forwarded for (only a hint: anyone can write that header)."""
    peer = str(environ.get("REMOTE_ADDR") or "unknown")
    forwarded = str(environ.get("HTTP_X_FORWARDED_FOR") or "").split(",")[0].strip()
    if forwarded and (peer.startswith("127.") or peer == "::1"):
        return f"{printable(forwarded, 45)} through {peer}"
    return peer


@dataclasses.dataclass(frozen=True)
class Refusal:
    """One refused webhook."""

    at: float  # wall clock (time.time())
    status: int
    kind: RefusalKind
    reason: str  # "wrong password for user 'cometchat'"
    client: str

    @property
    def hint(self) -> str:
        return HINTS[self.kind]

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": _iso(self.at),
            "status": self.status,
            "kind": self.kind.value,
            "reason": self.reason,
            "from": self.client,
            "hint": self.hint,
        }


@dataclasses.dataclass(frozen=True)
class SlowAnswer:
    """A webhook answered after more than SLOW_S."""

    at: float
    seconds: float
    status: int
    why: str  # "" when not known

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": _iso(self.at),
            "seconds": round(self.seconds, 2),
            "status": self.status,
            "why": self.why or None,
        }


Buckets = tuple[tuple[int, int], ...]  # (minute number, count), oldest first


def _count_since(buckets: Buckets, since: float) -> int:
    return sum(n for minute, n in buckets if (minute + 1) * 60 > since)


@dataclasses.dataclass(frozen=True)
class WebhookTrouble:
    """What went wrong with webhooks lately: a snapshot for the window and /api/status."""

    refused: Buckets = ()
    last_refusal: Refusal | None = None
    accepted_since: bool = False  # a webhook was accepted after the last refusal
    slow: Buckets = ()
    last_slow: SlowAnswer | None = None

    def refused_within(self, now: float, window_s: float = WINDOW_S) -> int:
        """Refusals in the last ``window_s`` (to the minute)."""
        return _count_since(self.refused, now - window_s)

    def slow_within(self, now: float, window_s: float = WINDOW_S) -> int:
        return _count_since(self.slow, now - window_s)

    def to_dict(self, now: float) -> dict[str, Any]:
        """/api/status's ``webhook`` section."""
        return {
            "refused_last_hour": self.refused_within(now),
            "last_refused": self.last_refusal.to_dict() if self.last_refusal else None,
            "accepted_since_last_refused": self.accepted_since,
            "slow_last_hour": self.slow_within(now),
            "last_slow": self.last_slow.to_dict() if self.last_slow else None,
            "slow_after_s": SLOW_S,
        }


class _Summarised:
    """WARNING lines for one kind of trouble: the first at once, then at most one summary
    per ``every_s`` of what came meanwhile (a flood must not fill the log)."""

    def __init__(
        self,
        summary: Callable[[dict[str, int], int], str],
        every_s: float,
        level: int = logging.WARNING,
    ) -> None:
        self._summary = summary
        self.every_s = every_s
        self._level = level
        self._lock = threading.Lock()
        self._last = -float("inf")  # monotonic time of the last line
        self._held: dict[str, int] = {}
        self._held_n = 0
        self._timer: threading.Timer | None = None

    def note(self, key: str, line: str) -> None:
        """One occurrence; ``key`` is its part of a summary, ``line`` its line alone."""
        now = time.monotonic()
        with self._lock:
            alone = not self._held_n and now - self._last >= self.every_s
            if alone:
                self._last = now
            else:
                self._held_n += 1
                if key in self._held or len(self._held) < _MAX_KEYS:
                    self._held[key] = self._held.get(key, 0) + 1
                if self._timer is None:
                    self._timer = threading.Timer(
                        max(0.0, self._last + self.every_s - now), self.flush
                    )
                    self._timer.daemon = True
                    self._timer.start()
        if alone:
            log.log(self._level, "%s", line)

    def flush(self) -> None:
        """Log the summary of what was held back (the timer's call; close's)."""
        with self._lock:
            held, n = self._held, self._held_n
            self._held, self._held_n, self._timer = {}, 0, None
            if n:
                self._last = time.monotonic()
        if n:
            log.log(self._level, "%s", self._summary(held, n))

    def close(self) -> None:
        with self._lock:
            timer = self._timer
        if timer is not None:
            timer.cancel()
        self.flush()


def _parts(held: dict[str, int], n: int) -> str:
    top = sorted(held.items(), key=lambda item: -item[1])
    text = "; ".join(f"{count}× {key}" for key, count in top[:3])
    rest = n - sum(count for _, count in top[:3])
    return text + (f"; {rest} for other reasons" if rest else "")


def _refusal_summary(held: dict[str, int], n: int) -> str:
    return f"Webhook refused {n} request(s) in the last minute: {_parts(held, n)}"


def _lost_summary(held: dict[str, int], n: int) -> str:
    return (
        f"Webhook NOT queued (503), lost: {n} more notification(s) in the last minute: "
        f"{_parts(held, n)}"
    )


def _slow_summary(held: dict[str, int], n: int) -> str:
    return (
        f"{n} more webhook(s) took longer than {SLOW_S:g} s to answer in the last minute "
        f"(CometChat waits about {SLOW_S:g} s): {_parts(held, n)}"
    )


class WebhookWatch:
    """Notes refused and slow webhooks; ``notify`` gets a ``WebhookTrouble`` after
    each change (at most every NOTIFY_EVERY_S in a flood), on any thread."""

    def __init__(
        self,
        notify: Callable[[WebhookTrouble], None] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        log_every_s: float | None = None,
    ) -> None:
        every = LOG_EVERY_S if log_every_s is None else log_every_s  # read now: tests shorten it
        self._notify = notify
        self._clock = clock
        self._lock = threading.Lock()
        self._refused: deque[tuple[int, int]] = deque()
        self._slow: deque[tuple[int, int]] = deque()
        self._trouble = WebhookTrouble()
        # Read without the lock by every accepted webhook: True from a refusal until
        # the next accepted webhook (which then tells the window).
        self.troubled = False
        self._refusal_log = _Summarised(_refusal_summary, every)
        self._lost_log = _Summarised(_lost_summary, every, logging.ERROR)
        self._slow_log = _Summarised(_slow_summary, every)
        self._notified = -float("inf")
        self._notify_timer: threading.Timer | None = None

    def snapshot(self) -> WebhookTrouble:
        with self._lock:
            return self._trouble

    def status(self) -> dict[str, Any]:
        """/api/status's ``webhook`` section."""
        return self.snapshot().to_dict(self._clock())

    def _bucket(self, buckets: deque[tuple[int, int]], now: float) -> Buckets:
        minute = int(now // 60)
        if buckets and buckets[-1][0] == minute:
            buckets[-1] = (minute, buckets[-1][1] + 1)
        else:
            buckets.append((minute, 1))
        while buckets and (buckets[0][0] + 1) * 60 <= now - WINDOW_S:
            buckets.popleft()
        return tuple(buckets)

    def refused(self, status: int, kind: RefusalKind, reason: str, client: str) -> None:
        """A webhook was refused (its answer ``status``), for ``reason``."""
        now = self._clock()
        refusal = Refusal(now, status, kind, reason, client)
        with self._lock:
            self._trouble = dataclasses.replace(
                self._trouble,
                refused=self._bucket(self._refused, now),
                last_refusal=refusal,
                accepted_since=False,
            )
            self.troubled = True
        key = f"{reason} (from {client})"
        if status == LOST_STATUS:
            self._lost_log.note(
                key,
                f"Webhook NOT queued ({status}), lost: {key}. {refusal.hint} "
                "CometChat does not send it again.",
            )
        else:
            self._refusal_log.note(key, f"Webhook refused ({status}): {key}. {refusal.hint}")
        self._changed()

    def accepted(self) -> None:
        """A webhook was accepted after a refusal (called only while ``troubled``)."""
        with self._lock:
            if not self.troubled:
                return
            self.troubled = False
            self._trouble = dataclasses.replace(self._trouble, accepted_since=True)
        self._changed()

    def slow(self, seconds: float, status: int, why: str) -> None:
        """A webhook took ``seconds`` (more than SLOW_S) to answer; ``why`` if known."""
        now = self._clock()
        answer = SlowAnswer(now, seconds, status, why)
        with self._lock:
            self._trouble = dataclasses.replace(
                self._trouble, slow=self._bucket(self._slow, now), last_slow=answer
            )
        because = f": {why}" if why else " (the reason is not known)"
        self._slow_log.note(
            why or "reason not known",
            f"A webhook took {seconds:.1f} s to answer ({status}); CometChat waits about "
            f"{SLOW_S:g} s and may count it as failed{because}",
        )
        self._changed()

    def _changed(self) -> None:
        if self._notify is None:
            return
        now = time.monotonic()
        with self._lock:
            if self._notify_timer is not None:
                return  # the pending call will carry this change
            if now - self._notified < NOTIFY_EVERY_S:
                self._notify_timer = threading.Timer(
                    self._notified + NOTIFY_EVERY_S - now, self._notify_now
                )
                self._notify_timer.daemon = True
                self._notify_timer.start()
                return
        self._notify_now()

    def _notify_now(self) -> None:
        with self._lock:
            self._notify_timer = None
            self._notified = time.monotonic()
            trouble = self._trouble
        if self._notify is not None:
            self._notify(trouble)

    def close(self) -> None:
        """The server stops: log what is held back, tell the window the last state."""
        self._refusal_log.close()
        self._lost_log.close()
        self._slow_log.close()
        with self._lock:
            timer, self._notify_timer = self._notify_timer, None
        if timer is not None:
            timer.cancel()
            self._notify_now()
