"""Logging set-up shared by headless mode and the GUI: stderr and a rotating file."""

from __future__ import annotations

import logging
import logging.handlers
from io import TextIOWrapper
from pathlib import Path

from gsmbridge.core.private import log_tightened, opener, private_dir, tighten_existing

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def log_dir(data_dir: Path) -> Path:
    """Where the log files are (Help → Open log folder shows it)."""
    return data_dir / "logs"


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Each log file, also the new one after a rollover, created 0600 (numbers in DEBUG)."""

    def _open(self) -> TextIOWrapper:
        return open(  # noqa: SIM115 - the handler owns the stream
            self.baseFilename, self.mode, encoding=self.encoding, errors=self.errors, opener=opener
        )


def setup_logging(
    data_dir: Path | None, level: str = "INFO", *, stderr: bool = True
) -> Path | None:
    """Configure the root logger; return the log file's path (None without a data dir)."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    for handler in list(root.handlers):
        if getattr(handler, "_gsmbridge", False):
            root.removeHandler(handler)
            handler.close()
    formatter = logging.Formatter(FORMAT)
    handlers: list[logging.Handler] = []
    if stderr:
        handlers.append(logging.StreamHandler())
    log_file = None
    tightened: list[str] = []
    if data_dir is not None:
        folder = log_dir(data_dir)
        tightened = private_dir(data_dir) + private_dir(folder)
        tightened += tighten_existing(*sorted(folder.glob("gsmbridge.log*")))
        log_file = folder / "gsmbridge.log"
        handlers.append(
            PrivateRotatingFileHandler(
                log_file, maxBytes=5 * 1024 * 1024, backupCount=5, encoding="utf-8"
            )
        )
    for handler in handlers:
        handler.setFormatter(formatter)
        handler._gsmbridge = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    # waitress logs every queued task at WARNING; see web.server._QueueDepthFilter.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    log_tightened(tightened)  # now that it reaches the log file
    return log_file
