"""The one way a setting changes while the service runs.

Every component holds the running ``Settings`` (or one of its sections) and reads a
value when it uses it; ``LiveSettings.apply`` copies the new values into those same
objects, so a live setting needs nothing more.  A component that cannot read them (the
modem driver, a leaf that knows no settings; the web server's credentials; the root
logger's level; the tunnel) registers a reaction for the keys it copied, run after
the values are in.  What the schema marks ``restart`` is left as it is and reported.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gsmbridge.config.schema import (
    AuthSettings,
    Settings,
    changed_keys,
    get_key,
    restart_keys,
    set_key,
)

# The webhook's credentials: what set-password (or a fixed config file) changes.
AUTH_KEYS = ("auth.username", "auth.password_hash", "auth.password")

Reaction = Callable[[list[str]], None]  # called with the live keys that changed
Waiting = Callable[[list[str], Settings], None]  # keys a file edit left for a restart

log = logging.getLogger("gsmbridge.config")
Guard = Callable[[Settings], None]  # raises to refuse new settings before anything applies


@dataclass(frozen=True)
class _Registered:
    prefixes: tuple[str, ...]  # "server.keep_awake", or a section: "tunnel."
    react: Reaction

    def wants(self, keys: list[str]) -> list[str]:
        return [k for k in keys if any(k == p or k.startswith(p) for p in self.prefixes)]


class LiveSettings:
    """The running settings and who must hear that they changed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._guards: list[Guard] = []
        self._reactions: list[_Registered] = []
        self._waiting: list[Waiting] = []
        # The GUI and the config watch may apply at once: one change and its reactions at
        # a time (two tunnel restarts must not interleave).  Reentrant: a reaction may read.
        self._lock = threading.RLock()

    def guard(self, check: Guard) -> None:
        """``check(new)`` runs before anything applies; what it raises refuses them all."""
        self._guards.append(check)

    def on_change(self, keys: Iterable[str], react: Reaction) -> None:
        """Call ``react(changed)`` when one of ``keys`` (a key, or "section." for all of
        a section's) changed live."""
        self._reactions.append(_Registered(tuple(keys), react))

    def apply(self, new: Settings, *, keep: Iterable[str] = ()) -> list[str]:
        """Apply what can change while running; return the keys that need a restart.
        Raises ``ConfigError`` (a bad value) or a guard's error, with nothing applied.

        ``keep``: keys this change leaves as they run, read under the lock.  A window
        that built ``new`` a moment ago passes the credentials it did not touch: the
        config watch may have applied set-password's since, and must not be undone."""
        restart = set(restart_keys())
        with self._lock:
            for key in keep:
                set_key(new, key, get_key(self.settings, key))
            new.validate()
            for check in self._guards:
                check(new)
            changed = changed_keys(self.settings, new)
            live = [key for key in changed if key not in restart]
            for key in live:
                set_key(self.settings, key, get_key(new, key))
            self._react(live)
        return [key for key in changed if key in restart]

    def on_waiting(self, observer: Waiting) -> None:
        """Call ``observer(keys, values)`` when an edit of the config file changed keys
        that apply only after a restart (the window offers the restart), or put them
        back as they run (it withdraws the offer)."""
        self._waiting.append(observer)

    def apply_file(self, values: Settings, keys: list[str]) -> list[str]:
        """Keys whose value an edit of the config file changed (the config watch; the
        credentials go through ``apply_credentials``).  What can change live is applied
        at once, the rest waits for a restart; the log says which.  Returns the keys
        that wait.  A value refused here changes nothing.  A key the command line set
        (--port, --modem…) keeps its value: the command line wins, as at start."""
        where = values.loaded_from or "the config file"
        flags = [key for key in keys if key in self.settings.from_command_line]
        keys = [key for key in keys if key not in flags]
        if flags:
            log.info(
                "%s changed: %s, but the command line sets %s and wins",
                where,
                ", ".join(flags),
                "it" if len(flags) == 1 else "them",
            )
        restart = set(restart_keys())
        with self._lock:
            before = copy.deepcopy(self.settings)
            new = copy.deepcopy(self.settings)
            for key in keys:
                set_key(new, key, get_key(values, key))
            try:
                self.apply(new)
            except Exception as exc:  # noqa: BLE001 - a bad value or a guard, of any type
                log.warning("%s changed, but %s; nothing in the change was applied", where, exc)
                return []
        moved = [key for key in keys if get_key(before, key) != get_key(values, key)]
        live = [key for key in moved if key not in restart]
        waiting = [key for key in moved if key in restart]
        if live:
            log.info("%s changed: %s now in use", where, ", ".join(live))
        if waiting:
            verb = "applies" if len(waiting) == 1 else "apply"
            log.warning(
                "%s changed: %s %s after a restart of the service", where, ", ".join(waiting), verb
            )
        edited = [key for key in keys if key in restart]  # waiting or back as it runs
        if edited:
            for observer in self._waiting:
                observer(edited, values)
        return waiting

    def apply_credentials(self, auth: AuthSettings) -> None:
        """New webhook credentials from the config file (set-password, an editor)."""
        with self._lock:
            running = self.settings.auth
            changed = []
            for key in AUTH_KEYS:
                name = key.split(".", 1)[1]
                if getattr(running, name) != getattr(auth, name):
                    changed.append(key)
                    setattr(running, name, getattr(auth, name))
            if running.unreadable:  # the file reads again: the lock-out ends
                running.unreadable = ""
                changed = changed or ["auth.username"]
            self._react(changed)

    def _react(self, changed: list[str]) -> None:
        if not changed:
            return
        for registered in self._reactions:
            keys = registered.wants(changed)
            if keys:
                registered.react(keys)
