"""Opening the configured modem from a command (``send``, ``modem ussd``): which port,
whether the running app holds it, and waiting until it is ready or cannot be."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

from gsmbridge.cli.common import data_dir_from_args
from gsmbridge.config import ConfigError, Settings, load_settings
from gsmbridge.core.instance import AlreadyRunning, InstanceLock, read_running_ports
from gsmbridge.modem.gsm import Modem, ModemOptions
from gsmbridge.modem.ports import find_by_imei
from gsmbridge.modem.status import ModemState, ModemStatus
from gsmbridge.simulator import start_builtin

PIN_HINT = "set modem.pin in the config file, GSMBRIDGE_MODEM_PIN, or use --pin"
# States a modem does not leave by itself: waiting longer would only delay the message.
_STUCK_STATES = (ModemState.PIN_REQUIRED, ModemState.PUK_REQUIRED, ModemState.ERROR)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def _is_local_device(url: str) -> bool:
    return url != "sim" and not _URL.match(url) and not url.lower().startswith("imei:")


def missing_device(url: str) -> str | None:
    """Why a local device path cannot be the modem, found without opening it."""
    if _is_local_device(url) and os.name != "nt" and not os.path.exists(url):
        return f"{url} does not exist (`gsmbridge modem list` shows the ports there are)"
    return None


def running_instance(data_dir: Path) -> str | None:
    """The running gsmbridge's description when it holds the data directory's lock."""
    lock = InstanceLock(data_dir)
    if not lock.path.exists():
        return None  # never run with this directory; do not create it
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        return str(exc)
    lock.release()
    return None


def app_ports(args: argparse.Namespace, settings: Settings) -> list[str]:
    """The ports the running app holds: the list it left in the data directory; from an
    older version, the config file's and the environment's (its flags are not known)."""
    opened = read_running_ports(data_dir_from_args(args))
    if opened is not None:
        return [p for p in opened if p != "sim"]
    try:
        ports = load_settings(args.config).modem.port
    except ConfigError:
        ports = settings.modem.port
    return [p for p in ports if p != "sim"]


def hopeless(status: ModemStatus) -> bool:
    """A state the modem will not leave by waiting (a SIM wanting a PIN, no SIM, ...),
    or a port that did not open: the user wants to know now, not in a minute."""
    if status.state in _STUCK_STATES and bool(status.last_error):
        return True
    return status.state == ModemState.DISCONNECTED and status.last_error.startswith("cannot open")


def resolve_url(settings: Settings) -> tuple[str | None, str]:
    """(the port to open, or None; why not): the first modem.port, or the modem.imei's."""
    ports = settings.modem.port
    imei = settings.modem.imei.strip()
    if imei and ports != ["sim"]:
        candidates = [p for p in ports if p != "sim"]
        found = find_by_imei(imei, ports=candidates or None)
        if found is None:
            where = ", ".join(candidates) if candidates else "any serial port"
            return None, f"no modem with IMEI {imei} (modem.imei) answers on {where}"
        return found, ""
    if not ports:
        return None, "no modem given (use --modem PORT, --modem sim, or set modem.port)"
    return ports[0], ""


def quiet_modem_log(args: argparse.Namespace) -> logging.Handler | None:
    """The modem's log on stderr with --log-level; else nothing (Python would print
    its warnings bare), as every problem ends in one ``gsmbridge:`` line anyway."""
    if getattr(args, "log_level", None):
        logging.basicConfig(level=args.log_level, format="%(asctime)s %(message)s")
        return None
    handler = logging.NullHandler()
    logging.getLogger("gsmbridge").addHandler(handler)
    return handler


def not_ready(
    status: ModemStatus, waited: float, *, stuck: bool, running: str | None, doing: str
) -> str:
    """One line on why the modem is not ready (``doing``: what it cannot do then)."""
    if status.state == ModemState.DISCONNECTED and status.last_error.startswith("cannot open"):
        hint = f" ({running}; it may hold the port)" if running else ""
        return status.last_error + hint
    reason = f"{status.state}" + (f": {status.last_error}" if status.last_error else "")
    if status.state == ModemState.PIN_REQUIRED:
        reason += f" ({PIN_HINT})"
    if stuck:
        return f"the modem cannot {doing}: {reason}"
    return f"modem not ready after {waited:.0f} s: {reason}"


class Refused(Exception):
    """The configured modem cannot be used now; ``str()`` says why (one line)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@contextlib.contextmanager
def ready_modem(
    args: argparse.Namespace, settings: Settings, options: ModemOptions, *, doing: str, in_app: str
) -> Iterator[tuple[Modem, bool]]:
    """The configured modem, started and ready, stopped on leaving: (modem, simulated).

    Raises Refused: no port, the running app holds it (``in_app``: what to do there
    instead), a device that does not exist, or a modem that does not get ready within
    ``args.wait`` or cannot by itself (``doing``: what it then cannot do)."""
    url, why = resolve_url(settings)
    if url is None:
        raise Refused(why, 2)
    simulated = url == "sim"
    options.simulated = simulated
    running = None if simulated else running_instance(data_dir_from_args(args))
    if running is not None and url in app_ports(args, settings):
        raise Refused(f"{running} and uses the modem on {url}: {in_app}, or quit it first")
    missing = missing_device(url)
    if missing is not None:
        raise Refused(missing)
    # "sim": the command starts the simulator and hands the driver its URL.
    simulator = start_builtin() if simulated else None
    modem = Modem(url, options, port_url=simulator.url if simulator else None)
    quiet = quiet_modem_log(args)
    modem.start()
    try:
        deadline = time.monotonic() + args.wait
        while not modem.wait_ready(min(0.2, max(deadline - time.monotonic(), 0))):
            status = modem.status
            stuck = hopeless(status)
            if stuck or time.monotonic() >= deadline:
                raise Refused(
                    not_ready(status, args.wait, stuck=stuck, running=running, doing=doing)
                )
        yield modem, simulated
    finally:
        modem.stop()
        if simulator is not None:
            simulator.stop()
        if quiet is not None:
            logging.getLogger("gsmbridge").removeHandler(quiet)
