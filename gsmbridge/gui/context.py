"""What the views share: settings, paths, the Bridge, its events, the task runner.

Passed to each view (no singletons).  Starting, restarting and stopping the
Bridge happen here, on the task pool, and are reported by signals.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from gsmbridge.config import (
    AUTH_KEYS,
    Settings,
    apply_new_password,
    changed_keys,
    command_line_args,
    get_key,
    restart_keys,
    save_changes,
    schema_fields,
    set_key,
)
from gsmbridge.gui import autostart
from gsmbridge.gui.bridge import CoreEvents
from gsmbridge.gui.compat import emit
from gsmbridge.gui.problems import Problem, explain_start_error
from gsmbridge.gui.tasks import TaskRunner
from gsmbridge.service import Bridge

log = logging.getLogger(__name__)


class AppContext(QObject):
    """The running app's shared state; owns the Bridge's lifecycle.

    Signals:
        store_opened(object): the queue database is open (the ``Store``); views load it.
        store_closing(): the queue database is about to close (restart, exit); views let
            go of it before that happens.
        started(): the Bridge is running (web server and sender).
        start_failed(object): starting failed (a ``Problem`` to show).
        busy_changed(bool): a start or restart is in progress.
        contacts_changed(): the window saved, imported or deleted contacts (views reload).
    """

    store_opened = Signal(object)
    store_closing = Signal()
    started = Signal()
    start_failed = Signal(object)
    busy_changed = Signal(bool)
    contacts_changed = Signal()
    # The running webhook credentials changed (set-password, the config file fixed).
    credentials_changed = Signal()
    # An edit of the config file changed keys that wait for a restart (list of keys).
    restart_waiting = Signal(object)

    def __init__(
        self,
        settings: Settings,
        data_dir: Path,
        config_path: Path,
        *,
        bridge_factory: Callable[[Settings, Path], Bridge] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.data_dir = Path(data_dir)
        self.config_path = Path(config_path)
        self._factory = bridge_factory or Bridge
        self.events = CoreEvents(self)
        self.tasks = TaskRunner(self)
        self.bridge: Bridge = self._new_bridge()
        self._store: Any = None  # the open store, between store_opened and store_closing
        self.problem: Problem | None = None
        self.starting = False
        # Saved values that wait for a restart (server.port, modem.port, ...).
        self.desired: Settings = copy.deepcopy(settings)

    def _new_bridge(self) -> Bridge:
        bridge = self._factory(self.settings, self.data_dir)
        bridge.events.add(self.events.listener)
        bridge.live.on_change(["auth."], self._credentials_applied)
        bridge.live.on_change([""], self._live_applied)
        bridge.live.on_waiting(self._file_waiting)
        return bridge

    def _live_applied(self, keys: list[str]) -> None:
        """Any thread: values applied live (an edit of the config file, too) are what the
        dialogs start from; a stale one would be shown, and put back by the next save."""
        for key in keys:
            set_key(self.desired, key, get_key(self.settings, key))

    def _file_waiting(self, keys: list[str], values: Settings) -> None:
        """Any thread: an edit of the config file changed values that wait for a restart
        (or put them back as they run): the window offers the restart while any waits."""
        for key in keys:
            set_key(self.desired, key, get_key(values, key))
        waiting = [
            k for k in restart_keys() if get_key(self.desired, k) != get_key(self.settings, k)
        ]
        emit(self.restart_waiting, waiting)

    def _credentials_applied(self, _keys: list[str]) -> None:
        """Any thread: the credentials the dialogs start from follow the running ones,
        so Settings and the wizard never show, or put back, the ones set-password
        replaced."""
        for key in AUTH_KEYS:
            set_key(self.desired, key, get_key(self.settings, key))
        self.desired.auth.unreadable = self.settings.auth.unreadable
        emit(self.credentials_changed)

    @property
    def simulated(self) -> bool:
        return self.bridge.modems.simulated

    @property
    def running(self) -> bool:
        return self.bridge.started

    @property
    def store(self) -> Any:
        """The queue database while it is open for the views, else None."""
        return self._store

    def _close_store_for_views(self) -> None:
        if self._store is not None:
            self._store = None
            emit(self.store_closing)

    # -- lifecycle (on the pool) ------------------------------------------------------

    def start_bridge(self) -> None:
        """Open the store, then start; either outcome arrives as a signal."""
        if self.starting:
            return
        self._set_busy(True)
        self.tasks.run(
            "Start", self._start_in_worker, self.bridge, on_done=self._started, on_error=None
        )

    def restart_bridge(self) -> None:
        """Stop the current Bridge and start a new one with the current settings."""
        if self.starting:
            return
        self._set_busy(True)
        self._close_store_for_views()
        old = self.bridge
        self.tasks.run("Restart", self._restart_in_worker, old, on_done=self._started)

    def _restart_in_worker(self, old: Bridge) -> tuple[Bridge, BaseException | None]:
        old.events.remove(self.events.listener)
        old.stop()
        # The settings object stays the same (views hold it); the waiting values go in.
        for key in restart_keys():
            set_key(self.settings, key, get_key(self.desired, key))
        new = self._new_bridge()
        new.modems.earlier_outbox = old.modems.simulator_outbox()  # still shown after it
        return self._start_in_worker(new)

    # -- settings (on the pool) -----------------------------------------------------------

    def save_and_apply(
        self, new: Settings, keys: list[str] | None = None, password: str | None = None
    ) -> list[str]:
        """Save the changed keys to the config file and apply them to the running Bridge.

        Runs on the pool (scrypt, file I/O, the Bridge's locks).  Returns the
        keys that wait for a restart.
        """
        new = copy.deepcopy(new)
        keys = list(keys) if keys is not None else changed_keys(self.desired, new)
        for key in AUTH_KEYS:
            if key not in keys:  # the config watch may have applied new ones (set-password)
                set_key(new, key, get_key(self.settings, key))
        if password:
            apply_new_password(new, password)
            keys += ["auth.password_hash", "auth.password"]
        new.validate()
        save_changes(new, keys, self.config_path)  # the hash; the plain text stays in memory
        self.bridge.config_written()  # applied below: the config watch need not hand it on
        # Against the real entry, not the old setting: the installer (or Windows'
        # Startup-apps switch) may have changed it without the config knowing.
        if "gui.start_at_login" in keys or new.gui.start_at_login != autostart.is_enabled():
            flags = command_line_args(self.settings)
            argv = autostart.command(self.config_path, self.data_dir, flags)
            autostart.set_enabled(new.gui.start_at_login, argv)
        # Only what this save changed: the rest stays as it runs (the config watch may
        # have applied set-password's credentials, or an edit of the file, meanwhile).
        waits = set(restart_keys())
        untouched = [k for k, _f in schema_fields() if k not in keys and k not in waits]
        restart = self.bridge.live.apply(copy.deepcopy(new), keep=untouched)
        self.settings.from_command_line -= set(keys)  # saved here: the file's now
        for key in keys:  # those not applied live stay wanted until a restart
            set_key(self.desired, key, get_key(new, key))
        log.info(
            "Settings saved to %s%s",
            self.config_path,
            f"; after a restart: {', '.join(restart)}" if restart else "",
        )
        return restart

    @staticmethod
    def _start_in_worker(bridge: Bridge) -> tuple[Bridge, BaseException | None]:
        try:
            bridge.open_store()  # first, so the queue can be shown even if serving fails
        except Exception as exc:  # noqa: BLE001 - reported as a Problem
            return bridge, exc
        try:
            bridge.start()
        except Exception as exc:  # noqa: BLE001 - reported as a Problem
            log.error("Start failed: %s", exc)
            return bridge, exc
        return bridge, None

    def _started(self, result: tuple[Bridge, BaseException | None]) -> None:
        bridge, error = result
        self.bridge = bridge
        self._set_busy(False)
        if bridge.store is not None:
            self._store = bridge.store
            emit(self.store_opened, bridge.store)
        if error is None:
            self.problem = None
            emit(self.started)
            return
        self.problem = explain_start_error(error, self.settings, self.config_path)
        emit(self.start_failed, self.problem)

    def note_contacts_changed(self) -> None:
        """A view changed contacts (on the GUI thread, after the write)."""
        emit(self.contacts_changed)

    def _set_busy(self, busy: bool) -> None:
        self.starting = busy
        emit(self.busy_changed, busy)

    def stop_now(self, timeout_ms: int = 15000) -> None:
        """At exit, after the event loop: wait for tasks, then stop the Bridge in order."""
        self._close_store_for_views()
        self.tasks.shutdown(timeout_ms)
        self.bridge.events.remove(self.events.listener)
        try:
            self.bridge.stop()
        except Exception:  # noqa: BLE001 - exiting anyway
            log.exception("Stopping failed")
