"""The real `gsmbridge` command opening the desktop app (offscreen) in a subprocess.

Covers what an in-process test cannot: the event loop of ``QApplication.exec``,
a second launch reaching the first across processes, and SIGTERM.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import Client, payload

LISTENING = re.compile(r"Webhook listening on http://127\.0\.0\.1:(\d+)/webhook")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGTERM")


def launch(tmp_path, *extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GSMBRIDGE_")}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        GSMBRIDGE_AUTH_USERNAME="u",
        GSMBRIDGE_AUTH_PASSWORD="p-long-enough",
        PYTHONUNBUFFERED="1",
    )
    (tmp_path / "config.toml").touch()
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gsmbridge",
            "--config",
            str(tmp_path / "config.toml"),
            "--data-dir",
            str(tmp_path / "data"),
            "--port",
            "0",
            "--modem",
            "sim",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def wait_port(tmp_path, proc: subprocess.Popen, timeout: float = 20) -> int:
    log = tmp_path / "data" / "logs" / "gsmbridge.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        if log.exists():
            match = LISTENING.search(log.read_text(errors="replace"))
            if match:
                return int(match.group(1))
        time.sleep(0.05)
    raise TimeoutError("the app did not start serving")


def test_gui_launch_second_launch_and_sigterm(tmp_path):
    first = launch(tmp_path)
    try:
        port = wait_port(tmp_path, first)
        status, _, body = Client(port, "u", "p-long-enough").post("/webhook", payload())
        assert status in (200, 201, 202), body

        second = launch(tmp_path)
        out, _ = second.communicate(timeout=20)
        assert second.returncode == 0, out
        log = (tmp_path / "data" / "logs" / "gsmbridge.log").read_text()
        assert "Another launch asked for this window" in log

        first.send_signal(signal.SIGTERM)
        out, _ = first.communicate(timeout=20)
        assert first.returncode == 0, out
        assert "Traceback" not in out
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    log = (tmp_path / "data" / "logs" / "gsmbridge.log").read_text()
    assert "gsmbridge stopped" in log
