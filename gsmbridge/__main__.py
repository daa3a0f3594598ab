"""Command line: parse arguments, then run the GUI, headless mode, or a subcommand."""

from __future__ import annotations

import argparse
import getpass
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gsmbridge import __version__
from gsmbridge.cli.common import CommandError, data_dir_from_args, describe_os_error, fail
from gsmbridge.config import (
    COMMAND_LINE_FLAGS,
    ConfigError,
    Settings,
    default_config_path,
    generate_password,
    hash_password,
    load_settings,
)

if TYPE_CHECKING:
    from gsmbridge.core.store import Store

GLOBAL_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("--config", {"type": Path, "help": "TOML config file"}),
    ("--data-dir", {"type": Path, "help": "database and logs directory"}),
    ("--host", {"help": "address to listen on (default 127.0.0.1)"}),
    ("--port", {"type": int, "help": "port to listen on (default 8080)"}),
    (
        "--store",
        {
            "metavar": "URL",
            "help": "the queue several PCs share: postgresql://user:password@host:port/dbname "
            "(overrides store.url; default: this PC's own SQLite queue)",
        },
    ),
    (
        "--modem",
        {
            "help": "modem port: COM3, /dev/ttyUSB2, a pyserial URL (socket://host:port, "
            "rfc2217://...), or 'sim' for the built-in simulator; several separated by commas"
        },
    ),
    (
        "--log-level",
        {"choices": ["DEBUG", "INFO", "WARNING", "ERROR"], "help": "log detail (default INFO)"},
    ),
    (
        "--tunnel",
        {
            "choices": ["cloudflared", "ngrok", "off"],
            "help": "expose the webhook through a tunnel (overrides tunnel.program)",
        },
    ),
]
# The global options each command also takes after its name (the app takes them all);
# a command without settings (modem list, simulate-modem) takes none.
COMMAND_OPTIONS: dict[str, tuple[str, ...]] = {
    "contacts": ("--config", "--data-dir", "--store"),
    "set-password": ("--config",),
    "send": ("--config", "--data-dir", "--modem", "--log-level"),
    "stop": ("--data-dir",),
    "store": ("--config", "--data-dir", "--store"),
}
SETTINGS_OPTIONS = ("--config", "--data-dir")


class _HelpFormatter(argparse.HelpFormatter):
    """Shows the optional command as ``[COMMAND]`` in the usage (argparse writes
    ``COMMAND ...``, which reads as required)."""

    def _format_args(self, action: argparse.Action, default_metavar: str) -> str:
        if action.nargs == argparse.PARSER and not action.required:
            return f"[{self._metavar_formatter(action, default_metavar)(1)[0]}]"
        return super()._format_args(action, default_metavar)


def _leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [parser]
    return [leaf for a in subs for child in a.choices.values() for leaf in _leaf_parsers(child)]


def _accept_global_options(sub: argparse._SubParsersAction) -> None:
    """Let the global options that apply come after a command too
    (``contacts list --data-dir X``), and only those: ``--port`` means nothing there."""
    options = dict(GLOBAL_OPTIONS)
    for name, command in sub.choices.items():
        for leaf in _leaf_parsers(command):
            for flag in COMMAND_OPTIONS.get(name, ()):
                if flag not in leaf._option_string_actions:
                    leaf.add_argument(flag, default=argparse.SUPPRESS, **options[flag])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gsmbridge",
        description="CometChat custom SMS provider: sends chat notifications as SMS "
        "through a USB GSM modem.",
        epilog="Without a command, gsmbridge runs the desktop app (or the service, with "
        "--headless).  'gsmbridge COMMAND --help' shows a command's options.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"gsmbridge {__version__}")
    app = parser.add_argument_group("running the app (no command)")
    app.add_argument("--headless", action="store_true", help="run without a window")
    app.add_argument(
        "--minimized",
        action="store_true",
        help="start in the tray without showing the window (used at login)",
    )
    where = parser.add_argument_group("settings (the app and the commands that use them)")
    for flag, kwargs in GLOBAL_OPTIONS:
        (where if flag in SETTINGS_OPTIONS else app).add_argument(flag, **kwargs)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    contacts = sub.add_parser(
        "contacts",
        help="the local contacts directory (uid -> number)",
        description="The local contacts directory: the phone number of each CometChat "
        "user (uid).  Numbers without + are read in sending.default_region.",
    )
    csub = contacts.add_subparsers(
        dest="contacts_command", metavar="ACTION", title="actions", required=True
    )
    add = csub.add_parser("add", help="add or update a contact")
    add.add_argument("uid", help="the CometChat user id")
    add.add_argument("number", help="phone number, e.g. +14155550123 or (415) 555-0123")
    add.add_argument("--name", default="", help="a name to show (default: keep the old one)")
    add.set_defaults(func=cmd_contacts_add)
    rm = csub.add_parser("remove", help="remove contacts")
    rm.add_argument("uid", nargs="+", help="the CometChat user id(s) to remove")
    rm.set_defaults(func=cmd_contacts_remove)
    imp = csub.add_parser("import", help="import a CSV file with header uid,phone,name")
    imp.add_argument("file", type=Path, help="the CSV file")
    imp.set_defaults(func=cmd_contacts_import)
    exp = csub.add_parser("export", help="export contacts to a CSV file")
    exp.add_argument("file", type=Path, help="the CSV file to write")
    exp.add_argument("--force", action="store_true", help="replace the file if it exists")
    exp.set_defaults(func=cmd_contacts_export)
    lst = csub.add_parser("list", help="list contacts")
    lst.set_defaults(func=cmd_contacts_list)

    pw = sub.add_parser(
        "set-password", help="set the webhook's Basic Auth credentials (stored hashed)"
    )
    pw.add_argument("--username", help="user name (default: keep, or 'cometchat')")
    pw.add_argument("--generate", action="store_true", help="generate a strong password")
    pw.set_defaults(func=cmd_set_password, writes_config=True)

    stop = sub.add_parser(
        "stop",
        help="ask the running gsmbridge (window or headless) to quit, and wait for it",
        description="Asks the gsmbridge running on this data directory to quit cleanly "
        "(SMS in flight finished, tunnel ended) and waits until it has: exit 0 when it "
        "stopped or none was running, 1 when it is still running after --timeout.",
    )
    stop.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (default 30)")
    stop.set_defaults(func=cmd_stop)

    try:
        from gsmbridge.cli import modem as modem_cli
        from gsmbridge.cli import send
    except ImportError:  # the modem layer is optional for this parser to build
        pass
    else:
        send.register(sub)
        modem_cli.register(sub)
    from gsmbridge.cli import store as store_cli

    store_cli.register(sub)
    _accept_global_options(sub)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    func = getattr(args, "func", None)
    if func is not None and not _takes_settings(func):
        return Settings()  # modem list, simulate-modem: a broken config must not stop them
    # An explicit --config must exist, except where it is about to be written: by
    # set-password, or by the desktop app's first-run wizard.
    writes_config = getattr(args, "writes_config", False) or (
        getattr(args, "func", None) is None and not args.headless
    )
    settings = load_settings(args.config, must_exist=args.config is not None and not writes_config)
    if getattr(args, "host", None):
        settings.server.host = args.host
    if getattr(args, "port", None) is not None:
        settings.server.port = args.port
    if getattr(args, "store", None) is not None:
        settings.store.url = args.store
    if getattr(args, "modem", None):
        settings.modem.port = [p.strip() for p in args.modem.split(",") if p.strip()]
    if getattr(args, "log_level", None):
        settings.logging.level = args.log_level
    if getattr(args, "tunnel", None):
        settings.tunnel.program = "" if args.tunnel == "off" else args.tunnel
    settings.from_command_line = command_line_keys(args)
    settings.validate()
    return settings


def command_line_keys(args: argparse.Namespace) -> frozenset[str]:
    """The keys this command line set: an edit of the file does not move them."""
    return frozenset(
        key
        for attr, _flag, key in COMMAND_LINE_FLAGS
        if getattr(args, attr, None) not in (None, "")
    )


def _open_store(args: argparse.Namespace, settings: Settings) -> Store:
    from gsmbridge.core.db import StoreConfigError, StoreUnavailable
    from gsmbridge.core.store import Store
    from gsmbridge.service import DB_NAME

    if settings.store.url:  # the queue several PCs share: its contacts are everyone's
        try:
            return Store(settings.store.url)
        except (StoreConfigError, StoreUnavailable) as exc:
            raise CommandError(str(exc)) from exc
    path = data_dir_from_args(args) / DB_NAME
    try:
        return Store(path)
    except (OSError, sqlite3.Error) as exc:
        reason = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
        raise CommandError(f"cannot open the database {path}: {reason}") from exc


def cmd_contacts_add(args: argparse.Namespace, settings: Settings) -> int:
    from gsmbridge.core.contacts import add_contact
    from gsmbridge.core.phones import InvalidNumber

    store = _open_store(args, settings)
    try:
        contact, released = add_contact(
            store, args.uid, args.number, args.name, settings.sending.default_region
        )
    except (InvalidNumber, ValueError) as exc:
        return fail(str(exc))
    finally:
        store.close()
    print(
        f"saved {contact.uid} -> {contact.number}" + (f" ({contact.name})" if contact.name else "")
    )
    if released:
        print(f"released {len(released)} job(s) that were waiting for this number")
    return 0


def cmd_contacts_remove(args: argparse.Namespace, settings: Settings) -> int:
    from gsmbridge.core.contacts import remove_contact

    store = _open_store(args, settings)
    try:
        missing = [uid for uid in args.uid if not remove_contact(store, uid)]
    finally:
        store.close()
    removed = len(args.uid) - len(missing)
    print(f"removed {removed} contact(s)")
    if missing:
        return fail(f"no contact with uid {', '.join(missing)}", 1)
    return 0


def cmd_contacts_import(args: argparse.Namespace, settings: Settings) -> int:
    from gsmbridge.core.contacts import ContactsFileError, import_csv

    if args.file.is_dir():
        return fail(f"{args.file} is a folder: give the CSV file in it")
    if not args.file.is_file():
        return fail(f"no such file: {args.file}")
    store = _open_store(args, settings)
    try:
        result = import_csv(store, args.file, settings.sending.default_region)
    except ContactsFileError as exc:
        return fail(str(exc))
    finally:
        store.close()
    for line, problem in result.errors:
        print(f"{args.file}:{line}: {problem}", file=sys.stderr)
    for line, note in result.notes:
        print(f"{args.file}{f':{line}' if line else ''}: note: {note}", file=sys.stderr)
    when = ""
    if result.released_jobs and _running_here(args):
        # Another process's commit does not wake its sender (SQLite tells nobody): it
        # finds them at its next look, at the latest a minute later.
        when = " (the running gsmbridge sends them within a minute)"
    print(
        f"imported {result.imported} contact(s), {len(result.errors)} bad row(s), "
        f"released {result.released_jobs} waiting job(s){when}"
    )
    return 1 if result.errors else 0


def _running_here(args: argparse.Namespace) -> bool:
    from gsmbridge.core.instance import InstanceLock

    try:
        return InstanceLock(data_dir_from_args(args)).held_elsewhere()
    except Exception:  # noqa: BLE001 - only a courtesy note hangs on it
        return False


def cmd_contacts_export(args: argparse.Namespace, settings: Settings) -> int:
    from gsmbridge.core.contacts import ContactsFileError, export_csv

    if args.file.exists() and not args.force and not args.file.is_dir():
        return fail(f"{args.file} exists; use --force to replace it")
    store = _open_store(args, settings)
    try:
        n = export_csv(store, args.file)
    except ContactsFileError as exc:
        return fail(str(exc))
    finally:
        store.close()
    print(f"exported {n} contact(s) to {args.file}")
    return 0


def cmd_contacts_list(args: argparse.Namespace, settings: Settings) -> int:
    store = _open_store(args, settings)
    try:
        contacts = store.list_contacts()
    finally:
        store.close()
    if not contacts:
        print("no contacts")
        return 0
    width = max(len(c.uid) for c in contacts)
    for c in contacts:
        print(f"{c.uid:<{width}}  {c.number:<16}  {c.name}")
    return 0


def cmd_set_password(args: argparse.Namespace, settings: Settings) -> int:
    from gsmbridge.config import update_config_file
    from gsmbridge.core.config_watch import describe_running

    path = args.config or default_config_path()
    file_settings = load_settings(path, environ={})  # the file's values, not the environment's
    username = args.username or file_settings.auth.username or "cometchat"
    if ":" in username:  # Basic Auth splits at the first colon: it could never log in
        print(
            "gsmbridge: a user name cannot contain ':' (Basic Auth splits there)", file=sys.stderr
        )
        return 2
    if args.generate:
        password = generate_password()
    else:
        try:
            password = getpass.getpass("New webhook password: ")
            again = "" if len(password) < 8 else getpass.getpass("Again: ")
        except EOFError:
            print(
                "gsmbridge: no password was typed (the input ended); run it in a terminal, "
                "or use --generate",
                file=sys.stderr,
            )
            return 2
        if len(password) < 8:
            print("gsmbridge: use at least 8 characters (or --generate)", file=sys.stderr)
            return 2
        if again != password:
            print("gsmbridge: the passwords differ", file=sys.stderr)
            return 2
    update_config_file(
        path,
        {"auth.username": username, "auth.password_hash": hash_password(password)},
    )
    print(f"saved to {path}: username {username}")
    if args.generate:
        print(f"password: {password}")
        print("(shown once; paste it into CometChat's Basic Auth settings now)")
    # Exactly one line on whether a running gsmbridge now answers the new credentials.
    print(describe_running(settings, username, password))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from gsmbridge.core.instance import request_stop

    data_dir = data_dir_from_args(args)
    try:
        stopped = request_stop(data_dir, timeout=max(0.0, args.timeout))
    except OSError as exc:
        return fail(f"cannot ask gsmbridge to stop: {describe_os_error(exc)}", 1)
    if stopped is None:
        print(f"gsmbridge is not running (data directory {data_dir})")
        return 0
    if stopped:
        print("gsmbridge stopped")
        return 0
    return fail(
        f"gsmbridge is still running after {args.timeout:g} s; it stops when it has "
        "finished the SMS it is sending (or end it in Task Manager)",
        1,
    )


def _gui_runner() -> Any:
    """The desktop app's entry point, or None where Qt cannot load (a bare server)."""
    from gsmbridge.gui import preflight  # Qt-free: Qt aborts the process if xcb libs lack

    problem = preflight.check_desktop()
    if problem:
        print(problem, file=sys.stderr)
        preflight.tell_desktop(problem)
        raise SystemExit(1)  # the user asked for a window: no silent headless fallback
    try:
        from gsmbridge.gui.app import run as run_gui
    except ImportError as exc:
        print(
            f"gsmbridge: the desktop app cannot start here ({exc}); running headless. "
            "Use --headless to skip this message.",
            file=sys.stderr,
        )
        return None
    return run_gui


def run_app(args: argparse.Namespace, settings: Settings) -> int:
    data_dir = data_dir_from_args(args)
    if not args.headless:
        run_gui = _gui_runner()
        if run_gui is not None:
            return int(run_gui(settings, data_dir, args))
    from gsmbridge import headless

    return headless.run(settings, data_dir)


def _settings_despite(exc: ConfigError, args: argparse.Namespace) -> tuple[Settings, ConfigError]:
    """The settings to run on while the config has problems: every valid value of the
    file and the environment, then the flags; and the error with all problems in it."""
    import copy

    from gsmbridge.config import read_settings

    loaded = read_settings(args.config)
    settings = copy.deepcopy(loaded.settings)
    settings.loaded_from = loaded.settings.loaded_from
    settings.auth.unreadable = loaded.settings.auth.unreadable
    if getattr(args, "host", None):
        settings.server.host = args.host
    if getattr(args, "port", None) is not None:
        settings.server.port = args.port
    if getattr(args, "store", None) is not None:
        settings.store.url = args.store
    if getattr(args, "modem", None):
        settings.modem.port = [p.strip() for p in args.modem.split(",") if p.strip()]
    if getattr(args, "log_level", None):
        settings.logging.level = args.log_level
    if getattr(args, "tunnel", None):
        settings.tunnel.program = "" if args.tunnel == "off" else args.tunnel
    settings.from_command_line = command_line_keys(args)
    if settings.failed_checks():  # a bad flag: run without the flags
        settings = loaded.settings
    return settings, ConfigError(str(exc), tuple(loaded.problems) or exc.problems)


def _replace_unencodable_output() -> None:
    """Output redirected to a file (or a console) in a legacy code page (cp1252 on
    Windows) cannot take every contact's name: print a ``?`` for what it cannot
    hold instead of a UnicodeEncodeError traceback.  The frozen app runs in UTF-8
    mode (installer/gsmbridge.spec), so this is for the other installs."""
    import codecs

    stream = sys.stdout
    encoding = getattr(stream, "encoding", None)
    if stream is None or not encoding or getattr(stream, "errors", "") != "strict":
        return
    try:
        if codecs.lookup(encoding).name != "utf-8":
            stream.reconfigure(errors="replace")  # type: ignore[union-attr]
    except (LookupError, ValueError, OSError, AttributeError):
        pass  # not a text stream we can change: leave it as it is


def _tell_to_use_cli(command: list[str]) -> None:
    """A command run from the windowed gsmbridge.exe, which has no console to print on
    (``set-password --generate`` would show its password to nobody): say so in a box."""
    text = (
        f"'gsmbridge {' '.join(command)}' prints its answer in a console window, and "
        "gsmbridge.exe (the desktop app) has none; nothing was done.\n\n"
        "Run it in Command Prompt or PowerShell with gsmbridge-cli.exe, which is in the "
        f"same folder:\n\n    gsmbridge-cli {' '.join(command)}"
    )
    if sys.platform == "win32":
        import ctypes

        mb_iconinformation, mb_setforeground = 0x40, 0x10000
        ctypes.windll.user32.MessageBoxW(  # type: ignore[attr-defined]
            None, text, "gsmbridge: use gsmbridge-cli.exe", mb_iconinformation | mb_setforeground
        )
        return
    try:  # no console elsewhere either (started from a menu with its output closed)
        from PySide6.QtWidgets import QApplication, QMessageBox

        _app = QApplication.instance() or QApplication(sys.argv[:1])
        QMessageBox.information(None, "gsmbridge: use a terminal", text)
    except Exception:  # noqa: BLE001 - no desktop either: the exit code is all that is left
        pass


def main(argv: list[str] | None = None) -> int:
    _replace_unencodable_output()
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is not None and sys.stdout is None:
        _tell_to_use_cli(list(sys.argv[1:] if argv is None else argv))
        return 2
    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        print(f"gsmbridge: configuration error: {exc}", file=sys.stderr)
        if getattr(args, "func", None) is None and not args.headless:
            # The window shows what is wrong where, and runs on every valid value the file
            # has (credentials and limits included), never on defaults; the file is left alone.
            run_gui = _gui_runner()
            if run_gui is not None:
                settings, exc = _settings_despite(exc, args)
                return int(run_gui(settings, data_dir_from_args(args), args, config_error=exc))
        return 2
    func = getattr(args, "func", None)
    try:
        if func is not None:
            return int(func(args, settings) if _takes_settings(func) else func(args))
        return run_app(args, settings)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - a clear line, not a traceback
        from gsmbridge.core.db import StoreConfigError
        from gsmbridge.core.instance import AlreadyRunning, DataDirUnusable
        from gsmbridge.web.server import ServerError

        # StoreConfigError: the shared store refuses this PC; it must not start.
        said = AlreadyRunning | DataDirUnusable | ServerError | ConfigError | CommandError
        if isinstance(exc, said | StoreConfigError):
            print(f"gsmbridge: {exc}", file=sys.stderr)
            return 1
        if func is not None and isinstance(exc, OSError | ValueError | sqlite3.Error):
            # A command's expected failure that slipped through: still one line.
            reason = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
            print(f"gsmbridge: {reason}", file=sys.stderr)
            return 1
        raise


def _takes_settings(func: Any) -> bool:
    return func.__code__.co_argcount >= 2


if __name__ == "__main__":
    sys.exit(main())
