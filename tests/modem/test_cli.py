"""The modem CLI commands (modem list, simulate-modem), run through their argparse
parsers and as a subprocess.  ``gsmbridge send`` is tested in tests/test_cli_send.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gsmbridge.cli.modem import main


def test_modem_list_prints_a_header(capsys):
    assert main(["modem", "list", "--no-probe"]) == 0
    assert capsys.readouterr().out.split()[:2] == ["PORT", "VID:PID"]


def test_simulate_modem_runs_and_stops():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gsmbridge.cli.modem",
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


def test_simulate_modem_pty_on_windows_is_one_clear_line(capsys, monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    assert main(["simulate-modem", "--pty", "--duration", "0.1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gsmbridge: --pty needs Linux or macOS")
    assert "socket://HOST:PORT" in err


def test_simulate_modem_stops_on_ctrl_c_with_only_short_waits(capsys, monkeypatch):
    """Windows delivers Ctrl-C only between waits: every wait must be short, and the
    KeyboardInterrupt raised after one of them must stop the simulator cleanly."""
    import threading
    import time

    from gsmbridge.cli import modem as cli

    waits: list[float | None] = []
    real_sleep = time.sleep

    def windows_sleep(seconds: float | None = None) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            raise KeyboardInterrupt  # Ctrl-C, delivered when the wait returns
        real_sleep(0.01)

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(cli.time, "sleep", windows_sleep)
    codes: list[int] = []
    runner = threading.Thread(
        target=lambda: codes.append(main(["simulate-modem", "--listen", "127.0.0.1:0"])),
        daemon=True,
    )
    runner.start()
    runner.join(20)
    assert codes == [0], "simulate-modem did not stop on Ctrl-C"
    assert len(waits) == 3 and all(w is not None and w <= 1.0 for w in waits)
    assert "Simulated modem stopped; 0 SMS received." in capsys.readouterr().out


def test_simulate_modem_options_are_checked(capsys):
    with pytest.raises(SystemExit):
        main(["simulate-modem", "--garbage", "2"])
    assert "must be 0..1, not 2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["simulate-modem", "--drop-every", "-1"])
    assert "must be 0 or more, not -1" in capsys.readouterr().err


def test_simulate_modem_on_an_address_that_does_not_exist_is_one_line(capsys):
    assert main(["simulate-modem", "--listen", "999.1.1.1:7001", "--duration", "0.1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gsmbridge: cannot listen on 999.1.1.1:7001: ")
    assert err.count("\n") == 1 and "while attempting" not in err and "Traceback" not in err


@pytest.mark.parametrize("style", ["quectel", "huawei"])
def test_simulate_modem_counts_pin_tries_the_maker_s_way(style: str, modem_factory) -> None:
    """--pin-tries quectel once answered AT+QPINC while it said it was made by
    "gsmbridge": gsmbridge never asked it that way, and showed no count."""
    import re

    from tests.modem.conftest import wait_until

    proc = subprocess.Popen(
        [sys.executable, "-m", "gsmbridge.cli.modem", "simulate-modem", "--listen"]
        + ["127.0.0.1:0", "--pin", "1234", "--pin-tries", style, "--duration", "20"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = re.search(r"socket://\S+", line)
        assert url, line
        assert "It says it is a" in proc.stdout.readline()
        modem = modem_factory(url.group(0))
        assert wait_until(lambda: modem.status.state == "pin-required", timeout=10)
        assert wait_until(lambda: modem.status.pin_tries == 3)
    finally:
        proc.terminate()
        proc.wait(10)
