"""Bodies over the limit, and waitress's own errors, answer JSON like the app (real sockets)."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from gsmbridge.config import Settings
from gsmbridge.service import Bridge
from tests.helpers import ONE_TO_ONE, Client

NINE_MIB = 9 * 1024 * 1024


def _head(port: int, client: Client, extra: str) -> bytes:
    return (
        f"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: {client.auth_header()}\r\nContent-Type: application/json\r\n{extra}\r\n"
    ).encode()


def _exchange(port: int, head: bytes, chunks: list[bytes]) -> tuple[int, dict[str, str], bytes]:
    """Send the request from a thread (the server may answer and close before the end)
    and read the answer: (status, headers, body)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)

    def send() -> None:
        try:
            sock.sendall(head)
            for chunk in chunks:
                sock.sendall(chunk)
        except OSError:  # the server answered and closed: what a real client sees too
            pass

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            got = sock.recv(65536)
            if not got:
                break
            data += got
    finally:
        sock.close()
        sender.join(20)
    head_part, _, body = data.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body[: int(headers.get("content-length", len(body)))]


def _length(data: bytes) -> int:
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    for line in head.split("\r\n"):
        if line.startswith("content-length:"):
            return int(line.split(":", 1)[1])
    return 1 << 62


def _chunked(body: bytes, size: int = 65536) -> list[bytes]:
    out = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return [*out, b"0\r\n\r\n"]


def _assert_json_413(status: int, headers: dict[str, str], body: bytes, limit: int) -> None:
    assert status == 413
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body) == {
        "error": f"request body is larger than {limit} bytes (server.max_body_bytes)"
    }


def test_a_9_mib_body_gets_the_json_413(bridge: Bridge, client: Client) -> None:
    port, limit = bridge.web.port, bridge.settings.server.max_body_bytes
    head = _head(port, client, f"Content-Length: {NINE_MIB}\r\n")
    _assert_json_413(*_exchange(port, head, [b"x" * NINE_MIB]), limit)
    assert bridge.store.count_jobs() == 0
    assert client.post("/webhook", ONE_TO_ONE)[0] == 200  # still answering


def test_a_9_mib_chunked_body_gets_the_json_413(bridge: Bridge, client: Client) -> None:
    port, limit = bridge.web.port, bridge.settings.server.max_body_bytes
    head = _head(port, client, "Transfer-Encoding: chunked\r\n")
    _assert_json_413(*_exchange(port, head, _chunked(b"x" * NINE_MIB)), limit)
    assert bridge.store.count_jobs() == 0


@pytest.mark.parametrize("chunked", [False, True])
def test_just_over_the_limit_is_413_and_at_the_limit_is_accepted(
    settings: Settings, tmp_path, chunked: bool
) -> None:
    settings.server.max_body_bytes = 4096
    b = Bridge(settings, tmp_path)
    b.start()
    try:
        client = Client(b.web.port, "cometchat", "s3cret-pass")
        fits = json.dumps(ONE_TO_ONE).encode()
        fits += b" " * (4096 - len(fits))  # JSON allows trailing whitespace
        over = fits + b" "
        for body, status in ((over, 413), (fits, 200)):
            if chunked:
                head = _head(b.web.port, client, "Transfer-Encoding: chunked\r\n")
                got = _exchange(b.web.port, head, _chunked(body, 1000))
            else:
                head = _head(b.web.port, client, f"Content-Length: {len(body)}\r\n")
                got = _exchange(b.web.port, head, [body])
            assert got[0] == status, (len(body), got)
            if status == 413:
                _assert_json_413(*got, 4096)
        assert b.store.count_jobs() == 1
    finally:
        b.stop()


def test_waitress_own_400_is_json(bridge: Bridge, client: Client) -> None:
    port = bridge.web.port
    head = _head(port, client, "Transfer-Encoding: chunked\r\n")
    status, headers, body = _exchange(port, head, [b"zz-not-hex\r\nxx\r\n0\r\n\r\n"])
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]
