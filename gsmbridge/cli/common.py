"""Small helpers shared by the subcommands: the data directory, one-line errors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gsmbridge.config import default_data_dir


def data_dir_from_args(args: argparse.Namespace) -> Path:
    return Path(args.data_dir) if getattr(args, "data_dir", None) else default_data_dir()


def fail(message: str, code: int = 2) -> int:
    """Print one ``gsmbridge: ...`` line on stderr; return the exit code."""
    print(f"gsmbridge: {message}", file=sys.stderr)
    return code


def describe_os_error(exc: OSError) -> str:
    """``cannot open x: Permission denied``, without Python's ``[Errno 13]``."""
    text = str(exc)
    if text.startswith("[Errno") or text.startswith("[WinError"):
        reason = exc.strerror or text
        return f"{exc.filename}: {reason}" if exc.filename else reason
    return text


class CommandError(Exception):
    """An expected failure of a subcommand; ``main()`` prints it as one line."""
