"""Keep-awake on Windows through a recording stand-in kernel32, and the power plan's
sleep timeout read from captured ``powercfg /query`` output."""

from __future__ import annotations

import copy
import logging
import sys
import threading

import pytest

from gsmbridge.config import Settings
from gsmbridge.core import power
from gsmbridge.service import Bridge
from tests.helpers import Client

# powercfg /query SCHEME_CURRENT SUB_SLEEP STANDBYIDLE on an English Windows 11.
POWERCFG_EN = """\
Power Scheme GUID: 381b4222-f694-41f0-9685-ff5bb260df2e  (Balanced)
  Subgroup GUID: 238c9fa8-0aad-41ed-83f4-97be242c8f20  (Sleep)
    GUID Alias: SUB_SLEEP
    Power Setting GUID: 29f6c1db-86da-48c5-9fdb-f2b67b1f44da  (Sleep after)
      GUID Alias: STANDBYIDLE
      Minimum Possible Setting: 0x00000000
      Maximum Possible Setting: 0xffffffff
      Possible Settings increment: 0x00000001
      Possible Settings units: Seconds
    Current AC Power Setting Index: 0x00000708
    Current DC Power Setting Index: 0x00000384

"""
# The same on a German Windows: the labels are translated, the numbers are not.
POWERCFG_DE = """\
GUID des Energieschemas: 381b4222-f694-41f0-9685-ff5bb260df2e  (Ausbalanciert)
  GUID der Untergruppe: 238c9fa8-0aad-41ed-83f4-97be242c8f20  (Energie sparen)
    GUID der Energieeinstellung: 29f6c1db-86da-48c5-9fdb-f2b67b1f44da  (Standbymodus nach)
      Minimaler m\u00f6glicher Einstellungswert: 0x00000000
      Maximaler m\u00f6glicher Einstellungswert: 0xffffffff
    Aktueller Wechselstrom-Energieeinstellungsindex: 0x00000000
    Aktueller Gleichstrom-Energieeinstellungsindex: 0x00000384
"""


class RecordingKernel32:
    """Records SetThreadExecutionState's flags and the thread that called it."""

    def __init__(self, answer: int = 0x80000000) -> None:
        self.calls: list[tuple[int, str]] = []
        self.answer = answer
        self.called = threading.Event()

    def SetThreadExecutionState(self, flags: int) -> int:  # noqa: N802 - the API's name
        self.calls.append((flags, threading.current_thread().name))
        self.called.set()
        return self.answer

    @property
    def flags(self) -> list[int]:
        return [flags for flags, _ in self.calls]


SET = power.ES_CONTINUOUS | power.ES_SYSTEM_REQUIRED
CLEAR = power.ES_CONTINUOUS


@pytest.fixture
def kernel32(monkeypatch: pytest.MonkeyPatch) -> RecordingKernel32:
    """sys.platform win32, a recording kernel32, a power plan sleeping after 30 min."""
    fake = RecordingKernel32()
    monkeypatch.setattr(power, "_load_kernel32", lambda: fake)
    monkeypatch.setattr(power, "_powercfg_output", lambda: POWERCFG_EN)
    return fake


def test_sleep_timeout_is_read_whatever_the_language() -> None:
    assert power.parse_sleep_after(POWERCFG_EN) == 1800  # AC, not DC (900)
    assert power.parse_sleep_after(POWERCFG_DE) == 0  # never
    assert power.parse_sleep_after("Invalid Parameters -- try /?") is None


def test_notes() -> None:
    assert power.power_note(True, 1800) == (
        "Windows would sleep after 30 min idle; gsmbridge keeps it awake"
    )
    off = power.power_note(False, 900)
    assert off.startswith("Windows sleeps after 15 min idle") and "server.keep_awake" in off
    assert power.power_note(True, 0) == "" and power.power_note(False, None) == ""


def test_keep_awake_sets_from_its_own_thread_and_clears_at_stop(
    kernel32: RecordingKernel32, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    keeper = power.KeepAwake()
    assert keeper.start() and keeper.active
    assert kernel32.flags == [SET]
    keeper.stop()
    assert kernel32.flags == [SET, CLEAR] and not keeper.active
    # Both on the same long-lived thread: the request belongs to the calling thread.
    assert {name for _, name in kernel32.calls} == {"keep awake"}
    keeper.stop()  # twice is harmless
    assert kernel32.flags == [SET, CLEAR]


def test_keep_awake_refused_says_so(
    kernel32: RecordingKernel32, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    kernel32.answer = 0
    keeper = power.KeepAwake()
    assert not keeper.start()
    assert "refused" in keeper.error
    keeper.stop()


def test_nothing_is_called_on_linux(kernel32: RecordingKernel32, monkeypatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    keeper = power.KeepAwake()
    assert not keeper.start()
    keeper.stop()
    assert kernel32.calls == [] and power.sleep_after_s() is None


# -- through the Bridge ------------------------------------------------------------------
# The Bridge's other Windows branches (the listening socket) cannot run on Linux, so
# here only the power module believes it is on Windows.


@pytest.fixture
def windows_power(kernel32: RecordingKernel32, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(power, "running_on_windows", lambda: True)


def test_bridge_keeps_awake_while_it_runs_and_says_so(
    windows_power: None,
    kernel32: RecordingKernel32,
    settings: Settings,
    tmp_path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert settings.server.keep_awake  # on by default
    bridge = Bridge(settings, tmp_path / "data")
    caplog.set_level(logging.INFO, "gsmbridge")
    bridge.start()
    try:
        assert kernel32.flags == [SET]
        note = "Windows would sleep after 30 min idle; gsmbridge keeps it awake"
        assert note in caplog.messages
        code, _, status = Client(bridge.web.port, "cometchat", "s3cret-pass").get("/api/status")
        assert code == 200 and status["power"] == note
        # Turned off in Settings: cleared at once, and the warning says what it means.
        changed = copy.deepcopy(bridge.settings)
        changed.server.keep_awake = False
        bridge.live.apply(changed)
        assert kernel32.flags == [SET, CLEAR]
        assert "webhooks fail while it sleeps" in bridge.power.note
    finally:
        bridge.stop()
    assert kernel32.flags == [SET, CLEAR]


def test_bridge_clears_at_stop(
    windows_power: None, kernel32: RecordingKernel32, settings: Settings, tmp_path
) -> None:
    bridge = Bridge(settings, tmp_path / "data")
    bridge.start()
    bridge.stop()
    assert kernel32.flags == [SET, CLEAR]


def test_bridge_with_the_setting_off_never_calls_but_warns(
    windows_power: None,
    kernel32: RecordingKernel32,
    settings: Settings,
    tmp_path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.server.keep_awake = False
    bridge = Bridge(settings, tmp_path / "data")
    bridge.start()
    bridge.stop()
    assert kernel32.calls == []
    assert any("Windows sleeps after 30 min idle" in m for m in caplog.messages)


def test_bridge_on_linux_never_calls(kernel32: RecordingKernel32, settings: Settings, tmp_path):
    bridge = Bridge(settings, tmp_path / "data")
    bridge.start()
    bridge.stop()
    assert kernel32.calls == [] and bridge.power.note == ""
