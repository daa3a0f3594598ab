"""Saving the settings dialog's changes to the TOML file (no Qt; runs on the pool).

The running settings include environment overrides and command-line flags
(``--modem sim``, ``--port``); writing them all back would make a one-off
flag permanent.  So only the keys the user changed are written, on top of
what the file already says.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

from gsmbridge.config import Settings, hash_password, update_config_file


def changed_keys(old: Settings, new: Settings) -> list[str]:
    """Dotted names ("server.port") whose values differ."""
    keys = []
    for section in dataclasses.fields(Settings):
        a, b = getattr(old, section.name), getattr(new, section.name)
        for f in dataclasses.fields(a):
            if getattr(a, f.name) != getattr(b, f.name):
                keys.append(f"{section.name}.{f.name}")
    return keys


def get_key(settings: Settings, key: str) -> object:
    section, name = key.split(".", 1)
    return getattr(getattr(settings, section), name)


def set_key(settings: Settings, key: str, value: object) -> None:
    section, name = key.split(".", 1)
    setattr(getattr(settings, section), name, copy.deepcopy(value))


def set_password(settings: Settings, password: str) -> None:
    """Store a new password the only way the app writes one: as a scrypt hash."""
    settings.auth.password_hash = hash_password(password)
    settings.auth.password = ""


def write_changes(new: Settings, keys: list[str], path: Path) -> Settings:
    """Write ``keys`` of ``new`` into the config file at ``path``; return what was saved.

    A missing file starts from the defaults.  A file that does not load is never
    written over (ConfigError says what to fix in it): its keys would be lost.
    The previous file is kept as ``config.toml.bak``.
    """
    return update_config_file(path, {key: get_key(new, key) for key in keys})
