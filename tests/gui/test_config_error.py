"""A config file with a problem in the desktop app: the window says what is wrong
where, runs on every valid value of the file (never on defaults, never open), offers
to open the file, and never writes over it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QPushButton

from gsmbridge.__main__ import _settings_despite
from gsmbridge.config import ConfigError, hash_password, load_settings
from tests.gui.conftest import fast_bridge
from tests.helpers import Client, payload

FILE = """# my settings
[server]
port = 0

[auth]
username = "cc"
password_hash = "{hash}"

[modem]
port = ["sim"]

[limits]
per_minute = 3

[gui]
close_to_tary = false
"""


def broken_file(tmp_path: Path, text: str | None = None) -> Path:
    path = tmp_path / "config.toml"  # where gui_factory's GuiApp looks
    path.write_text(text or FILE.format(hash=hash_password("file-password")), encoding="utf-8")
    return path


def start_like_main(gui_factory, path: Path):
    """What ``main()`` does when the file does not load: the GUI on its valid values."""
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    args = argparse.Namespace(config=path, host=None, port=None, modem=None, log_level=None)
    settings, error = _settings_despite(info.value, args)
    return gui_factory(settings, config_error=error, factory=fast_bridge)


def button(banner, text: str) -> QPushButton:
    [found] = [b for b in banner.findChildren(QPushButton) if b.text() == text]
    return found


def test_a_typo_keeps_password_and_limits_and_says_where(gui_factory, qtbot, tmp_path) -> None:
    path = broken_file(tmp_path)
    app = start_like_main(gui_factory, path)
    window = app.window
    assert app.ctx.running
    port = app.ctx.bridge.web.port
    anonymous = Client(port).request("POST", "/webhook", payload(), auth=False)
    assert anonymous[0] == 401  # the file's credentials hold
    assert Client(port, "cc", "file-password").request("POST", "/webhook", payload())[0] == 200
    assert app.ctx.settings.limits.per_minute == 3
    notice = window.notice
    assert notice.isVisibleTo(window)
    assert "configuration file has a problem" in notice.title.text()
    assert "gui.close_to_tary" in notice.message.text()
    assert f"{path}, line 16" in notice.message.text()
    assert "defaults" not in notice.advice.text()
    assert "has not changed it" in notice.advice.text()
    assert button(notice, "Open the file").isVisibleTo(window)


def test_saving_settings_never_writes_over_the_broken_file(gui_factory, qtbot, tmp_path) -> None:
    path = broken_file(tmp_path)
    before = path.read_text(encoding="utf-8")
    app = start_like_main(gui_factory, path)
    dialog = app.window.open_settings()
    assert dialog.server.username.text() == "cc"  # the file's values, not defaults
    dialog.limits.per_recipient.setText("5")
    dialog.save()
    qtbot.waitUntil(lambda: dialog.general_error.isVisibleTo(dialog), timeout=10000)
    assert "Not saved" in dialog.general_error.text()
    assert "gui.close_to_tary" in dialog.general_error.text()
    assert path.read_text(encoding="utf-8") == before
    assert not (tmp_path / "config.toml.bak").exists()
    dialog.reject()


def test_unreadable_credentials_never_open_the_webhook(gui_factory, qtbot, tmp_path) -> None:
    text = FILE.format(hash=hash_password("file-password")).replace("[auth]", "[auth")
    path = broken_file(tmp_path, text)
    app = start_like_main(gui_factory, path)
    assert app.ctx.running
    port = app.ctx.bridge.web.port
    assert Client(port).request("POST", "/webhook", payload(), auth=False)[0] == 401
    assert Client(port, "cc", "file-password").request("POST", "/webhook", payload())[0] == 401
    advice = app.window.notice.advice.text()
    assert "answers 401 to everyone" in advice and "cannot be read" in advice
    assert "4 problems" in app.window.notice.title.text()  # the header, two keys, the typo


def test_open_the_file_opens_it_or_its_folder(
    gui_factory, qtbot, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = broken_file(tmp_path)
    app = start_like_main(gui_factory, path)
    opened: list[str] = []
    answers = iter([True, False, True])

    def open_url(url: QUrl) -> bool:
        opened.append(url.toLocalFile())
        return next(answers)

    monkeypatch.setattr("gsmbridge.gui.app.QDesktopServices.openUrl", open_url)
    button(app.window.notice, "Open the file").click()
    assert opened == [str(path)]
    # Windows without a program for .toml: the folder instead, and a word in the window.
    button(app.window.notice, "Open the file").click()
    assert opened[1:] == [str(path), str(tmp_path)]


def test_a_fixed_file_ends_the_lock_out_and_the_window_says_so(
    gui_factory, qtbot, tmp_path
) -> None:
    """The config watch took the fixed file's credentials, but the notice went on saying
    the webhook answers 401 to everyone, and Settings held the stale credentials."""
    good = FILE.format(hash=hash_password("file-password"))
    path = broken_file(tmp_path, good.replace("[auth]", "[auth"))
    app = start_like_main(gui_factory, path)
    watch = app.ctx.bridge._config_watch
    assert watch is not None
    watch.stop()  # polled by hand
    path.write_text(good.replace("close_to_tary", "close_to_tray"), encoding="utf-8")
    assert watch.check() is True
    port = app.ctx.bridge.web.port
    assert Client(port, "cc", "file-password").request("POST", "/webhook", payload())[0] == 200
    notice = app.window.notice
    qtbot.waitUntil(lambda: notice.title.text() == "The configuration file loads again")
    assert "401" not in notice.advice.text()
    assert app.ctx.desired.auth.username == "cc" and not app.ctx.desired.auth.unreadable
    assert app.ctx.desired.auth.password_hash == app.ctx.settings.auth.password_hash


def test_config_problems_reach_the_log_not_only_stderr(gui_factory, qtbot, tmp_path, caplog):
    """The desktop app printed them on stderr, which a desktop user never sees: the
    log file and the Log tab had nothing to say why a limit was not the one written."""
    import logging

    text = FILE.format(hash=hash_password("file-password"))
    path = broken_file(tmp_path, text.replace("per_minute = 3", 'per_minute = "ten"'))
    with caplog.at_level(logging.WARNING, logger="gsmbridge.gui.app"):
        start_like_main(gui_factory, path)
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Configuration: ")]
    assert len(said) == 2
    assert any("limits.per_minute" in line and "line 13" in line for line in said), said
    assert any("close_to_tary" in line for line in said)
