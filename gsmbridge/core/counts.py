"""Counts of jobs by state for the views, published at most twice a second.

A burst of webhooks changes hundreds of jobs; counting after each would query
the database hundreds of times.  This listener only notes that something
changed; its own thread counts and publishes, then rests ``interval_s``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from gsmbridge.core.events import Listener

log = logging.getLogger(__name__)


class CountsPublisher(Listener):
    """Publishes ``counts()`` through ``publish`` at most every ``interval_s``."""

    def __init__(
        self,
        counts: Callable[[], dict[str, int]],
        publish: Callable[[dict[str, int]], None],
        interval_s: float = 0.5,
    ) -> None:
        self._counts = counts
        self._publish = publish
        self.interval_s = interval_s
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="counts", daemon=True)

    def job_changed(self, job_id: int, state: str) -> None:
        if not self._dirty.is_set():  # set() takes a lock: a webhook burst calls this often
            self._dirty.set()

    def jobs_changed(self) -> None:
        self._dirty.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._dirty.set()
        if self._thread.ident is not None:  # stop() after a failed start is fine
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait()
            if self._stop.is_set():
                return
            self._dirty.clear()
            try:
                self._publish(self._counts())
            except Exception:  # noqa: BLE001 - the store may be closing
                log.debug("counts not published", exc_info=True)
            self._stop.wait(self.interval_s)
