"""The Tunnel tab and the settings dialog's Tunnel & CometChat fields, with a real Bridge."""

from __future__ import annotations

import tomllib

from gsmbridge.gui.views.settings import SettingsDialog
from tests.gui.test_wizard import fake_cloudflared


def test_panel_follows_the_tunnel_up_and_stops_it(gui_factory, gui_settings, qtbot, tmp_path):
    gui_settings.tunnel.self_check_interval_s = 0
    app = gui_factory(gui_settings)
    panel = app.window.tunnel_panel
    assert panel.state.text() == "off" and not panel.copy_button.isEnabled()
    app.ctx.desired.tunnel.path = str(fake_cloudflared(tmp_path))
    panel.program.setCurrentIndex(panel.program.findData("cloudflared"))
    panel.start_button.click()
    qtbot.waitUntil(lambda: panel.url.text().startswith("https://"), timeout=15000)
    assert panel.url.text().endswith(".trycloudflare.com/webhook")
    assert panel.state.text() == "cloudflared: up"
    assert panel.check_button.isEnabled() and panel.stop_button.isEnabled()
    assert app.window.header.webhook_url == panel.url.text()
    panel.check_button.click()  # the stand-in's URL does not resolve: a failed check
    qtbot.waitUntil(lambda: "failed at" in panel.check.text(), timeout=15000)
    saved = tomllib.loads((tmp_path / "config.toml").read_text())
    assert saved["tunnel"]["program"] == "cloudflared"

    panel.stop_button.click()
    qtbot.waitUntil(lambda: panel.state.text() == "off", timeout=10000)
    assert panel.url.text() == "" and panel.start_button.isEnabled()
    assert app.ctx.bridge.tunnel is None
    saved = tomllib.loads((tmp_path / "config.toml").read_text())
    # Off, but the program's location is kept for the next Start.
    assert saved["tunnel"]["program"] == "" and saved["tunnel"]["path"].endswith("cloudflared")


def test_panel_says_where_to_get_a_missing_program(gui_factory, gui_settings, qtbot, monkeypatch):
    monkeypatch.setenv("PATH", "")
    gui_settings.tunnel.program = "cloudflared"
    app = gui_factory(gui_settings)
    panel = app.window.tunnel_panel
    qtbot.waitUntil(lambda: "not installed" in panel.state.text(), timeout=10000)
    assert panel.error.isVisibleTo(panel)
    assert "<a href='https://developers.cloudflare.com/" in panel.error.text()
    assert not panel.check_button.isEnabled() and not panel.register_button.isEnabled()


def test_settings_validate_the_tunnel_and_cometchat_fields(gui, qtbot, tmp_path):
    dialog = SettingsDialog(gui.ctx, gui.window)
    qtbot.addWidget(dialog)
    dialog.tunnel.path.setText(str(tmp_path / "nowhere" / "cloudflared"))
    dialog.tunnel.public_url.setText("http://sms.example.com")
    dialog.tunnel.self_check.setText("-5")
    dialog.tunnel.app_id.setText("app id!")
    errors = dialog.validate()
    assert set(errors) == {
        "tunnel.path",
        "tunnel.public_url",
        "tunnel.self_check_interval_s",
        "cometchat.app_id",
    }
    assert "does not exist" in errors["tunnel.path"]
    assert "https" in errors["tunnel.public_url"]

    # Cross checks: a named tunnel needs its hostname; an API key needs app ID and region.
    dialog.tunnel.path.setText("")
    dialog.tunnel.public_url.setText("")
    dialog.tunnel.self_check.setText("0")
    dialog.tunnel.app_id.setText("")
    dialog.tunnel.program.setCurrentIndex(dialog.tunnel.program.findData("cloudflared"))
    dialog.tunnel.token.setText("eyJ-token")
    dialog.tunnel.api_key.setText("rest-key")
    errors = dialog.validate()
    assert set(errors) == {"tunnel.public_url", "cometchat.app_id", "cometchat.region"}

    dialog.tunnel.public_url.setText("sms.example.com")
    dialog.tunnel.app_id.setText("app123")
    dialog.tunnel.region.setCurrentIndex(dialog.tunnel.region.findData("eu"))
    dialog.tunnel.stored_phno.setChecked(True)
    new, _password, errors = dialog.build()
    assert errors == {}
    assert new.tunnel.program == "cloudflared" and new.tunnel.public_url == "sms.example.com"
    assert new.cometchat.region == "eu" and new.cometchat.use_stored_phno
    assert new.tunnel.self_check_interval_s == 0


def test_settings_say_whether_the_tunnel_program_is_on_path(gui, tmp_path, monkeypatch):
    program = fake_cloudflared(tmp_path)
    monkeypatch.setenv("PATH", str(program.parent))
    dialog = SettingsDialog(gui.ctx, gui.window)
    combo = dialog.tunnel.program
    combo.setCurrentIndex(combo.findData("cloudflared"))
    assert dialog.tunnel.path.placeholderText() == f"empty: {program} (found on PATH)"
    combo.setCurrentIndex(combo.findData("ngrok"))
    assert "ngrok runs inside gsmbridge" in dialog.tunnel.path.placeholderText()  # no program
    dialog.close()


def test_an_error_of_a_tunnel_turned_off_is_not_shown(
    gui_factory, gui_settings, qtbot, monkeypatch
):
    """The manager's last status when stopped is "off" with the old error still in it."""
    from gsmbridge.tunnel.status import TunnelStatus

    app = gui_factory(gui_settings)
    panel = app.window.tunnel_panel
    missing = TunnelStatus(program="cloudflared", state="missing", last_error="not installed")
    panel.on_tunnel_changed(missing)
    assert panel.error.isVisibleTo(panel)
    panel.on_tunnel_changed(
        TunnelStatus(program="cloudflared", state="off", last_error="not installed")
    )
    assert not panel.error.isVisibleTo(panel) and panel.state.text() == "off"
