"""Run ``gsmbridge --headless`` as a real subprocess and find its port from its log."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

LISTENING = re.compile(r"Webhook listening on http://127\.0\.0\.1:(\d+)/webhook")


class Headless:
    def __init__(
        self, data_dir: Path, *args: str, env: dict[str, str | None] | None = None
    ) -> None:
        self.data_dir = data_dir
        (data_dir / "config.toml").touch()
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GSMBRIDGE_")}
        full_env.update(
            {
                "GSMBRIDGE_AUTH_USERNAME": "u",
                "GSMBRIDGE_AUTH_PASSWORD": "p",
                "PYTHONUNBUFFERED": "1",
            }
        )
        for name, value in (env or {}).items():  # None removes a variable
            if value is None:
                full_env.pop(name, None)
            else:
                full_env[name] = value
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gsmbridge",
                "--headless",
                "--config",
                str(data_dir / "config.toml"),
                "--data-dir",
                str(data_dir),
                "--port",
                "0",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=full_env,
        )
        self.lines: list[str] = []
        self._port: int | None = None
        self._found = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            match = LISTENING.search(line)
            if match:
                self._port = int(match.group(1))
                self._found.set()
        self._found.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def port(self, timeout: float = 20) -> int:
        self._found.wait(timeout)
        if self._port is None:
            raise AssertionError(f"gsmbridge did not start:\n{self.output}")
        return self._port

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self._reader.join(5)
        return code

    def wait_for(self, text: str, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output:
                return True
            time.sleep(0.05)
        return False
