"""Logging set-up shared by headless mode and the GUI: stderr and a rotating file."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def log_dir(data_dir: Path) -> Path:
    """Where the log files are (Help → Open log folder shows it)."""
    return data_dir / "logs"


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
    if data_dir is not None:
        folder = log_dir(data_dir)
        folder.mkdir(parents=True, exist_ok=True)
        log_file = folder / "gsmbridge.log"
        handlers.append(
            logging.handlers.RotatingFileHandler(
                log_file, maxBytes=5 * 1024 * 1024, backupCount=5, encoding="utf-8"
            )
        )
    for handler in handlers:
        handler.setFormatter(formatter)
        handler._gsmbridge = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    # waitress logs every queued task at WARNING; see web.server._QueueDepthFilter.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return log_file
