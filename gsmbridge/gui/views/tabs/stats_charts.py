"""The Statistics tab's charts, drawn with QPainter (QtCharts is not in Essentials).

``DailyBars``: per day, sent / delivered / failed / cancelled as grouped bars.
``TimingLines``: per day, webhook to sent and to delivered (median and p90) on a
logarithmic time axis (a median of seconds and a p90 of an hour share a chart).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QHelpEvent,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from gsmbridge.core.store_stats import DayStats

LEFT, TOP, RIGHT, BOTTOM = 48, 26, 10, 20  # margins: axis labels, legend, date labels

# (field, legend, colour): the queue's own colours for these states.
BARS = (
    ("sent", "Sent", QColor("#2f7de1")),
    ("delivered", "Delivered", QColor("#2e9e5b")),
    ("failed", "Failed", QColor("#d64541")),
    ("cancelled", "Cancelled", QColor("#8c8c8c")),
)
SENT_COLOUR, DELIVERED_COLOUR = BARS[0][2], BARS[1][2]
# Log-axis ticks, seconds: 0.1 s .. 1 day.  The floor is 0.1 s (a modem sends in well
# under a second): anything quicker sits on the floor line, which says so.
TIME_FLOOR = 0.1
TIME_TICKS = (
    (TIME_FLOOR, "≤ 0.1 s"),
    (1, "1 s"),
    (10, "10 s"),
    (60, "1 min"),
    (600, "10 min"),
    (3600, "1 h"),
)
TIME_TICKS_LONG = ((86400, "1 day"),)


def nice_ceiling(value: float) -> int:
    """The smallest 1/2/5 x 10^n at or above value (at least 1): a readable axis top."""
    if value <= 1:
        return 1
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * exp >= value:
            return int(step * exp)
    return int(10 * exp)


def grid_steps(top: int) -> int:
    """How many grid intervals divide a 1/2/5 x 10^n top into whole numbers: 50 -> 5."""
    return next(n for n in (5, 4, 2, 1) if top % n == 0)


def date_label(stats: DayStats) -> str:
    return f"{stats.day.day} {stats.day.strftime('%b')}"


def duration_text(seconds: float | None) -> str:
    """0.4 s, 3 s, 4.5 min, 2.1 h; "—" when there was nothing to time."""
    if seconds is None:
        return "—"
    if seconds < 0.05:
        return "< 0.1 s"
    if seconds < 1:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def carried_text(sms: int, notifications: int) -> str:
    """ " (carrying N notifications)" when merged notifications went out in fewer SMS."""
    return f" (carrying {notifications:,} notifications)" if notifications > sms else ""


def day_summary(stats: DayStats) -> str:
    """A day's figures in words: the charts' tooltip."""
    return (
        f"{stats.day.strftime('%a')} {date_label(stats)}: {stats.sent:,} sent"
        f"{carried_text(stats.sent, stats.notifications_sent)}, "
        f"{stats.delivered:,} delivered, {stats.failed:,} failed, {stats.cancelled:,} cancelled\n"
        f"webhook to sent: median {duration_text(stats.to_sent_p50)}, "
        f"p90 {duration_text(stats.to_sent_p90)}\n"
        f"webhook to delivered: median {duration_text(stats.to_delivered_p50)}, "
        f"p90 {duration_text(stats.to_delivered_p90)}"
    )


class _Chart(QWidget):
    """Shared frame: margins, legend, date labels under the plot."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.days: Sequence[DayStats] = []
        self.setMinimumHeight(170)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(640, 220)

    def set_days(self, days: Sequence[DayStats]) -> None:
        self.days = days
        self.update()

    def day_at(self, x: float) -> DayStats | None:
        """The day under a point's x (None outside the plot)."""
        plot = self.plot_rect()
        if not self.days or not plot.left() <= x < plot.right():
            return None
        return self.days[int((x - plot.left()) / plot.width() * len(self.days))]

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            day = self.day_at(event.pos().x())
            if day is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), day_summary(day), self)
            return True
        return super().event(event)

    def label_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        return font

    def plot_rect(self) -> QRectF:
        return QRectF(
            LEFT, TOP, self.width() - LEFT - RIGHT, max(10.0, self.height() - TOP - BOTTOM)
        )

    def slot_rect(self, index: int, plot: QRectF) -> QRectF:
        """The horizontal band of one day."""
        width = plot.width() / max(1, len(self.days))
        return QRectF(plot.left() + index * width, plot.top(), width, plot.height())

    def _legend(
        self, painter: QPainter, entries: Sequence[tuple[str, QColor, Qt.PenStyle | None]]
    ) -> None:
        """Swatches across the top right: (label, colour, a line's style or None for a box)."""
        metrics = QFontMetricsF(painter.font())
        x = self.width() - RIGHT
        for label, colour, dashed in reversed(entries):  # dashed: the line style
            x -= metrics.horizontalAdvance(label)
            painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
            painter.drawText(QRectF(x, 2, metrics.horizontalAdvance(label) + 2, 18), label)
            x -= 18
            if dashed is not None:
                painter.setPen(QPen(colour, 2, dashed))
                painter.drawLine(QPointF(x, 11), QPointF(x + 14, 11))
            else:
                painter.fillRect(QRectF(x + 2, 5, 10, 10), colour)
            x -= 14

    def _date_labels(self, painter: QPainter, plot: QRectF) -> None:
        """Dates under the plot, thinned so they never overlap."""
        if not self.days:
            return
        metrics = QFontMetricsF(painter.font())
        widest = max(metrics.horizontalAdvance(date_label(d)) for d in self.days) + 8
        slot = plot.width() / len(self.days)
        every = max(1, math.ceil(widest / slot))
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        last = len(self.days) - 1
        for i, day in enumerate(self.days):
            # Count from today backwards, so today always has its label.
            if (last - i) % every:
                continue
            centre = self.slot_rect(i, plot).center().x()
            painter.drawText(
                QRectF(centre - widest / 2, plot.bottom() + 2, widest, BOTTOM),
                Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                date_label(day),
            )

    def _frame(self, painter: QPainter) -> QRectF:
        palette = self.palette()
        plot = self.plot_rect()
        painter.fillRect(plot, palette.color(QPalette.ColorRole.Base))
        painter.setFont(self.label_font())
        return plot

    def _grid_line(self, painter: QPainter, plot: QRectF, y: float, label: str) -> None:
        palette = self.palette()
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Midlight), 1, Qt.PenStyle.DotLine))
        painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(
            QRectF(0, y - 8, LEFT - 5, 16),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            label,
        )

    def _empty(self, painter: QPainter, plot: QRectF, text: str) -> None:
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(plot, Qt.AlignmentFlag.AlignCenter, text)

    def _border(self, painter: QPainter, plot: QRectF) -> None:
        painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(plot)


class DailyBars(_Chart):
    """Sent, delivered, failed and cancelled per day, as grouped bars.

    Signals: none.
    """

    def top_value(self) -> int:
        """The y axis' top: a round number at or above the busiest day's largest bar."""
        peak = max((getattr(d, f) for d in self.days for f, _, _ in BARS), default=0)
        return nice_ceiling(peak)

    def bar_rects(self, index: int, plot: QRectF | None = None) -> list[QRectF]:
        """The day's four bars (zero-height for a zero), left to right as in BARS."""
        plot = plot or self.plot_rect()
        slot = self.slot_rect(index, plot)
        top = self.top_value()
        group = slot.width() * 0.8
        width = group / len(BARS)
        left = slot.left() + (slot.width() - group) / 2
        day = self.days[index]
        rects = []
        for n, (field, _, _) in enumerate(BARS):
            height = plot.height() * getattr(day, field) / top
            rects.append(QRectF(left + n * width, plot.bottom() - height, width, height))
        return rects

    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        plot = self._frame(painter)
        top = self.top_value()
        steps = grid_steps(top)
        for k in range(steps + 1):
            label = f"{top * k // steps:,}"
            self._grid_line(painter, plot, plot.bottom() - plot.height() * k / steps, label)
        self._legend(painter, [(label, colour, None) for _, label, colour in BARS])
        if not self.days or all(getattr(d, f) == 0 for d in self.days for f, _, _ in BARS):
            self._empty(painter, plot, "nothing sent in this period")
        else:
            for i in range(len(self.days)):
                for rect, (_, _, colour) in zip(self.bar_rects(i, plot), BARS, strict=True):
                    if rect.height() > 0:
                        # At least a pixel: a day with 1 among thousands still shows.
                        rect.setTop(min(rect.top(), plot.bottom() - 1))
                        painter.fillRect(rect, colour)
        self._date_labels(painter, plot)
        self._border(painter, plot)
        painter.end()


class TimingLines(_Chart):
    """Webhook to sent and to delivered per day: median (solid) and p90 (dashed).

    Signals: none.
    """

    SERIES = (
        ("to_sent_p50", "to sent, median", SENT_COLOUR, False),
        ("to_sent_p90", "to sent, p90", SENT_COLOUR, True),
        ("to_delivered_p50", "to delivered, median", DELIVERED_COLOUR, False),
        ("to_delivered_p90", "to delivered, p90", DELIVERED_COLOUR, True),
    )

    MEDIAN_DOT = 2.5  # a filled dot per day on the median lines
    P90_RING = 4.0  # an open ring per day on the p90 lines: a lone day's p90 shows too
    DODGE = 3.0  # "to sent" left, "to delivered" right of the day's centre: equal
    # times (a modem that reports at once) show both colours, not one over the other

    def span(self) -> tuple[float, float]:
        """The log axis' range in seconds: 0.1 s up to the slowest p90 (an hour at least)."""
        slowest = max(
            (v for d in self.days for f, _, _, _ in self.SERIES if (v := getattr(d, f))),
            default=0.0,
        )
        return TIME_FLOOR, 86400.0 if slowest > 3600 else 3600.0

    def series_points(self, field: str, plot: QRectF | None = None) -> list[QPointF | None]:
        """Where each day's value of a series is drawn; None for a day without one."""
        plot = plot or self.plot_rect()
        colour = next(c for f, _, c, _ in self.SERIES if f == field)
        slot_width = plot.width() / max(1, len(self.days))
        dodge = self.DODGE if slot_width >= 4 * self.DODGE else 0.0
        dx = -dodge if colour == SENT_COLOUR else dodge
        out: list[QPointF | None] = []
        for i, day in enumerate(self.days):
            value = getattr(day, field)
            if value is None:  # no traffic that day: a gap, not a zero
                out.append(None)
            else:
                x = self.slot_rect(i, plot).center().x() + dx
                out.append(QPointF(x, self.y_of(value, plot)))
        return out

    def y_of(self, seconds: float, plot: QRectF | None = None) -> float:
        plot = plot or self.plot_rect()
        low, high = self.span()
        frac = (math.log10(max(seconds, low)) - math.log10(low)) / (
            math.log10(high) - math.log10(low)
        )
        return plot.bottom() - min(frac, 1.0) * plot.height()

    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        plot = self._frame(painter)
        high = self.span()[1]
        for seconds, label in (*TIME_TICKS, *TIME_TICKS_LONG):
            if seconds <= high:
                self._grid_line(painter, plot, self.y_of(seconds, plot), label)
        self._legend(
            painter,
            [
                (label, c, Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
                for _, label, c, dashed in self.SERIES
            ],
        )
        drawn = False
        painter.setClipRect(plot.adjusted(-4, -4, 4, 4))
        for field, _, colour, dashed in self.SERIES:
            style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
            path = QPainterPath()
            started = False
            points = []
            for point in self.series_points(field, plot):
                if point is None:
                    started = False
                    continue
                points.append(point)
                if started:
                    path.lineTo(point)
                else:
                    path.moveTo(point)
                    started = True
            if not points:
                continue
            drawn = True
            painter.setPen(QPen(colour, 2, style))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
            # A marker per day, so a lone day between gaps (a first day) still shows:
            # an open ring on the p90 lines, a filled dot on the medians.
            if dashed:
                painter.setPen(QPen(colour, 1.5))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                radius = self.P90_RING
            else:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(colour)
                radius = self.MEDIAN_DOT
            for point in points:
                painter.drawEllipse(point, radius, radius)
        painter.setClipping(False)
        if not drawn:
            self._empty(painter, plot, "no SMS went out in this period")
        self._date_labels(painter, plot)
        self._border(painter, plot)
        painter.end()
