"""The Bridge: composes store, intake, web server, sender, modems and tunnel; starts
them and stops them in order.

Used the same way by headless mode and the GUI.  Data flows one way
(webhook -> store -> sender -> modem); events flow back to listeners through
``bridge.events``.  What a person does goes to the parts themselves: ``bridge.jobs``
and ``bridge.contacts`` (core/actions.py), ``bridge.modems`` (PIN, USSD, reconnect),
``bridge.live`` (settings changed while running).
"""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path
from typing import Any

from gsmbridge.config import AUTH_KEYS, LiveSettings, Settings, get_key
from gsmbridge.core import private, store_stats
from gsmbridge.core.actions import TEST_UID, ContactActions, JobActions
from gsmbridge.core.cometchat import PhoneLookup
from gsmbridge.core.config_watch import ConfigWatch
from gsmbridge.core.counts import CountsPublisher
from gsmbridge.core.db import StoreUnavailable
from gsmbridge.core.events import EventHub
from gsmbridge.core.housekeeping import Housekeeping
from gsmbridge.core.incoming import SmsReceiver
from gsmbridge.core.instance import (
    clear_running_ports,
    paused_since,
    remember_paused,
    write_running_ports,
)
from gsmbridge.core.intake import Accepted, Intake
from gsmbridge.core.optout import OptOuts
from gsmbridge.core.power import PowerWatch
from gsmbridge.core.replies import Replies
from gsmbridge.core.sender import Sender
from gsmbridge.core.store import Store
from gsmbridge.core.store_replies import RepliesStore
from gsmbridge.core.store_spool import SPOOL_NAME
from gsmbridge.core.store_stats import Stats
from gsmbridge.modem.status import ModemStatus
from gsmbridge.modem.status_report import StatusReport
from gsmbridge.service.modems import ModemFleet, live_option_keys
from gsmbridge.service.status import status_report
from gsmbridge.simulator import SimulatorOptions
from gsmbridge.tunnel import TunnelManager
from gsmbridge.web.app import create_app
from gsmbridge.web.server import WebServer, check_exposure

log = logging.getLogger("gsmbridge.service")

DB_NAME = "gsmbridge.db"
# The tunnel settings its program is started with: a change restarts the tunnel (a quick
# tunnel then has a new URL).  The self-check interval is read as it goes.
# How long a stop waits for the SMS under way: its send timeout, but within what a
# service manager allows a stop (systemd's TimeoutStopSec=60 in resources/systemd).
STOP_WAIT_MAX_S = 50.0
TUNNEL_RESTART_KEYS = ("tunnel.program", "tunnel.path", "tunnel.token", "tunnel.public_url")


class Bridge:
    """The running gateway.  ``start()`` opens everything, ``stop()`` closes it in order."""

    def __init__(
        self,
        settings: Settings,
        data_dir: Path,
        *,
        simulator_options: SimulatorOptions | None = None,
        modem_options: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.data_dir = Path(data_dir)
        self.events = EventHub()
        self.live = LiveSettings(settings)
        self.store: Store | Any = None
        self.intake: Intake | Any = None
        self.web: WebServer | None = None
        self.modems = ModemFleet(
            settings,
            self.events,
            wake_sender=self.wake_sender,
            simulator_options=simulator_options,
            overrides=modem_options,
        )
        self.sender: Sender | None = None
        # Replies posted into CometChat, and the opt-out list (STOP): made with the store.
        self.replies: Replies | Any = None
        self.opt_outs: OptOuts | Any = None
        self.incoming: SmsReceiver | Any = None  # SMS the modems receive
        # What a person does to jobs and contacts (window, API): made with the store.
        self.jobs: JobActions | Any = None
        self.contacts: ContactActions | Any = None
        self.tunnel: TunnelManager | None = None
        self.power = PowerWatch()  # Windows: keeps the PC awake, says what the plan does
        self._counts = CountsPublisher(
            lambda: self.store.counts(), lambda counts: self.events.counts_changed(counts)
        )
        self.lookup = PhoneLookup(
            settings,
            lambda uid, number: self.contacts.number_found(uid, number),
            lambda uid, reason: self.contacts.number_not_found(uid, reason),
        )
        self._housekeeping = Housekeeping(
            lambda: self.store, lambda: self.settings.history.keep_days, self.events.jobs_changed
        )
        self._config_watch: ConfigWatch | None = None
        self._react_to_settings()
        self.started = False
        self.stopping = False

    @property
    def node(self) -> str:
        """This PC's name in a shared store."""
        return self.settings.store.node or socket.gethostname()

    # -- composition -------------------------------------------------------------------

    def open_store(self) -> Store:
        """Open the queue and make what works on it (nothing starts serving)."""
        if self.store is not None:
            return self.store
        shared = self.settings.store
        if shared.url:  # the queue several PCs share
            # A local spool takes webhooks while the shared store is unreachable.
            self.store = Store(
                shared.url, node=self.node, lease_s=shared.lease_s, spool=self.data_dir / SPOOL_NAME
            )
            log.info("Queue: the shared store %s, as node %s", self.store.location, self.node)
            health = self.store.health()
            if not health["reachable"]:
                log.warning(
                    "%s; starting on the local spool (webhooks are kept on this PC "
                    "until it answers)",
                    health["error"],
                )
        else:
            self.store = Store(self.data_dir / DB_NAME)
        self.intake = Intake(
            self.store,
            default_region=lambda: self.settings.sending.default_region,
            dedup_window_s=lambda: self.settings.sending.dedup_window_s,
            listener=self.events,
            wake_sender=self._wake_for_new_job,
            lookup=self.lookup.request,
        )
        self.intake.lookup_enabled = lambda: self.lookup.enabled
        self.jobs = JobActions(self.store, self.events, self.wake_sender, self.settings)
        self.contacts = ContactActions(self.store, self.events, self.wake_sender, self.settings)
        replies_store = RepliesStore.over(self.store)
        self.opt_outs = OptOuts(
            replies_store,
            lambda: self.settings.replies,
            self.events,
            self.jobs.send_opt_out_confirmation,
            exempt=(TEST_UID,),
        )
        self.replies = Replies(replies_store, self.store, self.settings, self.events, self.opt_outs)
        self.incoming = SmsReceiver(self.store, self.replies, self.events, self.settings)
        return self.store

    def _react_to_settings(self) -> None:
        """What must happen when a setting changes while running: the parts that copied
        a value get the new one (the others read the shared ``Settings`` as they go)."""
        live = self.live
        live.guard(self._refuse_open_webhook)
        live.on_change(live_option_keys(), self.modems.apply_options)
        live.on_change(["auth."], self._credentials_changed)
        live.on_change(["logging.level"], self._log_level_changed)
        live.on_change(["server.keep_awake"], self._keep_awake_changed)
        live.on_change(["history.keep_days"], lambda _changed: self._housekeeping.run_soon())
        live.on_change(["sending.default_region"], self._default_region_changed)
        live.on_change(["tunnel.", "auth.", "cometchat."], self._tunnel_settings_changed)
        live.on_change([""], lambda _changed: self.wake_sender())  # a limit, a retry delay…

    # -- start and stop ----------------------------------------------------------------

    def start(self) -> None:
        """Open the queue, recover interrupted jobs, start serving; raise on failure."""
        server = self.settings.server
        if self.settings.loaded_from is not None:
            exposed = private.config_exposure(self.settings.loaded_from)
            if exposed:
                log.warning("%s", exposed)
        check_exposure(server.host, self.settings.auth.enabled, self.settings.auth.missing)
        store = self.open_store()
        try:
            recovered = store.recover_interrupted(self.settings.sending.crash_policy)
        except StoreUnavailable:  # the shared store: other nodes take them after the lease
            recovered = []
        if recovered:
            log.warning(
                "%d job(s) were being sent when gsmbridge stopped; they may have gone out. "
                "Policy %r applied.",
                len(recovered),
                self.settings.sending.crash_policy,
            )
        self.events.add(self._counts)
        self._counts.start()
        self.lookup.start()
        self._housekeeping.start()
        self.web = WebServer(
            create_app(self, self.settings),
            server.host,
            server.port,
            threads=server.threads,
            max_body=server.max_body_bytes,
        )
        self.web.start()
        self.power.update(server.keep_awake)
        self._watch_config()
        self._start_tunnel()
        self._start_sending()
        # What a command (send, modem ussd) must not open meanwhile: this run's ports.
        write_running_ports(self.data_dir, self.modems.urls())
        self.started = True
        self.events.jobs_changed()

    def _watch_config(self) -> None:
        """Edits of the config file (set-password, an editor) apply at once, or are said
        to wait for a restart."""
        path = self.settings.loaded_from
        if path is None:
            return
        self._config_watch = ConfigWatch(
            path,
            self.settings.auth,
            self.live.apply_credentials,
            settings_changed=self.live.apply_file,
        )
        self._config_watch.start()

    def config_written(self) -> None:
        """The window wrote the config file and applies what it wrote itself."""
        watch = self._config_watch
        if watch is not None:
            watch.note_written()

    def _start_tunnel(self) -> None:
        tunnel = self.settings.tunnel
        if not tunnel.program or self.web is None:  # tunnel.path only says where it is
            return
        host = self.settings.server.host
        local = host if host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        self.tunnel = TunnelManager(self.settings, self.web.port, self.events, local_host=local)
        self.tunnel.start()

    def _start_sending(self) -> None:
        modems = self.modems.build(self._on_report, self.incoming.received)
        self.sender = Sender(self.store, modems, self.settings, self.events)
        self.modems.start()
        self.sender.refuse = self.opt_outs.refuse  # for jobs queued before a STOP
        since = paused_since(self.data_dir)
        if since is not None:
            self.sender.pause()
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(since)) if since else "earlier"
            log.warning(
                "Sending is paused, as it was left (since %s): webhooks are taken and "
                "queued; Resume sending in the window's gsmbridge menu",
                when,
            )
        self.sender.start()
        self.replies.start()

    def _on_report(self, modem: str, report: StatusReport) -> None:
        sender = self.sender
        if sender is not None:
            sender.status_report(modem, report)

    def stop(self) -> None:
        """Stop in order: sender, tunnel, web server, modems, database.

        The webhook stays open while the sender finishes the SMS under way (up to the
        modem's send timeout): CometChat never retries, and the queue is durable."""
        self.stopping = True
        if self._config_watch is not None:
            self._config_watch.stop()
            self._config_watch = None
        sender = self.sender
        if sender is not None:
            wait = min(self.settings.modem.send_timeout_s + 5.0, STOP_WAIT_MAX_S)
            if sender.sending:
                log.info("Waiting up to %.0f s for the SMS under way before stopping", wait)
            sender.stop(timeout=wait)
            # Kept until the modems stop: a delivery report read meanwhile is still
            # applied (the modem deletes it from the SIM once handed on).
        if self.replies is not None:
            self.replies.stop()
        if self.tunnel is not None:
            self.tunnel.stop()
            self.tunnel = None
        if self.web is not None:
            self.web.stop()
            self.web = None
        self.modems.stop()
        self.sender = None
        self.power.stop()  # after the last send: sleeping mid-CMGS loses it
        self.lookup.stop()
        self._housekeeping.stop()
        self._counts.stop()
        self.events.remove(self._counts)
        if self.store is not None:
            self.store.close()
        if self.started:
            clear_running_ports(self.data_dir)
        self.started = False
        log.info("gsmbridge stopped")

    # -- reactions to settings changed while running -------------------------------------

    def _refuse_open_webhook(self, new: Settings) -> None:
        unchanged = all(get_key(new, k) == get_key(self.settings, k) for k in AUTH_KEYS)
        if unchanged:
            return  # checked (and warned about) when they were set
        if self.web is not None:  # no credentials on a network address, as at start
            check_exposure(self.web.host, new.auth.enabled, new.auth.missing)

    def _credentials_changed(self, _changed: list[str]) -> None:
        if self.web is not None:
            self.web.app.extensions["gsmbridge.auth"].update(self.settings.auth)

    def _default_region_changed(self, _changed: list[str]) -> None:
        self.jobs.recheck_numbers()  # numbers read as the old country's may fit the new one

    def _log_level_changed(self, _changed: list[str]) -> None:
        logging.getLogger().setLevel(self.settings.logging.level.upper())

    def _keep_awake_changed(self, _changed: list[str]) -> None:
        if self.started:
            self.power.update(self.settings.server.keep_awake)

    def _tunnel_settings_changed(self, changed: list[str]) -> None:
        if any(key in TUNNEL_RESTART_KEYS for key in changed):
            if self.tunnel is not None:
                self.tunnel.stop()
                self.tunnel = None
            self._start_tunnel()
            return
        if self.tunnel is None:
            return
        if any(key.startswith(("auth.", "cometchat.")) for key in changed):
            self.tunnel.register_now()  # CometChat must send the new credentials too
        if "tunnel.self_check_interval_s" in changed:
            self.tunnel.check_now()  # then the next one at the new interval

    # -- the web backend (web.app.WebBackend) and the sender's switches --------------------

    @property
    def url(self) -> str:
        return self.web.url if self.web else ""

    @property
    def urls(self) -> list[str]:
        return self.web.urls if self.web else []

    def wake_sender(self) -> None:
        sender = self.sender  # once: stop() may set it to None meanwhile
        if sender is not None:
            sender.wake()

    def _wake_for_new_job(self) -> None:
        # A burst of webhooks while a rate limit holds need not wake the sender each time.
        sender = self.sender
        if sender is not None:
            sender.wake(force=False)

    def accept(self, payload: Any, text: str | None = None) -> Accepted:
        # A notification to a number that opted out ends failed at once, unsent.
        return self.opt_outs.after_intake(self.intake.accept(payload, text))

    def status(self) -> dict[str, Any]:
        return status_report(self)

    def stats(self, days: int = 30) -> Stats:
        """The Statistics tab's and /api/stats' figures; this node's modems always listed."""
        return store_stats.collect(
            self.store,
            days,
            per_day_limit=self.settings.limits.per_day,
            modems=[self.store.modem_key(url) for url in self.modems.urls()],
        )

    def modem_statuses(self) -> list[ModemStatus]:
        return self.modems.statuses()

    def tunnel_up(self) -> bool | None:
        """Whether the tunnel is up; None when none is configured (for /metrics)."""
        return self.tunnel.status.up if self.tunnel is not None else None

    @property
    def sending_paused(self) -> bool:
        sender = self.sender
        return sender.paused if sender is not None else False

    def pause_sending(self) -> None:
        sender = self.sender
        if sender is not None:
            sender.pause()
            self._remember_pause(True)

    def resume_sending(self) -> None:
        sender = self.sender
        if sender is not None:
            sender.resume()
            self._remember_pause(False)

    def _remember_pause(self, paused: bool) -> None:
        problem = remember_paused(self.data_dir, paused, time.time())
        if problem:
            state = "paused" if paused else "resumed"
            log.warning("Sending %s, but this is not kept for the next start: %s", state, problem)
