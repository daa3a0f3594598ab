"""Stopping on Windows: the console control handler (a stand-in kernel32 records it),
and ``gsmbridge-cli stop`` against a real headless gsmbridge."""

from __future__ import annotations

import ctypes
import logging
import subprocess
import sys
import threading
import types
from pathlib import Path
from typing import Any

import pytest

from gsmbridge import headless
from gsmbridge.config import Settings
from gsmbridge.core import winconsole
from gsmbridge.core.instance import InstanceLock, StopRequest
from gsmbridge.web import server as server_mod
from tests.core.test_instance_win import _Windows
from tests.core.test_instance_win import windows as windows_lock
from tests.integration.headless import Headless

windows = windows_lock  # sys.platform is global: the instance lock takes msvcrt's too


class _Kernel32:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, bool]] = []

    def SetConsoleCtrlHandler(self, handler: Any, add: bool) -> int:  # noqa: N802 - Win32
        self.calls.append((handler, add))
        return 1


def _drop_log_handlers() -> None:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_gsmbridge", False)]:
        root.removeHandler(handler)
        handler.close()


def test_console_close_stops_headless_cleanly_within_the_budget(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path, windows: _Windows
) -> None:
    kernel32 = _Kernel32()
    monkeypatch.setattr(winconsole.sys, "platform", "win32")
    monkeypatch.setattr(ctypes, "WinDLL", lambda *_a, **_k: kernel32, raising=False)
    # sys.platform is global; the webhook's Windows sockets (SO_EXCLUSIVEADDRUSE, absent
    # here) are tested in tests/web/test_server_win.py, so the server binds as on Linux.
    monkeypatch.setattr(server_mod, "sys", types.SimpleNamespace(platform="linux"))
    data_dir = tmp_path / "data"
    codes: list[int] = []
    runner = threading.Thread(
        target=lambda: codes.append(headless.run(settings, data_dir)), daemon=True
    )
    runner.start()
    try:
        deadline = threading.Event()
        for _ in range(200):
            if kernel32.calls and InstanceLock(data_dir).held_elsewhere():
                break
            deadline.wait(0.05)
        assert kernel32.calls and kernel32.calls[0][1] is True
        handler = kernel32.calls[0][0]
        # Windows calls the handler on a thread of its own and ends the process when it
        # returns: it must return only once the stop is done.
        assert handler(winconsole.CTRL_CLOSE_EVENT) == 1
        assert not InstanceLock(data_dir).held_elsewhere()  # stopped, lock released
        runner.join(10)
        assert codes == [0]
    finally:
        _drop_log_handlers()
    log_text = (data_dir / "logs" / "gsmbridge.log").read_text(encoding="utf-8")
    assert "Received the console window closing, stopping" in log_text
    assert "gsmbridge stopped" in log_text


def test_handler_returns_after_its_budget_if_the_stop_hangs() -> None:
    asked = threading.Event()
    console = winconsole.ConsoleStop(asked.set, budget_s=0.2, kernel32=_Kernel32())
    assert console.handle(winconsole.CTRL_SHUTDOWN_EVENT) == 1
    assert asked.is_set()


def test_ctrl_break_asks_and_returns_at_once() -> None:
    asked = threading.Event()
    console = winconsole.ConsoleStop(asked.set, budget_s=30, kernel32=_Kernel32())
    assert console.handle(winconsole.CTRL_BREAK_EVENT) == 1  # no 30 s wait
    assert asked.is_set()


def test_not_windows_installs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    kernel32 = _Kernel32()
    monkeypatch.setattr(winconsole.sys, "platform", "linux")
    assert winconsole.ConsoleStop(lambda: None, kernel32=kernel32).install() is False
    assert kernel32.calls == []


def _stop(data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gsmbridge", "stop", "--data-dir", str(data_dir), *extra],
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_cli_stop_stops_a_running_headless_gsmbridge(tmp_path: Path) -> None:
    app = Headless(tmp_path)
    app.port()
    try:
        out = _stop(tmp_path, "--timeout", "60")
        assert out.returncode == 0, out.stderr
        assert "gsmbridge stopped" in out.stdout
        assert app.proc.wait(20) == 0
    finally:
        if app.proc.poll() is None:
            app.stop()
    app._reader.join(5)
    assert "Asked to stop (gsmbridge-cli stop)" in app.output
    assert not StopRequest(tmp_path).pending()  # nothing left to stop the next run


def test_cli_stop_with_nothing_running(tmp_path: Path) -> None:
    out = _stop(tmp_path)
    assert out.returncode == 0
    assert "not running" in out.stdout


def test_a_leftover_request_does_not_stop_the_next_run(tmp_path: Path) -> None:
    StopRequest(tmp_path).request()
    app = Headless(tmp_path)
    app.port()
    assert not app.wait_for("Asked to stop", timeout=2.5)
    assert app.stop() == 0


def test_installer_stops_the_running_version_before_the_mutex_check() -> None:
    iss = (Path(__file__).resolve().parents[1] / "installer" / "gsmbridge.iss").read_text(
        encoding="utf-8"
    )
    code = iss[iss.index("[Code]") :]
    setup = code[code.index("function InitializeSetup: Boolean;") :]
    setup = setup[: setup.index("\nend;") + 5]
    assert "'{#CliExeName}'" in setup and "FileExists(Cli)" in setup
    assert "Exec(Cli, 'stop --timeout 30'" in setup and "ewWaitUntilTerminated" in setup
    assert "Result := True;" in setup  # a failed stop never blocks the upgrade
    app_id = iss.split("AppId={", 1)[1].split("\n", 1)[0]  # "{GUID}" with one brace doubled
    assert f"Uninstall\\\\{app_id}_is1" in code.replace("\\", "\\\\")
