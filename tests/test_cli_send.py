"""``gsmbridge send`` with the app's settings, against the simulator over socket://:
the PIN from the environment and from the config file, modem.port, the default
region, fast failures (no such port, a SIM without its PIN, the running app)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gsmbridge.__main__ import main
from gsmbridge.core.instance import InstanceLock
from gsmbridge.simulator import ModemSimulator
from tests.modem import conftest as modem_fixtures

sim_factory = modem_fixtures.sim_factory  # the fixture, shared with the modem tests
PIN = "4321"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _clean_env: None) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))
    monkeypatch.setenv("GSMBRIDGE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def config(home: Path, text: str) -> Path:
    path = home / "gsmbridge.toml"
    path.write_text(text, encoding="utf-8")
    return path


def sent_numbers(sim: ModemSimulator) -> list[str]:
    return [m.number for m in sim.sent]


def test_pin_and_port_from_the_config_file(home: Path, sim_factory, capsys) -> None:
    sim = sim_factory(pin=PIN)
    path = config(home, f'[modem]\nport = ["{sim.url}"]\npin = "{PIN}"\n')
    assert main(["send", "--config", str(path), "+31612345678", "hi", "--wait", "20"]) == 0
    assert "Sent to +31612345678: encoding gsm7, 1 part" in capsys.readouterr().out
    assert sim.pin_attempts == [PIN]
    assert sent_numbers(sim) == ["+31612345678"]


def test_pin_from_the_environment(home: Path, sim_factory, monkeypatch, capsys) -> None:
    sim = sim_factory(pin=PIN)
    monkeypatch.setenv("GSMBRIDGE_MODEM_PIN", PIN)
    assert main(["send", "--modem", sim.url, "+31612345678", "hi", "--wait", "20"]) == 0
    assert sim.pin_attempts == [PIN]
    assert sent_numbers(sim) == ["+31612345678"]


def test_pin_from_the_environment_in_a_real_process(home: Path, sim_factory) -> None:
    sim = sim_factory(pin=PIN)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GSMBRIDGE_")}
    env.update(
        XDG_CONFIG_HOME=str(home / "config-home"),
        GSMBRIDGE_DATA_DIR=str(home / "data"),
        GSMBRIDGE_MODEM_PORT=sim.url,
        GSMBRIDGE_MODEM_PIN=PIN,
        GSMBRIDGE_SENDING_DEFAULT_REGION="NL",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "gsmbridge", "send", "06 12345678", "hi", "--wait", "20"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Sent to +31612345678" in proc.stdout
    assert sent_numbers(sim) == ["+31612345678"]


def test_the_default_region_and_spaces(home: Path, sim_factory, capsys) -> None:
    sim = sim_factory()
    path = config(home, f'[modem]\nport = ["{sim.url}"]\n[sending]\ndefault_region = "US"\n')
    assert main(["send", "--config", str(path), "4155550123", "a"]) == 0
    assert main(["send", "--config", str(path), "+1 415 555 0124", "b"]) == 0
    assert sent_numbers(sim) == ["+14155550123", "+14155550124"]
    assert "Sent to +14155550123" in capsys.readouterr().out


def test_an_impossible_number_is_refused_before_the_modem(home: Path, capsys) -> None:
    assert main(["send", "--modem", "sim", "12345", "hi"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gsmbridge: phone number '12345' has an impossible length")
    assert "sending.default_region" in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["+14155550123", ""], "the message is empty"),
        (["+14155550123", "  "], "is empty"),
        (["+14155550123", "hi", "--wait", "-1"], "--wait must be 0 or more"),
    ],
)
def test_an_empty_message_or_a_negative_wait_is_refused(
    home: Path, capsys, argv: list[str], says: str
) -> None:
    assert main(["send", "--modem", "sim", *argv]) == 2
    assert says in capsys.readouterr().err


def test_the_simulator_says_nothing_is_sent(home: Path, capsys) -> None:
    path = config(home, '[modem]\nport = ["sim"]\n')
    assert main(["send", "--config", str(path), "+31612345678", "Hello ☃ " * 10]) == 0
    out = capsys.readouterr().out
    assert "encoding ucs2, 2 parts, references 0, 1" in out
    assert "(simulated modem: nothing is really sent)" in out


def test_max_parts_and_smart_encoding_come_from_the_settings(
    home: Path, sim_factory, capsys
) -> None:
    sim = sim_factory()
    path = config(
        home,
        f'[modem]\nport = ["{sim.url}"]\n[sending]\nmax_parts = 1\nsmart_encoding = false\n',
    )
    assert main(["send", "--config", str(path), "+31612345678", "x" * 400]) == 0
    assert "1 part, references 0 (text truncated)" in capsys.readouterr().out
    assert main(["send", "--config", str(path), "+31612345678", "x" * 400, "--max-parts", "3"]) == 0
    assert "3 parts" in capsys.readouterr().out


def test_a_port_that_does_not_exist_fails_at_once(home: Path, capsys) -> None:
    started = time.monotonic()
    assert main(["send", "--modem", str(home / "ttyUSB9"), "+31612345678", "hi"]) == 1
    assert time.monotonic() - started < 10  # not the 60 s wait
    assert f"gsmbridge: {home / 'ttyUSB9'} does not exist" in capsys.readouterr().err


def test_an_address_nobody_listens_on_fails_at_once(home: Path, capsys) -> None:
    started = time.monotonic()
    assert main(["send", "--modem", "socket://127.0.0.1:1", "+31612345678", "hi"]) == 1
    assert time.monotonic() - started < 10
    err = capsys.readouterr().err
    assert err.startswith("gsmbridge: cannot open socket://127.0.0.1:1: connection refused")
    assert err.count("\n") == 1  # one line: the modem's log stays quiet


def test_a_sim_without_its_pin_fails_without_waiting(home: Path, sim_factory, capsys) -> None:
    sim = sim_factory(pin=PIN)
    started = time.monotonic()
    assert main(["send", "--modem", sim.url, "+31612345678", "hi", "--wait", "60"]) == 1
    assert time.monotonic() - started < 30
    err = capsys.readouterr().err
    assert "gsmbridge: the modem cannot send: pin-required" in err
    assert "GSMBRIDGE_MODEM_PIN" in err
    assert sim.sent == []


def test_refuses_the_modem_of_the_running_app(home: Path, sim_factory, capsys) -> None:
    sim = sim_factory()
    path = config(home, f'[modem]\nport = ["{sim.url}"]\n')
    lock = InstanceLock(home / "data")
    lock.acquire()  # the app, running with this data directory
    try:
        assert main(["send", "--config", str(path), "+31612345678", "hi"]) == 1
    finally:
        lock.release()
    err = capsys.readouterr().err
    assert "gsmbridge is already running with data directory" in err
    assert f"uses the modem on {sim.url}" in err and "Modem tab" in err
    assert sim.sent == []
    assert main(["send", "--config", str(path), "+31612345678", "hi"]) == 0  # once it quit


def test_another_modem_than_the_running_apps_is_fine(home: Path, sim_factory, capsys) -> None:
    app_sim, other = sim_factory(), sim_factory()
    path = config(home, f'[modem]\nport = ["{app_sim.url}"]\n')
    lock = InstanceLock(home / "data")
    lock.acquire()
    try:
        assert main(["send", "--config", str(path), "--modem", other.url, "+31612345678", "x"]) == 0
    finally:
        lock.release()
    assert sent_numbers(other) == ["+31612345678"] and app_sim.sent == []


def test_no_lock_file_is_created_for_a_data_dir_never_used(home: Path, sim_factory) -> None:
    sim = sim_factory()
    assert main(["send", "--modem", sim.url, "+31612345678", "x"]) == 0
    assert not (home / "data").exists()


def test_the_running_apps_own_ports_count_not_the_config_files(
    home: Path, sim_factory, capsys
) -> None:
    """Found by a reviewer: an app started with --modem sim was said to hold the config
    file's modem, and send refused it although nothing clashed."""
    from gsmbridge.core.instance import read_running_ports, write_running_ports

    sim = sim_factory()
    path = config(home, f'[modem]\nport = ["{sim.url}"]\n')
    lock = InstanceLock(home / "data")
    lock.acquire()
    write_running_ports(home / "data", ["sim"])  # what a Bridge started with --modem sim writes
    try:
        assert main(["send", "--config", str(path), "+31612345678", "hi"]) == 0
        write_running_ports(home / "data", [sim.url])  # now it holds that very modem
        assert main(["send", "--config", str(path), "+31612345678", "hi"]) == 1
        assert f"uses the modem on {sim.url}" in capsys.readouterr().err
    finally:
        lock.release()
    assert read_running_ports(home / "data") == [sim.url]


def test_a_bridge_leaves_its_ports_while_it_runs(tmp_path: Path) -> None:
    from gsmbridge.config import Settings
    from gsmbridge.core.instance import read_running_ports
    from gsmbridge.service import Bridge

    settings = Settings()
    settings.server.port = 0
    settings.modem.port = ["sim"]
    bridge = Bridge(settings, tmp_path / "data")
    bridge.start()
    try:
        assert read_running_ports(tmp_path / "data") == ["sim"]
    finally:
        bridge.stop()
    assert read_running_ports(tmp_path / "data") is None
