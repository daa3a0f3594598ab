"""The modem CLI commands (modem list, simulate-modem), run through their argparse
parsers and as a subprocess.  ``gsmbridge send`` is tested in tests/test_cli_send.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gsmbridge.modem.cli import main


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
