"""Watch the config file and put changed webhook credentials to use at once.

``gsmbridge set-password`` (or a text editor) writes the file while the app
runs; without this the running app would keep answering the old password and
every webhook CometChat sends with the new one would fail with 401.  A thread
polls the file's size and modification time (no Qt, so headless mode gets it
too), reads the file again as at start (environment included: an environment
variable still wins) and copies a changed ``[auth]`` into the running
settings.  A file that does not load leaves the credentials as they are.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from gsmbridge.config import AuthSettings, read_settings

log = logging.getLogger(__name__)

POLL_S = 1.0


def _identity(auth: AuthSettings) -> tuple[str, str, str]:
    """What the webhook checks: the hash wins over a plain password (as in BasicAuth);
    a plain password kept in memory beside the same hash is not a change."""
    return (auth.username, auth.password_hash, "" if auth.password_hash else auth.password)


class ConfigWatch:
    """Polls ``path``; when its credentials differ from ``auth``, updates ``auth`` in
    place and calls ``applied(auth)``.  ``check()`` does one poll (tests call it)."""

    def __init__(
        self,
        path: Path,
        auth: AuthSettings,
        applied: Callable[[AuthSettings], None],
        *,
        interval_s: float = POLL_S,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.auth = auth
        self._applied = applied
        self._interval = interval_s
        self._environ = environ
        self._seen = self._stamp()
        self._warned: tuple[int, int, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="config-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the watch must outlive one bad read
                log.exception("Could not read %s again", self.path)

    def check(self) -> bool:
        """Read the file again if it changed; True when new credentials were applied."""
        stamp = self._stamp()
        if stamp == self._seen or stamp is None:
            return False
        environ = os.environ if self._environ is None else self._environ
        loaded = read_settings(self.path, environ=environ)
        if loaded.errors:
            if self._warned != stamp:
                self._warned = stamp
                log.warning(
                    "%s changed but does not load (%s); the webhook keeps its credentials",
                    self.path,
                    loaded.errors[0].message,
                )
            self._seen = stamp  # said once; read again at its next change
            return False
        self._seen = stamp
        new = loaded.settings.auth
        if _identity(new) == _identity(self.auth) and not self.auth.unreadable:
            return False
        self.auth.username = new.username
        self.auth.password_hash = new.password_hash
        self.auth.password = new.password
        self.auth.unreadable = ""
        log.info("Webhook credentials changed in %s; now in use", self.path)
        self._applied(self.auth)
        return True
