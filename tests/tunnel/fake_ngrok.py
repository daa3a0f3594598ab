"""A stand-in for the ngrok v3 agent: ``http ADDR --log stdout --log-format json``.

Prints JSON (or logfmt) log lines to stdout as ngrok does and serves the agent
API's GET /api/tunnels on its web address (a free port unless --fake-web-port).
With --fake-require-authtoken and no NGROK_AUTHTOKEN it fails as ngrok does
without an account.  SIGTERM ends it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    tunnels: list[dict] = []


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fake-web-port", type=int, default=0)
    parser.add_argument("--fake-domain", default="")
    parser.add_argument("--fake-die-after", type=float, default=0.0)
    parser.add_argument("--fake-no-api", action="store_true")
    parser.add_argument("--fake-no-log-url", action="store_true")
    parser.add_argument("--fake-logfmt", action="store_true")
    parser.add_argument("--fake-require-authtoken", action="store_true")
    parser.add_argument("--log", default="false")
    parser.add_argument("--log-format", default="term")
    fake, rest = parser.parse_known_args()
    logfmt = fake.fake_logfmt or fake.log_format == "logfmt"

    def say(lvl: str, msg: str, **fields: object) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
        if logfmt:
            parts = [f"t={stamp}", f"lvl={lvl}", f"msg={json.dumps(msg)}"]
            for key, value in fields.items():
                text = str(value)
                parts.append(f"{key}={json.dumps(text) if ' ' in text else text}")
            line = " ".join(parts)
        else:
            line = json.dumps({"lvl": lvl, "msg": msg, "t": stamp, **fields})
        print(line, flush=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if rest[:1] != ["http"] or len(rest) < 2:
        print("ERROR:  unknown command", file=sys.stderr, flush=True)
        return 1
    addr = rest[1]
    origin = addr if "://" in addr else f"http://{addr if ':' in addr else 'localhost:' + addr}"
    say("info", "no configuration paths supplied", obj="config")
    if fake.fake_require_authtoken and not os.environ.get("NGROK_AUTHTOKEN"):
        err = (
            "authentication failed: Usage of ngrok requires a verified account and authtoken."
            "\r\n\r\nSign up for an account: https://dashboard.ngrok.com/signup\r\nInstall your "
            "authtoken: https://dashboard.ngrok.com/get-started/your-authtoken\r\n\r\n"
            "ERR_NGROK_4018\r\n"
        )
        say("eror", "failed to reconnect session", obj="tunnels.session", err=err)
        for line in [
            "authentication failed: Usage of ngrok requires a verified account and authtoken.",
            "",
            "Sign up for an account: https://dashboard.ngrok.com/signup",
            "Install your authtoken: https://dashboard.ngrok.com/get-started/your-authtoken",
            "",
            "ERR_NGROK_4018",
            "https://ngrok.com/docs/errors/err_ngrok_4018",
        ]:
            print(f"ERROR:  {line}".rstrip(), file=sys.stderr, flush=True)
        return 1
    domain = fake.fake_domain or f"fake-{secrets.token_hex(4)}.ngrok-free.app"
    public_url = f"https://{domain}"
    State.tunnels = [
        {
            "name": "command_line",
            "ID": secrets.token_hex(16),
            "uri": "/api/tunnels/command_line",
            "public_url": public_url,
            "proto": "https",
            "config": {"addr": origin, "inspect": True},
            "metrics": {"conns": {"count": 0}, "http": {"count": 0}},
        }
    ]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path == "/api/tunnels":
                body = json.dumps({"tunnels": State.tunnels, "uri": "/api/tunnels"}).encode()
                self.send_response(200)
            else:
                body = b'{"error_code":100,"status_code":404,"msg":"not found"}'
                self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    web_port = fake.fake_web_port
    if not web_port:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            web_port = sock.getsockname()[1]
    if not fake.fake_no_api:
        server = ThreadingHTTPServer(("127.0.0.1", web_port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    say("info", "starting web service", obj="web", addr=f"127.0.0.1:{web_port}", allow_hosts="[]")
    say("info", "client session established", obj="tunnels.session")
    if not fake.fake_no_log_url:
        say(
            "info",
            "started tunnel",
            obj="tunnels",
            name="command_line",
            addr=origin,
            url=public_url,
        )
    started = time.monotonic()
    while True:
        time.sleep(0.05)
        if fake.fake_die_after and time.monotonic() - started >= fake.fake_die_after:
            say("eror", "session closing", obj="tunnels.session", err="fake: connection lost")
            return 1


if __name__ == "__main__":
    sys.exit(main())
