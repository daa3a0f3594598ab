"""Read-only figures over the queue: the Statistics tab, ``/api/stats`` and ``/metrics``.

Every query here is portable SQL (SQLite and PostgreSQL: no date functions, no
JSON functions, no two-argument MAX) and runs through ``_rows``, the one place
that reaches the store's read connection.  Times in the database are epoch
seconds; days are cut in Python, at local midnights (a DST day is 23 or 25
hours long), so the SQL only ever compares times.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

DAY_CHOICES = (7, 30, 90)
MAX_DAYS = 366
TOP_FAILURES = 10
LIMIT_WINDOW_S = 86400.0  # the daily limit is a rolling 24 hours (see sender.py)


class StatsStore(Protocol):
    """What the figures need from the store: its read connection and the daily-limit count."""

    def _reader(self) -> Any: ...

    def sent_parts(self, *, since: float, modem: str | None = None) -> int: ...


def _rows(store: StatsStore, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    """Run one read query; the single seam to adapt for another backend."""
    return list(store._reader().execute(sql, tuple(params)).fetchall())


# -- days ------------------------------------------------------------------------------


def local_midnight(day: dt.date) -> float:
    """The epoch time of a day's first instant in the local time zone (mktime: DST-aware)."""
    return dt.datetime(day.year, day.month, day.day).timestamp()


def day_bounds(days: int, now: float) -> list[tuple[dt.date, float, float]]:
    """(day, start, end) for the last ``days`` local days, today last."""
    today = dt.datetime.fromtimestamp(now).date()
    out = []
    for back in range(days - 1, -1, -1):
        day = today - dt.timedelta(days=back)
        out.append((day, local_midnight(day), local_midnight(day + dt.timedelta(days=1))))
    return out


def _day_case(later_starts: Sequence[float]) -> tuple[str, list[float]]:
    """A CASE giving a time's day index (0 = the first) from the later days' starts.

    Portable and exact across DST (no date functions, no casts): ``{t}`` stands for
    the time column, the starts are its parameters in the text's order.  Nested as
    a binary search: 7 comparisons a row for 90 days, not 45 on average.
    """
    params: list[float] = []

    def split(lo: int, hi: int) -> str:  # the day among lo..hi
        if lo == hi:
            return str(lo)
        mid = (lo + hi + 1) // 2
        params.append(later_starts[mid - 1])  # day ``mid`` starts here
        return f"CASE WHEN {{t}} < ? THEN {split(lo, mid - 1)} ELSE {split(mid, hi)} END"

    return split(0, len(later_starts)), params


# Nearest-rank percentiles: rank r of n sorted values is the q-th when r >= q*n > r-1.
_RANK_IS = "(rn >= {q} * n AND rn - 1 < {q} * n)"


def _per_day_percentiles(
    store: StatsStore, column: str, case: str, where: str, params: Sequence[object]
) -> list[tuple[int, int, int, float | None, float | None]]:
    """(day, SMS, notifications, median, p90) of ``column - created_at`` per day, for
    days with jobs.

    SMS counts the jobs that went out as themselves (a carrier of merged jobs once);
    the times are each notification's own, merged ones included (each waited from its
    own webhook).  Sorted and ranked by the database (window functions, in SQLite and
    PostgreSQL): two rows a day come back, however many jobs there were.
    """
    is50, is90 = _RANK_IS.format(q=0.5), _RANK_IS.format(q=0.9)
    sql = (
        f"SELECT day, sms, n, CASE WHEN {is50} THEN 1 ELSE 0 END,"
        f" CASE WHEN {is90} THEN 1 ELSE 0 END, lat FROM ("
        " SELECT day, lat, ROW_NUMBER() OVER (PARTITION BY day ORDER BY lat) AS rn,"
        " COUNT(*) OVER (PARTITION BY day) AS n, SUM(own) OVER (PARTITION BY day) AS sms"
        f" FROM (SELECT {case} AS day, {column} - created_at AS lat,"
        f" CASE WHEN merged_into IS NULL THEN 1 ELSE 0 END AS own FROM jobs WHERE {where}"
        " ) AS d) AS w"
        f" WHERE {is50} OR {is90}"
    )
    found: dict[int, list[Any]] = {}
    for day, sms, n, median, p90, lat in _rows(store, sql, params):
        entry = found.setdefault(int(day), [int(sms), int(n), None, None])
        if median:  # the database's own arithmetic decides (exact in PostgreSQL)
            entry[2] = float(lat)
        if p90:
            entry[3] = float(lat)
    return [(day, sms, n, p50, p90) for day, (sms, n, p50, p90) in sorted(found.items())]


# -- failures, from the job history -------------------------------------------------------

# A failure is counted when it happens, from job_events, so a job a person cancels or
# retries before the next look still counts: the store writes a "failed" event
# (store_sending.mark_failed, the opt-out) or a "recovered" one ending "(fail)" (a job
# interrupted while sending under recovery = fail).
_FAILURE_EVENT = "(e.kind = 'failed' OR (e.kind = 'recovered' AND e.detail LIKE ?))"
_RECOVERED_FAILED = "%(fail)"
INTERRUPTED = "interrupted while sending; it may have been sent"  # the store's last_error
# A job's updated_at is stamped in the same transaction just before its event.
_EVENT_SLACK_S = 1.0


def _failures(
    store: StatsStore, case: str, case_params: Sequence[float], start: float, end: float
) -> list[tuple[int, str, str, int]]:
    """(day, modem, reason, failures) for the failures in [start, end).

    ``case`` maps ``{t}`` (the failure's time) to a day index.  Each failure counts
    once, whatever the job became next.  A job can also fail with no event of its
    own: a carrier settled by a "not delivered" report (its merged jobs follow it and
    are not counted: one SMS, one failure); such a job counts while it stays failed,
    on its last change, unless a failure event already stands for that change.
    """
    from_events = (
        f"SELECT day, modem, reason, COUNT(*) FROM (SELECT {case.replace('{t}', 'e.at')} AS day,"
        " j.modem AS modem, CASE WHEN e.kind = 'failed' THEN e.detail ELSE ? END AS reason"
        " FROM jobs j JOIN job_events e ON e.job_id = j.id"
        f" WHERE j.updated_at >= ? AND e.at >= ? AND e.at < ? AND {_FAILURE_EVENT}"
        ") AS f GROUP BY day, modem, reason"
    )
    unrecorded = (
        f"SELECT day, modem, reason, COUNT(*) FROM (SELECT {case.replace('{t}', 'j.updated_at')}"
        " AS day, j.modem AS modem, j.last_error AS reason FROM jobs j"
        " WHERE j.state = 'failed' AND j.merged_into IS NULL"
        " AND j.updated_at >= ? AND j.updated_at < ? AND NOT EXISTS (SELECT 1 FROM job_events e"
        f" WHERE e.job_id = j.id AND e.at >= j.updated_at AND {_FAILURE_EVENT})"
        ") AS f GROUP BY day, modem, reason"
    )
    rows = _rows(
        store,
        from_events,
        [*case_params, INTERRUPTED, start - _EVENT_SLACK_S, start, end, _RECOVERED_FAILED],
    )
    rows += _rows(store, unrecorded, [*case_params, start, end, _RECOVERED_FAILED])
    return [
        (int(day), str(modem or ""), str(reason or ""), int(n)) for day, modem, reason, n in rows
    ]


# -- the figures -------------------------------------------------------------------------


@dataclass
class DayStats:
    """One local day: what happened to jobs that day, and how long they took."""

    day: dt.date
    start: float
    sent: int = 0  # SMS that went out: a carrier of merged notifications counts once
    delivered: int = 0  # SMS, likewise
    failed: int = 0  # failures that happened that day (SMS)
    cancelled: int = 0  # jobs
    notifications_sent: int = 0  # the notifications the sent SMS carried
    # seconds from the webhook to the last part sent / to the last delivery report
    to_sent_p50: float | None = None
    to_sent_p90: float | None = None
    to_delivered_p50: float | None = None
    to_delivered_p90: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "start": self.start,
            "sent": self.sent,
            "notifications_sent": self.notifications_sent,
            "delivered": self.delivered,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "to_sent_s": {"p50": self.to_sent_p50, "p90": self.to_sent_p90},
            "to_delivered_s": {"p50": self.to_delivered_p50, "p90": self.to_delivered_p90},
        }


@dataclass(frozen=True)
class ModemToday:
    """SMS parts a modem sent in the daily limit's window (the last 24 hours)."""

    modem: str
    parts: int
    limit: int  # limits.per_day; 0 = no limit

    def to_dict(self) -> dict[str, Any]:
        return {"modem": self.modem, "parts": self.parts, "limit": self.limit}


@dataclass
class Stats:
    days: list[DayStats]
    failures: list[tuple[str, int]]  # (reason, jobs) over the whole period, most first
    modems: list[ModemToday]
    computed_at: float
    totals: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "days": len(self.days),
            "from": self.days[0].start if self.days else None,
            "computed_at": self.computed_at,
            "totals": self.totals,
            "per_day": [d.to_dict() for d in self.days],
            "failure_reasons": [{"reason": r, "count": n} for r, n in self.failures],
            "modems_today": [m.to_dict() for m in self.modems],
        }


def _modems_that_sent(store: StatsStore) -> list[str]:
    # The partial index jobs_sent_modem (modem, sent_at) holds only jobs that went out.
    return [r[0] for r in _rows(store, "SELECT DISTINCT modem FROM jobs WHERE sent_at IS NOT NULL")]


def collect(
    store: StatsStore,
    days: int = 30,
    *,
    clock: Callable[[], float] = time.time,
    per_day_limit: int = 0,
    modems: Iterable[str] = (),
) -> Stats:
    """The figures for the last ``days`` local days (today included).

    Sent, delivered and failed count SMS (with ``sending.coalesce`` an SMS carrying
    merged notifications counts once; ``notifications_sent`` counts what they
    carried); cancelled counts jobs.  An SMS counts as sent on the day its last part
    went out, delivered on the day its last report came; a job counts as cancelled on
    the day it last changed in that state.  A
    day's "failed" are the failures that happened that day (see ``_failures``): a
    job that failed, was retried and was delivered counts in both.  ``modems`` are
    listed under "today" even when they sent nothing.
    """
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be 1..{MAX_DAYS}, got {days}")
    now = clock()
    bounds = day_bounds(days, now)
    begin, end = bounds[0][1], bounds[-1][2]
    out = [DayStats(day, start) for day, start, _ in bounds]

    case, case_params = _day_case([b[1] for b in bounds[1:]])
    names = _modems_that_sent(store)
    if names:  # by the (modem, sent_at) index: a range per modem
        marks = ", ".join("?" * len(names))
        for i, sms, n, p50, p90 in _per_day_percentiles(
            store,
            "sent_at",
            case.replace("{t}", "sent_at"),
            f"modem IN ({marks}) AND sent_at >= ? AND sent_at < ?",
            [*case_params, *names, begin, end],
        ):
            out[i].sent, out[i].notifications_sent = sms, n
            out[i].to_sent_p50, out[i].to_sent_p90 = p50, p90
    for i, sms, _n, p50, p90 in _per_day_percentiles(
        store,
        "delivered_at",
        case.replace("{t}", "delivered_at"),
        "state = 'delivered' AND delivered_at >= ? AND delivered_at < ?",
        [*case_params, begin, end],
    ):
        out[i].delivered, out[i].to_delivered_p50, out[i].to_delivered_p90 = sms, p50, p90
    for i, n in _rows(
        store,
        f"SELECT day, COUNT(*) FROM (SELECT {case.replace('{t}', 'updated_at')} AS day"
        " FROM jobs WHERE state = 'cancelled'"
        " AND updated_at >= ? AND updated_at < ?) AS d GROUP BY day",
        [*case_params, begin, end],
    ):
        out[int(i)].cancelled = int(n)
    reasons: dict[str, int] = {}
    for i, _modem, reason, n in _failures(store, case, case_params, begin, end):
        out[i].failed += n
        reason = reason or "(no reason recorded)"
        reasons[reason] = reasons.get(reason, 0) + n
    failures = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:TOP_FAILURES]
    today = modems_today(store, now, per_day_limit=per_day_limit, modems=list(modems), others=names)
    totals = {
        k: sum(getattr(d, k) for d in out)
        for k in ("sent", "notifications_sent", "delivered", "failed", "cancelled")
    }
    return Stats(out, failures, today, now, totals)


def modems_today(
    store: StatsStore,
    now: float,
    *,
    per_day_limit: int,
    modems: Iterable[str],
    others: Iterable[str] = (),
) -> list[ModemToday]:
    """Parts each modem sent in the last 24 hours, counted as the sender's daily limit
    counts them (``store.sent_parts``), so the figure is the one the limit acts on.

    ``modems`` (this node's) are always listed; ``others`` (any that ever sent: an
    unplugged modem, another node's on a shared queue) only when they sent in the window.
    """
    since = now - LIMIT_WINDOW_S
    out: list[ModemToday] = []
    seen: set[str] = set()
    for name, always in [*((m, True) for m in modems), *((m, False) for m in others)]:
        if not name or name in seen:
            continue
        seen.add(name)
        parts = store.sent_parts(since=since, modem=name)
        if always or parts:
            out.append(ModemToday(name, parts, per_day_limit))
    return out


# -- for /metrics ---------------------------------------------------------------------------


@dataclass
class WentOut:
    """Per modem, what happened between two times (the metrics' increments)."""

    sent: dict[str, int] = field(default_factory=dict)
    parts: dict[str, int] = field(default_factory=dict)
    delivered: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    replies: int = 0


def changes_between(store: StatsStore, start: float, end: float) -> WentOut:
    """Jobs sent, delivered and failed, and replies received, in [start, end).

    The metrics add these up scrape after scrape: rows removed by the history
    clean-up (old ones) then never make a counter go down.
    """
    out = WentOut()
    for modem in _modems_that_sent(store):
        row = _rows(
            store,
            # A carrier of merged jobs is one SMS; its members copy its sent_at.
            "SELECT COALESCE(SUM(CASE WHEN merged_into IS NULL THEN 1 ELSE 0 END), 0),"
            " COALESCE(SUM(parts_total), 0) FROM jobs"
            " WHERE modem = ? AND sent_at >= ? AND sent_at < ?",
            (modem, start, end),
        )[0]
        if row[0]:
            out.sent[modem], out.parts[modem] = int(row[0]), int(row[1])
    for modem, n in _rows(
        store,
        "SELECT modem, COUNT(*) FROM jobs WHERE state = 'delivered' AND merged_into IS NULL"
        " AND delivered_at >= ? AND delivered_at < ? GROUP BY modem",
        (start, end),
    ):
        out.delivered[str(modem)] = int(n)
    for _day, modem, _reason, n in _failures(store, "0", (), start, end):
        out.failed[modem] = out.failed.get(modem, 0) + n
    out.replies = int(
        _rows(
            store,
            "SELECT COUNT(*) FROM inbox WHERE received_at >= ? AND received_at < ?",
            (start, end),
        )[0][0]
    )
    return out


def counts_today(store: StatsStore, now: float | None = None) -> dict[str, int]:
    """The window's "today" (since local midnight), counted as the Statistics tab and
    /metrics count: an SMS carrying merged notifications once, each failure when it
    happened."""
    now = time.time() if now is None else now
    midnight = local_midnight(dt.datetime.fromtimestamp(now).date())
    went = changes_between(store, midnight, now + 1)
    return {
        "sent": sum(went.sent.values()),
        "delivered": sum(went.delivered.values()),
        "failed": sum(went.failed.values()),
    }


def oldest_due_age(store: StatsStore, now: float) -> float:
    """Seconds since the webhook of the oldest job that is due to go now (0: none).

    By the (state, next_attempt_at) index.  Jobs a rate limit holds count: they
    are waiting, and a growing wait is what a dashboard should show.
    """
    row = _rows(
        store,
        "SELECT MIN(created_at) FROM jobs WHERE state = 'queued' AND next_attempt_at <= ?",
        (now,),
    )[0]
    return max(0.0, now - float(row[0])) if row[0] is not None else 0.0
