"""``gsmbridge modem ussd`` with the app's settings (file, environment, flags, PIN),
against the simulator over socket://, through the real entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gsmbridge.__main__ import main
from gsmbridge.core.instance import InstanceLock

PIN = "4321"
RUSSIAN = "Баланс: 150,00 р."


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _clean_env: None) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))
    monkeypatch.setenv("GSMBRIDGE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_answer_with_port_and_pin_from_the_config_file(home, sim_factory, capsys):
    sim = sim_factory(pin=PIN, ussd_answer=RUSSIAN, ussd_coding="ucs2", ussd_delay_s=0.05)
    path = home / "gsmbridge.toml"
    path.write_text(f'[modem]\nport = ["{sim.url}"]\npin = "{PIN}"\n', encoding="utf-8")
    assert main(["modem", "ussd", "*100#", "--config", str(path), "--wait", "20"]) == 0
    assert capsys.readouterr().out == RUSSIAN + "\n"
    assert sim.pin_attempts == [PIN]
    assert [r for r, _ in sim.modem.ussd_requests] == ["*100#"]


def test_pin_from_the_environment_in_a_real_process(home, sim_factory):
    sim = sim_factory(pin=PIN, ussd_delay_s=0.05)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GSMBRIDGE_")}
    env.update(
        XDG_CONFIG_HOME=str(home / "config-home"),
        GSMBRIDGE_DATA_DIR=str(home / "data"),
        GSMBRIDGE_MODEM_PIN=PIN,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "gsmbridge", "modem", "ussd", "*100#", "--modem", sim.url],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == sim.options.ussd_answer
    assert sim.pin_attempts == [PIN]


def test_the_builtin_simulator_says_so(home, capsys):
    assert main(["modem", "ussd", "*100#", "--modem", "sim"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Your balance is") and "simulated modem" in out[1]


@pytest.mark.parametrize("code", ["*100#;AT+CFUN=1,1", "abc", "", "1" * 161])
def test_a_bad_code_is_one_line_and_never_sent(home, sim_factory, capsys, code):
    sim = sim_factory()
    assert main(["modem", "ussd", code, "--modem", sim.url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gsmbridge: ") and "digits, * and # only" in err
    assert err.count("\n") == 1
    assert not any("CUSD" in c or "CFUN" in c for c in sim.commands)


def test_no_answer_is_one_line(home, sim_factory, capsys):
    sim = sim_factory(ussd_coding="none")
    assert main(["modem", "ussd", "*100#", "--modem", sim.url, "--timeout", "0.5"]) == 1
    err = capsys.readouterr().err
    assert err == "gsmbridge: no answer to *100# within 0.5 s\n"
    assert "AT+CUSD=2" in sim.commands


def test_an_error_is_one_line(home, sim_factory, capsys):
    sim = sim_factory(ussd_coding="error")
    assert main(["modem", "ussd", "*100#", "--modem", sim.url]) == 1
    assert capsys.readouterr().err == "gsmbridge: USSD *100# failed: +CME ERROR: 100\n"


def test_refuses_the_modem_of_the_running_app(home, sim_factory, capsys):
    sim = sim_factory()
    path = home / "gsmbridge.toml"
    path.write_text(f'[modem]\nport = ["{sim.url}"]\n', encoding="utf-8")
    lock = InstanceLock(home / "data")
    lock.acquire()
    try:
        assert main(["modem", "ussd", "*100#", "--config", str(path)]) == 1
    finally:
        lock.release()
    assert "Check balance on its Modem tab" in capsys.readouterr().err
    assert sim.modem.ussd_requests == []


def test_a_sim_without_its_pin_says_the_modem_cannot_answer_ussd(home, sim_factory, capsys):
    """Found by a reviewer: the PIN error said "the modem cannot send" for a USSD code."""
    sim = sim_factory(pin=PIN)
    assert main(["modem", "ussd", "*100#", "--modem", sim.url, "--wait", "5"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gsmbridge: the modem cannot answer USSD: pin-required")
    assert "GSMBRIDGE_MODEM_PIN" in err and sim.pin_attempts == []
