"""One running gsmbridge per data directory: two would fight over the modem and the port.

Also how ``gsmbridge-cli stop`` asks that instance to quit: a request file next to
the lock, which the running instance looks for (headless every second, the
window on a timer) and removes.  Whoever may write the data directory may stop
the gateway anyway (it holds the database), so the file is its own credential;
it needs no port, no password (only its hash is stored) and works for the
window and headless alike.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import IO

# On Windows the lock is mandatory: a locked byte cannot be read by anyone else.  So
# the lock sits far past the pid (locking beyond the end of a file is allowed there).
LOCK_OFFSET = 1 << 20
STOP_FILE = "gsmbridge.stop"


class AlreadyRunning(RuntimeError):
    def __init__(self, message: str, pid: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid


class DataDirUnusable(OSError):
    """The data directory cannot be made or written (a file's path, no permission, a
    read-only disk): said in one line, never as a traceback."""


def read_pid(path: Path) -> int | None:
    """The pid the running instance wrote; None if it cannot be read for any reason
    (locked, being written, removed, garbage): then the pid is simply unknown."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(32)
        return int(head.decode("ascii").strip())
    except (OSError, ValueError):
        return None


class InstanceLock:
    """An OS file lock, released by the OS if the process dies (even with kill -9)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "gsmbridge.lock"
        self._file: IO[bytes] | None = None

    def acquire(self) -> None:
        # The lock is the first thing in a new data directory: made private here, or the
        # first start "tightens" a directory gsmbridge itself just made, with a warning.
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle = open(self.path, "a+b")  # noqa: SIM115 - held open while running
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if isinstance(exc, FileExistsError | NotADirectoryError):
                reason = "a file of that name is in the way"
            raise DataDirUnusable(
                f"cannot use {self.path.parent} as the data directory ({reason}); "
                "choose another with --data-dir"
            ) from exc
        try:
            if sys.platform == "win32":
                import msvcrt

                handle.seek(LOCK_OFFSET)
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            pid = read_pid(self.path)
            raise AlreadyRunning(
                f"gsmbridge is already running with data directory {self.path.parent}"
                + (f" (process {pid})" if pid else ""),
                pid,
            ) from exc
        try:
            handle.seek(0)
            handle.truncate(0)
            handle.write(str(os.getpid()).encode("ascii"))
            handle.flush()
        except OSError:
            pass  # the pid is only informative; the lock is what counts
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def held_elsewhere(self) -> bool:
        """Whether another process holds the lock (a running instance); never keeps it."""
        if self._file is not None:
            return False
        try:
            self.acquire()
        except AlreadyRunning:
            return True
        self.release()
        return False


class StopRequest:
    """The request file ``gsmbridge-cli stop`` leaves for the running instance."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / STOP_FILE

    def request(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{os.getpid()}\n", encoding="ascii")

    def pending(self) -> bool:
        return self.path.exists()

    def clear(self) -> None:
        """Called by the instance holding the lock: at start (a leftover request must
        not stop the next run) and when it acts on one."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            pass  # a busy file on Windows: it is looked at again, and cleared at start


def request_stop(data_dir: Path, timeout: float = 30.0, poll: float = 0.2) -> bool | None:
    """Ask the instance running on ``data_dir`` to quit and wait until it has.

    None: none was running; True: it stopped; False: still running after ``timeout``.
    """
    lock = InstanceLock(data_dir)
    if not lock.held_elsewhere():
        return None
    stop = StopRequest(data_dir)
    stop.request()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(poll)
        if not lock.held_elsewhere():
            stop.clear()
            return True
    return False


# The ports the running instance opened (one a line), so a command (``send``, ``modem
# ussd``) knows which modem it holds, whatever the command line that started it said.
PORTS_FILE = "gsmbridge.ports"


def write_running_ports(data_dir: Path, ports: list[str]) -> None:
    try:
        (Path(data_dir) / PORTS_FILE).write_text("".join(f"{p}\n" for p in ports), "utf-8")
    except OSError:
        pass  # informative only: a command then falls back to the config file's ports


def read_running_ports(data_dir: Path) -> list[str] | None:
    """The running instance's ports; None when it left no list (an older version)."""
    try:
        text = (Path(data_dir) / PORTS_FILE).read_text("utf-8")
    except OSError:
        return None
    return [line.strip() for line in text.splitlines() if line.strip()]


def clear_running_ports(data_dir: Path) -> None:
    try:
        (Path(data_dir) / PORTS_FILE).unlink(missing_ok=True)
    except OSError:
        pass


# -- Pause sending, remembered across restarts -----------------------------------------
# A person pauses for a reason (no credit, a bad SIM): a restart (the PC's, or Restart
# service) must not resume sending without a word.  The file holds when it was paused.
PAUSED_FILE = "sending.paused"


def remember_paused(data_dir: Path, paused: bool, at: float) -> str:
    """Write (or remove) the pause; return "" or why it could not be kept."""
    path = Path(data_dir) / PAUSED_FILE
    try:
        if paused:
            path.write_text(f"{at:.0f}\n", "utf-8")
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    return ""


def paused_since(data_dir: Path) -> float | None:
    """When sending was paused, if it still is; None when it is not paused."""
    path = Path(data_dir) / PAUSED_FILE
    try:
        text = path.read_text("utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError:
        return 0.0  # there but unreadable: still paused, since unknown
    try:
        return float(text)
    except ValueError:
        return 0.0
