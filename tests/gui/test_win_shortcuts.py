"""Quit and Settings have keys on Windows, where Qt's standard ones are empty."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QKeySequence

from gsmbridge.gui.views import window_actions


def _texts(action) -> list[str]:
    return [key.toString(QKeySequence.SequenceFormat.PortableText) for key in action.shortcuts()]


def test_windows_gets_explicit_quit_and_settings_keys(
    gui_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(window_actions.sys, "platform", "win32")
    # What Qt's Windows theme answers for these two standard keys: nothing.
    monkeypatch.setattr(window_actions.QKeySequence, "keyBindings", lambda _key: [])
    window = gui_factory(wait=False).window
    assert _texts(window.act.quit) == ["Ctrl+Q"]
    assert _texts(window.act.settings) == ["Ctrl+,"]


def test_elsewhere_the_platform_keys_stay(gui_factory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(window_actions.sys, "platform", "linux")
    standard = {
        QKeySequence.StandardKey.Quit: [QKeySequence("Ctrl+Q")],
        QKeySequence.StandardKey.Preferences: [],  # no convention: the explicit key
    }
    monkeypatch.setattr(window_actions.QKeySequence, "keyBindings", lambda key: standard[key])
    window = gui_factory(wait=False).window
    assert _texts(window.act.quit) == ["Ctrl+Q"]
    assert _texts(window.act.settings) == ["Ctrl+,"]
