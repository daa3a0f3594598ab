"""The settings dialog: field-by-field validation, saving (hashed password), applying."""

from __future__ import annotations

import tomllib

from gsmbridge.config import changed_keys, verify_password
from gsmbridge.gui.views.settings import SettingsDialog


def test_bad_values_are_refused_next_to_their_fields(gui, qtbot, tmp_path):
    dialog = SettingsDialog(gui.ctx, gui.window)
    qtbot.addWidget(dialog)
    dialog.server.port.setText("70000")
    dialog.modem.pin.setText("12a")
    dialog.sending.region.setText("Germany")
    dialog.limits.max_attempts.setText("0")
    dialog.limits.base_delay.setText("ten")
    dialog.desktop.keep_days.setText("-5")
    errors = dialog.validate()
    assert set(errors) == {
        "server.port",
        "modem.pin",
        "sending.default_region",
        "retry.max_attempts",
        "retry.base_delay_s",
        "history.keep_days",
    }
    assert "65535" in dialog.fields["server.port"].error.text()
    assert dialog.fields["server.port"].error.isVisibleTo(dialog)
    assert "4 to 8 digits" in dialog.fields["modem.pin"].error.text()
    assert "two-letter" in dialog.fields["sending.default_region"].error.text()
    assert not dialog.fields["server.host"].error.isVisibleTo(dialog)
    dialog.save()
    assert "need attention" in dialog.status.text()
    assert not (tmp_path / "config.toml").exists()


def test_good_values_are_accepted(gui, qtbot):
    dialog = SettingsDialog(gui.ctx, gui.window)
    qtbot.addWidget(dialog)
    dialog.server.port.setText("8099")
    dialog.modem.pin.setText("1234")
    dialog.sending.region.setText("de")
    dialog.limits.max_delay.setText("600")
    dialog.desktop.keep_days.setText("30")
    assert dialog.validate() == {}
    new, password, errors = dialog.build()
    assert errors == {} and password == ""
    assert new.server.port == 8099
    assert new.modem.pin == "1234"
    assert new.sending.default_region == "DE"
    assert new.history.keep_days == 30
    assert set(changed_keys(gui.ctx.desired, new)) == {
        "server.port",
        "modem.pin",
        "sending.default_region",
        "retry.max_delay_s",
        "history.keep_days",
    }


def test_cross_field_checks(gui, qtbot):
    dialog = SettingsDialog(gui.ctx, gui.window)
    qtbot.addWidget(dialog)
    dialog.limits.base_delay.setText("100")
    dialog.limits.max_delay.setText("50")
    assert "retry.max_delay_s" in dialog.validate()
    dialog.limits.max_delay.setText("500")
    dialog.server.username.setText("")
    dialog.server.password.setText("long-enough-password")
    assert "auth.username" in dialog.validate()


def test_save_writes_hash_not_password_and_applies(gui, qtbot, tmp_path):
    window = gui.window
    dialog = window.open_settings()
    dialog.server.port.setText("8099")  # needs a restart
    dialog.limits.per_recipient.setText("5")  # applies live
    dialog.server.password.setText("correct horse battery")
    with qtbot.waitSignal(dialog.saved, timeout=10000) as saved:
        dialog.save()
    assert saved.args[0] == ["server.port"]
    text = (tmp_path / "config.toml").read_text()
    assert "correct horse battery" not in text
    data = tomllib.loads(text)
    assert verify_password("correct horse battery", data["auth"]["password_hash"])
    assert "password" not in data["auth"]
    assert data["server"]["port"] == 8099
    assert data["limits"]["per_recipient_per_hour"] == 5
    # what the user did not touch keeps the file's value, not this run's override
    assert data["limits"]["per_minute"] == 10
    running = gui.ctx.bridge.settings
    assert running.limits.per_recipient_per_hour == 5
    assert running.server.port == 0  # waits for the restart
    # The plain password stays in memory for self-registration, never in the file.
    assert running.auth.password == "correct horse battery"
    assert verify_password("correct horse battery", running.auth.password_hash)
    assert window.notice.isVisibleTo(window)
    assert "server.port" in window.notice.message.text()


def test_generate_password(gui, qtbot):
    dialog = SettingsDialog(gui.ctx, gui.window)
    qtbot.addWidget(dialog)
    dialog.server.username.setText("")
    dialog.generate_password()
    assert len(dialog.server.password.text()) >= 20
    assert dialog.server.username.text() == "cometchat"
    assert dialog.server.password.echoMode() == dialog.server.password.EchoMode.Normal
    assert dialog.validate() == {}


def test_metrics_public_is_a_box_on_the_server_page_applied_live(gui, qtbot, tmp_path):
    dialog = gui.window.open_settings()
    assert not dialog.server.metrics_public.isChecked()  # off by default
    dialog.server.metrics_public.setChecked(True)
    with qtbot.waitSignal(dialog.saved, timeout=10000) as saved:
        dialog.save()
    assert saved.args[0] == []  # no restart: /metrics reads it per request
    assert tomllib.loads((tmp_path / "config.toml").read_text())["server"]["metrics_public"]
    assert gui.ctx.bridge.settings.server.metrics_public


def test_a_wrong_field_on_another_tab_is_shown_and_its_tab_marked(gui, qtbot):
    dialog = gui.window.open_settings()
    dialog.limits.base_delay.setText("30")
    dialog.limits.max_delay.setText("5")  # shorter than the first retry
    dialog.tabs.setCurrentWidget(dialog.server)
    dialog.save()
    assert dialog.tabs.currentWidget() is dialog.limits
    index = dialog.tabs.indexOf(dialog.limits)
    assert dialog.tabs.tabText(index).endswith("⚠")
    assert "on Retries & limits" in dialog.status.text()
    assert not dialog.tabs.tabText(dialog.tabs.indexOf(dialog.server)).endswith("⚠")
    dialog.limits.max_delay.setText("600")
    assert dialog.validate() == {}
    assert not dialog.tabs.tabText(index).endswith("⚠")
    dialog.reject()


def test_generate_takes_away_the_missing_password_message(gui, qtbot):
    dialog = gui.window.open_settings()
    dialog.server.username.setText("newuser")
    gui.ctx.desired.auth.password_hash = ""  # as if no password were set yet
    dialog.original.auth.password_hash = dialog.original.auth.password = ""
    assert "auth.new_password" in dialog.validate()
    assert dialog.fields["auth.new_password"].error.text()
    dialog.generate_password()
    assert dialog.fields["auth.new_password"].error.text() == ""
    dialog.reject()


def test_settings_opens_on_the_credentials_set_password_gave_the_running_app(gui, qtbot):
    """set-password --username bob while the app ran: Settings still said the old user
    name, and told the user to paste that (with the new password) into CometChat."""
    import copy

    from gsmbridge.config import apply_new_password

    fresh = copy.deepcopy(gui.ctx.settings)
    fresh.auth.username = "bob"
    apply_new_password(fresh, "bobs-new-password")
    gui.ctx.bridge.live.apply_credentials(fresh.auth)  # what the config watch does
    header = gui.window.header.auth
    qtbot.waitUntil(lambda: "(bob)" in header.text(), timeout=3000)  # it said "(cometchat)"
    dialog = SettingsDialog(gui.ctx, gui.window)
    qtbot.addWidget(dialog)
    assert dialog.server.username.text() == "bob"
    new, password, errors = dialog.build()
    assert new is not None and not errors and password == ""  # nothing demanded
    assert "auth.username" not in changed_keys(gui.ctx.desired, new)


def test_a_save_while_set_password_lands_keeps_the_new_credentials(gui, qtbot, monkeypatch):
    """The config watch applied set-password's credentials while a Settings save was
    under way (its scrypt and file write take a moment): the save put the credentials
    it started from back, and webhooks with the new password got 401."""
    import copy

    import gsmbridge.gui.context as context
    from gsmbridge.config import apply_new_password
    from tests.gui.conftest import client_for

    fresh = copy.deepcopy(gui.ctx.settings)
    fresh.auth.username = "bob"
    apply_new_password(fresh, "bobs-new-password")
    real_save = context.save_changes

    def save_while_the_watch_applies(*args: object, **kwargs: object) -> object:
        gui.ctx.bridge.live.apply_credentials(fresh.auth)  # set-password, meanwhile
        return real_save(*args, **kwargs)

    monkeypatch.setattr(context, "save_changes", save_while_the_watch_applies)
    dialog = SettingsDialog(gui.ctx, gui.window)
    qtbot.addWidget(dialog)
    dialog.limits.per_recipient.setText("5")
    with qtbot.waitSignal(dialog.saved, timeout=10000):
        dialog.save()
    client = client_for(gui)
    client.user, client.password = "bob", "bobs-new-password"
    assert client.get("/api/status")[0] == 200
    assert gui.ctx.bridge.settings.limits.per_recipient_per_hour == 5


def test_an_edit_of_the_config_file_reaches_the_dialogs_and_offers_a_restart(gui, qtbot, tmp_path):
    """An edit of the file applied while the window ran: Settings showed the old value,
    and its next save put the old value back in use."""
    import copy

    edited = copy.deepcopy(gui.ctx.settings)
    edited.limits.per_minute = 45
    edited.server.port = 8765
    dialog = SettingsDialog(gui.ctx, gui.window)  # open before the edit
    qtbot.addWidget(dialog)
    (tmp_path / "config.toml").write_text("[limits]\nper_minute = 45\n[server]\nport = 8765\n")
    waiting = gui.ctx.bridge.live.apply_file(edited, ["limits.per_minute", "server.port"])
    assert waiting == ["server.port"]
    assert gui.ctx.settings.limits.per_minute == 45
    notice = gui.window.notice  # the signal crosses threads: queued
    qtbot.waitUntil(lambda: "server.port" in notice.message.text(), timeout=5000)
    assert notice.isVisibleTo(gui.window)
    # The dialog opened before the edit: saving something else keeps the edit.
    dialog.limits.per_recipient.setText("5")
    with qtbot.waitSignal(dialog.saved, timeout=10000):
        dialog.save()
    assert gui.ctx.settings.limits.per_minute == 45
    assert gui.ctx.settings.limits.per_recipient_per_hour == 5
    saved = tomllib.loads((tmp_path / "config.toml").read_text())
    assert saved["limits"] == {"per_minute": 45, "per_recipient_per_hour": 5}  # not 10 again
    # A dialog opened now starts from the edited values.
    again = SettingsDialog(gui.ctx, gui.window)
    qtbot.addWidget(again)
    assert again.limits.per_minute.text() == "45"
    assert again.server.port.text() == "8765"


def test_a_file_put_back_as_it_runs_withdraws_the_restart_offer(gui, qtbot):
    import copy

    edited = copy.deepcopy(gui.ctx.settings)
    edited.server.port = 8765
    gui.ctx.bridge.live.apply_file(edited, ["server.port"])
    notice = gui.window.notice
    qtbot.waitUntil(lambda: "server.port" in notice.message.text(), timeout=5000)
    back = copy.deepcopy(gui.ctx.settings)
    assert gui.ctx.bridge.live.apply_file(back, ["server.port"]) == []
    qtbot.waitUntil(lambda: not notice.isVisibleTo(gui.window), timeout=5000)
    assert gui.ctx.desired.server.port == gui.ctx.settings.server.port


def test_a_settings_save_is_not_handed_on_again_by_the_config_watch(gui, qtbot, tmp_path):
    """The window's own save came back through the config watch: logged twice, and a
    port saved in Settings was offered for a restart a second time."""
    from gsmbridge.core.config_watch import ConfigWatch

    path = tmp_path / "config.toml"
    path.write_text("[limits]\nper_minute = 0\n")
    heard: list[list[str]] = []
    watch = ConfigWatch(
        path,
        gui.ctx.settings.auth,
        lambda _auth: None,
        settings_changed=lambda _values, keys: heard.append(keys),
    )
    gui.ctx.bridge._config_watch = watch  # the running app's watch, polled by hand here
    dialog = SettingsDialog(gui.ctx, gui.window)
    qtbot.addWidget(dialog)
    dialog.limits.per_recipient.setText("5")
    dialog.server.port.setText("8766")
    with qtbot.waitSignal(dialog.saved, timeout=10000):
        dialog.save()
    watch.check()
    assert heard == []
