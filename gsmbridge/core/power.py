"""Keep Windows awake while gsmbridge runs, and say when the power plan would sleep.

An office PC on the default power plan sleeps after 15-30 idle minutes; webhooks then
fail and CometChat does not retry.  ``SetThreadExecutionState(ES_CONTINUOUS |
ES_SYSTEM_REQUIRED)`` asks Windows not to sleep (the display may still turn off).
The request belongs to the calling thread and ends when that thread ends, so a
thread of our own makes it and clears it at stop: ``Bridge.start`` may run on a
short-lived worker.  Elsewhere (Linux, macOS) nothing is called.
"""

from __future__ import annotations

import ctypes
import logging
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("gsmbridge.power")

ES_CONTINUOUS = 0x80000000
ES_SYSTEM_REQUIRED = 0x00000001
# "Sleep after" in the Sleep subgroup of the active power scheme.
POWERCFG_QUERY = ["powercfg", "/query", "SCHEME_CURRENT", "SUB_SLEEP", "STANDBYIDLE"]


class Kernel32(Protocol):
    """The one kernel32 function used here (``ctypes.WinDLL("kernel32")``, or a stand-in)."""

    def SetThreadExecutionState(self, flags: int) -> int: ...  # noqa: N802 - the API's name


def running_on_windows() -> bool:
    return sys.platform == "win32"


def _load_kernel32() -> Kernel32:
    dll = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    dll.SetThreadExecutionState.argtypes = [ctypes.c_uint32]
    dll.SetThreadExecutionState.restype = ctypes.c_uint32
    kernel32: Kernel32 = dll
    return kernel32


_HEX = re.compile(r"0x([0-9a-fA-F]{8})\s*$", re.M)


def parse_sleep_after(output: str) -> int | None:
    """Seconds of idle before sleep on AC power from ``powercfg /query`` (0 = never).

    The labels are translated on non-English Windows, so this reads the numbers: the
    setting's block ends with the AC index, then the DC index.
    """
    values = _HEX.findall(output)
    if len(values) < 2:
        return None
    return int(values[-2], 16)


def _powercfg_output() -> str:
    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)  # no console flashing up
    done = subprocess.run(
        POWERCFG_QUERY, capture_output=True, text=True, timeout=10, creationflags=flags
    )
    return done.stdout


def sleep_after_s() -> int | None:
    """The power plan's AC sleep timeout in seconds (0 = never), None when unknown."""
    if not running_on_windows():
        return None
    try:
        return parse_sleep_after(_powercfg_output())
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.debug("cannot read the sleep timeout: %s", exc)
        return None


def _minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h"


def power_note(keep_awake: bool, sleep_after: int | None) -> str:
    """One line for the log and the status: would Windows sleep, and does gsmbridge stop it."""
    if not sleep_after:
        return ""
    idle = _minutes(sleep_after)
    if keep_awake:
        return f"Windows would sleep after {idle} idle; gsmbridge keeps it awake"
    return (
        f"Windows sleeps after {idle} idle, and webhooks fail while it sleeps: turn on "
        "Settings > Desktop > Keep this PC awake (server.keep_awake), or set Sleep to Never "
        "in Windows' power settings"
    )


class KeepAwake:
    """Holds ES_SYSTEM_REQUIRED from a thread of its own between ``start`` and ``stop``."""

    def __init__(self, kernel32: Callable[[], Kernel32] | None = None) -> None:
        self._load = kernel32
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.active = False
        self.error = ""

    def start(self) -> bool:
        """Ask Windows not to sleep; False (with ``error``) when it refused or elsewhere."""
        if not running_on_windows() or self._thread is not None:
            return self.active
        self._stop.clear()
        self._ready.clear()
        self._thread = threading.Thread(target=self._hold, name="keep awake", daemon=True)
        self._thread.start()
        self._ready.wait(5.0)
        return self.active

    def _hold(self) -> None:
        try:
            kernel32 = (self._load or _load_kernel32)()
            if not kernel32.SetThreadExecutionState(ES_CONTINUOUS | ES_SYSTEM_REQUIRED):
                self.error = "Windows refused to keep the PC awake (SetThreadExecutionState)"
        except (OSError, AttributeError) as exc:
            self.error = f"cannot keep the PC awake: {exc}"
        if self.error:
            log.warning("%s", self.error)
            self._ready.set()
            return
        self.active = True
        self._ready.set()
        self._stop.wait()
        kernel32.SetThreadExecutionState(ES_CONTINUOUS)  # back to the power plan
        self.active = False

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(5.0)


class PowerWatch:
    """Windows: keeps the PC awake as ``server.keep_awake`` says, and says what the power
    plan does (``note``: for the log, /api/status and the window; "" elsewhere)."""

    def __init__(self) -> None:
        self._keeper = KeepAwake()
        self.note = ""

    @property
    def active(self) -> bool:
        """gsmbridge holds the PC awake now."""
        return self._keeper.active

    def update(self, keep_awake: bool) -> None:
        if not running_on_windows():
            return
        if keep_awake:
            self._keeper.start()
        else:
            self._keeper.stop()
        note = self._keeper.error or power_note(self._keeper.active, sleep_after_s())
        if note and note != self.note:
            if self._keeper.active:
                log.info("%s", note)
            else:
                log.warning("%s", note)
        self.note = note

    def stop(self) -> None:
        self._keeper.stop()
