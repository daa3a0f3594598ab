"""The Bridge: wires store, intake, web server (and sender, modems); start and stop.

Used the same way by headless mode and the GUI.  Data flows one way
(webhook -> store -> sender -> modem); events flow back to listeners through
``bridge.events``.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gsmbridge import __version__
from gsmbridge.config import AuthSettings, Settings, get_key, restart_keys
from gsmbridge.core import power, private, store_stats
from gsmbridge.core.actions import TEST_UID, ContactActions, JobActions
from gsmbridge.core.cometchat import PhoneLookup
from gsmbridge.core.config_watch import ConfigWatch
from gsmbridge.core.counts import CountsPublisher
from gsmbridge.core.db import StoreUnavailable
from gsmbridge.core.events import EventHub, Listener
from gsmbridge.core.housekeeping import Housekeeping
from gsmbridge.core.incoming import SmsReceiver
from gsmbridge.core.instance import clear_running_ports, write_running_ports
from gsmbridge.core.intake import Accepted, Intake
from gsmbridge.core.models import Contact
from gsmbridge.core.optout import OptOuts, queue_confirmation
from gsmbridge.core.replies import Replies
from gsmbridge.core.sender import Sender
from gsmbridge.core.store import Store
from gsmbridge.core.store_replies import RepliesStore
from gsmbridge.core.store_spool import SPOOL_NAME
from gsmbridge.core.store_stats import Stats
from gsmbridge.modem.gsm import Modem, ModemOptions
from gsmbridge.modem.status import ModemState, ModemStatus, UssdAnswer
from gsmbridge.simulator import ModemSimulator, SimulatorOptions, start_builtin
from gsmbridge.tunnel import TunnelManager
from gsmbridge.web.app import create_app
from gsmbridge.web.server import WebServer, check_exposure

log = logging.getLogger(__name__)

DB_NAME = "gsmbridge.db"

# Settings applied while running; the others need a restart (names as in the TOML).
# What the running service takes only at a (re)start, from the settings schema.
RESTART_KEYS = restart_keys()


def _same(value: Any) -> Any:
    return value


def _or_none(value: Any) -> Any:
    return value or None


# Each of the driver's options and the setting it comes from: one table, so an option is
# built at start and applied live the same way (the restart ones only at a restart).
_MODEM_OPTIONS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "baudrate": ("modem.baudrate", _same),
    "pin": ("modem.pin", _or_none),
    "status_reports": ("sending.status_reports", _same),
    "smart_encoding": ("sending.smart_encoding", _same),
    "max_parts": ("sending.max_parts", _same),
    "validity_minutes": ("sending.validity_minutes", _or_none),
    "register_timeout_s": ("modem.register_timeout_s", _same),
    "send_timeout_s": ("modem.send_timeout_s", _same),
    "poll_interval_s": ("modem.poll_interval_s", _same),
}


def _modem_names(ports: list[str]) -> list[str]:
    """Distinct names: several simulators are "sim", "sim#2", ..."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for port in ports:
        seen[port] = seen.get(port, 0) + 1
        names.append(port if seen[port] == 1 else f"{port}#{seen[port]}")
    return names


def _ussd_dict(answer: UssdAnswer | None) -> dict[str, Any] | None:
    """The last USSD answer for /api/status (time as ISO 8601, UTC)."""
    if answer is None:
        return None
    when = datetime.datetime.fromtimestamp(answer.at, datetime.UTC).isoformat(timespec="seconds")
    return {"code": answer.code, "text": answer.text, "at": when}


class _ModemEvents(Listener):
    """Forwards one modem's status to the hub and wakes the sender when it is ready."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self._was_ready: dict[str, bool] = {}

    def modem_status_changed(self, status: ModemStatus) -> None:
        self.bridge.events.modem_status_changed(status)
        ready = bool(getattr(status, "ready", False))
        if ready != self._was_ready.get(status.port, False):
            self._was_ready[status.port] = ready
            if ready:
                log.info("Modem %s ready (%s)", status.port, status.operator or "no operator")
                self.bridge.wake_sender()
            elif self.bridge.stopping:
                log.info("Modem %s closed", status.port)
            else:
                log.warning(
                    "Modem %s not ready: %s%s",
                    status.port,
                    status.state,
                    f" ({status.last_error})" if status.last_error else "",
                )


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
        self.store: Store | Any = None
        self.intake: Intake | Any = None
        self.web: WebServer | None = None
        self.modems: list[Modem] = []
        # port "sim": the built-in simulators, by modem name (the driver only gets a URL)
        self.simulators: dict[str, ModemSimulator] = {}
        self.sender: Sender | None = None
        # Replies posted into CometChat, and the opt-out list (STOP): made with the store.
        self.replies: Replies | Any = None
        self.opt_outs: OptOuts | Any = None
        self.incoming: SmsReceiver | Any = None  # SMS the modems receive
        # What a person does to jobs and contacts (window, API): made with the store.
        self.jobs: JobActions | Any = None
        self.contacts: ContactActions | Any = None
        self.tunnel: TunnelManager | None = None
        self._simulator_options = simulator_options
        self._modem_overrides = modem_options or {}
        self._counts = CountsPublisher(
            lambda: self.store.counts(), lambda counts: self.events.counts_changed(counts)
        )
        self._modem_events = _ModemEvents(self)
        self.lookup = PhoneLookup(settings, self._number_found, self._number_not_found)
        self._housekeeping = Housekeeping(
            lambda: self.store, lambda: self.settings.history.keep_days, self.events.jobs_changed
        )
        self._config_watch: ConfigWatch | None = None
        self._keep_awake = power.KeepAwake()
        self.power_note = ""  # Windows: would the power plan sleep, does gsmbridge stop it
        self.started = False
        self.stopping = False

    @property
    def node(self) -> str:
        """This PC's name in a shared store."""
        return self.settings.store.node or socket.gethostname()

    # -- lifecycle ---------------------------------------------------------------

    def open_store(self) -> Store:
        if self.store is None:
            shared = self.settings.store
            if shared.url:  # the queue several PCs share
                # A local spool takes webhooks while the shared store is unreachable.
                self.store = Store(
                    shared.url,
                    node=self.node,
                    lease_s=shared.lease_s,
                    spool=self.data_dir / SPOOL_NAME,
                )
                log.info("Queue: the shared store %s, as node %s", self.store.location, self.node)
                if not self.store.health()["reachable"]:
                    log.warning(
                        "%s; starting on the local spool (webhooks are kept on this PC "
                        "until it answers)",
                        self.store.health()["error"],
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
            self._open_replies()
            self.jobs = JobActions(self.store, self.events, self.wake_sender, self.settings)
            self.contacts = ContactActions(self.store, self.events, self.wake_sender, self.settings)
        return self.store

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
        app = create_app(self, self.settings)
        self.web = WebServer(
            app,
            server.host,
            server.port,
            threads=server.threads,
            max_body=server.max_body_bytes,
        )
        self.web.start()
        self._update_power()
        self._watch_config()
        self._start_tunnel()
        self._start_sending()
        # What a command (send, modem ussd) must not open meanwhile: this run's ports.
        write_running_ports(self.data_dir, [m.url for m in self.modems])
        self.started = True
        self.events.jobs_changed()

    def _update_power(self) -> None:
        """Windows: hold the PC awake as server.keep_awake says; say what the plan does."""
        if not power.running_on_windows():
            return
        if self.settings.server.keep_awake:
            self._keep_awake.start()
        else:
            self._keep_awake.stop()
        note = self._keep_awake.error or power.power_note(
            self._keep_awake.active, power.sleep_after_s()
        )
        if note and note != self.power_note:
            if self._keep_awake.active:
                log.info("%s", note)
            else:
                log.warning("%s", note)
        self.power_note = note

    @property
    def keeping_awake(self) -> bool:
        """Windows: gsmbridge holds the PC awake (``power_note`` then says from what)."""
        return self._keep_awake.active

    def _watch_config(self) -> None:
        """Credentials changed in the config file (set-password) apply at once."""
        path = self.settings.loaded_from
        if path is None:
            return
        self._config_watch = ConfigWatch(path, self.settings.auth, self._credentials_changed)
        self._config_watch.start()

    def _credentials_changed(self, auth: AuthSettings) -> None:
        if self.web is not None:
            self.web.app.extensions["gsmbridge.auth"].update(auth)
        if self.tunnel is not None:
            self.tunnel.register_now()  # CometChat must send the new ones too

    def _start_tunnel(self) -> None:
        tunnel = self.settings.tunnel
        if not tunnel.program or self.web is None:  # tunnel.path only says where it is
            return
        host = self.settings.server.host
        local = host if host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        self.tunnel = TunnelManager(self.settings, self.web.port, self.events, local_host=local)
        self.tunnel.start()

    def _modem_options(self) -> ModemOptions:
        settings = self.settings
        built = {
            name: convert(get_key(settings, key)) for name, (key, convert) in _MODEM_OPTIONS.items()
        }
        options = ModemOptions(**built)
        return dataclasses.replace(options, **self._modem_overrides)

    def _ports(self) -> list[str]:
        """The modems to open; a modem pinned by IMEI is looked for on every connect
        (Windows and Linux rename ports), among the configured ports if any."""
        ports = self.settings.modem.port
        imei = self.settings.modem.imei.strip()
        if imei and ports != ["sim"]:
            return [f"imei:{imei}"]
        return ports

    def _start_sending(self) -> None:
        ports = self._ports()
        for name, port in zip(_modem_names(ports), ports, strict=True):
            options = self._modem_options()
            if port.startswith("imei:"):
                configured = [p for p in self.settings.modem.port if p != "sim"]
                options.candidate_ports = configured or None
            port_url = None
            if port == "sim":  # each "sim" (also "sim#2") gets a simulator of its own
                simulator = start_builtin(self._simulator_options)
                self.simulators[name] = simulator
                port_url = simulator.url
            options.simulated = port == "sim"
            modem = Modem(
                name,
                options,
                listener=self._modem_events,
                on_status_report=functools.partial(self._on_report, name),
                on_incoming=functools.partial(self.incoming.received, name),
                port_url=port_url,
            )
            self.modems.append(modem)
        self.sender = Sender(self.store, self.modems, self.settings, self.events)
        for modem in self.modems:
            if modem.status.simulated:
                log.warning("Modem %s is SIMULATED: no real SMS will be sent", modem.url)
            modem.start()
        self.sender.refuse = self.opt_outs.refuse  # for jobs queued before a STOP
        self.sender.start()
        self.replies.start()

    def _number_found(self, uid: str, number: str) -> None:
        released = self.store.upsert_contact(Contact(uid=uid, number=number))
        log.info("Saved %s's number from CometChat; %d job(s) released", uid, len(released))
        self.jobs.announce(released)

    def _number_not_found(self, uid: str, reason: str) -> None:
        for job_id in self.store.explain_needs_number(uid, f"number lookup failed: {reason}"):
            self.events.job_changed(job_id, "needs-number")

    def _on_report(self, modem: str, report: Any) -> None:
        if self.sender is not None:
            self.sender.status_report(modem, report)

    def _open_replies(self) -> None:
        replies_store = RepliesStore.over(self.store)

        def confirm(number: str, text: str) -> None:
            job_id = queue_confirmation(self.store, number, text)
            self.events.job_changed(job_id, "queued")
            self.wake_sender()

        self.opt_outs = OptOuts(
            replies_store, lambda: self.settings.replies, self.events, confirm,
            exempt=(TEST_UID,),
        )  # fmt: skip
        self.replies = Replies(replies_store, self.store, self.settings, self.events, self.opt_outs)
        self.incoming = SmsReceiver(self.store, self.replies, self.events, self.settings)

    def stop(self) -> None:
        """Stop in order: tunnel, web server, sender, modems, database."""
        self.stopping = True
        if self._config_watch is not None:
            self._config_watch.stop()
            self._config_watch = None
        if self.tunnel is not None:
            self.tunnel.stop()
            self.tunnel = None
        if self.web is not None:
            self.web.stop()
            self.web = None
        if self.sender is not None:
            self.sender.stop()
            self.sender = None
        if self.replies is not None:
            self.replies.stop()
        for modem in self.modems:
            modem.stop()
        self.modems = []
        for simulator in self.simulators.values():
            simulator.stop()
        self.simulators = {}
        self._keep_awake.stop()  # after the last send: sleeping mid-CMGS loses it
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

    @property
    def url(self) -> str:
        return self.web.url if self.web else ""

    @property
    def urls(self) -> list[str]:
        return self.web.urls if self.web else []

    # -- the web backend ------------------------------------------------------------

    def wake_sender(self) -> None:
        if self.sender is not None:
            self.sender.wake()

    def _wake_for_new_job(self) -> None:
        # A burst of webhooks while a rate limit holds need not wake the sender each time.
        if self.sender is not None:
            self.sender.wake(force=False)

    def accept(self, payload: Any, text: str | None = None) -> Accepted:
        # A notification to a number that opted out ends failed at once, unsent.
        return self.opt_outs.after_intake(self.intake.accept(payload, text))

    def status(self) -> dict[str, Any]:
        try:
            counts = self.store.counts()
            cluster = self.store.cluster()  # the PCs sharing the queue ([] on one PC)
        except StoreUnavailable:  # the shared store is away: health says so
            counts, cluster = {}, []
        return {
            "version": __version__,
            "counts": counts,
            "store": self.store.health(),
            "cluster": cluster,
            "modems": [
                {
                    "port": s.port,
                    "state": s.state,
                    "simulated": s.simulated,
                    "operator": s.operator,
                    "registration": s.registration,
                    "signal_dbm": s.signal_dbm,
                    "signal_bars": s.signal_bars,
                    "last_error": s.last_error,
                    "ussd": _ussd_dict(s.ussd),
                }
                for s in self.modem_statuses()
            ],
            "sending_paused": self.sending_paused,
            "auth": self.settings.auth.enabled,
            # Every address the webhook listens on (localhost may be 127.0.0.1 and ::1).
            "listening": self.web.urls if self.web is not None else [],
            "tunnel": self.tunnel.status.to_dict() if self.tunnel is not None else None,
            "power": self.power_note,
        }

    # -- sending and modems (GUI and API) -------------------------------------------------

    @property
    def simulated(self) -> bool:
        return any(port == "sim" for port in self.settings.modem.port)

    @property
    def sending_paused(self) -> bool:
        return self.sender.paused if self.sender is not None else False

    def pause_sending(self) -> None:
        if self.sender is not None:
            self.sender.pause()

    def resume_sending(self) -> None:
        if self.sender is not None:
            self.sender.resume()

    def modem_statuses(self) -> list[ModemStatus]:
        return [m.status for m in self.modems]

    def tunnel_up(self) -> bool | None:
        """Whether the tunnel is up; None when none is configured (for /metrics)."""
        return self.tunnel.status.up if self.tunnel is not None else None

    def stats(self, days: int = 30) -> Stats:
        """The Statistics tab's and /api/stats' figures; this node's modems always listed."""
        return store_stats.collect(
            self.store,
            days,
            per_day_limit=self.settings.limits.per_day,
            modems=[m.url for m in self.modems],
        )

    def _modems(self, port: str | None) -> list[Modem]:
        chosen = [m for m in self.modems if port is None or m.url == port]
        if port is not None and not chosen:
            raise ValueError(f"no modem {port}")
        return chosen

    def reconnect_modem(self, port: str | None = None) -> None:
        for modem in self._modems(port):
            modem.reconnect()

    def ussd(self, code: str, port: str | None = None, timeout: float = 30.0) -> UssdAnswer:
        """A USSD code (``*100#``: the balance) on one modem (the first by default); the
        answer is also kept in its status.  Blocks up to ``timeout`` s (and while an SMS
        is in flight): call it off the GUI thread.  ValueError for a bad code."""
        modems = self._modems(port)
        if not modems:
            raise ValueError("no modem configured")
        return modems[0].ussd(code, timeout=timeout)

    def enter_pin(self, pin: str, port: str | None = None) -> None:
        """A PIN typed by a person; each modem tries it once."""
        for modem in self._modems(port):
            if modem.status.state == ModemState.PIN_REQUIRED:
                modem.enter_pin(pin)

    def simulator_outbox(self) -> list[Any]:
        """What the simulated modems "sent" (nothing for real modems)."""
        out: list[Any] = []
        for simulator in self.simulators.values():
            out.extend(simulator.sent)
        return out

    def counts_today(self) -> dict[str, int]:
        """The header's "today": counted as the Statistics tab and /metrics count (an SMS
        carrying merged notifications once, each failure when it happened)."""
        midnight = datetime.datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
        went = store_stats.changes_between(self.store, midnight.timestamp(), time.time() + 1)
        return {
            "sent": sum(went.sent.values()),
            "delivered": sum(went.delivered.values()),
            "failed": sum(went.failed.values()),
        }

    def apply_settings(self, new: Settings) -> list[str]:
        """Apply what can change while running; return the keys that need a restart."""
        new.validate()
        old = self.settings
        if self.web is not None:  # no credentials on a network address, as at start
            check_exposure(self.web.host, new.auth.enabled, new.auth.missing)
        tunnel_changed = dataclasses.asdict(old.tunnel) != dataclasses.asdict(new.tunnel)
        register = (old.auth, old.cometchat) != (new.auth, new.cometchat)
        restart = [key for key in RESTART_KEYS if get_key(old, key) != get_key(new, key)]
        # Live: copy every section's values into the objects everyone holds.
        for section in dataclasses.fields(Settings):
            target, source = getattr(old, section.name), getattr(new, section.name)
            for f in dataclasses.fields(target):
                key = f"{section.name}.{f.name}"
                if key not in restart:
                    setattr(target, f.name, getattr(source, f.name))
        # The modems hold copies (the driver knows no settings): the live ones go in.
        fresh = self._modem_options()
        for modem in self.modems:
            for name, (key, _convert) in _MODEM_OPTIONS.items():
                if key not in RESTART_KEYS:
                    setattr(modem.options, name, getattr(fresh, name))
        if self.web is not None:
            self.web.app.extensions["gsmbridge.auth"].update(old.auth)
        logging.getLogger().setLevel(old.logging.level.upper())
        if self.started:
            self._update_power()
        if tunnel_changed:
            if self.tunnel is not None:
                self.tunnel.stop()
                self.tunnel = None
            self._start_tunnel()
        elif register and self.tunnel is not None:
            self.tunnel.register_now()
        self.wake_sender()
        return restart
