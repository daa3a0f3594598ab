"""The modem CLI commands, run through their argparse parsers and as a subprocess."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gsmbridge.modem.cli import main


def test_send_via_sim(capsys):
    assert main(["send", "+31612345678", "Hello ☃ " * 10, "--modem", "sim"]) == 0
    out = capsys.readouterr().out
    assert "encoding ucs2, 2 parts, references 0, 1" in out


def test_send_takes_the_global_modem_option(capsys):
    assert main(["--modem", "sim", "send", "+31612345678", "hi"]) == 0
    assert "encoding gsm7, 1 part, references 0" in capsys.readouterr().out


def test_send_without_modem_fails_clearly(capsys, monkeypatch):
    monkeypatch.delenv("GSMBRIDGE_MODEM_PORT", raising=False)
    assert main(["send", "+31612345678", "hi"]) == 2
    assert "no modem given" in capsys.readouterr().err


def test_send_uses_the_environment(capsys, monkeypatch):
    monkeypatch.setenv("GSMBRIDGE_MODEM_PORT", "sim")
    assert main(["send", "+31612345678", "hi", "--no-smart", "--max-parts", "1"]) == 0
    assert "references 0" in capsys.readouterr().out


def test_send_invalid_number(capsys):
    assert main(["send", "not a number", "hi", "--modem", "sim"]) == 1
    assert "error: send failed: invalid number" in capsys.readouterr().err


def test_send_to_a_missing_modem_gives_up(capsys):
    assert (
        main(["send", "+31612345678", "hi", "--modem", "socket://127.0.0.1:1", "--wait", "0.3"])
        == 1
    )
    assert "modem not ready" in capsys.readouterr().err


def test_modem_list_prints_a_header(capsys):
    assert main(["modem", "list", "--no-probe"]) == 0
    assert capsys.readouterr().out.split()[:2] == ["PORT", "VID:PID"]


def test_simulate_modem_runs_and_stops():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gsmbridge.modem.cli",
            "simulate-modem",
            "--listen",
            "127.0.0.1:0",
            "--cms-error-every",
            "3",
            "--duration",
            "0.2",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Simulated modem at socket://127.0.0.1:" in proc.stdout
    assert "0 SMS received" in proc.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_simulate_modem_on_a_pty(capsys):
    assert main(["simulate-modem", "--pty", "--duration", "0.1"]) == 0
    assert "Simulated modem on /dev/" in capsys.readouterr().out
