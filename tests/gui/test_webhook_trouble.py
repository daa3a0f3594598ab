"""The window shows refused and slow webhooks in the header (review 7, findings 2 and 8):
a real Bridge and waitress, the core's event through gui/bridge.py to the header."""

from __future__ import annotations

import base64
import time

from PySide6.QtCore import QThread

from gsmbridge.gui.views.header import ERROR_STYLE, WARN_STYLE, HeaderBar
from gsmbridge.web.refusals import Refusal, RefusalKind, SlowAnswer, WebhookTrouble
from tests.conftest import USER
from tests.gui.conftest import client_for, unique_payload


def test_a_wrong_password_turns_the_header_red_until_a_webhook_is_accepted(gui, qtbot):
    header = gui.window.header
    assert not header.trouble.isVisibleTo(header)
    wrong = base64.b64encode(f"{USER}:stale-password".encode()).decode()
    client = client_for(gui)
    status, _, _ = client.post(
        "/webhook", unique_payload(), headers={"Authorization": f"Basic {wrong}"}
    )
    assert status == 401
    qtbot.waitUntil(lambda: header.trouble.isVisibleTo(header), timeout=5000)
    assert header.trouble.text() == (
        f"⚠ Webhooks refused: wrong password for user '{USER}' (1 in the last hour)"
    )
    assert header.trouble.styleSheet() == ERROR_STYLE
    tip = header.trouble.toolTip()
    assert "from 127.0.0.1" in tip and "CometChat's dashboard" in tip
    assert "stale-password" not in tip

    assert client.post("/webhook", unique_payload())[0] == 200
    qtbot.waitUntil(lambda: header.trouble.styleSheet() == WARN_STYLE, timeout=5000)
    assert header.trouble.text() == "⚠ 1 webhook(s) refused in the last hour"
    assert "accepted since" in header.trouble.toolTip()


def test_the_header_slot_runs_on_the_gui_thread(gui, qtbot, monkeypatch):
    header = gui.window.header
    threads: list[QThread] = []
    shown = header._show_trouble
    monkeypatch.setattr(
        header, "_show_trouble", lambda: (threads.append(QThread.currentThread()), shown())
    )
    client_for(gui).post("/webhook", b"{not json")
    qtbot.waitUntil(lambda: header.trouble.isVisibleTo(header), timeout=5000)
    assert "body is not valid JSON" in header.trouble.text()
    assert threads and all(t is header.thread() for t in threads)


def _trouble(at: float, *, slow_at: float | None = None, why: str = "") -> WebhookTrouble:
    refusal = Refusal(at, 415, RefusalKind.CONTENT_TYPE, "Content-Type must be …", "10.0.0.9")
    slow = SlowAnswer(slow_at, 11.06, 200, why) if slow_at is not None else None
    return WebhookTrouble(
        refused=((int(at // 60), 3),),
        last_refusal=refusal,
        slow=((int(slow_at // 60), 1),) if slow_at is not None else (),
        last_slow=slow,
    )


def test_an_hour_later_the_warning_is_gone(qtbot):
    header = HeaderBar()
    qtbot.addWidget(header)
    header.set_webhook_trouble(_trouble(time.time() - 3 * 60))
    assert header.trouble.isVisibleTo(header)
    assert (
        header.trouble.text() == "⚠ Webhooks refused: Content-Type must be … (3 in the last hour)"
    )
    assert header._trouble_timer.isActive()  # counts down while shown
    header.set_webhook_trouble(_trouble(time.time() - 62 * 60))
    assert not header.trouble.isVisibleTo(header)
    assert not header._trouble_timer.isActive()
    header.set_webhook_trouble(_trouble(time.time()))
    header.set_webhook_trouble(None)  # a restarted service starts counting again
    assert not header.trouble.isVisibleTo(header)


def test_a_slow_answer_says_how_long_and_why(qtbot):
    header = HeaderBar()
    qtbot.addWidget(header)
    long_ago = time.time() - 2 * 3600
    why = "the queue database was locked by another program for 10.8 s"
    header.set_webhook_trouble(_trouble(long_ago, slow_at=time.time(), why=why))
    assert header.trouble.text() == "⚠ 1 slow answer(s) in the last hour"
    assert header.trouble.styleSheet() == WARN_STYLE
    tip = header.trouble.toolTip()
    assert "took 11.1 s to answer" in tip and why in tip and "about 2 s" in tip


def _refused(reason: str) -> WebhookTrouble:
    refusal = Refusal(time.time(), 401, RefusalKind.WRONG_USER, reason, "10.0.0.9")
    return WebhookTrouble(refused=((int(time.time() // 60), 8),), last_refusal=refusal)


def test_a_long_refusal_never_widens_the_window(gui, qtbot):
    """Review 8 finding 4: the red text's width became the window's minimum (1180 -> 1606
    px on a 1400 px screen) and pushed the banner's buttons and the counts off-screen."""
    window, header = gui.window, gui.window.header
    qtbot.waitExposed(window)
    window.resize(1000, window.height())
    qtbot.waitUntil(lambda: window.width() == 1000)
    before = (window.sizeHint().width(), window.minimumSizeHint().width())
    reason = "wrong user name '" + "u" * 300 + "' and wrong password"
    header.set_webhook_trouble(_refused(reason))
    qtbot.wait(100)  # the layouts settle
    assert header.trouble.isVisible()
    assert window.width() == 1000
    assert window.sizeHint().width() <= before[0]
    assert window.minimumSizeHint().width() <= before[1]
    assert header.trouble.geometry().right() <= header.width()
    # Cut to its room, the reason first; the whole text is in the tooltip.
    shown = header.trouble.shown_text()
    assert shown.startswith("⚠ Webhooks refused: wrong user name 'uuu") and shown.endswith("…")
    metrics = header.trouble.fontMetrics()
    assert metrics.horizontalAdvance(shown) <= header.trouble.contentsRect().width()
    assert header.trouble.text() in header.trouble.toolTip()
    assert reason in header.trouble.toolTip()
    # Gone again: nothing is left of it in the window's width either.
    header.set_webhook_trouble(None)
    qtbot.wait(100)
    assert window.width() == 1000


def test_a_short_refusal_is_shown_whole(gui, qtbot):
    window, header = gui.window, gui.window.header
    qtbot.waitExposed(window)
    window.resize(1300, window.height())
    header.set_webhook_trouble(_refused("no credentials sent"))
    qtbot.waitUntil(lambda: header.trouble.shown_text() == header.trouble.text())
    assert header.trouble.text() == ("⚠ Webhooks refused: no credentials sent (8 in the last hour)")


def test_a_webhook_lost_to_a_locked_queue_is_red_with_the_reason(qtbot):
    """Review 8 finding 8: a 503 (not queued) was an orange 'slow answer' only."""
    header = HeaderBar()
    qtbot.addWidget(header)
    why = "the queue database was locked by another program for 30.0 s (a database …?)"
    lost = Refusal(time.time(), 503, RefusalKind.QUEUE_LOCKED, why, "127.0.0.1")
    slow = SlowAnswer(time.time(), 30.05, 503, why)
    minute = ((int(time.time() // 60), 1),)
    header.set_webhook_trouble(
        WebhookTrouble(refused=minute, last_refusal=lost, slow=minute, last_slow=slow)
    )
    assert header.trouble.text().startswith(f"⚠ Webhooks lost: {why} (1 in the last hour)")
    assert header.trouble.styleSheet() == ERROR_STYLE
    tip = header.trouble.toolTip()
    assert "(503)" in tip and "Close the program" in tip and "took 30.1 s" in tip
