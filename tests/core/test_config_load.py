"""Loading a config file leniently: every valid value kept, each problem located;
files written by Windows tools (BOM, UTF-16, backslash paths)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gsmbridge.config import (
    ConfigError,
    hash_password,
    load_settings,
    read_settings,
    verify_password,
)

HASH = hash_password("file-password")

TYPO = f"""# my settings
[server]
port = 9001

[auth]
username = "cc"
password_hash = "{HASH}"

[limits]
per_minute = 3

[gui]
close_to_tary = false
"""


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "config.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_a_typo_keeps_every_other_value_and_says_where(tmp_path: Path) -> None:
    path = write(tmp_path, TYPO)
    loaded = read_settings(path, environ={})
    s = loaded.settings
    assert s.server.port == 9001 and s.limits.per_minute == 3
    assert s.auth.username == "cc" and verify_password("file-password", s.auth.password_hash)
    assert s.auth.unreadable == ""  # the credentials were read
    [problem] = loaded.errors
    assert problem.key == "gui.close_to_tary" and problem.line == 13
    assert problem.message == (
        f"unknown key gui.close_to_tary in {path}, line 13 (did you mean gui.close_to_tray?)"
    )
    with pytest.raises(ConfigError) as info:  # the strict load still refuses it
        load_settings(path, environ={})
    assert str(info.value) == problem.message
    assert info.value.problems == tuple(loaded.problems)


def test_a_line_that_breaks_the_toml_is_skipped_and_the_rest_kept(tmp_path: Path) -> None:
    path = write(tmp_path, TYPO.replace("per_minute = 3", "per_minute = 3\nthis is not toml"))
    loaded = read_settings(path, environ={})
    problem, typo = loaded.errors
    assert typo.key == "gui.close_to_tary" and typo.line == 14
    assert problem.line == 11 and "not valid TOML" in problem.message
    assert f"{path}, line 11" in problem.message
    assert loaded.settings.limits.per_minute == 3
    assert loaded.settings.auth.username == "cc" and loaded.settings.auth.enabled


def test_credentials_lost_in_a_broken_file_lock_the_webhook(tmp_path: Path) -> None:
    # The [auth] header is broken: its keys land in [server] and are unknown there.
    path = write(tmp_path, TYPO.replace("[auth]", "[auth"))
    loaded = read_settings(path, environ={})
    assert loaded.settings.auth.username == ""
    assert "cannot be read" in loaded.settings.auth.unreadable
    assert loaded.settings.auth.enabled  # never an open webhook
    # A file that is not text at all locks too.
    path.write_bytes(b"\x80\x81 not UTF-8")
    assert read_settings(path, environ={}).settings.auth.unreadable


@pytest.mark.parametrize(
    "text",
    [
        # an inline table with a trailing comma (invalid TOML)
        'auth = {{ username = "cometchat", password_hash = "{h}", }}\n[server]\nport = 1\n',
        # quoted keys, a broken value above them
        '[auth]\n"username" = "cometchat\n"password_hash" = "{h}"\n',
        # a dotted key whose own value is broken (unterminated)
        'auth.username = "cc"\nauth.password_hash = "{h}\n[server]\nport = 1\n',
    ],
    ids=["inline-table", "quoted-keys", "dotted-keys"],
)
def test_credentials_written_any_toml_way_lock_when_lost(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text.format(h="scrypt$16384$8$1$c2FsdA==$aGFzaA=="))
    auth = read_settings(path, environ={}).settings.auth
    assert "cannot be read" in auth.unreadable
    assert auth.enabled  # the webhook refuses everyone rather than run open


def test_no_lock_when_the_file_had_no_credentials_or_the_environment_has_them(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, '[auth]\nusername = ""\npassword_hash = ""\n[gui]\nclose_to_tary = 1\n')
    assert read_settings(path, environ={}).settings.auth.unreadable == ""
    path = write(tmp_path, TYPO.replace("[auth]", "[auth"))
    env = {"GSMBRIDGE_AUTH_USERNAME": "e", "GSMBRIDGE_AUTH_PASSWORD": "env-pass"}
    s = read_settings(path, environ=env).settings
    assert s.auth.unreadable == "" and s.auth.password == "env-pass"


def test_range_errors_name_the_file_and_line_and_keep_the_default(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nhost = '0.0.0.0'\nport = 70000\n")
    loaded = read_settings(path, environ={})
    [problem] = loaded.errors
    assert problem.message == f"server.port must be 0..65535 (in {path}, line 3)"
    assert loaded.settings.server.port == 8080 and loaded.settings.server.host == "0.0.0.0"
    env_loaded = read_settings(path, environ={"GSMBRIDGE_SERVER_PORT": "-1"})
    assert env_loaded.errors[0].message == "server.port must be 0..65535 (in the environment)"


def test_a_cross_check_that_still_fails_resets_its_section(tmp_path: Path) -> None:
    path = write(tmp_path, "[retry]\nbase_delay_s = 4000\nmax_delay_s = 1\nmax_attempts = 3\n")
    loaded = read_settings(path, environ={})
    assert [p.key for p in loaded.errors] == ["retry.max_delay_s"]
    assert loaded.settings.retry.max_delay_s >= loaded.settings.retry.base_delay_s
    loaded.settings.validate()


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    # PowerShell 5.1's Out-File -Encoding utf8 and older Notepad write one.
    path = write(tmp_path, "\ufeff[server]\nport = 9002\n".encode())
    assert load_settings(path, environ={}).server.port == 9002


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_is_recognised_and_said(tmp_path: Path, encoding: str) -> None:
    # PowerShell's ">" writes UTF-16 LE with a BOM; the others for good measure.
    path = write(tmp_path, TYPO.replace("close_to_tary", "close_to_tray").encode(encoding))
    with pytest.raises(ConfigError, match="is UTF-16 text .*save it as UTF-8"):
        load_settings(path, environ={})
    loaded = read_settings(path, environ={})
    assert loaded.settings.server.port == 9001  # read anyway, meanwhile
    assert loaded.settings.auth.username == "cc"


def test_a_windows_path_in_double_quotes_is_explained(tmp_path: Path) -> None:
    path = write(tmp_path, '[tunnel]\npath = "D:\\data\\ngrok.exe"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    message = str(info.value)
    assert f"{path}, line 2" in message and "single quotes" in message
    assert "\n" not in message


def test_an_unterminated_string_is_not_blamed_on_windows_paths(tmp_path: Path) -> None:
    path = write(tmp_path, '[auth]\nusername = "cometchat\n[limits]\nper_minute = 3\n')
    loaded = read_settings(path, environ={})
    [problem] = [p for p in loaded.problems if not p.warning]
    assert "line 2" in problem.message and "backslash" not in problem.message
    assert loaded.settings.limits.per_minute == 3


def test_an_error_placed_at_the_end_of_the_document_still_keeps_the_other_values(
    tmp_path: Path,
) -> None:
    # An unterminated multi-line string: the parser names no line ("at end of
    # document"); the line that opened it is found and skipped, the rest kept.
    path = write(tmp_path, '[auth]\nusername = """cometchat\n[limits]\nper_minute = 3\n')
    loaded = read_settings(path, environ={})
    assert loaded.settings.limits.per_minute == 3
    assert any("line 2" in p.message for p in loaded.problems)


def test_a_path_that_turned_into_a_tab_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(
        tmp_path,
        r"""[tunnel]
path = "C:\tools\ngrok.exe"
[modem]
port = ["\\\\.\\COM10"]
""",
    )
    loaded = read_settings(path, environ={})
    assert loaded.errors == []
    [warning] = loaded.problems
    assert warning.warning and warning.key == "tunnel.path" and warning.line == 2
    assert "contains a tab" in warning.message and "single quotes" in warning.message
    with caplog.at_level("WARNING", logger="gsmbridge.config"):
        s = load_settings(path, environ={})  # loads, and says so in the log
    assert s.tunnel.path == "C:\tools\ngrok.exe"
    assert s.modem.port == ["\\\\.\\COM10"]  # escaped backslashes are fine
    assert "contains a tab" in caplog.text
    single = write(tmp_path, "[tunnel]\npath = 'C:\\tools\\ngrok.exe'\n")
    assert read_settings(single, environ={}).problems == []
    assert load_settings(single, environ={}).tunnel.path == "C:\\tools\\ngrok.exe"


def test_username_without_password_says_what_is_missing(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, '[auth]\nusername = "cc"\n'), environ={})
    assert not s.auth.enabled
    assert s.auth.missing == "auth.username is 'cc' but no password is set"
    s.auth.username, s.auth.password = "", "x"
    assert s.auth.missing == "a password is set but auth.username is empty"


def test_a_country_code_phone_numbers_do_not_know_is_refused(tmp_path) -> None:
    """XX passed the file's check (two letters) and ran, while Settings refused it, so
    no other Settings change could be saved until it was fixed."""
    from gsmbridge.config import read_settings

    path = tmp_path / "config.toml"
    path.write_text('[sending]\ndefault_region = "XX"\n', encoding="utf-8")
    loaded = read_settings(path, environ={})
    [problem] = loaded.errors
    assert problem.key == "sending.default_region" and "phone numbers know" in problem.message
    assert loaded.settings.sending.default_region == "US"  # the default meanwhile
    path.write_text('[sending]\ndefault_region = "gb"\n', encoding="utf-8")
    assert read_settings(path, environ={}).errors == []


def test_a_plural_section_name_points_to_the_real_one(tmp_path) -> None:
    """[retries] was answered "did you mean [replies]?"; the section is [retry]."""
    from gsmbridge.config import read_settings

    path = tmp_path / "config.toml"
    path.write_text("[retries]\nmax_attempts = 3\n[limit]\nper_day = 5\n", encoding="utf-8")
    said = [p.message for p in read_settings(path, environ={}).problems]
    assert any("[retries]" in m and "did you mean [retry]?" in m for m in said), said
    assert any("[limit]" in m and "did you mean [limits]?" in m for m in said), said
