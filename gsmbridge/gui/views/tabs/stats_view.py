"""The Statistics tab: the last 7 / 30 / 90 days at a glance.

The figures are computed on the task pool (``Bridge.stats``, read-only queries),
never on the GUI thread.  Job changes only mark the figures stale: while the tab
is visible they are recomputed at most every ``THROTTLE_MS`` (and every ``AGE_MS``
anyway: midnight, the daily limit's rolling window); while it is hidden, once when
it is shown again.
"""

from __future__ import annotations

import datetime as dt
import logging

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gsmbridge.core.store import Store
from gsmbridge.core.store_stats import DAY_CHOICES, ModemToday, Stats
from gsmbridge.gui.compat import emit
from gsmbridge.gui.context import AppContext
from gsmbridge.gui.throttle import Throttle
from gsmbridge.gui.views.tabs.stats_charts import DailyBars, TimingLines, carried_text

log = logging.getLogger(__name__)

THROTTLE_MS = 2000
# Figures age without any job changing (midnight, the daily limit's rolling 24 hours).
AGE_MS = 60_000
DEFAULT_DAYS = 30


def limit_text(modem: ModemToday) -> str:
    if modem.limit:
        return f"{modem.parts:,} of {modem.limit:,} SMS parts"
    parts = "SMS part" if modem.parts == 1 else "SMS parts"
    return f"{modem.parts:,} {parts} (no daily limit)"


class StatsView(QWidget):
    """Per-day chart, timings, top failure reasons and each modem against its daily limit.

    Signals:
        stats_shown(object): new figures (a ``Stats``) are on screen.
        message_posted(str): a short result for the status bar.
    """

    stats_shown = Signal(object)
    message_posted = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.stats: Stats | None = None
        self._store: Store | None = None
        self._stale = True
        self._running = 0  # the task id computing, 0 when idle
        self._again = False  # something changed while computing
        self.refreshes = 0  # computations started (tests check the throttle)

        self.period = QComboBox()
        for days in DAY_CHOICES:
            self.period.addItem(f"Last {days} days", days)
        self.period.setCurrentIndex(DAY_CHOICES.index(DEFAULT_DAYS))
        self.period.currentIndexChanged.connect(self._period_changed)
        self.summary = QLabel()
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state = QLabel()
        self.state.setObjectName("statsState")
        bar = QHBoxLayout()
        bar.addWidget(self.period)
        bar.addSpacing(12)
        bar.addWidget(self.summary, 1)
        bar.addWidget(self.state)

        self.daily = DailyBars()
        self.timing = TimingLines()
        daily_box = QGroupBox("Per day: sent, delivered, failed and cancelled")
        QVBoxLayout(daily_box).addWidget(self.daily)
        timing_box = QGroupBox("Time from the webhook to sent and to delivered")
        QVBoxLayout(timing_box).addWidget(self.timing)

        self.failures = QTableWidget(0, 2)
        self.failures.setHorizontalHeaderLabels(["Failure reason", "Jobs"])
        self.failures.verticalHeader().hide()
        self.failures.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.failures.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.failures.setWordWrap(False)
        header = self.failures.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.no_failures = QLabel("No failures in this period.")
        failures_box = QGroupBox("Top failure reasons")
        failures_layout = QVBoxLayout(failures_box)
        failures_layout.addWidget(self.failures)
        failures_layout.addWidget(self.no_failures)

        self.modems_box = QGroupBox(
            "Modems: SMS parts in the last 24 hours (the daily limit's window)"
        )
        self.modems_grid = QGridLayout()
        modems_layout = QVBoxLayout(self.modems_box)
        modems_layout.addLayout(self.modems_grid)
        modems_layout.addStretch(1)
        self.modem_bars: dict[str, QProgressBar] = {}

        bottom = QHBoxLayout()
        bottom.addWidget(failures_box, 3)
        bottom.addWidget(self.modems_box, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(daily_box, 3)
        layout.addWidget(timing_box, 2)
        layout.addLayout(bottom, 2)

        self._throttle = Throttle(THROTTLE_MS, self.refresh, self)
        self._ageing = QTimer(self)
        self._ageing.setInterval(AGE_MS)
        self._ageing.timeout.connect(self.note_changed)
        self._ageing.start()
        self._show_state("")

    # -- what the window calls ---------------------------------------------------------

    @property
    def days(self) -> int:
        return int(self.period.currentData())

    def set_days(self, days: int) -> None:
        self.period.setCurrentIndex(DAY_CHOICES.index(days))

    @Slot(object)
    def set_store(self, store: Store | None) -> None:
        """The queue opened (a Store) or is closing (None)."""
        self._store = store
        self._throttle.cancel()
        if store is None:
            self._show_state("The queue is not open.")
            return
        self._stale = True
        if self.isVisible():
            self.refresh()

    @Slot()
    @Slot(object)
    def note_changed(self, _batch: object = None) -> None:
        """Jobs changed: recompute soon if shown (throttled), else when next shown."""
        self._stale = True
        if self.isVisible() and self._store is not None:
            self._throttle.trigger()

    @Slot()
    def refresh(self) -> None:
        """Compute the figures now, on the pool (again after the running one, if any)."""
        if self._store is None:
            return
        if self._running:
            self._again = True
            return
        self._stale = False
        self.refreshes += 1
        days = self.days
        if self.stats is None:
            self._show_state("Computing…")
        self._running = self.ctx.tasks.run(
            "Statistics",
            self.ctx.bridge.stats,
            days,
            on_done=lambda stats: self._computed(days, stats),
            on_error=self._failed,
        )

    # -- results ------------------------------------------------------------------------

    def _computed(self, days: int, stats: Stats) -> None:
        self._running = 0
        if days == self.days and self._store is not None:
            self.show_stats(stats)
        if self._again or days != self.days:
            self._again = False
            self.refresh()

    def _failed(self, exc: BaseException) -> None:
        self._running = 0
        if self._again:  # asked again meanwhile (a restart reopened the queue): do that
            self._again = False
            self.refresh()
            return
        if self._store is None:  # closed meanwhile (restart, exit): "not open" says it
            log.debug("statistics not computed, the queue closed: %s", exc)
            return
        log.warning("Statistics could not be computed: %s", exc)
        self._show_state(f"Statistics could not be computed: {exc}", error=True)

    def show_stats(self, stats: Stats) -> None:
        self.stats = stats
        t = stats.totals
        self.summary.setText(
            f"{t.get('sent', 0):,} sent"
            f"{carried_text(t.get('sent', 0), t.get('notifications_sent', 0))} · "
            f"{t.get('delivered', 0):,} delivered · "
            f"{t.get('failed', 0):,} failed · {t.get('cancelled', 0):,} cancelled"
        )
        self.daily.set_days(stats.days)
        self.timing.set_days(stats.days)
        self._show_failures(stats.failures)
        self._show_modems(stats.modems)
        at = dt.datetime.fromtimestamp(stats.computed_at).strftime("%H:%M:%S")
        self._show_state(f"Updated {at}")
        emit(self.stats_shown, stats)

    def _show_state(self, text: str, *, error: bool = False) -> None:
        self.state.setText(text)
        self.state.setStyleSheet("color:#d64541; font-weight:bold;" if error else "")

    def _show_failures(self, failures: list[tuple[str, int]]) -> None:
        self.failures.setRowCount(len(failures))
        for row, (reason, count) in enumerate(failures):
            item = QTableWidgetItem(reason)
            item.setToolTip(reason)
            self.failures.setItem(row, 0, item)
            number = QTableWidgetItem(f"{count:,}")
            number.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.failures.setItem(row, 1, number)
        self.failures.setVisible(bool(failures))
        self.no_failures.setVisible(not failures)

    def _show_modems(self, modems: list[ModemToday]) -> None:
        while self.modems_grid.count():
            item = self.modems_grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.modem_bars = {}
        if not modems:
            self.modems_grid.addWidget(QLabel("No modem sent anything in the last 24 hours."))
            return
        for row, modem in enumerate(modems):
            bar = QProgressBar()
            bar.setTextVisible(True)
            bar.setFormat(limit_text(modem))
            if modem.limit:
                bar.setRange(0, modem.limit)
                bar.setValue(min(modem.parts, modem.limit))
                if modem.parts >= modem.limit:
                    bar.setStyleSheet("QProgressBar::chunk { background: #d64541; }")
                    bar.setToolTip("The daily limit is reached: this modem waits before sending.")
            else:
                bar.setRange(0, 1)
                bar.setValue(0)
            self.modems_grid.addWidget(QLabel(modem.modem), row, 0)
            self.modems_grid.addWidget(bar, row, 1)
            self.modem_bars[modem.modem] = bar

    # -- Qt -----------------------------------------------------------------------------

    @Slot(int)
    def _period_changed(self, _index: int) -> None:
        self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale and self._store is not None:
            self.refresh()
