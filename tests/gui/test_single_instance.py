"""A second launch reaches the first instance instead of starting."""

from __future__ import annotations

import argparse
import logging

from gsmbridge.core.instance import InstanceLock
from gsmbridge.gui import app as gui_app
from gsmbridge.gui.single_instance import SingleInstance, activate_running, server_name


def test_second_activation_reaches_the_first(qtbot, tmp_path):
    name = server_name(tmp_path / "data")
    assert name != server_name(tmp_path / "other")
    first = SingleInstance(name)
    assert first.listen()
    try:
        with qtbot.waitSignal(first.activated, timeout=3000):
            assert activate_running(name)
    finally:
        first.close()
    assert not activate_running(name, timeout_ms=200)  # nobody listens any more


def test_run_in_a_locked_data_dir_activates_the_window_and_exits_0(qtbot, tmp_path, settings):
    data_dir = tmp_path / "data"
    lock = InstanceLock(data_dir)
    lock.acquire()
    first = SingleInstance(server_name(data_dir))
    first.listen()
    args = argparse.Namespace(config=tmp_path / "config.toml")
    try:
        with qtbot.waitSignal(first.activated, timeout=3000):
            assert gui_app.run(settings, data_dir, args) == 0
    finally:
        first.close()
        lock.release()
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "_gsmbridge", False)]:
            root.removeHandler(handler)
            handler.close()
