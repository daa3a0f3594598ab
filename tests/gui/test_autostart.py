"""Start at login on Windows, through a stand-in winreg: the installer's Run value,
Windows' own Startup-apps switch (StartupApproved), and the Settings checkbox."""

from __future__ import annotations

import sys
from types import TracebackType

import pytest

from gsmbridge.gui import autostart

INSTALLER_COMMAND = r'"C:\Users\ana\AppData\Local\Programs\gsmbridge\gsmbridge.exe" --minimized'
WINDOWS_OFF = b"\x03\x00\x00\x00" + bytes(8)


class FakeKey:
    def __init__(self, values: dict[str, tuple[object, int]]) -> None:
        self.values = values

    def __enter__(self) -> FakeKey:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        pass


class FakeWinreg:
    """HKCU as a dict of subkey -> {value name: (data, type)}."""

    HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE = "HKCU", "HKLM"
    REG_SZ, REG_EXPAND_SZ, REG_BINARY = 1, 2, 3

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, tuple[object, int]]] = {}

    def OpenKey(self, hive: str, subkey: str) -> FakeKey:  # noqa: N802 - winreg's names
        if hive != "HKCU" or subkey not in self.keys:
            raise FileNotFoundError(subkey)
        return FakeKey(self.keys[subkey])

    def CreateKey(self, hive: str, subkey: str) -> FakeKey:  # noqa: N802
        assert hive == "HKCU"
        return FakeKey(self.keys.setdefault(subkey, {}))

    def QueryValueEx(self, key: FakeKey, name: str) -> tuple[object, int]:  # noqa: N802
        if name not in key.values:
            raise FileNotFoundError(name)
        return key.values[name]

    def SetValueEx(self, key: FakeKey, name: str, reserved: int, kind: int, data: object) -> None:  # noqa: N802
        key.values[name] = (data, kind)

    def DeleteValue(self, key: FakeKey, name: str) -> None:  # noqa: N802
        if name not in key.values:
            raise FileNotFoundError(name)
        del key.values[name]

    def run_value(self) -> object | None:
        entry = self.keys.get(autostart.RUN_KEY, {}).get(autostart.APP_ID)
        return entry[0] if entry else None

    def approved(self) -> object | None:
        entry = self.keys.get(autostart.APPROVED_KEY, {}).get(autostart.APP_ID)
        return entry[0] if entry else None


@pytest.fixture
def winreg(monkeypatch: pytest.MonkeyPatch) -> FakeWinreg:
    fake = FakeWinreg()
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "winreg", fake)
    return fake


def installer_turned_it_on(winreg: FakeWinreg) -> None:
    """What installer/gsmbridge.iss's [Registry] line writes for the startatlogin task."""
    winreg.keys.setdefault(autostart.RUN_KEY, {})[autostart.APP_ID] = (
        INSTALLER_COMMAND,
        winreg.REG_SZ,
    )


def test_the_installers_entry_is_on_and_unticking_removes_it(winreg: FakeWinreg) -> None:
    installer_turned_it_on(winreg)
    assert autostart.is_enabled()
    autostart.set_enabled(False)
    assert winreg.run_value() is None and not autostart.is_enabled()
    autostart.set_enabled(False)  # already off: no error


def test_windows_startup_switch_off_counts_as_off_and_ticking_turns_it_on(
    winreg: FakeWinreg,
) -> None:
    installer_turned_it_on(winreg)
    winreg.keys[autostart.APPROVED_KEY] = {autostart.APP_ID: (WINDOWS_OFF, winreg.REG_BINARY)}
    assert autostart.disabled_by_windows() and not autostart.is_enabled()
    autostart.set_enabled(True, [r"C:\gsmbridge\gsmbridge.exe", "--minimized"])
    assert winreg.run_value() == r"C:\gsmbridge\gsmbridge.exe --minimized"
    approved = winreg.approved()
    assert isinstance(approved, bytes) and approved[0] == 0x02 and len(approved) == 12
    assert autostart.is_enabled() and not autostart.disabled_by_windows()


def test_windows_switch_on_or_absent_leaves_the_run_value_in_charge(winreg: FakeWinreg) -> None:
    assert not autostart.is_enabled() and not autostart.disabled_by_windows()
    winreg.keys[autostart.APPROVED_KEY] = {
        autostart.APP_ID: (b"\x02" + bytes(11), winreg.REG_BINARY)
    }
    assert not autostart.is_enabled()  # no Run value
    installer_turned_it_on(winreg)
    assert autostart.is_enabled()


def test_settings_box_shows_the_installers_entry_and_unticking_removes_it(
    gui, qtbot, winreg: FakeWinreg
) -> None:
    installer_turned_it_on(winreg)
    assert not gui.ctx.settings.gui.start_at_login  # the config never heard of it
    dialog = gui.window.open_settings()
    assert dialog.desktop.start_at_login.isChecked()
    dialog.desktop.start_at_login.setChecked(False)
    with qtbot.waitSignal(dialog.saved, timeout=10000):
        dialog.save()
    assert winreg.run_value() is None


def test_settings_box_is_off_when_windows_switched_it_off(gui, winreg: FakeWinreg) -> None:
    installer_turned_it_on(winreg)
    winreg.keys[autostart.APPROVED_KEY] = {autostart.APP_ID: (WINDOWS_OFF, winreg.REG_BINARY)}
    dialog = gui.window.open_settings()
    assert not dialog.desktop.start_at_login.isChecked()
    assert "Startup apps" in dialog.desktop.start_at_login.toolTip()
    dialog.reject()


def test_keep_awake_box_on_by_default_and_saved(gui, qtbot, tmp_path) -> None:
    import tomllib

    dialog = gui.window.open_settings()
    assert dialog.desktop.keep_awake.isChecked()
    dialog.desktop.keep_awake.setChecked(False)
    with qtbot.waitSignal(dialog.saved, timeout=10000):
        dialog.save()
    data = tomllib.loads((tmp_path / "config.toml").read_text())
    assert data["server"]["keep_awake"] is False
    assert gui.ctx.bridge.settings.server.keep_awake is False  # applied live


def test_ticking_start_at_login_carries_this_runs_config_and_data_dir(
    gui, qtbot, winreg: FakeWinreg
) -> None:
    """The entry said only ``gsmbridge --minimized``: started with --config and
    --data-dir, the next login opened the default config and another, empty queue."""
    import subprocess

    # Started as the README shows (gsmbridge --modem sim, or --modem COM3): a login
    # start without it fell back to the file's port.
    gui.ctx.settings.from_command_line = frozenset({"modem.port"})
    dialog = gui.window.open_settings()
    dialog.desktop.start_at_login.setChecked(True)
    with qtbot.waitSignal(dialog.saved, timeout=10000):
        dialog.save()
    value = winreg.run_value()
    assert isinstance(value, str)
    argv = subprocess.list2cmdline  # what the Run value holds
    assert value.endswith(" --modem sim")
    assert f"--config {gui.ctx.config_path.resolve()}" in value
    assert f"--data-dir {gui.ctx.data_dir.resolve()}" in value
    assert value == argv(
        autostart.command(gui.ctx.config_path, gui.ctx.data_dir, ["--modem", "sim"])
    )


def test_the_default_places_add_no_flags(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from gsmbridge.config import default_config_path, platform_data_dir

    monkeypatch.setenv("GSMBRIDGE_DATA_DIR", str(tmp_path / "from-env"))
    plain = autostart.command(default_config_path(), platform_data_dir())
    assert "--config" not in plain and "--data-dir" not in plain
    # A data directory given by the environment: the login session will not have it.
    from_env = autostart.command(default_config_path(), tmp_path / "from-env")
    assert from_env[-2:] == ["--data-dir", str((tmp_path / "from-env").resolve())]


def test_the_linux_entry_quotes_by_the_desktop_entry_spec() -> None:
    """shlex's single quotes are not understood by the Desktop Entry spec, and a % in a
    path was read as a field code: a path with a space or a % started nothing."""
    argv = ["/home/ana b/.venv/bin/python", "-m", "gsmbridge", "--config", "/x/100%/c\\d.toml"]
    exec_line = autostart.desktop_exec(argv)
    assert exec_line == (
        '"/home/ana b/.venv/bin/python" -m gsmbridge --config "/x/100%%/c\\\\\\\\d.toml"'
    )
    assert "'" not in autostart.desktop_entry(argv)


def test_the_macos_entry_escapes_its_arguments() -> None:
    import plistlib

    plist = autostart._plist(["/Apps/gsmbridge", "--config", "/Users/a/R&D <1>/config.toml"])
    parsed = plistlib.loads(plist.encode())
    assert parsed["ProgramArguments"][-1] == "/Users/a/R&D <1>/config.toml"
