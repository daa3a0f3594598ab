"""The Statistics tab on a real Bridge and store: fills, follows changes (throttled), charts."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from gsmbridge.core.models import State
from gsmbridge.core.store_stats import DayStats, ModemToday, Stats
from gsmbridge.gui.views.tabs import stats_view
from gsmbridge.gui.views.tabs.stats_charts import (
    BARS,
    DELIVERED_COLOUR,
    SENT_COLOUR,
    DailyBars,
    TimingLines,
    day_summary,
    duration_text,
    grid_steps,
    nice_ceiling,
)
from tests.gui.conftest import make_jobs


def sent_jobs(gui, qtbot, n: int) -> list[int]:
    """n jobs the simulated modem really sends (and reports delivered)."""
    bridge = gui.ctx.bridge
    qtbot.waitUntil(lambda: all(s.ready for s in bridge.modem_statuses()), timeout=10000)
    ids = make_jobs(bridge, n)
    bridge.wake_sender()
    qtbot.waitUntil(
        lambda: all(bridge.store.get(i).state == State.DELIVERED for i in ids), timeout=15000
    )
    return ids


def open_tab(gui, qtbot) -> stats_view.StatsView:
    view = gui.window.stats_view
    with qtbot.waitSignal(view.stats_shown, timeout=10000):
        gui.window.tabs.setCurrentWidget(view)
    return view


def test_the_tab_fills_from_the_store(gui, qtbot) -> None:
    sent_jobs(gui, qtbot, 3)
    bridge = gui.ctx.bridge
    (waiting,) = make_jobs(bridge, 1, uid="nobody", phno=None)
    bridge.store.mark_failed(waiting, "no number for nobody")
    view = open_tab(gui, qtbot)
    stats = view.stats
    assert stats is not None and len(stats.days) == 30
    today = stats.days[-1]
    assert today.day == dt.date.today()
    assert (today.sent, today.delivered, today.failed) == (3, 3, 1)
    assert today.to_sent_p50 is not None and today.to_delivered_p90 is not None
    assert "3 sent · 3 delivered · 1 failed · 0 cancelled" == view.summary.text()
    assert view.failures.rowCount() == 1
    assert view.failures.item(0, 0).text() == "no number for nobody"
    assert view.failures.item(0, 1).text() == "1"
    bar = view.modem_bars["sim"]
    assert bar.format() == "3 SMS parts (no daily limit)"
    assert view.state.text().startswith("Updated ")
    assert view.daily.days is stats.days and view.timing.days is stats.days
    # A bar per figure, today's as tall as its share of the axis.
    rects = view.daily.bar_rects(len(stats.days) - 1)
    assert [round(r.height()) for r in rects][:2] == [round(rects[0].height())] * 2
    assert rects[0].height() > 0 and rects[3].height() == 0
    # The period choice recomputes for that many days.
    with qtbot.waitSignal(view.stats_shown, timeout=10000) as blocker:
        view.set_days(7)
    assert len(blocker.args[0].days) == 7


def test_the_tab_follows_changes_throttled(gui, qtbot, monkeypatch) -> None:
    monkeypatch.setattr(stats_view, "THROTTLE_MS", 300)
    gui.window.stats_view._throttle._timer.setInterval(300)
    view = open_tab(gui, qtbot)
    assert view.stats is not None and view.stats.totals["sent"] == 0
    before = view.refreshes
    sent_jobs(gui, qtbot, 5)

    def caught_up() -> bool:
        return view.stats is not None and view.stats.totals["delivered"] == 5

    qtbot.waitUntil(caught_up, timeout=10000)
    # Dozens of job events (queued, sending, sent, delivered for each) made a few
    # recomputations, not one per event.
    assert 1 <= view.refreshes - before <= 8, view.refreshes - before
    assert view.modem_bars["sim"].format().startswith("5 SMS parts")


def test_a_hidden_tab_computes_nothing_until_shown(gui, qtbot) -> None:
    view = gui.window.stats_view
    assert not view.isVisible()
    sent_jobs(gui, qtbot, 2)
    qtbot.wait(300)
    assert view.refreshes == 0 and view.stats is None
    view = open_tab(gui, qtbot)
    assert view.refreshes == 1
    assert view.stats is not None and view.stats.totals["sent"] == 2


def test_the_figures_age_while_shown_without_changes(gui, qtbot) -> None:
    view = open_tab(gui, qtbot)
    view._throttle._timer.setInterval(50)
    view._ageing.setInterval(100)
    before = view.refreshes
    qtbot.waitUntil(lambda: view.refreshes >= before + 2, timeout=5000)
    gui.window.tabs.setCurrentWidget(gui.window.queue)
    qtbot.wait(300)  # hidden: the clock only marks them stale
    hidden = view.refreshes
    qtbot.wait(300)
    assert view.refreshes == hidden


def test_the_tab_fills_again_after_a_restart(gui, qtbot) -> None:
    sent_jobs(gui, qtbot, 1)
    view = open_tab(gui, qtbot)
    with qtbot.waitSignal(view.stats_shown, timeout=15000) as blocker:
        gui.window.restart_service()
    assert blocker.args[0].totals["sent"] == 1
    assert view.state.text().startswith("Updated ")


def test_a_failure_to_compute_is_shown(gui, qtbot) -> None:
    view = open_tab(gui, qtbot)
    gui.ctx.bridge.store.close()
    view.refresh()
    qtbot.waitUntil(lambda: "could not be computed" in view.state.text(), timeout=5000)
    assert "closed" in view.state.text()


def _days(values: list[tuple[int, int, int, int]]) -> list[DayStats]:
    start = dt.date(2026, 5, 1)
    out = []
    for i, (sent, delivered, failed, cancelled) in enumerate(values):
        day = DayStats(start + dt.timedelta(days=i), 0.0, sent, delivered, failed, cancelled)
        out.append(day)
    return out


def test_bars_scale_to_a_round_top(qtbot) -> None:
    chart = DailyBars()
    qtbot.addWidget(chart)
    chart.resize(600, 240)
    chart.set_days(_days([(0, 0, 0, 0), (73, 70, 2, 1)]))
    assert chart.top_value() == 100
    plot = chart.plot_rect()
    sent, delivered, failed, cancelled = chart.bar_rects(1, plot)
    assert sent.height() == plot.height() * 0.73
    assert sent.bottom() == plot.bottom() and sent.right() <= delivered.left() + 0.01
    assert failed.height() < delivered.height() and cancelled.height() > 0
    assert all(r.height() == 0 for r in chart.bar_rects(0, plot))
    assert [nice_ceiling(v) for v in (0, 1, 3, 10, 11, 240, 999)] == [1, 1, 5, 10, 20, 500, 1000]
    assert len(BARS) == 4
    # Whole numbers on the axis: 50 in five steps of 10, 20 in five steps of 4.
    assert [grid_steps(t) for t in (1, 2, 5, 10, 20, 50, 200)] == [1, 2, 5, 5, 5, 5, 5]
    chart.grab()  # paints without error, empty days included


def test_a_day_in_words_for_the_tooltip(qtbot) -> None:
    from PySide6.QtCore import QEvent, QPoint
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QToolTip

    chart = DailyBars()
    qtbot.addWidget(chart)
    chart.resize(600, 240)
    days = _days([(3, 2, 1, 0), (31, 30, 0, 1)])
    days[1].to_sent_p50, days[1].to_sent_p90 = 8.2, 95.0
    days[1].to_delivered_p50, days[1].to_delivered_p90 = 40.0, 7300.0
    chart.set_days(days)
    plot = chart.plot_rect()
    assert chart.day_at(plot.left() + 1) is days[0]
    assert chart.day_at(plot.right() - 1) is days[1]
    assert chart.day_at(plot.left() - 5) is None and chart.day_at(plot.right() + 1) is None
    assert day_summary(days[1]) == (
        "Sat 2 May: 31 sent, 30 delivered, 0 failed, 1 cancelled\n"
        "webhook to sent: median 8 s, p90 1.6 min\n"
        "webhook to delivered: median 40 s, p90 2.0 h"
    )
    assert "median —" in day_summary(days[0])
    days[0].notifications_sent = 5  # sending.coalesce: 3 SMS carried 5 notifications
    assert day_summary(days[0]).startswith("Fri 1 May: 3 sent (carrying 5 notifications), 2 ")
    days[1].notifications_sent = 31
    assert day_summary(days[1]).startswith("Sat 2 May: 31 sent, 30 delivered")
    assert duration_text(None) == "—" and duration_text(59.4) == "59 s"
    chart.show()
    at = QPoint(int(plot.right() - 2), int(plot.center().y()))
    QApplication.sendEvent(chart, QHelpEvent(QEvent.Type.ToolTip, at, chart.mapToGlobal(at)))
    assert QToolTip.text().startswith("Sat 2 May: 31 sent")


def test_timing_axis_is_logarithmic_and_grows_to_a_day(qtbot) -> None:
    chart = TimingLines()
    qtbot.addWidget(chart)
    chart.resize(600, 200)
    days = _days([(1, 1, 0, 0), (0, 0, 0, 0), (1, 0, 0, 0)])
    days[0].to_sent_p50, days[0].to_sent_p90 = 2.0, 30.0
    days[2].to_sent_p50 = 5.0
    chart.set_days(days)
    assert chart.span() == (0.1, 3600.0)
    plot = QRectF(chart.plot_rect())
    ten, hundred, thousand = (chart.y_of(v, plot) for v in (10, 100, 1000))
    assert abs((ten - hundred) - (hundred - thousand)) < 0.01  # equal steps per decade
    assert chart.y_of(0.05, plot) == plot.bottom()  # under the floor sits on the axis
    assert chart.y_of(0.2, plot) < plot.bottom()  # a fifth of a second is not "1 s"
    days[2].to_delivered_p90 = 7200.0
    assert chart.span() == (0.1, 86400.0)
    chart.grab()


def test_a_lone_day_shows_its_p90_and_sub_second_times(qtbot) -> None:
    """A new user's first day: one day with times, under a second for the medians."""
    chart = TimingLines()
    qtbot.addWidget(chart)
    chart.resize(600, 200)
    days = _days([(0, 0, 0, 0), (2, 2, 0, 0)])
    today = days[1]
    today.to_sent_p50, today.to_sent_p90 = 0.3, 0.8
    today.to_delivered_p50, today.to_delivered_p90 = 0.3, 4.0
    chart.set_days(days)
    plot = QRectF(chart.plot_rect())
    points = {f: chart.series_points(f, plot) for f, _, _, _ in TimingLines.SERIES}
    assert all(p[0] is None for p in points.values())  # the quiet day: a gap
    sent50, sent90 = points["to_sent_p50"][1], points["to_sent_p90"][1]
    dlv50, dlv90 = points["to_delivered_p50"][1], points["to_delivered_p90"][1]
    assert sent50 is not None and sent90 is not None and dlv50 is not None and dlv90 is not None
    # Sub-second times are told apart, above the floor; equal medians side by side.
    assert plot.bottom() > sent50.y() > sent90.y() > dlv90.y()
    assert sent50.y() == dlv50.y() and dlv50.x() - sent50.x() >= 2 * TimingLines.DODGE
    assert duration_text(0.3) == "0.3 s" and duration_text(0.01) == "< 0.1 s"
    # What is painted: each p90 has its ring in its own colour, each median its dot.
    image = chart.grab().toImage()

    def painted(at: QPointF, colour: QColor, reach: int) -> bool:
        for dx in range(-reach, reach + 1):
            for dy in range(-reach, reach + 1):
                c = image.pixelColor(round(at.x()) + dx, round(at.y()) + dy)
                if (
                    abs(c.red() - colour.red())
                    + abs(c.green() - colour.green())
                    + abs(c.blue() - colour.blue())
                    < 60
                ):
                    return True
        return False

    ring = int(TimingLines.P90_RING)
    for point, colour in ((sent90, SENT_COLOUR), (dlv90, DELIVERED_COLOUR)):
        assert painted(point, colour, ring)
        assert not painted(point, colour, 1)  # a ring, open: not a median's dot
    assert painted(sent50, SENT_COLOUR, 1) and painted(dlv50, DELIVERED_COLOUR, 1)


def test_modems_against_their_daily_limit(gui, qtbot) -> None:
    view = gui.window.stats_view
    stats = Stats(
        days=_days([(0, 0, 0, 0)]),
        failures=[],
        modems=[ModemToday("sim", 120, 100), ModemToday("usb0", 30, 100)],
        computed_at=0.0,
        totals={"sent": 2, "notifications_sent": 4, "delivered": 0, "failed": 0, "cancelled": 0},
    )
    view.show_stats(stats)
    assert view.summary.text() == (
        "2 sent (carrying 4 notifications) · 0 delivered · 0 failed · 0 cancelled"
    )
    full, some = view.modem_bars["sim"], view.modem_bars["usb0"]
    assert full.format() == "120 of 100 SMS parts" and full.value() == 100
    assert "limit is reached" in full.toolTip()
    assert (some.value(), some.maximum()) == (30, 100) and not some.toolTip()
    assert view.no_failures.isVisibleTo(view) and not view.failures.isVisibleTo(view)


def test_one_part_is_said_in_the_singular() -> None:
    assert stats_view.limit_text(ModemToday("sim", 1, 0)) == "1 SMS part (no daily limit)"
    assert stats_view.limit_text(ModemToday("sim", 2, 0)) == "2 SMS parts (no daily limit)"
