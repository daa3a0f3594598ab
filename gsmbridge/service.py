"""The Bridge: wires store, intake, web server (and sender, modems); start and stop.

Used the same way by headless mode and the GUI.  Data flows one way
(webhook -> store -> sender -> modem); events flow back to listeners through
``bridge.events``.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from gsmbridge import __version__
from gsmbridge.config import Settings
from gsmbridge.core.contacts import add_contact
from gsmbridge.core.events import EventHub, Listener
from gsmbridge.core.intake import Accepted, Intake
from gsmbridge.core.models import Contact
from gsmbridge.core.phones import normalise
from gsmbridge.core.store import Store
from gsmbridge.web.app import create_app
from gsmbridge.web.server import WebServer, check_exposure

log = logging.getLogger(__name__)

DB_NAME = "gsmbridge.db"


class _CountsPublisher(Listener):
    """Publishes counts at most every ``interval_s``, however many jobs change."""

    def __init__(self, bridge: Bridge, interval_s: float = 0.5) -> None:
        self.bridge = bridge
        self.interval_s = interval_s
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="counts", daemon=True)

    def job_changed(self, job_id: int, state: str) -> None:
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
                self.bridge.events.counts_changed(self.bridge.store.counts())
            except Exception:  # noqa: BLE001 - the store may be closing
                log.debug("counts not published", exc_info=True)
            self._stop.wait(self.interval_s)


class Bridge:
    """The running gateway.  ``start()`` opens everything, ``stop()`` closes it in order."""

    def __init__(self, settings: Settings, data_dir: Path) -> None:
        self.settings = settings
        self.data_dir = Path(data_dir)
        self.events = EventHub()
        self.store: Store | Any = None
        self.intake: Intake | Any = None
        self.web: WebServer | None = None
        self._counts = _CountsPublisher(self)
        self._wake_sender = threading.Event()
        self.started = False

    # -- lifecycle ---------------------------------------------------------------

    def open_store(self) -> Store:
        if self.store is None:
            self.store = Store(self.data_dir / DB_NAME)
            self.intake = Intake(
                self.store,
                default_region=lambda: self.settings.sending.default_region,
                dedup_window_s=lambda: self.settings.sending.dedup_window_s,
                listener=self.events,
                wake_sender=self.wake_sender,
            )
        return self.store

    def start(self) -> None:
        """Open the queue, recover interrupted jobs, start serving; raise on failure."""
        server = self.settings.server
        check_exposure(server.host, self.settings.auth.enabled)
        store = self.open_store()
        recovered = store.recover_interrupted(self.settings.sending.crash_policy)
        if recovered:
            log.warning(
                "%d job(s) were being sent when gsmbridge stopped; they may have gone out. "
                "Policy %r applied.",
                len(recovered),
                self.settings.sending.crash_policy,
            )
        self.events.add(self._counts)
        self._counts.start()
        app = create_app(self, self.settings)
        self.web = WebServer(
            app,
            server.host,
            server.port,
            threads=server.threads,
            max_body=server.max_body_bytes,
        )
        self.web.start()
        self.started = True
        self.events.jobs_changed()

    def stop(self) -> None:
        """Stop in order: web server, sender, modems, database."""
        if self.web is not None:
            self.web.stop()
            self.web = None
        self._counts.stop()
        self.events.remove(self._counts)
        if self.store is not None:
            self.store.close()
        self.started = False
        log.info("gsmbridge stopped")

    @property
    def url(self) -> str:
        return self.web.url if self.web else ""

    # -- the web backend ------------------------------------------------------------

    def wake_sender(self) -> None:
        self._wake_sender.set()

    def accept(self, payload: Any) -> Accepted:
        return self.intake.accept(payload)

    def status(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "counts": self.store.counts(),
            "modems": [],
            "sending_paused": False,
            "auth": self.settings.auth.enabled,
        }

    # -- user actions (web API and GUI) ----------------------------------------------

    def _changed(self, ids: list[int]) -> list[int]:
        for job_id in ids:
            job = self.store.get(job_id)
            self.events.job_changed(job_id, job.state.value if job else "deleted")
        if ids:
            self.wake_sender()
        return ids

    def retry(self, ids: list[int]) -> list[int]:
        changed = self._changed(self.store.retry(ids))
        if changed:
            log.info("Retry requested for job(s) %s", ", ".join(map(str, changed)))
        return changed

    def retry_all_failed(self) -> list[int]:
        return self._changed(self.store.retry_all_failed())

    def cancel(self, ids: list[int]) -> list[int]:
        changed = self._changed(self.store.cancel(ids))
        if changed:
            log.info("Cancelled job(s) %s", ", ".join(map(str, changed)))
        return changed

    def delete(self, ids: list[int]) -> int:
        n = self.store.delete(ids)
        self.events.jobs_changed()
        return n

    def set_number(self, ids: list[int], number: str, *, save_contact: bool = True) -> list[int]:
        """Fix the number of jobs (and, by default, save it as the recipient's contact)."""
        e164 = normalise(number, self.settings.sending.default_region)
        changed = self.store.set_number(ids, e164)
        if save_contact:
            for job_id in changed:
                job = self.store.get(job_id)
                if job is not None:
                    self.store.upsert_contact(Contact(uid=job.uid, number=e164, name=job.name))
        return self._changed(changed)

    def add_contact(self, uid: str, number: str, name: str = "") -> tuple[Contact, list[int]]:
        contact, released = add_contact(
            self.store, uid, number, name, self.settings.sending.default_region
        )
        if released:
            log.info("Contact %s released %d waiting job(s)", uid, len(released))
        return contact, self._changed(released)
