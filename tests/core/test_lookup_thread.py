"""The number lookup thread survives any answer from the network."""

from __future__ import annotations

import json
import socket
import threading

from gsmbridge.config import Settings
from gsmbridge.core.cometchat import PhoneLookup


class RawServer:
    """Answers the first connection with garbage (no HTTP status line), the others properly."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.count = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                self.count += 1
                if self.count == 1:
                    conn.sendall(b"garbage\r\n\r\n")
                else:
                    body = json.dumps({"data": {"phno": "+12125550111"}}).encode()
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
                    )


def test_a_malformed_answer_fails_one_lookup_not_the_thread() -> None:
    server = RawServer()
    settings = Settings()
    settings.cometchat.api_key = "k"
    settings.cometchat.api_url = f"http://127.0.0.1:{server.port}/v3"
    found: list[tuple[str, str]] = []
    failed: list[str] = []
    done = threading.Semaphore(0)

    def on_found(uid: str, number: str) -> None:
        found.append((uid, number))
        done.release()

    def on_failed(uid: str, reason: str) -> None:
        failed.append(uid)
        done.release()

    lookup = PhoneLookup(settings, on_found, on_failed)
    lookup.start()
    try:
        assert lookup.request("first", "app", "eu")
        assert done.acquire(timeout=5), "the first lookup was never reported"
        assert failed == ["first"]
        assert lookup.request("second", "app", "eu")
        assert done.acquire(timeout=5), "the lookup thread died"
        assert found == [("second", "+12125550111")]
        assert lookup.request("first", "app", "eu")  # not stuck as pending
        assert done.acquire(timeout=5)
    finally:
        lookup.stop()
        server.sock.close()
