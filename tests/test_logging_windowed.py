"""The windowed gsmbridge.exe has no console: a command says, in a message box, to
use gsmbridge-cli.exe, and does nothing (no password generated for nobody to see)."""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import pytest

from gsmbridge.__main__ import main


class RecordingUser32:
    def __init__(self) -> None:
        self.boxes: list[tuple[object, str, str, int]] = []

    def MessageBoxW(self, owner: object, text: str, title: str, flags: int) -> int:  # noqa: N802
        self.boxes.append((owner, text, title, flags))
        return 1


class FakeWindll:
    def __init__(self) -> None:
        self.user32 = RecordingUser32()


def test_a_command_from_the_windowed_exe_asks_for_gsmbridge_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    windll = FakeWindll()
    monkeypatch.setattr(ctypes, "windll", windll, raising=False)
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(sys, "stdout", None)  # what a console=False PyInstaller exe has
    monkeypatch.setattr(sys, "stderr", None)
    config = tmp_path / "config.toml"
    code = main(["set-password", "--generate", "--config", str(config)])
    assert code == 2
    assert not config.exists()  # no password made that nobody could read
    [(_, text, title, _flags)] = windll.user32.boxes
    assert "gsmbridge-cli.exe" in title + text
    assert "gsmbridge-cli set-password --generate" in text


def test_with_a_console_the_command_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    windll = FakeWindll()
    monkeypatch.setattr(ctypes, "windll", windll, raising=False)
    monkeypatch.setattr(sys, "platform", "win32")
    config = tmp_path / "config.toml"
    assert main(["set-password", "--generate", "--config", str(config)]) == 0
    assert "password: " in capsys.readouterr().out
    assert config.exists() and windll.user32.boxes == []
