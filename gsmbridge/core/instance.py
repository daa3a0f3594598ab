"""One running gsmbridge per data directory: two would fight over the modem and the port."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO


class AlreadyRunning(RuntimeError):
    pass


class InstanceLock:
    """An OS file lock, released by the OS if the process dies (even with kill -9)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "gsmbridge.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held open while running
        try:
            if os.name == "nt":
                import msvcrt

                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.seek(0)
            pid = handle.read().strip()
            handle.close()
            raise AlreadyRunning(
                f"gsmbridge is already running with data directory {self.path.parent}"
                + (f" (process {pid})" if pid else "")
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
