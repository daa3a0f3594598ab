"""The setup wizard end to end, against a real Bridge with the simulated modem."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWizard

from gsmbridge.config import verify_password
from gsmbridge.gui.views.wizard import SetupWizard
from tests.tunnel.conftest import FAKE_CLOUDFLARED, PROVIDER, HttpStub

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def fake_cloudflared(tmp_path: Path) -> Path:
    """An executable file standing in for cloudflared (what tunnel.path points at)."""
    program = tmp_path / "cloudflared"
    program.write_text(
        "#!/bin/sh\nexec " + " ".join(f"'{part}'" for part in FAKE_CLOUDFLARED) + ' "$@"\n'
    )
    program.chmod(0o755)
    return program


@pytest.fixture
def wizard_settings(gui_settings):
    gui_settings.tunnel.self_check_interval_s = 0  # no checks against the real internet
    return gui_settings


def open_wizard(app, qtbot) -> SetupWizard:
    wizard = app.window.open_wizard()
    qtbot.waitUntil(wizard.isVisible, timeout=3000)
    return wizard


def go_next(wizard: SetupWizard, qtbot, page) -> None:
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentPage() is page, timeout=10000)


def test_wizard_end_to_end(gui_factory, wizard_settings, qtbot, tmp_path):
    app = gui_factory(wizard_settings)
    wizard = open_wizard(app, qtbot)

    # a. credentials: a generated password, applied (hashed) before the next page
    page = wizard.credentials
    assert page.keep.isChecked()  # the test settings already have a password
    page.keep.setChecked(False)
    page.password.generate()
    password = page.password.text()
    assert len(password) >= 20 and page.isComplete()
    go_next(wizard, qtbot, wizard.modem)
    live = app.ctx.settings.auth
    assert live.password == password and verify_password(password, live.password_hash)

    # b. modem: the simulator is offered and already running
    modem = wizard.modem
    labels = [modem.choices.item(i).text() for i in range(modem.choices.count())]
    assert "simulated modem" in labels[0]
    assert modem.selected() == "sim" and modem.isComplete()
    qtbot.waitUntil(lambda: "ready" in modem.state.text(), timeout=5000)
    go_next(wizard, qtbot, wizard.test_sms)

    # c. test SMS through the simulator
    sms = wizard.test_sms
    assert sms.sim_note.isVisibleTo(wizard)
    sms.number.setText("+12125550123")
    assert sms.send_button.isEnabled()
    sms.send_button.click()
    qtbot.waitUntil(lambda: sms.last_state in ("sent", "delivered"), timeout=10000)
    assert "nothing was really sent" in sms.job_state.text()
    go_next(wizard, qtbot, wizard.tunnel)

    # d. tunnel with a stand-in cloudflared
    tunnel = wizard.tunnel
    tunnel.radios["cloudflared"].setChecked(True)
    tunnel.path.setText(str(fake_cloudflared(tmp_path)))
    tunnel.start_button.click()
    qtbot.waitUntil(lambda: tunnel.url.text().startswith("https://"), timeout=15000)
    assert tunnel.url.text().endswith(".trycloudflare.com/webhook")
    assert "up" in tunnel.state.text()
    go_next(wizard, qtbot, wizard.cometchat)

    # e. CometChat: what to paste into the dashboard
    cc = wizard.cometchat
    cc.dashboard.setChecked(True)
    assert cc.manual_box.isVisibleTo(wizard) and not cc.auto_box.isVisibleTo(wizard)
    assert cc.webhook.text() == tunnel.url.text()
    assert cc.username.text() == "cometchat"
    assert cc.password.text() == password
    cc.stored_phno.setChecked(True)

    with qtbot.waitSignal(wizard.saved, timeout=10000):
        wizard.button(QWizard.WizardButton.FinishButton).click()
    text = (tmp_path / "config.toml").read_text()
    assert password not in text
    saved = tomllib.loads(text)
    assert verify_password(password, saved["auth"]["password_hash"])
    assert "password" not in saved["auth"]
    assert saved["tunnel"]["program"] == "cloudflared"
    assert saved["cometchat"]["use_stored_phno"] is True
    assert app.ctx.settings.auth.password == password  # still known for registration
    assert not wizard.isVisible()


def test_wizard_self_registers_in_cometchat(gui_factory, wizard_settings, qtbot, tmp_path):
    stub = HttpStub()
    try:
        stub.routes[("PUT", PROVIDER)] = (200, {"data": {"success": True}})
        wizard_settings.cometchat.api_url = stub.url + "/v3"
        wizard_settings.tunnel.program = "cloudflared"
        wizard_settings.tunnel.path = str(fake_cloudflared(tmp_path))
        app = gui_factory(wizard_settings)
        wizard = open_wizard(app, qtbot)
        cc = wizard.cometchat
        cc.initializePage()
        cc.self_register.setChecked(True)
        cc.api_key.setText("rest-key")
        cc.app_id.setText("app123")
        cc.region.setCurrentText("eu")
        qtbot.waitUntil(lambda: app.window.tunnel_panel.url.text() != "", timeout=15000)
        cc.register_button.click()
        qtbot.waitUntil(
            lambda: "CometChat's custom SMS provider" in cc.result.text(), timeout=10000
        )
        assert "Updated" in cc.result.text()
        body = next(s.body for s in stub.seen if s.method == "PUT")
        assert body["basicAuthUsername"] == "cometchat"
        assert body["webhookURL"].endswith(".trycloudflare.com/webhook")
        assert stub.seen[-1].headers["apikey"] == "rest-key"
        # Cancel: the running Bridge goes back to the saved settings (no API key).
        wizard.reject()
        qtbot.waitUntil(lambda: app.ctx.settings.cometchat.api_key == "", timeout=5000)
        assert not (tmp_path / "config.toml").exists()
    finally:
        stub.close()


def test_first_run_opens_the_wizard(gui_factory, qtbot):
    app = gui_factory(first_run=True)
    qtbot.waitUntil(lambda: app.window.wizard is not None, timeout=3000)
    assert app.window.wizard.isVisible()
    assert app.window.act.wizard.text() == "Setup wizard…"


def walk_to_cometchat(wizard: SetupWizard, qtbot) -> None:
    """Credentials (kept), the simulator, no test SMS, no tunnel: the last page."""
    for page in (wizard.modem, wizard.test_sms, wizard.tunnel, wizard.cometchat):
        go_next(wizard, qtbot, page)


def test_finish_says_why_it_cannot_register_without_an_api_key(
    gui_factory, wizard_settings, qtbot, tmp_path
):
    app = gui_factory(wizard_settings)
    wizard = open_wizard(app, qtbot)
    walk_to_cometchat(wizard, qtbot)
    cc = wizard.cometchat
    cc.self_register.setChecked(True)
    assert cc.api_key.text() == ""
    saved: list[object] = []
    wizard.saved.connect(saved.append)
    wizard.button(QWizard.WizardButton.FinishButton).click()
    assert wizard.isVisible() and wizard.currentPage() is cc
    assert "Enter the REST API key" in cc.feedback.text()
    assert "I will paste the details" in cc.feedback.text()
    assert cc.result.text() == "Enter the REST API key"
    assert not saved and not (tmp_path / "config.toml").exists()
    # The other choice finishes.
    cc.dashboard.setChecked(True)
    with qtbot.waitSignal(wizard.saved, timeout=10000):
        wizard.button(QWizard.WizardButton.FinishButton).click()


def test_generated_password_shows_with_hide_and_has_no_look_alikes(gui_factory, qtbot):
    app = gui_factory()
    wizard = open_wizard(app, qtbot)
    field = wizard.credentials.password
    wizard.credentials.keep.setChecked(False)
    assert field.show_button.text() == "Show"
    field.generate()  # shows the new password
    assert field.show_button.text() == "Hide"
    assert field.edit.echoMode() == field.edit.EchoMode.Normal
    field.show_button.click()
    assert field.show_button.text() == "Show"
    assert field.edit.echoMode() == field.edit.EchoMode.Password
    passwords = [field.text()]
    for _ in range(200):
        field.generate()
        passwords.append(field.text())
    assert not set("lI1O0") & set("".join(passwords))
    assert all(len(p) == 24 and p.isalnum() for p in passwords)  # 24 × log2(57) > 128 bits


def test_test_sms_page_says_why_send_is_off_and_nothing_was_sent_yet(
    gui_factory, wizard_settings, qtbot
):
    app = gui_factory(wizard_settings)
    wizard = open_wizard(app, qtbot)
    go_next(wizard, qtbot, wizard.modem)
    go_next(wizard, qtbot, wizard.test_sms)
    sms = wizard.test_sms
    # Before anything was sent: the future, not "nothing was really sent".
    assert "was really sent" not in sms.sim_note.text()
    assert "nothing will really be sent" in sms.sim_note.text()
    assert sms.feedback.text() == ""  # an empty field explains itself
    sms.number.setText("12")
    assert not sms.send_button.isEnabled()
    assert sms.feedback.text()  # why: the number's problem
    assert sms.feedback.text() == check_reason("12", app)
    sms.number.setText("+1 212 555 0199")
    assert sms.send_button.isEnabled() and sms.feedback.text() == ""


def check_reason(text: str, app) -> str:
    from gsmbridge.gui.views.dialogs.number_dialog import check_number

    return check_number(text, app.ctx.settings.sending.default_region)[1]


def test_tunnel_page_missing_program_then_no_tunnel(
    gui_factory, wizard_settings, qtbot, tmp_path, monkeypatch
):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # cloudflared is nowhere
    app = gui_factory(wizard_settings)
    wizard = open_wizard(app, qtbot)
    for page in (wizard.modem, wizard.test_sms, wizard.tunnel):
        go_next(wizard, qtbot, page)
    tunnel = wizard.tunnel
    tunnel.radios["cloudflared"].setChecked(True)
    # Not "found on PATH" when it is not.
    assert "cloudflared is not on PATH" in tunnel.path.placeholderText()
    tunnel.start_button.click()
    qtbot.waitUntil(lambda: tunnel.error.isVisibleTo(wizard), timeout=15000)
    assert "not installed" in tunnel.error.text()
    qtbot.waitUntil(lambda: tunnel.feedback.text() != "Applying…", timeout=5000)
    # Not a green "Applied." under "cloudflared is not installed".
    assert tunnel.feedback.text() != "Applied."
    assert "not running" in tunnel.feedback.text()
    panel = app.window.tunnel_panel
    qtbot.waitUntil(lambda: "not installed" in panel.error.text(), timeout=5000)

    tunnel.radios[""].setChecked(True)
    tunnel.start_button.click()  # "Apply"
    qtbot.waitUntil(lambda: tunnel.feedback.text() == "Applied.", timeout=10000)
    qtbot.waitUntil(lambda: app.ctx.bridge.tunnel is None, timeout=10000)
    # The Tunnel tab and the page forget the error of the tunnel that is gone.
    qtbot.waitUntil(lambda: panel.error.text() == "", timeout=10000)
    assert not panel.error.isVisibleTo(panel) and panel.state.text() == "off"
    assert not tunnel.error.isVisibleTo(wizard) and tunnel.state.text() == "off"


def test_tunnel_page_names_the_program_found_on_path(
    gui_factory, wizard_settings, qtbot, tmp_path, monkeypatch
):
    program = fake_cloudflared(tmp_path)
    monkeypatch.setenv("PATH", str(program.parent))
    app = gui_factory(wizard_settings)
    wizard = open_wizard(app, qtbot)
    tunnel = wizard.tunnel
    tunnel.radios["cloudflared"].setChecked(True)
    assert tunnel.path.placeholderText() == f"empty: {program} (found on PATH)"
    tunnel.radios["ngrok"].setChecked(True)
    assert "ngrok runs inside gsmbridge" in tunnel.path.placeholderText()  # the SDK: no program
    assert not tunnel.form.isRowVisible(tunnel.path_row)  # nothing to install or choose


def test_modem_page_asks_for_the_pin_once_and_unlocks(gui_factory, wizard_settings, qtbot):
    """A SIM that asks for its PIN: the page shows the shared PIN entry with the warning;
    a malformed PIN never reaches the modem; the right one unlocks, one press at a time."""
    from gsmbridge.service import Bridge
    from gsmbridge.simulator import fast_options
    from tests.gui.conftest import FAST_MODEM

    def locked(settings, data_dir):
        return Bridge(
            settings, data_dir, simulator_options=fast_options(pin="4321"), modem_options=FAST_MODEM
        )

    app = gui_factory(wizard_settings, factory=locked)
    wizard = open_wizard(app, qtbot)
    go_next(wizard, qtbot, wizard.modem)
    page = wizard.modem
    qtbot.waitUntil(lambda: page.pin_box.isVisibleTo(wizard), timeout=10000)
    assert "3 tries left before the SIM locks" in page.pin_box.warning.text()
    page.pin_box.edit.setText("12")
    page.pin_box.submit()
    assert "4 to 8 digits" in page.feedback.text()
    page.pin_box.edit.setText("4321")
    page.pin_box.button.click()
    assert not page.pin_box.button.isEnabled()  # one PIN at a time
    qtbot.waitUntil(lambda: "ready" in page.state.text(), timeout=10000)
    assert "PIN sent" in page.feedback.text()
    assert not page.pin_box.isVisibleTo(wizard) and page.pin_box.edit.text() == ""


def test_credentials_page_says_why_next_is_greyed_out(gui_factory, wizard_settings, qtbot):
    app = gui_factory(wizard_settings)
    wizard = open_wizard(app, qtbot)
    page = wizard.credentials
    page.keep.setChecked(False)
    page.username.setText("a:b")
    assert not page.isComplete() and "':'" in page.feedback.text()
    page.username.setText("chat")
    page.password.edit.setText("short")
    assert not page.isComplete() and "8 characters" in page.feedback.text()
    page.password.generate()
    assert page.isComplete() and page.feedback.text() == ""


@pytest.mark.parametrize(
    ("when", "then"), [("before", "next"), ("during", "next"), ("during", "cancel")]
)
def test_the_wizard_keeps_credentials_set_password_changed_meanwhile(
    gui_factory, wizard_settings, qtbot, when: str, then: str
) -> None:
    """set-password while the app runs, then the wizard with "Keep the current password":
    its Next (and its Cancel) put back the credentials the app started with, and every
    webhook sent with the new password got 401."""
    import copy

    from gsmbridge.config import apply_new_password
    from tests.gui.conftest import client_for

    app = gui_factory(wizard_settings)
    fresh = copy.deepcopy(app.ctx.settings)
    apply_new_password(fresh, "set-by-the-command")
    if when == "before":
        app.ctx.bridge.live.apply_credentials(fresh.auth)  # what the config watch does
    wizard = open_wizard(app, qtbot)
    if when == "during":
        app.ctx.bridge.live.apply_credentials(fresh.auth)
    assert wizard.credentials.keep.isChecked()
    go_next(wizard, qtbot, wizard.modem)
    if then == "cancel":
        wizard.reject()
        qtbot.waitUntil(lambda: not app.ctx.tasks.busy, timeout=5000)
    client = client_for(app)
    client.password = "set-by-the-command"
    assert client.get("/api/status")[0] == 200
    if then == "next":
        wizard.reject()
