"""A child process whose output is read all the time and whose stop is bounded.

Two reader threads drain stdout and stderr line by line (a full pipe would
freeze the program), hand each line to a callback and keep the last lines for
diagnostics.  ``stop()`` terminates, waits, then kills.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import IO

log = logging.getLogger("gsmbridge.tunnel")


class ChildProcess:
    def __init__(
        self,
        argv: Sequence[str],
        on_line: Callable[[str, str], None],
        *,
        env: Mapping[str, str] | None = None,
        keep_lines: int = 200,
    ) -> None:
        """Start the program (OSError if it cannot be started)."""
        self.argv = list(argv)
        self._on_line = on_line
        self._lines: deque[str] = deque(maxlen=keep_lines)
        self._lock = threading.Lock()
        flags = 0
        if sys.platform == "win32":
            # The GUI has no console: without this every start flashes a console window.
            flags = subprocess.CREATE_NO_WINDOW  # type: ignore[attr-defined]
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
            text=True,
            encoding="utf-8",
            errors="replace",
            creationflags=flags,
        )
        self._readers = [
            threading.Thread(
                target=self._read,
                args=(name, stream),
                name=f"tunnel-{name}-{self.popen.pid}",
                daemon=True,
            )
            for name, stream in (("stdout", self.popen.stdout), ("stderr", self.popen.stderr))
        ]
        for reader in self._readers:
            reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def poll(self) -> int | None:
        return self.popen.poll()

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None while it still runs after ``timeout`` seconds."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def last_lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def _read(self, name: str, stream: IO[str] | None) -> None:
        if stream is None:
            return
        try:
            for raw in stream:
                line = raw.rstrip("\r\n")
                with self._lock:
                    self._lines.append(line)
                try:
                    self._on_line(name, line)
                except Exception:  # noqa: BLE001 - a parser bug must not stop the draining
                    log.exception("could not handle the tunnel's output line %r", line)
        except (OSError, ValueError):
            pass  # the pipe closed under us during stop()
        finally:
            try:
                stream.close()
            except OSError:
                pass

    def stop(self, timeout: float = 5.0) -> int | None:
        """Terminate (SIGTERM; TerminateProcess on Windows), then kill after ``timeout``."""
        if self.popen.poll() is None:
            try:
                self.popen.terminate()
            except OSError:
                pass
            if self.wait(timeout) is None:
                log.warning("%s did not stop within %.0f s; killing it", self.argv[0], timeout)
                try:
                    self.popen.kill()
                except OSError:
                    pass
                self.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        return self.popen.returncode
