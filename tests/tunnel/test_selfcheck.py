"""The self-check against a real local server standing in for the public URL."""

from __future__ import annotations

from gsmbridge.tunnel.manager import free_port
from gsmbridge.tunnel.selfcheck import check_health
from tests.tunnel.conftest import HttpStub


def test_ok(stub: HttpStub) -> None:
    stub.routes[("GET", "/health")] = (200, {"status": "ok"})
    result = check_health(stub.url, timeout=2, wall_clock=lambda: 1234.0)
    assert result.ok and result.status == 200 and result.error == ""
    assert result.url == stub.url + "/health" and result.time == 1234.0
    assert result.latency_ms is not None and result.latency_ms >= 0
    headers = stub.seen[0].headers
    assert headers["user-agent"].startswith("gsmbridge/")
    assert headers["ngrok-skip-browser-warning"] == "1"


def test_bad_gateway_is_explained(stub: HttpStub) -> None:
    stub.routes[("GET", "/health")] = (502, {"error": "bad gateway"})
    result = check_health(stub.url + "/", timeout=2)
    assert not result.ok and result.status == 502
    assert "cannot reach gsmbridge" in result.error


def test_someone_else_answering_is_not_ok(stub: HttpStub) -> None:
    stub.routes[("GET", "/health")] = (200, b"<html>interstitial</html>")
    result = check_health(stub.url, timeout=2)
    assert not result.ok and result.status == 200
    assert "not with gsmbridge's health response" in result.error


def test_no_answer() -> None:
    result = check_health(f"http://127.0.0.1:{free_port()}", timeout=2)
    assert not result.ok and result.status is None and result.latency_ms is None
    assert result.error.startswith("no answer:")
