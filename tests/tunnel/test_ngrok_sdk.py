"""ngrok in-process: TunnelManager with a stand-in SDK, and once with the real package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gsmbridge.config import Settings
from gsmbridge.tunnel import TunnelManager, ngrok_sdk, programs
from tests.tunnel import fake_ngrok_sdk as fake
from tests.tunnel.conftest import Recorder, fast_options
from tests.tunnel.fake_ngrok_sdk import FakeNgrokSdk

Make = Callable[..., TunnelManager]
ROOT = Path(__file__).parents[2]


def is_up(s) -> bool:
    return s.state == "up"


@pytest.fixture
def sdk() -> FakeNgrokSdk:
    return FakeNgrokSdk()


@pytest.fixture
def ngrok_manager(make_manager: Make, sdk: FakeNgrokSdk, settings: Settings) -> Make:
    settings.tunnel.token = "2ab-authtoken"

    def make(**kw: object) -> TunnelManager:
        return make_manager(None, program="ngrok", port=8765, ngrok=sdk, **kw)

    return make


# -- URL discovery -------------------------------------------------------------------------


def test_url_comes_from_the_sdk(ngrok_manager: Make, recorder: Recorder, sdk: FakeNgrokSdk) -> None:
    sdk.script = ["https://abc-1.ngrok-free.app/"]
    manager = ngrok_manager()
    manager.start()
    status = recorder.wait_for(is_up)
    assert status.public_url == "https://abc-1.ngrok-free.app"
    assert status.webhook_url == "https://abc-1.ngrok-free.app/webhook"
    assert status.program == "ngrok" and status.mode == "ngrok"
    assert status.executable == "ngrok SDK 0.0-fake" and status.pid is None
    assert status.last_error == ""
    assert [(c.addr, c.authtoken, c.domain) for c in sdk.calls] == [
        ("127.0.0.1:8765", "2ab-authtoken", "")
    ]
    assert recorder.states()[-2:] == ["starting", "up"]


def test_reserved_domain_from_public_url(
    ngrok_manager: Make, recorder: Recorder, sdk: FakeNgrokSdk, settings: Settings
) -> None:
    settings.tunnel.public_url = "https://sms.example.com/webhook"  # type: ignore[attr-defined]
    sdk.script = ["https://sms.example.com"]
    ngrok_manager().start()
    assert recorder.wait_for(is_up).public_url == "https://sms.example.com"
    assert sdk.calls[0].domain == "sms.example.com"


def test_authtoken_from_the_environment(
    ngrok_manager: Make,
    recorder: Recorder,
    sdk: FakeNgrokSdk,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.tunnel.token = ""
    monkeypatch.setenv("NGROK_AUTHTOKEN", "env-token")
    ngrok_manager().start()
    recorder.wait_for(is_up)
    assert sdk.calls[0].authtoken == "env-token"


def test_authtoken_from_the_agents_config_file(tmp_path: Path) -> None:
    config = tmp_path / "ngrok.yml"
    config.write_text('version: "3"\nagent:\n    authtoken: 2xyz_Token-1.a~\n', encoding="utf-8")
    assert ngrok_sdk.find_authtoken("", [tmp_path / "none.yml", config]) == "2xyz_Token-1.a~"
    assert ngrok_sdk.find_authtoken(" set ", [config]) == "set"
    assert ngrok_sdk.find_authtoken("", [tmp_path / "none.yml"]) == ""


def test_agent_config_locations_per_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", r"C:\Users\office\AppData\Local")
    first = ngrok_sdk.config_paths()[0]
    assert first.parts[-2:] == ("ngrok", "ngrok.yml") and "AppData" in str(first)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert "Application Support" in str(ngrok_sdk.config_paths()[0])


def test_missing_authtoken_fails_with_advice(
    ngrok_manager: Make, recorder: Recorder, sdk: FakeNgrokSdk, settings: Settings
) -> None:
    settings.tunnel.token = ""
    ngrok_manager().start()
    status = recorder.wait_for(lambda s: s.state == "failed")
    assert status.last_error == programs.NGROK_NO_TOKEN
    assert "dashboard.ngrok.com" in status.last_error and "tunnel.token" in status.last_error
    assert status.restarts == 1 and sdk.calls == []  # nothing was tried without one


def test_no_tunnel_without_credentials(
    ngrok_manager: Make, recorder: Recorder, sdk: FakeNgrokSdk, settings: Settings
) -> None:
    settings.auth.username = settings.auth.password = ""
    ngrok_manager().start()
    status = recorder.wait_for(lambda s: s.state == "failed")
    assert "without Basic Auth" in status.last_error and sdk.calls == []


# -- the SDK's errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "state", "expected"),
    [
        (fake.BAD_AUTHTOKEN, "failed", ["[ERR_NGROK_105]", "copy it again"]),
        (fake.SESSION_LIMIT, "restarting", ["[ERR_NGROK_108]", "stop the other one"]),
        (fake.DOMAIN_NOT_RESERVED, "failed", ["[ERR_NGROK_319]", "reserve it at"]),
        (fake.DOMAIN_TAKEN, "failed", ["[ERR_NGROK_320]", "another ngrok account"]),
        (fake.NO_NETWORK, "restarting", ["failed to establish tcp connection", "internet"]),
        (fake.TLS_INTERCEPTED, "restarting", ["tls handshake error", "proxy or antivirus"]),
    ],
    ids=[
        "bad-authtoken",
        "session-limit",
        "domain-not-reserved",
        "domain-taken",
        "no-network",
        "tls",
    ],
)
def test_sdk_errors_become_one_line_states(
    ngrok_manager: Make,
    recorder: Recorder,
    sdk: FakeNgrokSdk,
    error: ValueError,
    state: str,
    expected: list[str],
) -> None:
    sdk.script = [error]
    ngrok_manager().start()
    status = recorder.wait_for(lambda s: s.state == state)
    assert "\n" not in status.last_error and len(status.last_error) < 600
    for text in expected:
        assert text in status.last_error, status.last_error
    assert "2abcdefghijklmnop" not in status.last_error  # the echoed authtoken is hidden
    assert status.pid is None and status.public_url == ""
    if state == "failed":
        assert status.restarts == 1 and len(sdk.calls) == 1  # no restart loop


def test_a_session_that_never_opens_times_out(
    ngrok_manager: Make, recorder: Recorder, sdk: FakeNgrokSdk
) -> None:
    sdk.hold = threading.Event()  # a network that swallows packets
    manager = ngrok_manager(options=fast_options(discover_timeout_s=0.3))
    manager.start()
    status = recorder.wait_for(lambda s: s.state == "restarting")
    assert "gave no public URL within" in status.last_error and "internet" in status.last_error
    sdk.hold.set()  # the late listeners are closed as they arrive, never left running
    deadline = time.monotonic() + 5
    while not sdk.listeners and time.monotonic() < deadline:
        time.sleep(0.02)
    manager.stop()
    assert sdk.listeners and all(listener.closed.wait(5) for listener in sdk.listeners), (
        "a listener outlived the manager"
    )


# -- keeping it alive, stopping it ------------------------------------------------------------


def test_restart_when_the_listener_ends(
    ngrok_manager: Make, recorder: Recorder, sdk: FakeNgrokSdk
) -> None:
    sdk.script = ["https://one-{n}.ngrok-free.app"]
    ngrok_manager().start()
    first = recorder.wait_for(is_up)
    sdk.listeners[0].end("error on join: reconnect error")
    restarting = recorder.wait_for(lambda s: s.state == "restarting")
    assert "ngrok's tunnel ended" in restarting.last_error
    assert "reconnect error" in restarting.last_error and restarting.restarts == 1
    second = recorder.wait_for(is_up, after=recorder.statuses.index(restarting))
    assert second.public_url == "https://one-1.ngrok-free.app" != first.public_url
    assert sdk.listeners[0].closed.is_set()
    assert len(sdk.calls) == 2


def test_backoff_then_failed_when_it_keeps_ending(
    ngrok_manager: Make, recorder: Recorder, sdk: FakeNgrokSdk
) -> None:
    sdk.script = [fake.NO_NETWORK]
    manager = ngrok_manager(options=fast_options(max_restarts=2, backoff_s=0.05))
    manager.start()
    status = recorder.wait_for(lambda s: s.state == "failed")
    assert "gave up after 2 restarts" in status.last_error and status.restarts == 3
    assert len(sdk.calls) == 3


def test_a_silent_session_is_replaced(
    ngrok_manager: Make, recorder: Recorder, sdk: FakeNgrokSdk
) -> None:
    manager = ngrok_manager(options=fast_options(session_lost_s=0.3))
    manager.start()
    recorder.wait_for(is_up)
    time.sleep(0.5)
    assert manager.status.up  # no heartbeat seen yet: nothing to judge by
    sdk.listeners[0].heartbeat()
    status = recorder.wait_for(lambda s: s.state == "restarting")
    assert "lost its session" in status.last_error
    assert sdk.listeners[0].closed.is_set()
    recorder.wait_for(is_up, after=recorder.statuses.index(status))


def test_heartbeats_keep_it_up(ngrok_manager: Make, recorder: Recorder, sdk: FakeNgrokSdk) -> None:
    manager = ngrok_manager(options=fast_options(session_lost_s=0.4))
    manager.start()
    recorder.wait_for(is_up)
    for _ in range(8):
        sdk.listeners[0].heartbeat()
        time.sleep(0.1)
    assert manager.status.up and len(sdk.calls) == 1


def test_stopped_from_the_dashboard(
    ngrok_manager: Make, recorder: Recorder, sdk: FakeNgrokSdk
) -> None:
    manager = ngrok_manager()
    manager.start()
    recorder.wait_for(is_up)
    sdk.listeners[0].stop_from_dashboard()
    status = recorder.wait_for(lambda s: s.state == "failed")
    assert "stopped from the ngrok dashboard" in status.last_error
    assert "Restart" in status.last_error
    n = len(recorder.statuses)
    manager.restart()
    recorder.wait_for(is_up, after=n)


def test_restart_on_request_opens_a_new_session(
    ngrok_manager: Make, recorder: Recorder, sdk: FakeNgrokSdk, settings: Settings
) -> None:
    manager = ngrok_manager()
    manager.start()
    recorder.wait_for(is_up)
    settings.tunnel.token = "new-token"
    n = len(recorder.statuses)
    manager.restart()
    status = recorder.wait_for(is_up, after=n)
    assert status.restarts == 0 and sdk.calls[-1].authtoken == "new-token"
    assert sdk.listeners[0].closed.is_set() and not sdk.listeners[1].closed.is_set()


def test_stop_closes_the_listener(
    ngrok_manager: Make, recorder: Recorder, sdk: FakeNgrokSdk
) -> None:
    manager = ngrok_manager()
    manager.start()
    recorder.wait_for(is_up)
    started = time.monotonic()
    manager.stop()
    assert time.monotonic() - started < 2
    assert sdk.listeners[0].closed.is_set()
    assert manager.status.state == "off" and manager.status.public_url == ""


def test_stop_while_the_session_opens(
    ngrok_manager: Make, recorder: Recorder, sdk: FakeNgrokSdk
) -> None:
    sdk.hold = threading.Event()
    manager = ngrok_manager()
    manager.start()
    assert sdk.entered.wait(5)
    manager.stop()
    assert manager.status.state == "off"
    sdk.hold.set()  # the session opens after all: it is closed at once
    deadline = time.monotonic() + 5
    while not sdk.listeners and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sdk.listeners and sdk.listeners[0].closed.wait(5)


# -- the fallback to the program ---------------------------------------------------------------


@pytest.mark.usefixtures("no_ngrok_sdk")
def test_without_the_sdk_the_program_runs(make_manager: Make, recorder: Recorder) -> None:
    from tests.tunnel.conftest import FAKE_NGROK

    manager = make_manager(None, program="ngrok", search_path="")
    manager.start()
    assert recorder.wait_for(lambda s: s.state == "missing").program == "ngrok"
    assert ngrok_sdk.load() is None and "ngrok" in ngrok_sdk.unavailable()
    program = make_manager([*FAKE_NGROK, "--fake-domain=exe.ngrok-free.app"], program="ngrok")
    program.start()
    status = recorder.wait_for(lambda s: s.up and s.public_url == "https://exe.ngrok-free.app")
    assert status.pid is not None  # the program's child process


def test_error_summary_without_a_code() -> None:
    assert programs.summarise_sdk_error("something new") == "something new"
    assert programs.summarise_sdk_error("") == "ngrok failed"
    err = ngrok_sdk.sdk_error(ValueError("failed to start listener", "line one\r\nERR_NGROK_9\r\n"))
    assert (err.message, err.code) == ("failed to start listener: line one", "9")
    assert ngrok_sdk.sdk_error(RuntimeError()).message == "RuntimeError()"


# -- the real package, where ngrok's service cannot be reached --------------------------------

REAL = """
import json, logging, sys, time
from gsmbridge.config import Settings
from gsmbridge.core.events import Listener
from gsmbridge.tunnel import TunnelManager, TunnelOptions

logging.basicConfig(level=logging.INFO, stream=sys.stderr)
settings = Settings()
settings.auth.username, settings.auth.password = "u", "p4ss-word"
settings.tunnel.token = sys.argv[1]
seen = []

class L(Listener):
    def tunnel_changed(self, status):
        seen.append(status)

options = TunnelOptions(
    discover_timeout_s=20, backoff_s=30, failed_retry_s=30, poll_interval_s=0.05
)
manager = TunnelManager(settings, 9, L(), options=options, program="ngrok")
manager.start()
deadline = time.monotonic() + 25
while time.monotonic() < deadline and not any(s.state in ("restarting", "failed") for s in seen):
    time.sleep(0.05)
children = []
if sys.platform.startswith("linux"):
    import os
    for entry in os.listdir("/proc"):
        try:
            stat = open(f"/proc/{entry}/stat").read()
        except OSError:
            continue
        if entry.isdigit() and int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
            children.append(int(entry))
manager.stop()
last = next(s for s in seen if s.state in ("restarting", "failed"))
print(json.dumps({"state": last.state, "error": last.last_error, "pid": last.pid,
                  "executable": last.executable, "mode": last.mode, "children": children}))
"""


@pytest.mark.skipif(not ngrok_sdk.available(), reason="the ngrok package is not installed here")
@pytest.mark.parametrize("token", ["2bogus-token-for-a-test", ""])
def test_the_real_sdk_without_a_network_ends_in_a_clear_state(token: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
        # Where a network exists, a proxy-less dead end stands in for "no network".
        "NGROK_AUTHTOKEN": "",
    }
    done = subprocess.run(
        [sys.executable, "-c", REAL, token],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    status = json.loads(done.stdout.strip().splitlines()[-1])
    assert status["mode"] == "ngrok" and status["executable"].startswith("ngrok SDK 1.")
    assert status["pid"] is None and status["children"] == []  # in-process: no child
    if token:
        assert status["state"] in ("restarting", "failed"), status
        assert "\n" not in status["error"] and status["error"], status
        # Here there is no route to ngrok: the line says so and what to check.
        if "failed to establish tcp connection" in status["error"]:
            assert "internet connection" in status["error"]
    else:
        assert status["state"] == "failed" and status["error"] == programs.NGROK_NO_TOKEN


# -- the window no longer asks for an ngrok program ------------------------------------------


def test_no_program_file_asked_for_ngrok(monkeypatch: pytest.MonkeyPatch) -> None:
    from gsmbridge.gui.texts import path_placeholder

    assert path_placeholder("ngrok") == "not needed: ngrok runs inside gsmbridge"
    monkeypatch.setitem(sys.modules, "ngrok", None)  # a platform without the SDK's wheel
    monkeypatch.setenv("PATH", "")
    assert "install it" in path_placeholder("ngrok")
