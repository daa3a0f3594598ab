"""Signal strength over time, drawn with QPainter (QtCharts is not in Essentials)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

# dBm range drawn: -113 (nothing) to -51 (excellent), GSM's CSQ range.
DBM_MIN, DBM_MAX = -113, -51
GRID = (-110, -100, -90, -80, -70, -60)
LEFT, TOP, BOTTOM = 40, 8, 18  # margins for the dBm axis and the time labels
WIDEST_VALUE = "-113 dBm"  # the latest reading is written right of the plot, never over the line


class SignalChart(QWidget):
    """A step line of dBm readings over the last ``window_s`` seconds.

    Signals: none.
    """

    def __init__(self, window_s: float = 30 * 60, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window_s = window_s
        self.samples: Sequence[tuple[float, int | None]] = []
        self.setMinimumHeight(110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:
        return QSize(360, 140)

    def label_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.8))
        return font

    def plot_rect(self) -> QRectF:
        """Where the line is drawn: inside the axis margins and left of the value label."""
        right = QFontMetricsF(self.label_font()).horizontalAdvance(WIDEST_VALUE) + 10
        return QRectF(LEFT, TOP, self.width() - LEFT - right, self.height() - TOP - BOTTOM)

    def y_of(self, dbm: float, plot: QRectF | None = None) -> float:
        plot = plot or self.plot_rect()
        frac = (min(max(dbm, DBM_MIN), DBM_MAX) - DBM_MIN) / (DBM_MAX - DBM_MIN)
        return plot.bottom() - frac * plot.height()

    def value_label_rect(self, dbm: float) -> QRectF:
        """The latest reading's label: in the right margin, level with the line's end."""
        plot = self.plot_rect()
        height = QFontMetricsF(self.label_font()).height() + 2
        top = min(max(self.y_of(dbm, plot) - height / 2, 0), self.height() - height)
        return QRectF(plot.right() + 5, top, self.width() - plot.right() - 5, height)

    def set_samples(self, samples: Sequence[tuple[float, int | None]]) -> None:
        """(time, dBm or None) readings, oldest first; the owner keeps appending to it."""
        self.samples = samples
        self.update()

    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text_colour = palette.color(QPalette.ColorRole.PlaceholderText)
        left, bottom = LEFT, BOTTOM
        plot = self.plot_rect()
        painter.fillRect(plot, palette.color(QPalette.ColorRole.Base))
        now = time.time()
        span = self.window_s

        def y_of(dbm: float) -> float:
            return self.y_of(dbm, plot)

        def x_of(t: float) -> float:
            return plot.left() + (1 - (now - t) / span) * plot.width()

        painter.setFont(self.label_font())
        grid_pen = QPen(palette.color(QPalette.ColorRole.Midlight), 1, Qt.PenStyle.DotLine)
        for dbm in GRID:
            y = y_of(dbm)
            painter.setPen(grid_pen)
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(text_colour)
            painter.drawText(
                QRectF(0, y - 8, left - 4, 16),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                str(dbm),
            )
        painter.setPen(text_colour)
        minutes = int(span // 60)
        painter.drawText(
            QRectF(plot.left(), plot.bottom() + 2, plot.width(), bottom),
            Qt.AlignmentFlag.AlignLeft,
            f"−{minutes} min",
        )
        painter.drawText(
            QRectF(plot.left(), plot.bottom() + 2, plot.width(), bottom),
            Qt.AlignmentFlag.AlignRight,
            "now  (dBm)",
        )
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.drawRect(plot)

        points = [(t, d) for t, d in self.samples if d is not None and now - t <= span]
        # The last reading before the window still holds at the window's start.
        before = [(t, d) for t, d in self.samples if d is not None and now - t > span]
        if before:
            points.insert(0, (now - span, before[-1][1]))
        if not points:
            painter.setPen(text_colour)
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter, "no signal readings yet")
            painter.end()
            return
        path = QPainterPath()
        path.moveTo(x_of(points[0][0]), y_of(points[0][1]))
        for (_t0, d0), (t1, d1) in zip(points, points[1:], strict=False):
            path.lineTo(x_of(t1), y_of(d0))
            path.lineTo(x_of(t1), y_of(d1))
        path.lineTo(plot.right(), y_of(points[-1][1]))
        painter.setClipRect(plot)
        line = QColor("#2f7de1")
        painter.setPen(QPen(line, 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(line)
        for t, d in points:  # a dot per reading: one reading alone is still visible
            painter.drawEllipse(QPointF(x_of(t), y_of(d)), 3, 3)
        last = points[-1][1]
        painter.setClipping(False)
        painter.setPen(line)
        painter.drawText(
            self.value_label_rect(last),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            f"{last} dBm",
        )
        painter.end()
