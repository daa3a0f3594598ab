"""Headless mode: the same Bridge, no Qt, stopped cleanly by SIGINT or SIGTERM, on
Windows by the console's events (Ctrl+Break, the console closing, logoff, shutdown),
and everywhere by ``gsmbridge-cli stop`` (a request file in the data directory)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from gsmbridge.config import Settings
from gsmbridge.core.instance import InstanceLock, StopRequest
from gsmbridge.core.winconsole import ConsoleStop
from gsmbridge.logs import setup_logging, stop_logging
from gsmbridge.service import Bridge

log = logging.getLogger(__name__)


def run(settings: Settings, data_dir: Path, *, stop_event: threading.Event | None = None) -> int:
    """Run until a signal (or ``stop_event``); return the process exit code."""
    # The lock before the log: a second launch must not open the first one's log file.
    lock = InstanceLock(data_dir)
    lock.acquire()  # AlreadyRunning propagates to main(), which prints it
    setup_logging(data_dir, settings.logging.level)
    stop = stop_event or threading.Event()
    stop_request = StopRequest(data_dir)
    stop_request.clear()  # a request left from an earlier run is not for this one
    console = ConsoleStop(stop.set)

    def on_signal(signum: int, _frame: object) -> None:
        log.info("Received %s, stopping", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
    console.install()
    bridge = Bridge(settings, data_dir)
    try:
        bridge.start()
        log.info("gsmbridge running headless; data in %s. Press Ctrl-C to stop.", data_dir)
        # Event.wait with a timeout keeps the main thread responsive to signals on Windows.
        while not stop.wait(1.0):
            if stop_request.pending():
                log.info("Asked to stop (gsmbridge-cli stop), stopping")
                stop.set()
    finally:
        try:
            bridge.stop()
        finally:
            stop_request.clear()
            lock.release()
            stop_logging()  # every line on disk before the process ends
            console.stopped.set()  # the console handler may now let Windows end us
    return 0
