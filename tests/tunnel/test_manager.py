"""TunnelManager against stand-in cloudflared and ngrok processes (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gsmbridge.config import Settings, hash_password
from gsmbridge.tunnel import TunnelManager
from gsmbridge.tunnel.programs import DOWNLOADS
from gsmbridge.tunnel.registration import UNKNOWN_PASSWORD
from tests.tunnel.conftest import (
    FAKE_CLOUDFLARED,
    FAKE_NGROK,
    PASSWORD,
    PROVIDER,
    USER,
    HttpStub,
    Recorder,
    fast_options,
    use_cometchat,
)

Make = Callable[..., TunnelManager]


def is_up(s) -> bool:
    return s.state == "up"


def alive(pid: int) -> bool:
    if sys.platform == "win32":  # os.kill would terminate it there
        out = subprocess.run(
            ["tasklist", "/FI", f"PID eq {pid}", "/NH"], capture_output=True, text=True
        ).stdout
        return str(pid) in out
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def gone(pid: int, timeout: float = 3.0) -> bool:
    """True when no process has this pid any more (Popen reaped it)."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


# -- URL discovery -------------------------------------------------------------------------


def test_cloudflared_url_from_the_metrics_server(make_manager: Make, recorder: Recorder) -> None:
    name = "from-metrics.trycloudflare.com"
    manager = make_manager([*FAKE_CLOUDFLARED, "--fake-no-log-url", f"--fake-hostname={name}"])
    manager.start()
    status = recorder.wait_for(is_up)
    assert status.public_url == f"https://{name}"
    assert status.webhook_url == f"https://{name}/webhook"
    assert status.program == "cloudflared" and status.mode == "quick"
    assert status.pid and status.last_error == ""
    assert recorder.states()[-2:] == ["starting", "up"]


def test_cloudflared_url_from_the_log(make_manager: Make, recorder: Recorder) -> None:
    name = "from-log.trycloudflare.com"
    manager = make_manager([*FAKE_CLOUDFLARED, "--fake-no-metrics", f"--fake-hostname={name}"])
    manager.start()
    assert recorder.wait_for(is_up).public_url == f"https://{name}"
    assert any("Your quick Tunnel has been created" in line for line in manager.last_lines())


def test_ngrok_url_from_the_agent_api(make_manager: Make, recorder: Recorder) -> None:
    command = [*FAKE_NGROK, "--fake-no-log-url", "--fake-domain=api-1.ngrok-free.app"]
    manager = make_manager(command, program="ngrok", port=8765)
    manager.start()
    status = recorder.wait_for(is_up)
    assert status.public_url == "https://api-1.ngrok-free.app"
    assert status.program == "ngrok" and status.mode == "ngrok"


def test_ngrok_url_from_the_log(make_manager: Make, recorder: Recorder) -> None:
    command = [*FAKE_NGROK, "--fake-no-api", "--fake-logfmt", "--fake-domain=log-1.ngrok-free.app"]
    manager = make_manager(command, program="ngrok")
    manager.start()
    assert recorder.wait_for(is_up).public_url == "https://log-1.ngrok-free.app"


def test_no_url_in_time_means_a_restart(make_manager: Make, recorder: Recorder) -> None:
    command = [*FAKE_CLOUDFLARED, "--fake-no-log-url", "--fake-no-metrics"]
    manager = make_manager(command, options=fast_options(discover_timeout_s=0.5))
    manager.start()
    status = recorder.wait_for(lambda s: s.state == "restarting")
    assert "gave no public URL within" in status.last_error
    assert status.pid is None


# -- keeping it alive, stopping it ------------------------------------------------------------


def test_restart_after_the_program_dies(make_manager: Make, recorder: Recorder) -> None:
    manager = make_manager([*FAKE_CLOUDFLARED, "--fake-die-after=0.3"])
    manager.start()
    first = recorder.wait_for(is_up)
    restarting = recorder.wait_for(lambda s: s.state == "restarting")
    assert "exited with code 1" in restarting.last_error
    assert "the edge went away" in restarting.last_error  # the program's last error line
    assert restarting.public_url == "" and restarting.restarts == 1
    second = recorder.wait_for(is_up, after=recorder.statuses.index(restarting))
    assert second.public_url != first.public_url  # a quick tunnel gets a new name
    assert second.pid != first.pid
    assert gone(first.pid)


def test_too_many_restarts_means_failed(make_manager: Make, recorder: Recorder) -> None:
    options = fast_options(max_restarts=2, backoff_s=0.05)
    manager = make_manager([*FAKE_CLOUDFLARED, "--fake-die-after=0.05"], options=options)
    manager.start()
    status = recorder.wait_for(lambda s: s.state == "failed")
    assert "gave up after 2 restarts" in status.last_error
    assert status.restarts == 3


def test_stop_terminates_the_program(make_manager: Make, recorder: Recorder) -> None:
    manager = make_manager(FAKE_CLOUDFLARED)
    manager.start()
    pid = recorder.wait_for(is_up).pid
    assert pid and alive(pid)
    started = time.monotonic()
    manager.stop()
    assert time.monotonic() - started < 2
    assert gone(pid)
    assert manager.status.state == "off" and manager.status.pid is None


@pytest.mark.skipif(sys.platform == "win32", reason="terminate() already kills on Windows")
def test_stop_kills_a_program_that_ignores_sigterm(make_manager: Make, recorder: Recorder) -> None:
    options = fast_options(stop_timeout_s=0.3)
    manager = make_manager([*FAKE_CLOUDFLARED, "--fake-ignore-sigterm"], options=options)
    manager.start()
    pid = recorder.wait_for(is_up).pid
    manager.stop()
    assert gone(pid)


def test_restart_on_request_uses_new_settings(
    make_manager: Make, recorder: Recorder, settings: Settings, tmp_path: Path
) -> None:
    record = tmp_path / "argv.json"
    settings.tunnel.token = "eyJ-named-token"
    settings.tunnel.public_url = "sms.example.com"  # type: ignore[attr-defined] - lead's key
    manager = make_manager([*FAKE_CLOUDFLARED, f"--fake-record={record}", "--fake-hostname=q.x"])
    manager.start()
    named = recorder.wait_for(is_up)
    assert named.mode == "named" and named.public_url == "https://sms.example.com"
    seen = json.loads(record.read_text())
    assert seen["token"] == "eyJ-named-token" and "eyJ-named-token" not in " ".join(seen["argv"])
    assert seen["argv"][-1] == "run"
    settings.tunnel.token = ""
    manager.restart()
    quick = recorder.wait_for(lambda s: s.up and s.mode == "quick")
    assert quick.public_url == "https://q.x"
    assert quick.restarts == 0  # asked for: not a failure
    assert gone(named.pid)


def test_named_tunnel_without_a_public_url_says_so(
    make_manager: Make, recorder: Recorder, settings: Settings
) -> None:
    settings.tunnel.token = "eyJ-named-token"
    manager = make_manager(FAKE_CLOUDFLARED)
    manager.start()
    status = recorder.wait_for(is_up)
    assert status.public_url == "" and status.webhook_url == ""
    assert "tunnel.public_url" in status.last_error


# -- nothing to run, or nothing safe to run -----------------------------------------------------


@pytest.mark.usefixtures("no_ngrok_sdk")
def test_missing_program(make_manager: Make, recorder: Recorder) -> None:
    manager = make_manager(None, search_path="")
    manager.start()
    status = recorder.wait_for(lambda s: s.state == "missing")
    assert status.program == "cloudflared" and status.pid is None
    assert DOWNLOADS["cloudflared"] in status.last_error
    ngrok = make_manager(None, program="ngrok", search_path="")
    ngrok.start()
    status = recorder.wait_for(lambda s: s.state == "missing" and s.program == "ngrok")
    assert "https://ngrok.com/download" in status.last_error
    assert "the built-in ngrok cannot run here" in status.last_error


@pytest.mark.usefixtures("no_ngrok_sdk")
def test_missing_configured_path(
    make_manager: Make, recorder: Recorder, settings: Settings
) -> None:
    settings.tunnel.path = "/nonexistent/ngrok"
    manager = make_manager(None, program=None)
    assert manager.program == "ngrok"  # guessed from the path
    manager.start()
    status = recorder.wait_for(lambda s: s.state == "missing")
    assert "/nonexistent/ngrok" in status.last_error


def test_no_program_configured_is_off(make_manager: Make, recorder: Recorder) -> None:
    manager = make_manager(FAKE_CLOUDFLARED, program="")
    manager.start()
    time.sleep(0.2)
    assert manager.status.state == "off" and manager.status.pid is None


def test_no_tunnel_without_credentials(
    make_manager: Make, recorder: Recorder, settings: Settings
) -> None:
    settings.auth.username = settings.auth.password = ""
    manager = make_manager(FAKE_CLOUDFLARED)
    manager.start()
    status = recorder.wait_for(lambda s: s.state == "failed")
    assert "without Basic Auth" in status.last_error and status.pid is None


def test_ngrok_without_an_account_fails_with_advice(
    make_manager: Make, recorder: Recorder, settings: Settings
) -> None:
    manager = make_manager([*FAKE_NGROK, "--fake-require-authtoken"], program="ngrok")
    manager.start()
    status = recorder.wait_for(lambda s: s.state == "failed")
    assert "ERR_NGROK_4018" in status.last_error and "add-authtoken" in status.last_error
    assert status.restarts == 1  # no restart loop: a restart cannot fix it
    manager.stop()
    settings.tunnel.token = "ngrok-authtoken"  # passed as NGROK_AUTHTOKEN
    again = make_manager([*FAKE_NGROK, "--fake-require-authtoken"], program="ngrok")
    again.start()
    assert recorder.wait_for(is_up, after=len(recorder.statuses)).public_url


# -- self-check and registration --------------------------------------------------------------


def test_self_check_on_demand(
    make_manager: Make, recorder: Recorder, settings: Settings, stub: HttpStub
) -> None:
    settings.tunnel.token = "eyJ-named-token"
    settings.tunnel.public_url = stub.url  # type: ignore[attr-defined]
    stub.routes[("GET", "/health")] = [(200, {"status": "ok"}), (502, {})]
    manager = make_manager(FAKE_CLOUDFLARED)
    manager.start()
    recorder.wait_for(is_up)
    manager.check_now()
    ok = recorder.wait_for(lambda s: s.self_check is not None).self_check
    assert ok.ok and ok.status == 200 and ok.url == stub.url + "/health"
    manager.check_now()
    bad = recorder.wait_for(lambda s: s.self_check is not None and not s.self_check.ok)
    assert bad.self_check.status == 502 and "HTTP 502" in bad.self_check.error
    assert bad.state == "up"  # a failed check reports; it does not restart anything


def test_self_check_periodically(
    make_manager: Make, recorder: Recorder, settings: Settings, stub: HttpStub
) -> None:
    settings.tunnel.token = "eyJ-named-token"
    settings.tunnel.public_url = stub.url  # type: ignore[attr-defined]
    stub.routes[("GET", "/health")] = (200, {"status": "ok"})
    options = fast_options(self_check_interval_s=0.1, self_check_delay_s=0.05)
    manager = make_manager(FAKE_CLOUDFLARED, options=options)
    manager.start()
    recorder.wait_for(is_up)
    deadline = time.monotonic() + 5
    while len([s for s in stub.seen if s.path == "/health"]) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len([s for s in stub.seen if s.path == "/health"]) >= 3


def test_registration_on_every_new_url(
    make_manager: Make, recorder: Recorder, settings: Settings, stub: HttpStub
) -> None:
    use_cometchat(settings, stub)
    stub.routes[("PUT", PROVIDER)] = (200, {"data": {}})
    manager = make_manager([*FAKE_CLOUDFLARED, "--fake-die-after=0.5"])
    manager.start()
    first = recorder.wait_for(lambda s: s.registration is not None and s.registration.ok)
    assert first.registration.webhook_url == first.webhook_url
    second = recorder.wait_for(
        lambda s: (
            s.registration is not None
            and s.registration.ok
            and s.registration.webhook_url != first.webhook_url
        )
    )
    puts = [s for s in stub.seen if s.method == "PUT"]
    assert len(puts) >= 2
    assert puts[0].path == PROVIDER and puts[0].headers["apikey"] == "rest-key"
    assert puts[0].headers["content-type"] == "application/json"
    assert puts[0].body == {
        "isEnabled": True,
        "webhookURL": first.webhook_url,
        "useBasicAuth": True,
        "useStoredPhNo": False,
        "basicAuthUsername": USER,
        "basicAuthPassword": PASSWORD,
    }
    assert puts[1].body["webhookURL"] == second.registration.webhook_url


def test_registration_posts_when_the_provider_is_missing(
    make_manager: Make, recorder: Recorder, settings: Settings, stub: HttpStub
) -> None:
    use_cometchat(settings, stub)
    stub.routes[("PUT", PROVIDER)] = (404, {"error": {"code": "ERR_PROVIDER_NOT_FOUND"}})
    stub.routes[("POST", PROVIDER)] = (200, {"data": {}})
    manager = make_manager(FAKE_CLOUDFLARED)
    manager.start()
    status = recorder.wait_for(lambda s: s.registration is not None)
    assert status.registration.ok and "Created" in status.registration.message
    assert [s.method for s in stub.seen] == ["PUT", "POST"]


def test_registration_retries_a_passing_failure(
    make_manager: Make, recorder: Recorder, settings: Settings, stub: HttpStub
) -> None:
    use_cometchat(settings, stub)
    stub.routes[("PUT", PROVIDER)] = [(503, {}), (200, {})]
    manager = make_manager(FAKE_CLOUDFLARED)
    manager.start()
    failed = recorder.wait_for(lambda s: s.registration is not None)
    assert not failed.registration.ok and failed.registration.retry
    assert recorder.wait_for(lambda s: s.registration is not None and s.registration.ok)


def test_registration_refuses_http_and_unknown_passwords(
    make_manager: Make, recorder: Recorder, settings: Settings, stub: HttpStub
) -> None:
    use_cometchat(settings, stub)
    settings.tunnel.token = "eyJ-named-token"
    settings.tunnel.public_url = "http://plain.example.com"  # type: ignore[attr-defined]
    manager = make_manager(FAKE_CLOUDFLARED)
    manager.start()
    status = recorder.wait_for(lambda s: s.registration is not None)
    assert not status.registration.ok and "https" in status.registration.message
    settings.tunnel.public_url = "https://sms.example.com"  # type: ignore[attr-defined]
    settings.auth.password_hash = hash_password(PASSWORD)
    settings.auth.password = ""
    n = len(recorder.statuses)
    manager.restart()
    status = recorder.wait_for(lambda s: s.registration is not None, after=n)
    status = recorder.wait_for(
        lambda s: s.registration is not None and s.registration.message == UNKNOWN_PASSWORD
    )
    assert status.registration.webhook_url == "https://sms.example.com/webhook"
    assert stub.seen == []  # nothing was sent either time


def test_register_now_after_fixing_the_password(
    make_manager: Make, recorder: Recorder, settings: Settings, stub: HttpStub
) -> None:
    use_cometchat(settings, stub)
    settings.auth.password_hash = hash_password(PASSWORD)
    settings.auth.password = ""
    stub.routes[("PUT", PROVIDER)] = (200, {})
    manager = make_manager(FAKE_CLOUDFLARED)
    manager.start()
    recorder.wait_for(lambda s: s.registration is not None and not s.registration.ok)
    settings.auth.password = PASSWORD  # e.g. re-entered in Settings
    manager.register_now()
    status = recorder.wait_for(lambda s: s.registration is not None and s.registration.ok)
    assert stub.seen[0].body["basicAuthPassword"] == PASSWORD
    assert status.registration.webhook_url == status.webhook_url


def test_status_is_json_ready(make_manager: Make, recorder: Recorder) -> None:
    manager = make_manager(FAKE_CLOUDFLARED)
    manager.start()
    status = recorder.wait_for(is_up)
    data = json.loads(json.dumps(status.to_dict()))
    assert data["state"] == "up" and data["webhook_url"] == status.webhook_url
    assert data["self_check"] is None and data["registration"] is None


def test_registration_can_be_switched_off(
    make_manager: Make, recorder: Recorder, settings: Settings, stub: HttpStub
) -> None:
    use_cometchat(settings, stub)
    settings.cometchat.register_provider = False  # type: ignore[attr-defined] - lead's key
    stub.routes[("PUT", PROVIDER)] = (200, {})
    manager = make_manager(FAKE_CLOUDFLARED)
    manager.start()
    recorder.wait_for(is_up)
    time.sleep(0.2)
    assert stub.seen == [] and manager.status.registration is None
    manager.register_now()  # an explicit request still goes through
    assert recorder.wait_for(lambda s: s.registration is not None).registration.ok
