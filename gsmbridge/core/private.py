"""Private files: the data directory holds phone numbers and message texts.

On POSIX the data directory is made 0700 and the database (with its -wal and
-shm, which SQLite creates with the database's mode) and the logs 0600; files
and directories an older version left group- or world-readable are tightened
at start, and the caller logs once what changed.  On Windows nothing is done:
the profile's ACLs already keep other users out, and chmod there only toggles
the read-only flag.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import sys
from pathlib import Path, PureWindowsPath

from gsmbridge.config import secret_keys

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def applies() -> bool:
    """Whether POSIX modes are what keeps other users out (not on Windows)."""
    return sys.platform != "win32"


def private_dir(path: Path) -> list[str]:
    """Create ``path`` (0700) or tighten it; return what was tightened, for one log line."""
    if not applies():
        path.mkdir(parents=True, exist_ok=True)
        return []
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    return _tighten(path)


def private_file(path: Path) -> list[str]:
    """Create ``path`` empty (0600) if missing, else tighten it; return what was tightened."""
    if not applies():
        return []
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        return []
    except FileExistsError:
        return _tighten(path)


def tighten_existing(*paths: Path) -> list[str]:
    """Tighten those of ``paths`` that exist (a WAL, rotated logs)."""
    if not applies():
        return []
    changed: list[str] = []
    for path in paths:
        if path.exists():
            changed += _tighten(path)
    return changed


def opener(path: str, flags: int) -> int:
    """For ``open(..., opener=opener)``: a file created by it is 0600 (on POSIX)."""
    return os.open(path, flags, FILE_MODE if applies() else 0o666)


def _tighten(path: Path) -> list[str]:
    st = path.stat()
    mode = stat.S_IMODE(st.st_mode)
    if not mode & 0o077:
        return []
    if stat.S_ISDIR(st.st_mode) and (mode & stat.S_ISVTX or st.st_uid != os.getuid()):
        # A shared directory (/tmp, someone else's) is not ours to close.
        log.warning(
            "Data directory %s is readable by other users (%o) and is not yours to make "
            "private; choose a data directory of your own (--data-dir)",
            path,
            mode,
        )
        return []
    try:
        os.chmod(path, mode & ~0o077)
    except OSError as exc:
        log.warning(
            "%s is readable by other users (%o) and could not be made private: %s",
            path,
            mode,
            exc,
        )
        return []
    return [f"{path} ({mode:o} -> {mode & ~0o077:o})"]


def log_tightened(changed: list[str]) -> None:
    if changed:
        log.warning(
            "Made private (other users could read phone numbers and messages): %s",
            ", ".join(changed),
        )


def secrets_in(text: str) -> list[str]:
    """The secrets ``text`` (a config file) holds, in words; [] when it holds none.

    Which settings are secret is said by the settings schema; a key counts bare, quoted
    or dotted, with a non-empty value.
    """
    found = []
    for dotted, words in secret_keys().items():
        key = dotted.split(".", 1)[1]
        pattern = rf"""(?:^|[{{,.\s])["']?{key}["']?\s*=\s*(?!""|'')["'\w]"""
        if re.search(pattern, text, re.M):
            found.append(words)
    return found


def config_exposure(path: Path, text: str | None = None) -> str:
    """A warning when other users of this computer may read the config file and it
    holds a secret, else "" (``text``: the file's, read here when not given).

    POSIX: group- or other-readable.  Windows: chmod means nothing there; a file
    under the user's profile is private by the profile's ACLs, one elsewhere
    (``C:\\gsmbridge\\config.toml``) usually inherits "Users: read" from the drive.
    """
    if text is None:
        try:
            text = path.read_text(encoding="utf-8-sig", errors="replace")
        except OSError:
            return ""
    secrets = secrets_in(text)
    if not secrets:
        return ""  # nothing in it to protect (a file of limits, /dev/null)
    holds = ", ".join(secrets)
    if sys.platform == "win32":
        profile = os.environ.get("USERPROFILE", "")
        inside = bool(profile) and PureWindowsPath(str(path).lower()).is_relative_to(
            PureWindowsPath(profile.lower())
        )
        if inside:
            return ""
        return (
            f"Config {path} is outside your user profile, where other users of this PC "
            f"can usually read it ({holds}): keep it under {profile or 'your profile'} "
            "(the default) or remove other users from the folder's permissions"
        )
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return ""
    if not mode & 0o044:
        return ""
    return (
        f"Config {path} is readable by other users (mode {mode:o}) and holds {holds}: "
        f"chmod 600 {path}"
    )
