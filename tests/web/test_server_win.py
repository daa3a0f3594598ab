"""Listening sockets: several addresses for one name, and Windows' port semantics.

Windows is injected (``sys.platform``, a socket module whose sockets record their
options, errors carrying ``winerror``); the listening itself is a real waitress.
"""

from __future__ import annotations

import socket
import types
from typing import Any

import pytest

from gsmbridge.config import Settings
from gsmbridge.service import Bridge
from gsmbridge.web import server as server_mod
from gsmbridge.web.server import ServerError, WebServer
from tests.conftest import PASSWORD, USER
from tests.helpers import Client


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def _get(host: str, port: int) -> bytes:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect((host, port))
        sock.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    return data


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


SECOND = "::1" if _ipv6_loopback() else "127.0.0.2"


def _two_addresses(monkeypatch: pytest.MonkeyPatch, name: str = "localhost") -> None:
    """A resolver that answers ``name`` with two addresses, like localhost on most PCs."""
    real = socket.getaddrinfo

    def getaddrinfo(host: str | None, port: int, *args: Any, **kw: Any) -> list[Any]:
        if host != name:
            return real(host, port, *args, **kw)
        v6 = ":" in SECOND
        second = (
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (SECOND, port, 0, 0))
            if v6
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (SECOND, port))
        )
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)), second]

    monkeypatch.setattr(server_mod.socket, "getaddrinfo", getaddrinfo)


def test_localhost_starts_serves_and_stops() -> None:
    """Whatever this machine resolves localhost to, start and stop work."""
    web = WebServer(_app, "localhost", 0)
    web.start()
    try:
        assert web.addresses and all(port == web.port for _, port in web.addresses)
        for host, port in web.addresses:
            assert _get(host, port).endswith(b"ok")
    finally:
        web.stop()
    assert web.addresses == []


def test_a_name_with_two_addresses_listens_on_both_and_stops(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _two_addresses(monkeypatch)
    web = WebServer(_app, "localhost", 0)
    caplog.set_level("INFO")
    web.start()
    try:
        hosts = [host for host, _ in web.addresses]
        assert hosts == ["127.0.0.1", SECOND]
        port = web.port
        assert [p for _, p in web.addresses] == [port, port]
        for host in hosts:
            assert _get(host, port).endswith(b"ok")
        shown = f"[{SECOND}]" if ":" in SECOND else SECOND
        assert web.urls == [f"http://127.0.0.1:{port}", f"http://{shown}:{port}"]
        assert f"http://127.0.0.1:{port}/webhook and http://{shown}:{port}/webhook" in caplog.text
    finally:
        web.stop()
    for host in ("127.0.0.1", SECOND):
        with pytest.raises(OSError):
            _get(host, port)


def test_status_lists_every_address(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Any
) -> None:
    _two_addresses(monkeypatch)
    settings.server.host = "localhost"
    bridge = Bridge(settings, tmp_path / "data")
    bridge.start()
    try:
        port = bridge.web.port if bridge.web else 0
        status, _, body = Client(port, USER, PASSWORD).get("/api/status")
        assert status == 200
        assert body["listening"] == bridge.urls
        assert len(body["listening"]) == 2
    finally:
        bridge.stop()


class _Recorder:
    """A socket module for the Windows branch: real sockets whose options and binds
    are recorded; SO_EXCLUSIVEADDRUSE (Windows only) is recorded, not applied."""

    SO_EXCLUSIVEADDRUSE = -5

    def __init__(self, bind_error: OSError | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.module = types.SimpleNamespace(
            **{name: getattr(socket, name) for name in dir(socket) if not name.startswith("__")}
        )
        self.module.SO_EXCLUSIVEADDRUSE = self.SO_EXCLUSIVEADDRUSE
        recorder = self

        class RecordingSocket(socket.socket):
            def setsockopt(self, level: int, option: int, value: Any, *rest: Any) -> None:
                recorder.calls.append(("setsockopt", level, option, value))
                if option != recorder.SO_EXCLUSIVEADDRUSE:
                    super().setsockopt(level, option, value, *rest)

            def bind(self, address: Any) -> None:
                recorder.calls.append(("bind", address))
                if bind_error is not None:
                    raise bind_error
                super().bind(address)

        self.module.socket = RecordingSocket


def _windows(monkeypatch: pytest.MonkeyPatch, recorder: _Recorder) -> None:
    monkeypatch.setattr(server_mod.sys, "platform", "win32")
    monkeypatch.setattr(server_mod, "socket", recorder.module)


def test_windows_binds_with_exclusive_address_use(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = _Recorder()
    _windows(monkeypatch, recorder)
    web = WebServer(_app, "127.0.0.1", 0)
    web.start()
    try:
        assert _get("127.0.0.1", web.port).endswith(b"ok")
    finally:
        web.stop()
    bind_at = next(i for i, call in enumerate(recorder.calls) if call[0] == "bind")
    before = recorder.calls[:bind_at]
    assert ("setsockopt", socket.SOL_SOCKET, _Recorder.SO_EXCLUSIVEADDRUSE, 1) in before
    # SO_REUSEADDR before the bind is what lets a second program share the port on Windows.
    assert not [c for c in before if c[0] == "setsockopt" and c[2] == socket.SO_REUSEADDR]


def _winerror(code: int, text: str) -> OSError:
    exc = OSError(code, text)
    exc.winerror = code  # type: ignore[attr-defined]
    return exc


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (10048, "port 8080 on 127.0.0.1 is already in use"),
        (10013, "netsh interface ipv4 show excludedportrange protocol=tcp"),
    ],
)
def test_windows_port_errors_say_what_to_do(
    monkeypatch: pytest.MonkeyPatch, code: int, expected: str
) -> None:
    recorder = _Recorder(bind_error=_winerror(code, "An attempt was made"))
    _windows(monkeypatch, recorder)
    web = WebServer(_app, "127.0.0.1", 8080)
    with pytest.raises(ServerError) as info:
        web.start()
    assert expected in str(info.value)
    if code == 10013:
        assert "already in use" not in str(info.value)


def test_a_used_port_is_refused_for_real() -> None:
    first = WebServer(_app, "127.0.0.1", 0)
    first.start()
    try:
        second = WebServer(_app, "127.0.0.1", first.port)
        with pytest.raises(ServerError, match="already in use"):
            second.start()
    finally:
        first.stop()
