"""Icons and state colours: the SVGs in ``resources/`` plus dots drawn at run time."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

RESOURCES = Path(__file__).parent / "resources"

# One colour per job state, readable on light and dark backgrounds.
STATE_COLOURS: dict[str, str] = {
    "queued": "#8a8f98",
    "sending": "#2f7de1",
    "sent": "#2e9d5b",
    "delivered": "#1e7a44",
    "needs-number": "#d98c1f",
    "failed": "#d64541",
    "cancelled": "#6b6f76",
}

TRAY_STATES = ("ok", "sending", "problem")


def resource(name: str) -> Path:
    return RESOURCES / name


@cache
def app_icon() -> QIcon:
    return QIcon(str(resource("gsmbridge.svg")))


@cache
def tray_icon(state: str) -> QIcon:
    """The tray icon for ``ok``, ``sending`` or ``problem``."""
    if state not in TRAY_STATES:
        state = "problem"
    return QIcon(str(resource(f"tray-{state}.svg")))


def state_colour(state: str) -> QColor:
    return QColor(STATE_COLOURS.get(state, "#8a8f98"))


@cache
def state_icon(state: str) -> QIcon:
    """A filled dot in the state's colour (cached: the table asks for it on every paint)."""
    return dot_icon(STATE_COLOURS.get(state, "#8a8f98"))


def dot_icon(colour: str, size: int = 14) -> QIcon:
    pixmap = QPixmap(size * 2, size * 2)  # 2x for high-DPI screens
    pixmap.setDevicePixelRatio(2.0)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(colour))
    painter.drawEllipse(QRectF(2, 2, size - 4, size - 4))
    painter.end()
    return QIcon(pixmap)
