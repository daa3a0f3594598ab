"""``gsmbridge --headless`` as a user runs it: start, stop, crash, restart."""

from __future__ import annotations

import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import Client, payload
from tests.integration.headless import Headless


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gsmbridge", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_version() -> None:
    from gsmbridge import __version__

    out = run_cli("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"gsmbridge {__version__}"


def test_core_never_imports_qt() -> None:
    code = (
        "import sys, gsmbridge.service, gsmbridge.headless, gsmbridge.config, "
        "gsmbridge.core.store, gsmbridge.web.app, gsmbridge.web.server, gsmbridge.modem.pdu\n"
        "import gsmbridge.__main__ as m; m.build_parser()\n"
        "bad = [name for name in sys.modules if name.startswith(('PySide6', 'shiboken6'))]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_starts_serves_and_stops_on_sigterm(tmp_path) -> None:
    app = Headless(tmp_path)
    client = Client(app.port(), "u", "p")
    status, _, body = client.post("/webhook", payload())
    assert (status, body["status"]) == (200, "queued")
    assert app.stop(signal.SIGTERM) == 0
    assert "Received SIGTERM, stopping" in app.output
    assert "gsmbridge stopped" in app.output
    assert (tmp_path / "logs" / "gsmbridge.log").read_text().count("Webhook accepted") == 1


def test_sigint_stops_cleanly(tmp_path) -> None:
    app = Headless(tmp_path)
    app.port()
    assert app.stop(signal.SIGINT) == 0
    assert "gsmbridge stopped" in app.output


def test_one_instance_per_data_dir(tmp_path) -> None:
    first = Headless(tmp_path)
    first.port()
    try:
        second = Headless(tmp_path)
        code = second.proc.wait(20)
        second._reader.join(5)
        assert code == 1
        assert "already running" in second.output
    finally:
        first.stop()


def test_bad_config_is_one_clear_line(tmp_path) -> None:
    (tmp_path / "config.toml").write_text("[server]\nprot = 8080\n")
    out = run_cli("--headless", "--config", str(tmp_path / "config.toml"))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "gsmbridge: configuration error: unknown key server.prot in "
        f"{tmp_path / 'config.toml'}, line 2 (did you mean server.port?)"
    ]


def test_refuses_public_address_without_credentials(tmp_path) -> None:
    (tmp_path / "none.toml").touch()
    out = run_cli(
        "--headless",
        "--host",
        "0.0.0.0",
        "--data-dir",
        str(tmp_path),
        "--config",
        str(tmp_path / "none.toml"),
    )
    assert out.returncode == 1
    assert "refusing to listen on 0.0.0.0 without credentials" in out.stderr
    assert "Traceback" not in out.stderr


def test_every_acknowledged_webhook_survives_sigkill(tmp_path) -> None:
    app = Headless(tmp_path)
    client = Client(app.port(), "u", "p")

    def post(i: int) -> int | None:
        status, _, body = client.post("/webhook", payload(data__to__uid=f"user-{i}"))
        return body["id"] if status == 200 else None

    with ThreadPoolExecutor(16) as pool:
        acked = [job_id for job_id in pool.map(post, range(300)) if job_id is not None]
    assert len(acked) == 300
    app.proc.send_signal(signal.SIGKILL)  # no clean shutdown: the process just vanishes
    app.proc.wait(10)

    again = Headless(tmp_path)
    try:
        client = Client(again.port(), "u", "p")
        status, _, body = client.get("/api/jobs?limit=1000")
        assert status == 200
        assert sorted(j["id"] for j in body["jobs"]) == sorted(acked)
        assert body["total"] == 300
    finally:
        again.stop()


def test_queue_depth_warnings_do_not_flood_the_log(tmp_path) -> None:
    app = Headless(tmp_path, env={"GSMBRIDGE_SERVER_THREADS": "1"})
    client = Client(app.port(), "u", "p")
    with ThreadPoolExecutor(24) as pool:
        statuses = list(
            pool.map(
                lambda i: client.post("/webhook", payload(data__to__uid=f"q{i}"))[0], range(150)
            )
        )
    assert statuses == [200] * 150
    app.stop()
    assert app.output.count("Task queue depth") <= 1


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in program is a shell script")
def test_tunnel_flag_starts_the_tunnel_and_reports_it(tmp_path) -> None:
    import time

    from tests.tunnel.conftest import FAKE_CLOUDFLARED

    program = tmp_path / "cloudflared"
    program.write_text(
        "#!/bin/sh\nexec " + " ".join(f"'{part}'" for part in FAKE_CLOUDFLARED) + ' "$@"\n'
    )
    program.chmod(0o755)
    app = Headless(tmp_path, "--tunnel", "cloudflared", env={"GSMBRIDGE_TUNNEL_PATH": str(program)})
    try:
        client = Client(app.port(), "u", "p")
        deadline = time.monotonic() + 20
        while True:
            tunnel = client.get("/api/status")[2]["tunnel"]
            if tunnel and tunnel["state"] == "up":
                break
            assert time.monotonic() < deadline, tunnel
            time.sleep(0.1)
        assert tunnel["program"] == "cloudflared"
        assert tunnel["webhook_url"].startswith("https://")
        assert tunnel["webhook_url"].endswith(".trycloudflare.com/webhook")
    finally:
        assert app.stop() == 0


def test_set_password_creates_the_config_with_a_hash_only(tmp_path) -> None:
    import tomllib

    from gsmbridge.config import verify_password

    path = tmp_path / "new" / "config.toml"
    out = run_cli("set-password", "--generate", "--username", "cc", "--config", str(path))
    assert out.returncode == 0, out.stderr
    password = out.stdout.split("password: ")[1].split()[0]
    text = path.read_text()
    assert password not in text
    data = tomllib.loads(text)
    assert data["auth"]["username"] == "cc"
    assert verify_password(password, data["auth"]["password_hash"])
    # The running service accepts it.
    env = {"GSMBRIDGE_AUTH_USERNAME": None, "GSMBRIDGE_AUTH_PASSWORD": None}  # the file decides
    app = Headless(tmp_path, "--config", str(path), env=env)
    try:
        client = Client(app.port(), "cc", password)
        assert client.post("/webhook", payload())[0] == 200
        assert Client(app.port(), "cc", "wrong").post("/webhook", payload())[0] == 401
    finally:
        app.stop()
