"""The window's one throttle: a burst of triggers is one call; restart waits for a pause."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject

from gsmbridge.gui.throttle import Throttle


def test_a_burst_is_one_call_at_the_end_of_the_first_wait(qtbot) -> None:
    owner = QObject()
    calls: list[float] = []
    throttle = Throttle(80, lambda: calls.append(time.monotonic()), owner)
    start = time.monotonic()
    for _ in range(50):
        throttle.trigger()
    assert throttle.pending and calls == []
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=2000)
    assert calls[0] - start >= 0.07
    qtbot.wait(150)
    assert len(calls) == 1  # nothing left over from the burst


def test_events_during_a_long_burst_still_get_through(qtbot) -> None:
    """Unlike restart mode, a steady stream of triggers does not starve the callback."""
    owner = QObject()
    calls: list[int] = []
    throttle = Throttle(50, lambda: calls.append(1), owner)
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        throttle.trigger()
        qtbot.wait(10)
    assert len(calls) >= 3


def test_restart_waits_for_a_pause(qtbot) -> None:
    owner = QObject()
    calls: list[int] = []
    throttle = Throttle(100, lambda: calls.append(1), owner, restart=True)
    for _ in range(6):  # "typing": a key every 40 ms keeps pushing the call back
        throttle.trigger()
        qtbot.wait(40)
    assert calls == []
    qtbot.waitUntil(lambda: calls == [1], timeout=2000)


def test_cancel_forgets_the_pending_call(qtbot) -> None:
    owner = QObject()
    calls: list[int] = []
    throttle = Throttle(30, lambda: calls.append(1), owner)
    throttle.trigger()
    throttle.cancel()
    qtbot.wait(100)
    assert calls == [] and not throttle.pending
