"""The modems this PC sends through: built from the settings, started and stopped, and
what a person asks of them (a PIN, a reconnect, a USSD code).

The driver knows no settings: each of its options is copied from one setting, by the
table below, when the modems are built and again (the live ones) when a setting
changes.  ``port = "sim"`` gives each such modem a simulator of its own.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any

from gsmbridge.config import Settings, get_key, restart_keys
from gsmbridge.core.events import Listener
from gsmbridge.modem.deliver import Deliver
from gsmbridge.modem.gsm import Modem, ModemOptions
from gsmbridge.modem.status import ModemState, ModemStatus, UssdAnswer
from gsmbridge.modem.status_report import StatusReport
from gsmbridge.simulator import ModemSimulator, SimulatedMessage, SimulatorOptions, start_builtin

log = logging.getLogger("gsmbridge.service")


def _same(value: Any) -> Any:
    return value


def _or_none(value: Any) -> Any:
    return value or None


# Each of the driver's options and the setting it comes from: one table, so an option is
# built at start and applied live the same way (the restart ones only at a restart).
MODEM_OPTIONS: dict[str, tuple[str, Callable[[Any], Any]]] = {
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


def live_option_keys() -> list[str]:
    """The settings a running modem takes as soon as they change."""
    restart = set(restart_keys())
    return [key for key, _convert in MODEM_OPTIONS.values() if key not in restart]


def modem_names(ports: list[str]) -> list[str]:
    """Distinct names: several simulators are "sim", "sim#2", ..."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for port in ports:
        seen[port] = seen.get(port, 0) + 1
        names.append(port if seen[port] == 1 else f"{port}#{seen[port]}")
    return names


class _ModemEvents:
    """Forwards one modem's status to the listener, says in the log when it became ready
    or stopped being ready, and wakes the sender when it is ready."""

    def __init__(
        self, listener: Listener, wake_sender: Callable[[], None], stopping: Callable[[], bool]
    ) -> None:
        self._listener = listener
        self._wake_sender = wake_sender
        self._stopping = stopping
        self._was_ready: dict[str, bool] = {}

    def modem_status_changed(self, status: ModemStatus) -> None:
        self._listener.modem_status_changed(status)
        ready = status.ready
        if ready == self._was_ready.get(status.port, False):
            return
        self._was_ready[status.port] = ready
        if ready:
            log.info("Modem %s ready (%s)", status.port, status.operator or "no operator")
            self._wake_sender()
        elif self._stopping():
            log.info("Modem %s closed", status.port)
        else:
            log.warning(
                "Modem %s not ready: %s%s",
                status.port,
                status.state,
                f" ({status.last_error})" if status.last_error else "",
            )


class ModemFleet:
    """The modems, in the order of ``modem.port``; iterable and indexable like a list."""

    def __init__(
        self,
        settings: Settings,
        listener: Listener,
        *,
        wake_sender: Callable[[], None],
        simulator_options: SimulatorOptions | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self._listener = listener
        self._wake_sender = wake_sender
        self._simulator_options = simulator_options
        self._overrides = overrides or {}  # tests and benchmarks: faster timings
        self._modems: list[Modem] = []
        # port "sim": the built-in simulators, by modem name (the driver only gets a URL)
        self.simulators: dict[str, ModemSimulator] = {}
        # What an earlier run's simulators "sent": Restart service keeps the outbox.
        self.earlier_outbox: list[SimulatedMessage] = []
        self.stopping = False

    def __iter__(self) -> Iterator[Modem]:
        return iter(self._modems)

    def __len__(self) -> int:
        return len(self._modems)

    def __getitem__(self, index: int) -> Modem:
        return self._modems[index]

    @property
    def simulated(self) -> bool:
        """Any configured modem is the simulator (the window says so)."""
        return any(port == "sim" for port in self.settings.modem.port)

    def options(self) -> ModemOptions:
        """The driver's options as the settings say now."""
        built = {
            name: convert(get_key(self.settings, key))
            for name, (key, convert) in MODEM_OPTIONS.items()
        }
        return dataclasses.replace(ModemOptions(**built), **self._overrides)

    def apply_options(self, changed: list[str] | None = None) -> None:
        """Put the live options into the running modems (a setting changed).  A PIN saved
        (Settings, the config file) while a modem waits for one is tried at once if the
        configured PIN's rules allow: never one this SIM rejected, never on its last try
        (a file saved again, or emptied and written back, must cost no try); unlike a
        PIN typed in the Modem tab (``enter_pin``).  A new poll interval starts with a
        poll (a shorter one waited for the end of the longer one)."""
        fresh = self.options()
        restart = set(restart_keys())
        for modem in self._modems:
            for name, (key, _convert) in MODEM_OPTIONS.items():
                if key not in restart:
                    setattr(modem.options, name, getattr(fresh, name))
        if changed and "modem.pin" in changed and fresh.pin:  # "": nothing to try
            for modem in self._modems:  # each state: one about to wait must hear it too
                modem.configured_pin_changed()
        if changed and "modem.poll_interval_s" in changed:
            for modem in self._modems:  # poll now: the next one comes at the new interval
                modem.request_poll()

    def _ports(self) -> list[str]:
        """The modems to open; a modem pinned by IMEI is looked for on every connect
        (Windows and Linux rename ports), among the configured ports if any."""
        ports = self.settings.modem.port
        imei = self.settings.modem.imei.strip()
        if imei and ports != ["sim"]:
            return [f"imei:{imei}"]
        return ports

    def build(
        self,
        on_report: Callable[[str, StatusReport], None],
        on_incoming: Callable[[str, Deliver], None],
    ) -> list[Modem]:
        """Make (not open) a modem per configured port; return them."""
        events = _ModemEvents(self._listener, self._wake_sender, lambda: self.stopping)
        ports = self._ports()
        for name, port in zip(modem_names(ports), ports, strict=True):
            options = self.options()
            if port.startswith("imei:"):
                configured = [p for p in self.settings.modem.port if p != "sim"]
                options.candidate_ports = configured or None
            port_url = None
            if port == "sim":  # each "sim" (also "sim#2") gets a simulator of its own
                simulator = start_builtin(self._simulator_options)
                self.simulators[name] = simulator
                port_url = simulator.url
            options.simulated = port == "sim"
            self._modems.append(
                Modem(
                    name,
                    options,
                    listener=events,
                    on_status_report=functools.partial(on_report, name),
                    on_incoming=functools.partial(on_incoming, name),
                    port_url=port_url,
                )
            )
        return list(self._modems)

    def start(self) -> None:
        for modem in self._modems:
            if modem.status.simulated:
                log.warning("Modem %s is SIMULATED: no real SMS will be sent", modem.url)
            modem.start()

    def stop(self) -> None:
        self.stopping = True
        for modem in self._modems:
            modem.stop()
        self._modems = []
        self.earlier_outbox = self.simulator_outbox()
        for simulator in self.simulators.values():
            simulator.stop()
        self.simulators = {}

    def statuses(self) -> list[ModemStatus]:
        return [m.status for m in self._modems]

    def urls(self) -> list[str]:
        return [m.url for m in self._modems]

    # -- what a person asks of them (the window, the command line) -------------------------

    def _chosen(self, port: str | None) -> list[Modem]:
        chosen = [m for m in self._modems if port is None or m.url == port]
        if port is not None and not chosen:
            raise ValueError(f"no modem {port}")
        return chosen

    def reconnect(self, port: str | None = None) -> None:
        for modem in self._chosen(port):
            modem.reconnect()

    def ussd(self, code: str, port: str | None = None, timeout: float = 30.0) -> UssdAnswer:
        """A USSD code (``*100#``: the balance) on one modem (the first by default); the
        answer is also kept in its status.  Blocks up to ``timeout`` s (and while an SMS
        is in flight): call it off the GUI thread.  ValueError for a bad code."""
        modems = self._chosen(port)
        if not modems:
            raise ValueError("no modem configured")
        return modems[0].ussd(code, timeout=timeout)

    def enter_pin(self, pin: str, port: str | None = None) -> None:
        """A PIN typed by a person; each modem waiting for one tries it once, even one
        the SIM rejected before, even on its last try (the person chose it)."""
        for modem in self._chosen(port):
            if modem.status.state == ModemState.PIN_REQUIRED:
                modem.enter_pin(pin)

    def simulator_outbox(self) -> list[SimulatedMessage]:
        """What the simulated modems "sent" (nothing for real modems), earlier runs' first."""
        out: list[SimulatedMessage] = list(self.earlier_outbox)
        for simulator in self.simulators.values():
            out.extend(simulator.sent)
        return out
