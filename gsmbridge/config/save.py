"""Writing the settings: only the keys a person changed, patched into the file with
its comments kept, the previous file kept as ``.bak``; a file that does not load is
never written over."""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import re
import time
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from gsmbridge.config.load import HEADER, apply_values, check_ranges, load_settings, read_text
from gsmbridge.config.paths import default_config_path
from gsmbridge.config.schema import ConfigError, ConfigProblem, Settings, get_key

log = logging.getLogger("gsmbridge.config")


def settings_to_dict(settings: Settings) -> dict[str, Any]:
    """What the app writes: never the plain password."""
    data = dataclasses.asdict(settings)
    data["auth"].pop("password", None)
    return data


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write every key; the previous file is kept as ``config.toml.bak``."""
    path = path or default_config_path()
    return write_config_text(path, tomli_w.dumps(settings_to_dict(settings)))


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


def write_config_text(path: Path, text: str) -> Path:
    """Write atomically (temp file + rename) so a crash never leaves half a config;
    the previous file is copied to ``<name>.bak`` first."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        _private(tmp)  # the file holds a password hash and maybe an API key
        if path.exists():
            backup = backup_path(path)
            backup.write_bytes(path.read_bytes())
            _private(backup)
        replace_retrying(tmp, path)
    except OSError as exc:
        raise ConfigError(f"cannot write config file {path}: {exc.strerror or exc}") from exc
    return path


def _private(path: Path) -> None:
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass


_BUSY_WINERRORS = (5, 32)  # access denied, sharing violation: a scanner has the file open


def replace_retrying(src: Path, dst: Path, *, attempts: int = 6, delay_s: float = 0.05) -> None:
    """``os.replace``, tried again for a moment while Windows says the file is busy
    (antivirus, the search indexer and sync clients open files briefly)."""
    for attempt in range(attempts):
        try:
            os.replace(src, dst)
            return
        except PermissionError as exc:
            busy = getattr(exc, "winerror", None) in _BUSY_WINERRORS
            if not busy or attempt == attempts - 1:
                raise
            time.sleep(delay_s * 2**attempt)


# -- updating the file ---------------------------------------------------------

_KEY_LINE = re.compile(r"""^\s*["']?([A-Za-z0-9_-]+)["']?\s*=""")


def _toml_value(value: object) -> str:
    """One-line TOML; a backslash path goes in single quotes so it reads as written."""
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if (
        isinstance(value, str)
        and "\\" in value
        and "'" not in value
        and not any(c < " " for c in value)
    ):
        return f"'{value}'"
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


def _comment_of(line: str) -> str:
    """The trailing ``# comment`` of a one-line ``key = value`` (kept when patched)."""
    whole = tomllib.loads(line)
    for index in [i for i, c in enumerate(line) if c == "#"]:
        try:
            if tomllib.loads(line[:index]) == whole:
                return "  " + line[index:].strip()
        except tomllib.TOMLDecodeError:
            continue
    return ""


def patch_text(text: str, changes: dict[str, object | None]) -> str | None:
    """``text`` with the dotted keys in ``changes`` set (None removes a key), comments and
    layout kept; None where the file's shape is beyond this simple editor."""
    lines = text.splitlines()
    sections: dict[str, list[int]] = {}  # section -> [header line, key lines...]
    current = ""
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("["):
            header = HEADER.match(line)
            if not header or header.group(1) in sections:
                return None  # [[arrays]], [a.b] or a repeated table
            current = header.group(1)
            sections[current] = [number]
        elif _KEY_LINE.match(line):
            if not current:
                return None  # top-level dotted keys
            sections[current].append(number)
    additions: dict[str, list[str]] = {}
    for dotted, value in changes.items():
        section, key = dotted.split(".", 1)
        found = None
        for number in sections.get(section, [])[1:]:
            match = _KEY_LINE.match(lines[number])
            if match and match.group(1) == key:
                found = number
        if found is not None:
            try:
                comment = _comment_of(lines[found])
            except tomllib.TOMLDecodeError:
                return None  # a value over several lines
            removed = "\0"  # dropped below, after the positions are no longer needed
            lines[found] = removed if value is None else f"{key} = {_toml_value(value)}{comment}"
        elif value is not None:
            additions.setdefault(section, []).append(f"{key} = {_toml_value(value)}")
    out = list(lines)
    # Insert from the bottom so earlier positions stay valid.
    for section, new_lines in sorted(
        additions.items(), key=lambda item: -max(sections.get(item[0], [len(lines)]))
    ):
        if section in sections:
            at = max(sections[section]) + 1
            out[at:at] = new_lines
        else:
            out += (["", f"[{section}]"] if out else [f"[{section}]"]) + new_lines
    return "\n".join(line for line in out if line != "\0") + "\n"


def update_config_file(path: Path, changes: dict[str, object]) -> Settings:
    """Set ``changes`` (dotted keys) in the config file; return what the file now says.

    A file that does not load is never written over: ConfigError says what is
    wrong in it.  The user's comments and layout are kept where the file is
    simple enough to patch; otherwise it is rewritten whole.  Either way the
    previous file is kept as ``<name>.bak``.  ``auth.password`` is never written.
    """
    exists = path.exists()
    try:
        saved = load_settings(path, environ={})  # the file's values, not the environment's
    except ConfigError as exc:
        raise ConfigError(
            f"nothing was saved: {path} has a problem to fix first ({exc})", exc.problems
        ) from exc
    for dotted, value in changes.items():
        section, name = dotted.split(".", 1)
        setattr(getattr(saved, section), name, copy.deepcopy(value))
    saved.validate()
    saved.auth.password = ""  # the app never writes a plain password
    wanted = settings_to_dict(saved)
    text = None
    if exists:
        edits: dict[str, object | None] = {
            k: (None if k == "auth.password" else wanted[k.split(".")[0]][k.split(".")[1]])
            for k in changes
        }
        old_text, _ = read_text(path)
        text = patch_text(old_text or "", edits) if old_text is not None else None
        if text is not None and not _same_settings(text, saved):
            text = None  # the patch would not say what we mean: write it whole
    write_config_text(path, text if text is not None else tomli_w.dumps(wanted))
    return saved


def save_changes(new: Settings, keys: list[str], path: Path) -> Settings:
    """Write ``keys`` of ``new`` into the config file at ``path``; return what was saved.

    Only the keys a person changed are written: the running settings also hold the
    environment's and the command line's values (``--modem sim``), which must not become
    permanent.  A missing file starts from the defaults; one that does not load is never
    written over; ``auth.password`` is never written (see ``update_config_file``).
    """
    return update_config_file(path, {key: get_key(new, key) for key in keys})


def _same_settings(text: str, expected: Settings) -> bool:
    """Whether ``text`` alone (no environment) loads as ``expected``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    settings, problems = Settings(), list[ConfigProblem]()
    apply_values(settings, data, "the text", problems, {}, text)
    check_ranges(settings, problems, {})
    if any(not p.warning for p in problems):
        return False
    return settings_to_dict(settings) == settings_to_dict(expected)
