"""``gsmbridge set-password`` against a real headless gsmbridge: the running app uses the
new credentials at once, and set-password says whether it does."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gsmbridge.config import hash_password
from tests.helpers import Client
from tests.integration.headless import Headless

NO_ENV_AUTH = {"GSMBRIDGE_AUTH_USERNAME": None, "GSMBRIDGE_AUTH_PASSWORD": None}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(data_dir: Path, port: int) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "config.toml"
    path.write_text(
        "# my settings\n"
        f"[server]\nport = {port}\n"
        f'[auth]\nusername = "cc"\npassword_hash = "{hash_password("old-password")}"\n'
        "[limits]\nper_minute = 3\n",
        encoding="utf-8",
    )
    return path


def set_password(config: Path, *extra: str, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GSMBRIDGE_")}
    return subprocess.run(
        [sys.executable, "-m", "gsmbridge", "set-password", "--config", str(config), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        **kw,  # type: ignore[arg-type]
    )


def generated(out: subprocess.CompletedProcess[str]) -> str:
    [line] = [x for x in out.stdout.splitlines() if x.startswith("password: ")]
    return line.split(": ", 1)[1]


def test_the_running_app_uses_the_new_password_at_once(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port)
    app = Headless(tmp_path, "--port", str(port), env=NO_ENV_AUTH)
    try:
        assert app.port() == port
        assert Client(port, "cc", "old-password").request("GET", "/api/status")[0] == 200
        out = set_password(config, "--generate")
        assert out.returncode == 0, out.stderr
        password = generated(out)
        last = out.stdout.splitlines()[-1]
        assert (
            last
            == f"The running gsmbridge at http://127.0.0.1:{port} uses the new credentials now."
        )
        assert Client(port, "cc", password).request("GET", "/api/status")[0] == 200
        assert Client(port, "cc", "old-password").request("GET", "/api/status")[0] == 401
        assert app.wait_for("Webhook credentials changed in")
        text = config.read_text(encoding="utf-8")
        assert "# my settings" in text and "per_minute = 3" in text  # the rest is kept
    finally:
        app.stop()


def test_an_app_whose_environment_sets_the_password_is_said_to_need_a_restart(
    tmp_path: Path,
) -> None:
    port = free_port()
    config = write_config(tmp_path, port)
    app = Headless(tmp_path, "--port", str(port))  # GSMBRIDGE_AUTH_* = u / p win
    try:
        assert app.port() == port
        out = set_password(config, "--generate")
        assert out.returncode == 0, out.stderr
        assert "still answers the old credentials: restart it" in out.stdout.splitlines()[-1]
    finally:
        app.stop()


def test_without_a_running_app_it_says_so(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port)
    out = set_password(config, "--generate", "--username", "chat")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1].startswith(
        f"Nothing answers at http://127.0.0.1:{port} (server.host and server.port in this file)"
    )
    assert 'username = "chat"' in config.read_text(encoding="utf-8")


def test_an_app_that_checks_no_password_is_not_said_to_use_the_new_one(
    tmp_path: Path,
) -> None:
    # A gsmbridge on the same port that reads another file and has no credentials
    # answers 200 to anybody: that is not "uses the new credentials now".
    port = free_port()
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.toml").write_text(f"[server]\nport = {port}\n", encoding="utf-8")
    app = Headless(other, "--port", str(port), env=NO_ENV_AUTH)
    try:
        assert app.port() == port
        config = write_config(tmp_path / "mine", port)
        out = set_password(config, "--generate")
        assert out.returncode == 0, out.stderr
        assert "answers without checking any password" in out.stdout.splitlines()[-1]
    finally:
        app.stop()


def test_no_input_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    config = write_config(tmp_path, free_port())
    before = config.read_text(encoding="utf-8")
    # No terminal (a new session) and an empty standard input: getpass meets EOF.
    out = set_password(config, stdin=subprocess.DEVNULL, start_new_session=True)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "no password was typed" in out.stderr and "--generate" in out.stderr
    assert config.read_text(encoding="utf-8") == before


@pytest.mark.parametrize("broken", ["[gui]\nclose_to_tary = true\n", "[auth\n"])
def test_a_broken_file_is_not_written_over(tmp_path: Path, broken: str) -> None:
    config = write_config(tmp_path, free_port())
    config.write_text(config.read_text(encoding="utf-8") + broken, encoding="utf-8")
    before = config.read_text(encoding="utf-8")
    out = set_password(config, "--generate")
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "line" in out.stderr
    assert config.read_text(encoding="utf-8") == before
