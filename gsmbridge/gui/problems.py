"""Problems said plainly: what happened, why, what to do, and the buttons that help.

No Qt: the window shows these in its banners.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from gsmbridge.config import ConfigError, Settings
from gsmbridge.core.db import StoreConfigError
from gsmbridge.core.instance import AlreadyRunning
from gsmbridge.modem.status import ModemState, ModemStatus, pin_tries_text
from gsmbridge.web.server import ExposureError, ServerError


@dataclass(frozen=True)
class Problem:
    """Something the user must fix, said plainly: what, why, what to do."""

    title: str
    message: str
    advice: str
    actions: tuple[tuple[str, str], ...] = ()


def explain_start_error(exc: BaseException, settings: Settings, config_path: Path) -> Problem:
    """Turn a start-up exception into words and the buttons that help."""
    again = ("start", "Start again")
    open_settings = ("settings", "Settings…")
    text = str(exc)
    if isinstance(exc, ExposureError):
        return Problem(
            "The webhook is not running: no credentials are set",
            text,
            "Set a user name and password in Settings → Server, or listen on 127.0.0.1; "
            "then press Start again.",
            (open_settings, again),
        )
    if isinstance(exc, ServerError):
        if "in use" in text:
            port = settings.server.port
            return Problem(
                f"The webhook is not running: port {port} is in use",
                text,
                "Choose another port in Settings → Server (then update the webhook URL in "
                "CometChat), or stop the other program; then press Start again.",
                (open_settings, again),
            )
        return Problem(
            "The webhook is not running",
            text,
            "Check the host address in Settings → Server; then press Start again.",
            (open_settings, again),
        )
    if isinstance(exc, ConfigError):
        return config_problem(exc, settings, config_path)
    if isinstance(exc, StoreConfigError):  # the shared queue (store.url) refuses this PC
        return Problem(
            "The shared queue refuses this PC",
            text,
            "Check store.url in the configuration file (the database server's address, "
            "user and password) and that this gsmbridge is as new as the others; then press "
            "Start again. Without store.url this PC keeps its own queue.",
            ((("open-config", "Open the file"),) if config_path.exists() else ()) + (again,),
        )
    if isinstance(exc, AlreadyRunning):
        return Problem("gsmbridge is already running", text, "Use the running window.", ())
    if isinstance(exc, sqlite3.Error | OSError) or "database" in text:
        return Problem(
            "The queue database cannot be opened",
            text,
            "Check that the data directory is writable and the disk is not full; "
            "then press Start again.",
            (again,),
        )
    return Problem(
        "gsmbridge could not start",
        f"{type(exc).__name__}: {text}",
        "See the Log tab for details; then press Start again.",
        (again,),
    )


def config_problem(exc: ConfigError, settings: Settings, config_path: Path) -> Problem:
    """A config file that does not load: what is wrong where, and that nothing was lost.

    The app runs on every value the file has that is valid (see config.read_settings);
    the file itself is left alone, so the user fixes it in an editor.
    """
    errors = [p for p in exc.problems if not p.warning] or None
    lines = [p.message for p in errors] if errors else [str(exc)]
    count = f"{len(lines)} problems" if len(lines) > 1 else "a problem"
    in_file = bool(errors and any(p.origin == str(config_path) for p in errors))
    advice = (
        f"gsmbridge runs on the rest of {config_path} and has not changed it. Fix the file "
        "(Open the file), then quit gsmbridge and start it again; Settings cannot save "
        "until the file loads."
        if in_file
        else "gsmbridge runs on the other settings. Fix it where it is set (the environment "
        "or the command line), then start gsmbridge again."
    )
    if settings.auth.unreadable:
        advice = (
            f"The webhook answers 401 to everyone meanwhile: {settings.auth.unreadable}, "
            "and it never runs open instead. " + advice
        )
    actions = (("open-config", "Open the file"),) if config_path.exists() else ()
    return Problem(
        f"The configuration file has {count}" if in_file else f"The configuration has {count}",
        "\n".join(lines[:5]) + (f"\n… and {len(lines) - 5} more" if len(lines) > 5 else ""),
        advice,
        actions,
    )


def modem_problem(status: ModemStatus) -> Problem | None:
    """The banner for a modem that needs a person, or None."""
    port = status.port
    if status.state == ModemState.PIN_REQUIRED:
        return Problem(
            f"The SIM in {port} needs its PIN",
            "Nothing is sent until the SIM is unlocked.",
            f"Enter the PIN in the Modem tab. Careful: {pin_tries_text(status.pin_tries)}.",
            (("modem", "Modem tab"),),
        )
    if status.state == ModemState.PUK_REQUIRED:
        return Problem(
            f"The SIM in {port} is locked",
            "Too many wrong PINs: the SIM needs its PUK.",
            "Unlock it in a phone with the PUK from the SIM's card, then press Reconnect.",
            (("reconnect", "Reconnect"),),
        )
    if status.state == ModemState.DENIED:
        return Problem(
            f"The network refused the SIM in {port}",
            status.last_error,
            "Check that the SIM is active and has credit (try it in a phone).",
            (("modem", "Modem tab"),),
        )
    if status.state == ModemState.ERROR or (
        status.state == ModemState.DISCONNECTED and status.last_error
    ):
        return Problem(
            f"No modem answers on {port}",
            status.last_error,
            "Check that the modem is plugged in and choose its port in the Modem tab. On "
            "Linux your user needs the dialout group, and ModemManager may hold the port.",
            (("modem", "Modem tab"), ("reconnect", "Reconnect")),
        )
    return None


def power_problem(note: str, kept_awake: bool) -> Problem | None:
    """The banner for a PC that may fall asleep (Windows' power plan), or None."""
    if not note or kept_awake:
        return None
    # The plan's note already says what to do; a refused keep-awake does not.
    refused = note.startswith("cannot keep")
    advice = "Set Sleep to Never in Windows' power settings (on mains power)." if refused else ""
    return Problem(
        "This PC may fall asleep and miss notifications", note, advice, (("settings", "Settings…"),)
    )
