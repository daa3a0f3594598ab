"""History retention: finished jobs and replies older than ``history.keep_days`` go.

Without it the database grows for ever (each job keeps CometChat's whole payload);
an office sending a thousand SMS a day would keep hundreds of megabytes a year of
notifications nobody looks at.  Jobs still to send are never touched.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from gsmbridge.core.db import StoreClosed

log = logging.getLogger(__name__)

DAY_S = 86400.0


class Housekeeping:
    """Prunes at start and then every ``interval_s`` in its own thread; ``store()``
    gives the store (opened after this is made)."""

    def __init__(
        self,
        store: Callable[[], Any],
        keep_days: Callable[[], int],
        on_pruned: Callable[[], None],
        *,
        interval_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._keep_days = keep_days
        self._on_pruned = on_pruned
        self.interval_s = interval_s
        self.clock = clock
        self._stop = threading.Event()
        self._soon = threading.Event()  # run now, not at the next interval
        self._thread = threading.Thread(target=self._run, name="housekeeping", daemon=True)

    def start(self) -> None:
        if self._thread.ident is None:
            self._thread.start()

    def run_soon(self) -> None:
        """Prune now (``history.keep_days`` was lowered: it applies at once, not within
        the hour)."""
        self._soon.set()

    def stop(self) -> None:
        self._stop.set()
        self._soon.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=10)

    def run_once(self) -> tuple[int, int]:
        """Remove what is past its time; return (jobs, replies) removed."""
        days = self._keep_days()
        if days <= 0:
            return 0, 0
        before = self.clock() - days * DAY_S
        store = self.store()
        jobs = store.prune(before)
        replies = store.prune_incoming(before)
        if jobs or replies:
            log.info(
                "Removed %d finished job(s) and %d repl%s older than %d days (history.keep_days)",
                jobs,
                replies,
                "y" if replies == 1 else "ies",
                days,
            )
            self._on_pruned()
        return jobs, replies

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except StoreClosed as exc:  # closing, or the shared store away: it says why
                log.warning("History not pruned this time: %s", exc)
            except Exception:  # noqa: BLE001 - unforeseen: its traceback helps; try later
                log.warning("History not pruned this time", exc_info=True)
            self._soon.wait(self.interval_s)
            self._soon.clear()
