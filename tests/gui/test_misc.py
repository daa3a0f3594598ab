"""Smaller pieces: tray state, start at login, the number dialog, Qt's messages, banners."""

from __future__ import annotations

import logging
import types

from PySide6.QtCore import qWarning
from PySide6.QtWidgets import QDialogButtonBox

from gsmbridge import config
from gsmbridge.gui import autostart
from gsmbridge.gui.formatting import mask_numbers
from gsmbridge.gui.loghandler import install_qt_message_handler
from gsmbridge.gui.tray import tray_state
from gsmbridge.gui.views.dialogs.number_dialog import NumberDialog
from gsmbridge.gui.views.main_window import MainWindow
from gsmbridge.modem.status import ModemStatus


def test_tray_state():
    ready = [ModemStatus(port="sim", state="ready")]
    lost = [ModemStatus(port="COM3", state="error")]
    assert tray_state({"queued": 0}, ready) == "ok"
    assert tray_state({"queued": 2}, ready) == "sending"
    assert tray_state({"sending": 1}, ready) == "sending"
    assert tray_state({}, lost) == "problem"
    assert tray_state({}, ready, paused=True) == "problem"
    assert tray_state({}, ready, problem=True) == "problem"


def test_start_at_login_writes_and_removes_the_xdg_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setattr(autostart.sys, "platform", "linux")
    assert not autostart.is_enabled()
    path = autostart.set_enabled(True, ["/opt/gsm bridge/gsmbridge"])
    assert path == tmp_path / "autostart" / "gsmbridge.desktop"
    text = path.read_text()
    assert 'Exec="/opt/gsm bridge/gsmbridge"' in text and "Type=Application" in text
    assert autostart.is_enabled()
    autostart.set_enabled(False)
    assert not autostart.is_enabled()


def test_number_dialog_validates_as_you_type(qtbot):
    dialog = NumberDialog("DE", recipients="Kim (uid-9)", count=2)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()
    dialog.number.setText("0151 2345")
    assert not ok.isEnabled() and dialog.feedback.text()
    dialog.number.setText("0151 23456789")
    assert ok.isEnabled() and dialog.e164 == "+4915123456789"
    assert dialog.save_contact.isChecked()


def test_qt_warnings_go_to_logging(qtbot, caplog):
    caplog.set_level(logging.WARNING, logger="qt")
    previous = install_qt_message_handler()
    try:
        qWarning("a warning from Qt itself")
    finally:
        from PySide6.QtCore import qInstallMessageHandler

        qInstallMessageHandler(previous)
    assert any(r.name == "qt" and "from Qt itself" in r.getMessage() for r in caplog.records)


def test_masking_in_free_text():
    text = "sent to +4915112345678 and 004915112345678, job 12 at 12:00:01, port 8080"
    masked = mask_numbers(text)
    assert "+4915112345678" not in masked and "5678" in masked
    assert "job 12 at 12:00:01, port 8080" in masked
    # The modem's line for a delivery report (shown unmasked at DEBUG) ends in a colon.
    report = "Status report for TP-MR 0 to +12125550123: received by SME"
    assert mask_numbers(report) == "Status report for TP-MR 0 to +*******0123: received by SME"
    assert mask_numbers("socket://127.0.0.1:17777 at 20261206:") == (
        "socket://127.0.0.1:17777 at 20261206:"
    )


def test_config_error_and_tunnel_url_are_shown(gui_factory, qtbot):
    error = config.ConfigError("server.port must be 0..65535")
    app = gui_factory(config_error=error)
    window: MainWindow = app.window
    assert app.ctx.running  # with defaults, so webhooks are not lost meanwhile
    assert window.notice.isVisibleTo(window)
    assert "configuration" in window.notice.title.text()
    assert "server.port" in window.notice.message.text()
    app.ctx.bridge.events.tunnel_changed(
        types.SimpleNamespace(public_url="https://example.trycloudflare.com")
    )
    qtbot.waitUntil(
        lambda: window.header.webhook_url == "https://example.trycloudflare.com/webhook",
        timeout=3000,
    )
    assert window.header.url_kind.text().startswith("public")
    app.ctx.bridge.events.tunnel_changed(
        types.SimpleNamespace(
            public_url="", state="missing", program="cloudflared", last_error="not on PATH"
        )
    )
    qtbot.waitUntil(lambda: "not installed" in window.header.url_kind.text(), timeout=3000)
    assert window.header.webhook_url.startswith("http://127.0.0.1:")
    assert window.header.url_kind.toolTip() == "not on PATH"


def test_example_config_is_valid_and_says_the_defaults():
    import dataclasses
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "resources" / "gsmbridge.example.toml"
    loaded = config.load_settings(path, environ={}, must_exist=True)
    defaults = config.Settings()
    assert dataclasses.asdict(loaded) == dataclasses.asdict(defaults)
