"""Proving the path from the internet: GET <public URL>/health through the tunnel.

A 200 from our own ``/health`` means DNS, the tunnel provider and the tunnel
program all work.  The request leaves this PC and comes back through the
provider's edge, just as CometChat's requests do.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from gsmbridge import __version__


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    time: float  # wall clock (epoch seconds) when the check finished
    url: str = ""
    status: int | None = None  # HTTP status, None when no answer came
    latency_ms: float | None = None
    error: str = ""


def check_health(
    public_url: str,
    *,
    timeout: float = 10.0,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
) -> CheckResult:
    """One GET of ``public_url + "/health"``; never raises."""
    url = public_url.rstrip("/") + "/health"
    request = urllib.request.Request(
        url,
        headers={
            "Accept": "application/json",
            "User-Agent": f"gsmbridge/{__version__} self-check",
            # ngrok's free plan puts a warning page in front of browsers; we are not one.
            "ngrok-skip-browser-warning": "1",
        },
    )
    started = clock()

    def result(ok: bool, status: int | None = None, error: str = "") -> CheckResult:
        latency = round((clock() - started) * 1000, 1) if status is not None else None
        return CheckResult(ok, wall_clock(), url, status, latency, error)

    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, body = response.status, response.read(4096)
    except urllib.error.HTTPError as exc:
        hint = ""
        if exc.code in (502, 503, 504, 530):
            hint = " (the tunnel is up but cannot reach gsmbridge, or is not ready yet)"
        elif exc.code == 404:
            hint = " (the public URL leads somewhere else)"
        return result(False, exc.code, f"HTTP {exc.code} {exc.reason}{hint}")
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return result(False, None, f"no answer: {reason}")
    try:
        healthy = json.loads(body).get("status") == "ok"
    except (ValueError, AttributeError):
        healthy = False
    if not healthy:
        return result(False, status, "answered, but not with gsmbridge's health response")
    return result(True, status)
