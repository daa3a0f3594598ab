"""Desktop notifications (gui.notifier) through the real event path: core events from
a worker thread, queued to the window, told to a recording stand-in for the tray."""

from __future__ import annotations

import dataclasses
import threading

from gsmbridge.modem.status import ModemStatus
from tests.gui.conftest import make_jobs


class RecordingTray:
    def __init__(self) -> None:
        self.notes: list[tuple[str, str, bool]] = []

    def notify(self, title: str, message: str, *, warning: bool = True) -> None:
        self.notes.append((title, message, warning))


def fail_from_a_worker(bridge, ids: list[int], error: str) -> None:
    """Fail jobs as the sender does: store first, then the event, on its own thread."""

    def work() -> None:
        for job_id in ids:
            bridge.store.mark_failed(job_id, error)
            bridge.events.job_changed(job_id, "failed")

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()


def paused_gui(gui_factory):
    gui = gui_factory()
    gui.window.act.pause.setChecked(True)  # the simulated modem sends nothing meanwhile
    tray = RecordingTray()
    gui.window.notifier.tray = tray
    return gui, tray


def test_one_failed_sms_says_who_and_why(gui_factory, qtbot) -> None:
    gui, tray = paused_gui(gui_factory)
    bridge = gui.ctx.bridge
    [job_id] = make_jobs(bridge, 1)
    fail_from_a_worker(bridge, [job_id], "SIM has no credit")
    qtbot.waitUntil(lambda: len(tray.notes) == 1, timeout=5000)
    title, message, warning = tray.notes[0]
    assert title.startswith("SMS to ") and title.endswith(" failed")
    assert message == "SIM has no credit" and warning


def test_a_burst_of_failures_is_one_notification(gui_factory, qtbot) -> None:
    gui, tray = paused_gui(gui_factory)
    bridge = gui.ctx.bridge
    ids = make_jobs(bridge, 5)
    fail_from_a_worker(bridge, ids, "rejected by the network")
    qtbot.waitUntil(lambda: len(tray.notes) == 1, timeout=5000)
    assert tray.notes[0][0] == "5 SMS failed"
    qtbot.wait(1300)  # past the burst's window: nothing more
    assert len(tray.notes) == 1


def test_a_modem_lost_is_told_once_not_a_modem_that_was_never_ready(gui, qtbot) -> None:
    window = gui.window
    tray = RecordingTray()
    window.notifier.tray = tray
    ready = ModemStatus(port="COM7", state="ready")
    window.on_modem_status_changed(dataclasses.replace(ready, state="connecting"))
    window.on_modem_status_changed(ready)
    assert tray.notes == []
    window.on_modem_status_changed(
        dataclasses.replace(ready, state="error", last_error="port vanished")
    )
    assert tray.notes == [("Modem COM7 lost", "port vanished", True)]
    window.on_modem_status_changed(dataclasses.replace(ready, state="connecting"))
    assert len(tray.notes) == 1


def test_without_a_tray_nothing_is_shown_and_nothing_breaks(gui, qtbot) -> None:
    assert gui.window.notifier.tray is None  # offscreen: no system tray
    fail_from_a_worker(gui.ctx.bridge, make_jobs(gui.ctx.bridge, 1), "x")
    qtbot.wait(1200)
    assert gui.ctx.running


def test_refused_webhooks_are_told_once_per_streak(gui, qtbot) -> None:
    """The app lives in the tray: a password mistyped in CometChat's dashboard showed
    only in the window's header, and every notification meanwhile was lost."""
    from tests.gui.conftest import client_for, unique_payload

    tray = RecordingTray()
    gui.window.notifier.tray = tray
    client = client_for(gui)
    wrong = {"Authorization": client.auth_header(password="not-it")}
    for _ in range(3):
        assert client.post("/webhook", unique_payload(), headers=wrong)[0] == 401
    qtbot.waitUntil(lambda: len(tray.notes) == 1, timeout=5000)
    title, message, warning = tray.notes[0]
    assert title.startswith("Webhooks refused: wrong password") and warning
    assert "does not resend" in message
    qtbot.wait(700)  # the window hears of a flood at most every 0.5 s: still one note
    assert len(tray.notes) == 1
    assert client.post("/webhook", unique_payload())[0] == 200  # the streak ends
    qtbot.wait(700)
    assert client.post("/webhook", unique_payload(), headers=wrong)[0] == 401
    qtbot.waitUntil(lambda: len(tray.notes) == 2, timeout=5000)
