"""Start at login: an XDG autostart entry on Linux, an HKCU Run value on Windows,
a LaunchAgent on macOS.  No Qt here; the settings dialog calls ``set_enabled``.

On Windows the installer's "Start at login" task writes the same Run value (RunValue
in installer/gsmbridge.iss), so one switch turns off either; and Windows' own
Startup-apps switch (Task Manager, Settings > Apps > Startup) keeps the Run value but
marks it off in StartupApproved: that counts as off, and turning it on here turns it
back on there.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from gsmbridge.config import default_config_path, platform_data_dir

APP_ID = "gsmbridge"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
APPROVED_KEY = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
# StartupApproved values: 12 bytes, the first even (0x02) for on, odd (0x03) for off
# followed by when it was turned off.
_APPROVED_ON = b"\x02" + bytes(11)


def command(
    config_path: Path | None = None, data_dir: Path | None = None, flags: list[str] | None = None
) -> list[str]:
    """How to start the desktop app again: the frozen executable or this interpreter,
    with this run's config file and data directory where a login start would not find
    them by default (``--config``, ``--data-dir``, or ``GSMBRIDGE_DATA_DIR``, which the
    login session does not have): otherwise it starts on another, empty queue.  ``flags``:
    this run's setting flags (``--modem COM3`` as the README shows), kept too."""
    if getattr(sys, "frozen", False):
        argv = [sys.executable, "--minimized"]
    else:
        exe = Path(sys.executable)
        if os.name == "nt" and exe.with_name("pythonw.exe").exists():
            exe = exe.with_name("pythonw.exe")  # no console window at login
        argv = [str(exe), "-m", "gsmbridge", "--minimized"]
    if config_path is not None and not _same(config_path, default_config_path()):
        argv += ["--config", str(Path(config_path).resolve())]
    if data_dir is not None and not _same(data_dir, platform_data_dir()):
        argv += ["--data-dir", str(Path(data_dir).resolve())]
    return argv + list(flags or [])


def _same(a: Path, b: Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def _xdg_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autostart" / f"{APP_ID}.desktop"


def _mac_path() -> Path:
    return Path.home() / "Library" / "LaunchAgents" / f"org.{APP_ID}.plist"


# Characters that make the Desktop Entry spec quote an argument (double quotes only).
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def desktop_exec(argv: list[str]) -> str:
    """The Exec value for ``argv`` by the Desktop Entry spec: double quotes (shlex's
    single quotes are not understood), "`$\\ escaped inside them, every backslash doubled
    again by the string escape rule, and % doubled (a field code otherwise)."""
    parts = []
    for arg in argv:
        if any(c in _RESERVED for c in arg) or not arg:
            inner = "".join("\\" + c if c in '"`$\\' else c for c in arg)
            arg = f'"{inner}"'
        parts.append(arg.replace("\\", "\\\\").replace("%", "%%"))
    return " ".join(parts)


def desktop_entry(argv: list[str]) -> str:
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=gsmbridge\n"
        "Comment=CometChat SMS gateway through a USB GSM modem\n"
        f"Exec={desktop_exec(argv)}\n"
        f"Icon={APP_ID}\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def _plist(argv: list[str]) -> str:
    args = "".join(f"<string>{xml_escape(a)}</string>" for a in argv)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" '
        '"http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
        '<plist version="1.0"><dict>'
        f"<key>Label</key><string>org.{APP_ID}</string>"
        f"<key>ProgramArguments</key><array>{args}</array>"
        "<key>RunAtLoad</key><true/></dict></plist>\n"
    )


def disabled_by_windows() -> bool:
    """Windows' Startup-apps switch has gsmbridge off (Windows only, else False)."""
    if sys.platform != "win32":
        return False
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, APPROVED_KEY) as key:
            data, _kind = winreg.QueryValueEx(key, APP_ID)
    except OSError:
        return False  # no entry: Windows has never switched it
    return isinstance(data, bytes) and len(data) > 0 and data[0] & 1 == 1


def is_enabled() -> bool:
    """Will gsmbridge start at the next login?"""
    if sys.platform == "win32":
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                winreg.QueryValueEx(key, APP_ID)
        except OSError:
            return False
        return not disabled_by_windows()
    if sys.platform == "darwin":
        return _mac_path().exists()
    return _xdg_path().exists()


def set_enabled(enabled: bool, argv: list[str] | None = None) -> Path | str:
    """Create or remove the entry; return where it lives.  Raises OSError."""
    argv = argv or command()
    if sys.platform == "win32":
        import subprocess
        import winreg

        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            if enabled:
                winreg.SetValueEx(key, APP_ID, 0, winreg.REG_SZ, subprocess.list2cmdline(argv))
            else:
                try:
                    winreg.DeleteValue(key, APP_ID)
                except FileNotFoundError:
                    pass
        if enabled and disabled_by_windows():
            # Ticking the box means "start at login": switch Windows' own switch back on.
            with winreg.CreateKey(winreg.HKEY_CURRENT_USER, APPROVED_KEY) as key:
                winreg.SetValueEx(key, APP_ID, 0, winreg.REG_BINARY, _APPROVED_ON)
        return f"HKCU\\{RUN_KEY}\\{APP_ID}"
    path = _mac_path() if sys.platform == "darwin" else _xdg_path()
    if enabled:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = _plist(argv) if sys.platform == "darwin" else desktop_entry(argv)
        path.write_text(text, encoding="utf-8")
    else:
        path.unlink(missing_ok=True)
    return path
