"""The main window: banners, header, toolbar, the tabs, the status bar.

Core events arrive as queued signals from ``AppContext.events`` to the
``@Slot`` methods here (and to the queue model's); nothing in this module
runs on another thread.
"""

from __future__ import annotations

import enum
import logging

from PySide6.QtCore import QThread, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gsmbridge import __version__
from gsmbridge.core import store_stats
from gsmbridge.core.db import StoreClosed
from gsmbridge.core.store import Store
from gsmbridge.gui.bridge import connect_queued
from gsmbridge.gui.compat import emit
from gsmbridge.gui.context import AppContext
from gsmbridge.gui.icons import app_icon
from gsmbridge.gui.loghandler import QtLogHandler
from gsmbridge.gui.notifier import DesktopNotifier
from gsmbridge.gui.problems import Problem, modem_problem, power_problem
from gsmbridge.gui.throttle import Throttle
from gsmbridge.gui.tray import Tray, tray_state
from gsmbridge.gui.views.header import HeaderBar
from gsmbridge.gui.views.settings import SettingsDialog
from gsmbridge.gui.views.tabs.contacts_view import ContactsView
from gsmbridge.gui.views.tabs.inbox_view import InboxView, UnreadBadge
from gsmbridge.gui.views.tabs.log_view import LogView
from gsmbridge.gui.views.tabs.modem_panel import ModemPanel
from gsmbridge.gui.views.tabs.nodes_view import NodesView
from gsmbridge.gui.views.tabs.queue_view import QueueView
from gsmbridge.gui.views.tabs.stats_view import StatsView
from gsmbridge.gui.views.tabs.tunnel_panel import TunnelPanel
from gsmbridge.gui.views.widgets import Banner
from gsmbridge.gui.views.window_actions import WindowActions
from gsmbridge.gui.views.wizard import SetupWizard
from gsmbridge.modem.status import ModemStatus
from gsmbridge.tunnel.status import TunnelStatus

log = logging.getLogger(__name__)


RESTART_WAITING = "Some settings apply after a restart of the service"


class CloseChoice(enum.Enum):
    """What closing the window does where there is no tray to keep running in."""

    QUIT = "quit"
    MINIMISE = "minimise"
    CANCEL = "cancel"


def ask_close_without_tray(parent: QWidget) -> CloseChoice:
    """Ask whether to quit (the webhook stops) or keep running minimised."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Close gsmbridge?")
    box.setText("This desktop has no system tray for gsmbridge to keep running in.")
    box.setInformativeText(
        "If gsmbridge quits, its webhook stops: CometChat's notifications are refused and "
        "no SMS are sent until it is started again. Minimised, it keeps working."
    )
    quit_button = box.addButton(
        "Quit gsmbridge (webhooks stop)", QMessageBox.ButtonRole.DestructiveRole
    )
    keep = box.addButton("Keep running (minimise)", QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(keep)
    box.setEscapeButton(cancel)
    box.exec()
    clicked = box.clickedButton()
    if clicked is quit_button:
        return CloseChoice.QUIT
    if clicked is keep:
        return CloseChoice.MINIMISE
    return CloseChoice.CANCEL


SIM_STYLE = "background:#d98c1f; color:white; font-weight:bold; border-radius:3px; padding:1px 6px;"
TODAY_REFRESH_MS = 2000


class MainWindow(QMainWindow):
    """The gsmbridge window.

    Signals:
        quit_requested(): the user chose Quit (the app stops the service and exits).
    """

    quit_requested = Signal()

    def __init__(
        self,
        ctx: AppContext,
        log_handler: QtLogHandler,
        *,
        tray: Tray | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.tray = tray
        self.counts: dict[str, int] = {}
        self.modems: dict[str, ModemStatus] = {}
        self.event_threads: set[QThread] = set()  # where core-event slots ran (tests check)
        self._quitting = False
        self._told_about_tray = False
        self.setWindowIcon(app_icon())
        self.resize(1180, 760)

        # -- banners, header, tabs
        self.banner = Banner()
        self.banner.action_triggered.connect(self._banner_action)
        self.modem_banner = Banner()
        self.modem_banner.action_triggered.connect(self._banner_action)
        self.notice = Banner()
        self.notice.action_triggered.connect(self._banner_action)
        self.power_banner = Banner()
        self.power_banner.action_triggered.connect(self._banner_action)
        # A shared store out of reach: said here with the spool's count (health() reads
        # no database, so a timer on this thread may ask it).
        self.store_banner = Banner()
        self._store_timer = QTimer(self)
        self._store_timer.setInterval(2000)
        self._store_timer.timeout.connect(self._show_store)
        self.header = HeaderBar()
        self.header.url_copied.connect(lambda url: self.post(f"Copied {url}"))
        self.queue = QueueView(ctx)
        self.log_view = LogView(log_handler, masked=ctx.settings.gui.mask_numbers)
        self.modem_panel = ModemPanel(ctx)
        self.contacts = ContactsView(ctx)
        self.inbox = InboxView(ctx)
        self.tunnel_panel = TunnelPanel(ctx)
        self.stats_view = StatsView(ctx)
        self.wizard: SetupWizard | None = None
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.queue, "Queue")
        self.tabs.addTab(self.log_view, "Log")
        self.tabs.addTab(self.modem_panel, "Modem")
        self.tabs.addTab(self.contacts, "Contacts")
        self.tabs.addTab(self.inbox, "Inbox")
        self.tabs.addTab(self.tunnel_panel, "Tunnel")
        self.tabs.addTab(self.stats_view, "Statistics")
        # Several PCs on one shared store: who they are and whether they are up.
        self.nodes_view: NodesView | None = None
        if ctx.settings.store.url:
            self.nodes_view = NodesView(ctx)
            self.tabs.addTab(self.nodes_view, "Nodes")
        self.inbox_badge = UnreadBadge(self.tabs, self.inbox, "Inbox")
        self.inbox.message_received.connect(self.inbox_badge.note)
        self.notifier = DesktopNotifier(ctx, self, tray)
        self.inbox.message_received.connect(self.notifier.reply_received)
        self.header.modem_clicked.connect(lambda: self.tabs.setCurrentWidget(self.modem_panel))
        self.modem_panel.restart_requested.connect(self.restart_service)
        views = (self.queue, self.log_view, self.modem_panel, self.contacts, self.inbox)
        for view in (*views, self.tunnel_panel, self.stats_view):
            view.message_posted.connect(self.post)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        banners = QVBoxLayout()
        banners.setContentsMargins(8, 6, 8, 0)
        banners.setSpacing(6)
        banners.addWidget(self.banner)
        banners.addWidget(self.modem_banner)
        banners.addWidget(self.notice)
        banners.addWidget(self.power_banner)
        banners.addWidget(self.store_banner)
        layout.addLayout(banners)
        layout.addWidget(self.header)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        # -- actions, toolbar, menu
        self.act = WindowActions(self, self, ctx.data_dir)
        self.act.install(self.queue.act_retry_failed)

        # -- status bar
        self.sim_label = QLabel("SIMULATED MODEM — no real SMS are sent")
        self.sim_label.setStyleSheet(SIM_STYLE)
        self.paused_label = QLabel("Sending paused")
        self.paused_label.setStyleSheet(SIM_STYLE.replace("#d98c1f", "#d64541"))
        self.paused_label.hide()
        self.modem_label = QLabel("Modem: —")
        self.awake_label = QLabel("Keeping this PC awake")  # Windows, server.keep_awake
        self.awake_label.hide()
        self.statusBar().addPermanentWidget(self.awake_label)
        self.statusBar().addPermanentWidget(self.paused_label)
        self.statusBar().addPermanentWidget(self.modem_label)
        self.statusBar().addPermanentWidget(self.sim_label)

        # -- timers
        # Today's totals are a full scan: not on every change.
        self._today_throttle = Throttle(TODAY_REFRESH_MS, self.refresh_today, self)

        # -- wiring: the context and the core's events (queued, to slots of GUI objects)
        ctx.store_opened.connect(self.on_store_opened)
        ctx.store_closing.connect(self.on_store_closing)
        ctx.started.connect(self.on_started)
        ctx.start_failed.connect(self.on_start_failed)
        ctx.busy_changed.connect(self.on_busy_changed)
        connect_queued(ctx.credentials_changed, self.on_credentials_changed)  # any thread
        connect_queued(ctx.restart_waiting, self.on_restart_waiting)  # any thread
        events = ctx.events
        # jobs_updated is batched and emitted on this thread (see gui.bridge): a plain connect.
        events.jobs_updated.connect(self.queue.model.note_jobs_updated)
        events.jobs_updated.connect(self.on_jobs_updated)
        events.jobs_updated.connect(self.stats_view.note_changed)
        connect_queued(events.jobs_changed, self.stats_view.note_changed)
        connect_queued(events.jobs_changed, self.queue.model.note_jobs_changed)
        connect_queued(events.counts_changed, self.on_counts_changed)
        connect_queued(events.modem_status_changed, self.on_modem_status_changed)
        connect_queued(events.tunnel_changed, self.on_tunnel_changed)
        connect_queued(events.tunnel_changed, self.tunnel_panel.on_tunnel_changed)
        connect_queued(events.webhook_trouble_changed, self.header.set_webhook_trouble)
        connect_queued(events.webhook_trouble_changed, self.notifier.webhook_trouble)
        connect_queued(events.sms_received, self.inbox.on_sms_received)
        connect_queued(events.jobs_changed, self.inbox.on_history_changed)
        if tray is not None:
            tray.show_requested.connect(self.bring_to_front)
            tray.pause_toggled.connect(self.act.pause.setChecked)
            tray.quit_requested.connect(self.request_quit)
        self.header.set_auth(ctx.settings.auth.enabled, ctx.settings.auth.username)
        self._update_title()
        self.post("Starting…")

    # -- lifecycle ------------------------------------------------------------------------

    @Slot(object)
    def on_store_opened(self, store: Store) -> None:
        self.queue.set_store(store)
        self.contacts.set_store(store)
        self.inbox.set_store(store)
        self.stats_view.set_store(store)
        self.refresh_today()

    @Slot()
    def on_store_closing(self) -> None:
        self.queue.set_store(None)
        self.contacts.set_store(None)
        self.inbox.set_store(None)
        self.stats_view.set_store(None)
        self._store_timer.stop()
        self._today_throttle.cancel()
        self.notifier.cancel()

    @Slot()
    def on_started(self) -> None:
        bridge = self.ctx.bridge
        self.banner.clear()
        self.header.set_webhook_trouble(None)  # a new run counts its own refusals
        self.header.set_local_url(bridge.url)
        self.header.set_auth(self.ctx.settings.auth.enabled, self.ctx.settings.auth.username)
        self.modem_panel.set_simulated(self.ctx.simulated)
        self._replace_modems(bridge.modem_statuses())
        self.act.pause.setChecked(bridge.sending_paused)
        self.tunnel_panel.refresh()
        try:
            self.counts = bridge.store.counts()
        except StoreClosed:  # a shared store out of reach: the store banner says so
            self.counts = {}
        self.header.set_counts(self.counts)
        if self.ctx.settings.store.url:
            self._show_store()
            self._store_timer.start()
        self._update_title()
        self._update_tray()
        self._show_power()
        self.post("Running: webhook at " + " and ".join(f"{u}/webhook" for u in bridge.urls))

    def _replace_modems(self, statuses: list[ModemStatus]) -> None:
        """The (re)started Bridge's modems; those of a port no longer used go."""
        self.modems = {status.port: status for status in statuses}
        self.modem_panel.set_statuses(statuses)
        self._show_modems()

    @Slot(object)
    def on_start_failed(self, problem: Problem) -> None:
        self._replace_modems(self.ctx.bridge.modem_statuses())
        self._update_title()
        self.header.set_local_url("")
        self.header.url.setPlaceholderText("not running")
        self.banner.show_problem(problem, level="error")
        self._update_tray()
        self.post(problem.title)
        self.notifier.say(problem.title, problem.message)

    @Slot()
    def on_credentials_changed(self) -> None:
        """set-password (or the fixed config file) gave the running webhook new ones."""
        auth = self.ctx.settings.auth
        self.header.set_auth(auth.enabled, auth.username)

    @Slot(bool)
    def on_busy_changed(self, busy: bool) -> None:
        self.act.restart.setEnabled(not busy)
        for button in self.banner.buttons().values():
            button.setEnabled(not busy)
        if busy:
            self.post("Starting…")

    @Slot(str)
    def _banner_action(self, action: str) -> None:
        if action == "settings":
            self.open_settings()
        elif action in ("start", "restart"):
            self.restart_service()
        elif action == "modem":
            self.tabs.setCurrentWidget(self.modem_panel)
        elif action == "reconnect":
            self.modem_panel.reconnect()

    @Slot()
    def restart_service(self) -> None:
        self.notice.clear()
        self.banner.clear()
        self.header.set_local_url("")
        self.ctx.restart_bridge()

    # -- core events (queued from the core's threads) ---------------------------------------

    def _note_thread(self) -> None:
        self.event_threads.add(QThread.currentThread())

    @Slot(object)
    def on_jobs_updated(self, batch: dict[int, str]) -> None:
        self._note_thread()
        failed = [job_id for job_id, state in batch.items() if state == "failed"]
        if failed:
            self.notifier.jobs_failed(failed)

    @Slot(object)
    def on_counts_changed(self, counts: dict[str, int]) -> None:
        self._note_thread()
        self.counts = counts
        self.header.set_counts(counts)
        self._update_tray()
        self._today_throttle.trigger()

    @Slot(object)
    def on_modem_status_changed(self, status: ModemStatus) -> None:
        self._note_thread()
        self.notifier.modem_changed(self.modems.get(status.port), status)
        self.modems[status.port] = status
        self.modem_panel.update_status(status)
        self._show_modems()
        self._update_tray()

    @Slot(object)
    def on_tunnel_changed(self, status: TunnelStatus) -> None:
        self._note_thread()
        self.header.set_tunnel(status)

    # -- header, title, tray ------------------------------------------------------------------

    def _show_modems(self) -> None:
        statuses = list(self.modems.values())
        self.header.set_modem(statuses, self.ctx.simulated)
        if statuses:
            first = statuses[0]
            prefix = "Simulated modem" if first.simulated else f"Modem {first.port}"
            self.modem_label.setText(f"{prefix}: {first.state}")
        else:
            self.modem_label.setText("Modem: —")
        problems = [p for s in statuses if (p := modem_problem(s)) is not None]
        self.modem_banner.show_problem(problems[0] if problems else None, level="warning")

    @Slot()
    def _show_store(self) -> None:
        store = self.ctx.store if self.ctx.running else None
        health = store.health() if store is not None else None
        if health is None or health["reachable"]:
            self.store_banner.clear()
            return
        spooled = int(health["spooled"])
        self.store_banner.show_message(
            "The shared store is unreachable",
            str(health["error"]),
            f"{spooled} notification(s) wait in this PC's spool and move into the shared store"
            " as soon as it answers; the modems wait meanwhile.",
            level="warning",
        )

    def _show_power(self) -> None:
        """Windows: whether the power plan would put the PC to sleep, and who stops it."""
        bridge = self.ctx.bridge
        note, kept = bridge.power.note, bridge.power.active
        self.awake_label.setVisible(bool(note) and kept)
        self.awake_label.setToolTip(note)
        self.power_banner.show_problem(power_problem(note, kept), level="warning")

    def _update_title(self) -> None:
        title = "gsmbridge"
        if self.ctx.simulated:
            title += " — Simulated modem"
        if self.act.pause.isChecked():
            title += " — sending paused"
        self.setWindowTitle(title)
        self.sim_label.setVisible(self.ctx.simulated)

    def _update_tray(self) -> None:
        if self.tray is None:
            return
        state = tray_state(
            self.counts,
            list(self.modems.values()),
            problem=self.banner.isVisibleTo(self) or self.ctx.problem is not None,
            paused=self.act.pause.isChecked(),
        )
        detail = ", ".join(f"{n} {s}" for s, n in self.counts.items() if n and s != "delivered")
        self.tray.set_state(state, detail)

    @Slot()
    def refresh_today(self) -> None:
        store = self.ctx.store
        if store is None:
            return
        self.ctx.tasks.run(
            "Today's counts",
            store_stats.counts_today,
            store,
            on_done=self.header.set_today,
            on_error=lambda exc: log.debug("today's counts: %s", exc),
        )

    # -- actions ------------------------------------------------------------------------------

    @Slot(str)
    def post(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)

    @Slot(bool)
    def set_paused(self, paused: bool) -> None:
        bridge = self.ctx.bridge
        fn = bridge.pause_sending if paused else bridge.resume_sending
        self.ctx.tasks.run("Pause" if paused else "Resume", fn)
        self.paused_label.setVisible(paused)
        self.act.pause.setText("Resume sending" if paused else "Pause sending")
        if self.tray is not None:
            self.tray.set_paused(paused)
        self._update_title()
        self._update_tray()
        self.post("Sending paused; webhooks are still queued" if paused else "Sending resumed")

    @Slot()
    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.ctx, self)
        dialog.saved.connect(self.on_settings_saved)
        dialog.open()
        return dialog

    @Slot()
    def open_wizard(self) -> SetupWizard:
        """The first-run wizard (also from the menu); one at a time."""
        if self.wizard is not None and self.wizard.isVisible():
            self.wizard.raise_()
            self.wizard.activateWindow()
            return self.wizard
        self.wizard = SetupWizard(self.ctx, self)
        self.wizard.saved.connect(self.on_settings_saved)
        self.wizard.open()
        return self.wizard

    @Slot(object)
    def on_settings_saved(self, restart: list[str]) -> None:
        s = self.ctx.settings
        self.header.set_auth(s.auth.enabled, s.auth.username)
        self.queue.show_numbers.setChecked(not s.gui.mask_numbers)
        self.inbox.show_numbers.setChecked(not s.gui.mask_numbers)
        self.contacts.show_numbers.setChecked(not s.gui.mask_numbers)
        self.log_view.mask.setChecked(s.gui.mask_numbers)
        self.contacts.set_region(s.sending.default_region)
        self.modem_panel.test_sms.update_counter()
        if self.ctx.running:
            self._show_power()
        if restart:
            self.on_restart_waiting(restart)
        self.post("Settings saved")

    @Slot(object)
    def on_restart_waiting(self, keys: list[str]) -> None:
        """Saved values (from Settings, or an edit of the config file) wait for a restart;
        none (the file put back as it runs): the offer goes."""
        if not keys:
            if self.notice.title.text() == RESTART_WAITING:
                self.notice.clear()
            return
        self.notice.show_message(
            RESTART_WAITING,
            "Waiting: " + ", ".join(keys),
            "Press Restart now (the queue is kept; sending pauses for a moment).",
            level="info",
            actions=[("restart", "Restart now")],
        )

    @Slot()
    def bring_to_front(self) -> None:
        self.show()
        if self.isMinimized():
            self.showNormal()
        self.raise_()
        self.activateWindow()

    @Slot()
    def request_quit(self) -> None:
        """Quit for real: the next close is accepted without asking (also SIGTERM and
        the end of the session, which must never wait on a question)."""
        self._quitting = True
        emit(self.quit_requested)

    def about(self) -> None:
        QMessageBox.about(
            self,
            "About gsmbridge",
            f"<b>gsmbridge {__version__}</b><br>CometChat's SMS notifications through a "
            f"USB GSM modem.<br><br>Data: {self.ctx.data_dir}<br>Config: {self.ctx.config_path}",
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._quitting or not self.ctx.settings.gui.close_to_tray:
            event.accept()
            if not self._quitting:
                self.request_quit()
            return
        if self.tray is None:
            # No tray to keep running in (GNOME without AppIndicator, Xvfb): ask, since
            # quitting takes the webhook down.
            choice = ask_close_without_tray(self)
            if choice is CloseChoice.QUIT:
                event.accept()
                self.request_quit()
                return
            event.ignore()
            if choice is CloseChoice.MINIMISE:
                self.showMinimized()
                self.post("gsmbridge keeps running; quit from the gsmbridge menu")
            return
        event.ignore()
        self.hide()
        if not self._told_about_tray:
            self._told_about_tray = True
            self.notifier.say(
                "gsmbridge keeps running",
                "SMS are still sent. Quit from the tray menu to stop.",
                warning=False,
            )


__all__ = ["CloseChoice", "MainWindow", "ask_close_without_tray"]
