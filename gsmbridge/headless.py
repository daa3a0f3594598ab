"""Headless mode: the same Bridge, no Qt, stopped cleanly by SIGINT or SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from gsmbridge.config import Settings
from gsmbridge.core.instance import InstanceLock
from gsmbridge.logs import setup_logging
from gsmbridge.service import Bridge

log = logging.getLogger(__name__)


def run(settings: Settings, data_dir: Path, *, stop_event: threading.Event | None = None) -> int:
    """Run until a signal (or ``stop_event``); return the process exit code."""
    setup_logging(data_dir, settings.logging.level)
    lock = InstanceLock(data_dir)
    lock.acquire()  # AlreadyRunning propagates to main(), which prints it
    stop = stop_event or threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("Received %s, stopping", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
    bridge = Bridge(settings, data_dir)
    try:
        bridge.start()
        log.info("gsmbridge running headless; data in %s. Press Ctrl-C to stop.", data_dir)
        # Event.wait with a timeout keeps the main thread responsive to signals on Windows.
        while not stop.wait(1.0):
            pass
    finally:
        bridge.stop()
        lock.release()
    return 0
