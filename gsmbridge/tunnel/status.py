"""What the tunnel looks like to the rest of the program, and the manager's knobs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from gsmbridge.tunnel.registration import RegistrationResult
from gsmbridge.tunnel.selfcheck import CheckResult


@dataclass(frozen=True)
class TunnelStatus:
    """A snapshot; a new one is published on every change.

    ``state``: ``off`` (no tunnel configured or stopped), ``starting`` (the
    program runs, no public URL yet), ``up``, ``restarting`` (it died or
    failed; waiting before the next try), ``failed`` (a restart will not help
    by itself: fix ``last_error``; retried slowly), ``missing`` (the program
    is not installed; ``last_error`` says where to get it).
    """

    program: str = ""  # "cloudflared", "ngrok" or "" (off)
    state: str = "off"
    public_url: str = ""
    pid: int | None = None
    last_error: str = ""
    since: float = 0.0  # wall clock when ``state`` last changed
    self_check: CheckResult | None = None
    registration: RegistrationResult | None = None
    mode: str = ""  # "quick", "named" or "ngrok"
    executable: str = ""  # the program's file; for ngrok in-process "ngrok SDK <version>"
    restarts: int = 0
    webhook_url: str = field(init=False, default="")

    def __post_init__(self) -> None:
        url = self.public_url.rstrip("/") + "/webhook" if self.public_url else ""
        object.__setattr__(self, "webhook_url", url)

    @property
    def up(self) -> bool:
        return self.state == "up"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for ``GET /api/status``."""
        return dataclasses.asdict(self)


@dataclass
class TunnelOptions:
    """Timings; tests shorten them all."""

    discover_timeout_s: float = 45.0  # for the public URL after starting the program
    poll_interval_s: float = 0.5
    endpoint_timeout_s: float = 2.0  # one GET of the program's local API
    stop_timeout_s: float = 5.0  # after terminate, before kill
    backoff_s: float = 2.0  # first restart delay, doubled per failure in a row
    backoff_max_s: float = 120.0
    stable_after_s: float = 120.0  # up this long: the failure count starts again
    max_restarts: int = 6  # in restart_window_s, then "failed" ...
    restart_window_s: float = 900.0
    failed_retry_s: float = 300.0  # ... and another try after this long
    missing_recheck_s: float = 60.0  # look for the program again (installed meanwhile?)
    # The in-process ngrok answers a heartbeat about every 10 s; silence this long after
    # one was seen means the SDK's own reconnecting has not worked: start a new session.
    session_lost_s: float = 60.0
    self_check_interval_s: float | None = None  # None: settings (or 300); 0: on demand only
    self_check_delay_s: float = 15.0  # a new quick tunnel's DNS needs a moment
    self_check_retry_s: float = 60.0  # after a failed check, when the interval is longer
    self_check_timeout_s: float = 10.0
    registration_timeout_s: float = 10.0
    registration_retry_s: float = 60.0  # after a passing failure; doubled, up to 15 min
    require_auth: bool = True  # never expose an unauthenticated webhook
    keep_lines: int = 200
