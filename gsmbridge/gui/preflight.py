"""Before Qt loads on Linux: are the system libraries of Qt's xcb plugin there?

Without them Qt aborts the process with a hint that names ``libxcb-cursor0``
whatever is missing.  This module reads the libraries the xcb plugin needs from
its ELF header (the DT_NEEDED entries of ``libqxcb.so`` and ``libQt6XcbQpa``),
tries to load those the wheel does not bundle, and names the Debian/Ubuntu
packages to install.  It never imports PySide6 (importing Qt is what aborts).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

# Where Debian's package name does not follow from the soname (see ``package_for``).
PACKAGES = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libstdc++.so.6": "libstdc++6",
    "libgcc_s.so.1": "libgcc-s1",
}
# Libraries of the C library itself: always there where Python runs.
SYSTEM = re.compile(r"^(libc|libm|libdl|libpthread|librt|ld-linux[-\w]*)\.so")

_DT_NEEDED, _SHT_DYNAMIC = 1, 6


def needed_libraries(path: Path) -> list[str]:
    """The DT_NEEDED sonames of an ELF shared object, in order ([] if it is not ELF)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF":
        return []
    bits64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if bits64:
        (shoff,) = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
        section = end + "IIQQQQIIQQ"  # name type flags addr offset size link info align entsize
        entry = end + "qQ"
    else:
        (shoff,) = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x2E)
        section = end + "IIIIIIIIII"
        entry = end + "iI"
    sections = [struct.unpack_from(section, data, shoff + i * shentsize) for i in range(shnum)]
    names: list[str] = []
    for sh in sections:
        if sh[1] != _SHT_DYNAMIC:
            continue
        strtab = sections[sh[6]]  # sh_link: the dynamic string table
        size = struct.calcsize(entry)
        for offset in range(sh[4], sh[4] + sh[5], size):
            tag, value = struct.unpack_from(entry, data, offset)
            if tag == 0:
                break
            if tag == _DT_NEEDED:
                start = strtab[4] + value
                names.append(data[start : data.index(b"\0", start)].decode())
    return names


def package_for(soname: str) -> str:
    """Debian/Ubuntu's package for a library: libxcb-icccm.so.4 -> libxcb-icccm4."""
    if soname in PACKAGES:
        return PACKAGES[soname]
    base, _, version = soname.partition(".so.")
    base = base.lower()
    version = version.split(".")[0]
    if not version:
        return base
    return f"{base}-{version}" if base[-1].isdigit() else f"{base}{version}"


def can_load(soname: str) -> bool:
    """Whether the dynamic loader finds and loads ``soname`` (with its own needs)."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def qt_directory() -> Path | None:
    """PySide6's Qt directory, found without importing PySide6."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "Qt"


def uses_xcb(environ: Mapping[str, str]) -> bool:
    """Whether Qt will pick its xcb (X11) plugin for this environment."""
    chosen = environ.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return chosen.split(";")[0].split(":")[0] == "xcb"
    if environ.get("WAYLAND_DISPLAY") and environ.get("XDG_SESSION_TYPE") == "wayland":
        return False  # Qt 6 picks its Wayland plugin there
    return bool(environ.get("DISPLAY"))


def missing_xcb_libraries(
    qt_dir: Path | None, loader: Callable[[str], bool] = can_load
) -> list[str]:
    """The libraries the xcb plugin needs that the system cannot load."""
    if qt_dir is None:
        return []
    plugin = qt_dir / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.is_file():
        return []
    bundled = qt_dir / "lib"
    to_read = [plugin]
    wanted: list[str] = []
    for path in to_read:
        try:
            names = needed_libraries(path)
        except (OSError, struct.error, ValueError, IndexError):
            continue  # unreadable: let Qt speak for itself
        for name in names:
            if (bundled / name).is_file():
                if name.startswith("libQt6Xcb"):
                    to_read.append(bundled / name)  # the xcb part's own needs
                continue
            if name not in wanted and not SYSTEM.match(name):
                wanted.append(name)
    return [name for name in wanted if not loader(name)]


def missing_message(missing: list[str]) -> str:
    packages = " ".join(dict.fromkeys(package_for(name) for name in missing))
    return (
        "gsmbridge: the desktop app cannot open a window: Qt's X11 (xcb) plugin needs "
        f"system libraries that are not installed: {', '.join(missing)}.\n"
        f"On Debian or Ubuntu install them with:\n    sudo apt install {packages}\n"
        "(on other distributions, the packages that provide those files), then start "
        "gsmbridge again; or run it without a window: gsmbridge --headless"
    )


def check_desktop(
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    qt_dir: Path | None = None,
    loader: Callable[[str], bool] | None = None,
) -> str:
    """ "" if Qt can open a window here as far as we can tell, else what to do."""
    loader = loader or can_load
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux") or not uses_xcb(environ):
        return ""
    missing = missing_xcb_libraries(qt_dir if qt_dir is not None else qt_directory(), loader)
    return missing_message(missing) if missing else ""


def tell_desktop(
    message: str,
    *,
    interactive: bool | None = None,
    which: Callable[[str], str | None] = shutil.which,
    run: Callable[[list[str]], object] = subprocess.Popen,
) -> bool:
    """Started from a menu, nobody reads stderr: also show a desktop notification
    (``notify-send``, where installed; it needs no Qt).  Best effort."""
    if interactive is None:
        interactive = sys.stderr is not None and sys.stderr.isatty()
    program = which("notify-send")
    if interactive or program is None:
        return False
    try:
        run([program, "--urgency=critical", "gsmbridge cannot open its window", message])
    except OSError:
        return False
    return True


__all__ = [
    "check_desktop",
    "missing_xcb_libraries",
    "needed_libraries",
    "package_for",
    "tell_desktop",
]
