"""Watch the config file and put what changed in it to use.

``gsmbridge set-password`` (or a text editor) writes the file while the app
runs; without this the running app would keep answering the old password and
every webhook CometChat sends with the new one would fail with 401.  A thread
polls the file's size and modification time (no Qt, so headless mode gets it
too), reads the file again as at start (environment included: an environment
variable still wins) and hands a changed ``[auth]`` to the running settings.
Any other key whose value in the file changed goes to ``settings_changed``
(``LiveSettings.apply_file``): applied at once where it can be, otherwise said to
wait for a restart.  A file that does not load changes nothing, and says so.
"""

from __future__ import annotations

import base64
import http.client
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from gsmbridge.config import AuthSettings, Loaded, Settings, changed_keys, read_settings

log = logging.getLogger(__name__)

POLL_S = 1.0


def _identity(auth: AuthSettings) -> tuple[str, str, str]:
    """What the webhook checks: the hash wins over a plain password (as in BasicAuth);
    a plain password kept in memory beside the same hash is not a change."""
    return (auth.username, auth.password_hash, "" if auth.password_hash else auth.password)


SettingsChanged = Callable[[Settings, list[str]], object]  # the file's values, the keys


class ConfigWatch:
    """Polls ``path``; when its credentials differ from ``auth`` (the running ones), hands
    the new ones to ``applied``, which puts them in ``auth``; other keys whose value in
    the file changed go to ``settings_changed``.  ``check()`` does one poll (tests call
    it)."""

    def __init__(
        self,
        path: Path,
        auth: AuthSettings,
        applied: Callable[[AuthSettings], None],
        *,
        settings_changed: SettingsChanged | None = None,
        interval_s: float = POLL_S,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.auth = auth
        self._applied = applied
        self._settings_changed = settings_changed
        self._interval = interval_s
        self._environ = environ
        self._seen = self._stamp()
        # What the file alone said when last read (its valid values, even while others in
        # it are wrong): a key counts as edited when the file's value moves, not when it
        # differs from the running one (--port, --modem, the environment and values
        # waiting for a restart differ on purpose).
        self._last = self._file_values()
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

    def _file_values(self) -> Loaded | None:
        if self._stamp() is None:
            return None
        return read_settings(self.path, environ={})

    def note_written(self) -> None:
        """gsmbridge itself wrote the file (Settings, the wizard) and applied what it
        wrote: nothing to hand on, nor to say twice."""
        self._seen = self._stamp()
        self._last = self._file_values()

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
                    "%s changed but does not load (%s); nothing in it is applied, the "
                    "webhook keeps its credentials",
                    self.path,
                    loaded.errors[0].message,
                )
            self._seen = stamp  # said once; read again at its next change
            return False
        self._seen = stamp
        self._other_keys(loaded)
        new = loaded.settings.auth
        if _identity(new) == _identity(self.auth) and not self.auth.unreadable:
            return False
        if self.auth.enabled and not new.enabled:
            # An edit that drops [auth], or an editor's empty file for a moment: never
            # open a running webhook; turning Basic Auth off takes a restart, where
            # the start-up check refuses it on anything but loopback.
            if self._warned != stamp:
                self._warned = stamp
                log.warning(
                    "%s no longer holds complete credentials (%s); the webhook keeps "
                    "the previous ones until gsmbridge restarts",
                    self.path,
                    new.missing,
                )
            return False
        self._applied(new)  # the running settings take them (see config.LiveSettings)
        log.info("Webhook credentials changed in %s; now in use", self.path)
        return True

    def _other_keys(self, loaded: Loaded) -> None:
        """Hand on the keys, other than the credentials, whose value in the file moved and
        that the file still sets (a half-written file must not reset what runs)."""
        before, self._last = self._last, self._file_values()
        if before is None or self._last is None or self._settings_changed is None:
            return
        in_file = str(self.path)
        moved = changed_keys(before.settings, self._last.settings)
        moved = [k for k in moved if not k.startswith("auth.")]  # see check()
        gone = [k for k in moved if self._last.origins.get(k) != in_file]
        env = [k for k in moved if k not in gone and loaded.origins.get(k) == "the environment"]
        keys = [k for k in moved if k not in gone and k not in env]
        if gone:
            log.info(
                "%s changed: %s no longer in it; what runs stays until gsmbridge restarts",
                self.path,
                ", ".join(gone),
            )
        if env:
            log.info(
                "%s changed: %s, but the environment (GSMBRIDGE_...) sets %s and wins",
                self.path,
                ", ".join(env),
                "it" if len(env) == 1 else "them",
            )
        if keys:
            self._settings_changed(loaded.settings, keys)


def describe_running(
    settings: Settings, username: str, password: str, *, timeout_s: float = 5.0
) -> str:
    """One line for ``set-password``: does a running gsmbridge now use these credentials?

    Asks ``/api/status`` at the configured address with them for up to
    ``timeout_s`` (the watch polls the file about once a second).
    """
    host, port = settings.server.host, settings.server.port
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    url = f"http://{host}:{port}"
    if port == 0:
        return (
            "server.port is 0 (chosen at start), so whether a running gsmbridge uses the "
            "new credentials cannot be checked; it does within seconds if one runs."
        )

    def ask(user: str, secret: str) -> int:
        header = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
        connection = http.client.HTTPConnection(host, port, timeout=2)
        try:
            connection.request("GET", "/api/status", headers={"Authorization": header})
            return connection.getresponse().status
        finally:
            connection.close()

    deadline = time.monotonic() + timeout_s
    code: int | None = None
    while True:
        try:
            code = ask(username, password)
        except ConnectionRefusedError:
            return (
                f"Nothing answers at {url} (server.host and server.port in this file): if "
                "a gsmbridge reads this file elsewhere (another --port) it uses the new "
                "credentials within seconds; otherwise when it starts."
            )
        except OSError as exc:
            return f"Could not ask {url} whether a gsmbridge runs there: {exc}."
        if code != 401 or time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    if code == 200:
        # 200 also comes from a gsmbridge that checks no credentials at all (one that
        # reads another config file): a wrong password tells the two apart.
        try:
            wrong = ask(username, password + "-not-it")
        except OSError:
            wrong = 401
        if wrong == 200:
            return (
                f"The gsmbridge at {url} answers without checking any password: it does "
                "not read this file (started with another --config?). Restart it with "
                "this file to use the new credentials."
            )
        return f"The running gsmbridge at {url} uses the new credentials now."
    if code == 401:
        return (
            f"The gsmbridge running at {url} still answers the old credentials: restart it "
            "(credentials set in its environment, GSMBRIDGE_AUTH_*, win over the file)."
        )
    return f"Something at {url} answered HTTP {code}: it does not look like gsmbridge."
