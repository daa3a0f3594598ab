"""A stand-in for cloudflared: prints what it prints, serves what it serves.

Understands the two command lines gsmbridge uses:
  tunnel --no-autoupdate --url ORIGIN --metrics ADDR      (quick tunnel)
  tunnel --no-autoupdate --metrics ADDR run                (named, TUNNEL_TOKEN in the environment)
Console lines go to stderr as cloudflared's do; the metrics server answers
/quicktunnel, /ready and /healthcheck.  SIGTERM ends it (exit code 0).

Test knobs come first on the command line (--fake-...), before cloudflared's own.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOX_WIDTH = 92


def say(level: str, text: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{stamp} {level} {text}", file=sys.stderr, flush=True)


def box(lines: list[str]) -> None:
    border = "+" + "-" * BOX_WIDTH + "+"
    say("INF", border)
    for line in lines:
        say("INF", "|  " + line.ljust(BOX_WIDTH - 2) + "|")
    say("INF", border)


class State:
    hostname = ""
    ready = 0


def serve_metrics(addr: str) -> None:
    host, port = addr.rsplit(":", 1)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path == "/quicktunnel":
                self._json(200, {"hostname": State.hostname})
            elif self.path == "/ready":
                status = 200 if State.ready else 503
                self._json(status, {"status": status, "readyConnections": State.ready})
            elif self.path == "/healthcheck":
                self._text(200, "OK\n")
            else:
                self._text(404, "404 page not found\n")

        def _json(self, status: int, body: dict) -> None:
            self._text(status, json.dumps(body), "application/json")

        def _text(self, status: int, text: str, kind: str = "text/plain") -> None:
            raw = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, int(port)), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    say("INF", f"Starting metrics server on {addr}/metrics")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fake-hostname", default="")
    parser.add_argument("--fake-die-after", type=float, default=0.0)
    parser.add_argument("--fake-delay", type=float, default=0.0, help="before the tunnel is up")
    parser.add_argument("--fake-no-metrics", action="store_true", help="serve nothing")
    parser.add_argument("--fake-no-log-url", action="store_true", help="no ASCII box")
    parser.add_argument("--fake-ignore-sigterm", action="store_true")
    parser.add_argument("--fake-record", default="", help="write argv and TUNNEL_TOKEN here")
    parser.add_argument("--fake-pid-file", default="", help="append our pid to this file")
    parser.add_argument(
        "--fake-exit-on-stdin-eof", action="store_true", help="end when stdin closes"
    )
    parser.add_argument("--url", default="")
    parser.add_argument("--metrics", default="")
    fake, rest = parser.parse_known_args()
    if fake.fake_record:
        with open(fake.fake_record, "w", encoding="utf-8") as f:
            json.dump({"argv": sys.argv, "token": os.environ.get("TUNNEL_TOKEN")}, f)

    def on_term(signum: int, _frame: object) -> None:
        if fake.fake_ignore_sigterm:
            return
        say("INF", "Initiating graceful shutdown due to signal terminated ...")
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    if fake.fake_pid_file:
        with open(fake.fake_pid_file, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")
    if fake.fake_exit_on_stdin_eof:

        def watch_stdin() -> None:
            sys.stdin.buffer.read()  # returns at end-of-file: whoever held the pipe is gone
            os._exit(3)

        threading.Thread(target=watch_stdin, daemon=True).start()
    if rest[:1] != ["tunnel"]:
        say("ERR", f"unexpected arguments {rest}")
        return 2
    named = "run" in rest
    say("INF", "Version 2024.1.5 (fake)")
    if named and not os.environ.get("TUNNEL_TOKEN"):
        say("ERR", '"cloudflared tunnel run" requires the ID or name of the tunnel to run')
        return 1
    if fake.metrics and not fake.fake_no_metrics:
        serve_metrics(fake.metrics)
    if not named:
        say("INF", "Requesting new quick Tunnel on trycloudflare.com...")
    time.sleep(fake.fake_delay)
    if named:
        State.ready = 1
        say("INF", "Registered tunnel connection connIndex=0 connection=fake ip=198.41.200.13")
    else:
        State.hostname = fake.fake_hostname or f"fake-{secrets.token_hex(4)}.trycloudflare.com"
        if not fake.fake_no_log_url:
            box(
                [
                    "Your quick Tunnel has been created! Visit it at "
                    "(it may take some time to be reachable):",
                    f"https://{State.hostname}",
                ]
            )
        State.ready = 1
    started = time.monotonic()
    while True:
        time.sleep(0.05)
        if fake.fake_die_after and time.monotonic() - started >= fake.fake_die_after:
            say("ERR", 'Connection terminated error="fake: the edge went away"')
            return 1


if __name__ == "__main__":
    sys.exit(main())
