"""Fixtures for the tunnel: stand-in programs, a stand-in CometChat, a /health server."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gsmbridge.config import Settings
from gsmbridge.core.events import Listener
from gsmbridge.tunnel import TunnelManager, TunnelOptions, TunnelStatus

HERE = Path(__file__).parent
FAKE_CLOUDFLARED = [sys.executable, str(HERE / "fake_cloudflared.py")]
FAKE_NGROK = [sys.executable, str(HERE / "fake_ngrok.py")]
USER, PASSWORD = "cometchat", "s3cret-pass"


def fast_options(**changes: Any) -> TunnelOptions:
    base = dict(
        discover_timeout_s=5.0,
        poll_interval_s=0.05,
        endpoint_timeout_s=0.5,
        stop_timeout_s=2.0,
        backoff_s=0.1,
        backoff_max_s=0.4,
        stable_after_s=60.0,
        max_restarts=5,
        restart_window_s=60.0,
        failed_retry_s=60.0,
        missing_recheck_s=60.0,
        self_check_interval_s=0.0,
        self_check_delay_s=0.0,
        self_check_timeout_s=2.0,
        registration_timeout_s=2.0,
        registration_retry_s=0.2,
    )
    base.update(changes)
    return TunnelOptions(**base)


class Recorder(Listener):
    """Collects published statuses; ``wait_for`` blocks until one matches."""

    def __init__(self) -> None:
        self.statuses: list[TunnelStatus] = []
        self._cond = threading.Condition()

    def tunnel_changed(self, status: Any) -> None:
        with self._cond:
            self.statuses.append(status)
            self._cond.notify_all()

    def wait_for(
        self, predicate: Callable[[TunnelStatus], bool], timeout: float = 8.0, after: int = 0
    ) -> TunnelStatus:
        """The first status from index ``after`` on that matches."""

        def find() -> TunnelStatus | None:
            return next((s for s in self.statuses[after:] if predicate(s)), None)

        with self._cond:
            self._cond.wait_for(lambda: find() is not None, timeout)
            found = find()
        if found is None:
            seen = "\n".join(
                f"  {s.state} url={s.public_url!r} err={s.last_error!r}" for s in self.statuses
            )
            raise AssertionError(f"no matching status within {timeout} s; seen:\n{seen}")
        return found

    def states(self) -> list[str]:
        out: list[str] = []
        for s in self.statuses:
            if not out or out[-1] != s.state:
                out.append(s.state)
        return out


@pytest.fixture(autouse=True)
def no_ngrok_authtoken(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No authtoken from this machine: not NGROK_AUTHTOKEN, not the agent's ngrok.yml."""
    monkeypatch.delenv("NGROK_AUTHTOKEN", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "home" / "AppData" / "Local"))


@pytest.fixture
def no_ngrok_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ngrok package cannot be imported (as on a platform without its wheel)."""
    monkeypatch.setitem(sys.modules, "ngrok", None)  # import raises ImportError


@pytest.fixture
def settings() -> Settings:
    s = Settings()
    s.auth.username = USER
    s.auth.password = PASSWORD
    return s


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_manager(settings: Settings, recorder: Recorder) -> Iterator[Callable[..., TunnelManager]]:
    managers: list[TunnelManager] = []

    def make(
        command: list[str] | None, *, program: str = "cloudflared", port: int = 8080, **kw: Any
    ) -> TunnelManager:
        options = kw.pop("options", None) or fast_options()
        manager = TunnelManager(
            settings, port, recorder, options=options, program=program, command=command, **kw
        )
        managers.append(manager)
        return manager

    yield make
    for manager in managers:
        manager.stop()


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class HttpStub:
    """A real HTTP server on 127.0.0.1 answering from a table; records every request.

    ``routes[(method, path)]`` is (status, JSON body) or a list of them (one per call,
    the last repeated).
    """

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Any] = {}
        self.seen: list[Seen] = []
        self._calls: dict[tuple[str, str], int] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                key = (self.command, self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.seen.append(Seen(self.command, self.path, headers, body))
                answer = outer.routes.get(key, (404, {"error": {"code": "NOT_FOUND"}}))
                if isinstance(answer, list):
                    n = outer._calls.get(key, 0)
                    outer._calls[key] = n + 1
                    answer = answer[min(n, len(answer) - 1)]
                status, payload = answer
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = _handle  # noqa: N815 - http.server's names

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[HttpStub]:
    server = HttpStub()
    yield server
    server.close()


PROVIDER = "/v3/notifications/sms/v1/providers/custom"


def use_cometchat(settings: Settings, server: HttpStub) -> None:
    """Point the settings' REST API at the stand-in (the template keeps its fields)."""
    settings.cometchat.api_key = "rest-key"
    settings.cometchat.app_id = "app123"
    settings.cometchat.region = "eu"
    settings.cometchat.api_url = server.url + "/v3"
