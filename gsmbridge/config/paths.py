"""Where the config file and the data directory are by default (platformdirs)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from gsmbridge.config.schema import APP_NAME, ENV_PREFIX

# -- paths -------------------------------------------------------------------


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def default_data_dir() -> Path:
    env = os.environ.get(ENV_PREFIX + "DATA_DIR")
    if env:
        return Path(env)
    return platform_data_dir()


def platform_data_dir() -> Path:
    """The data directory without ``GSMBRIDGE_DATA_DIR``: what a start at login finds."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
