"""While the tunnel is up: periodic self-checks and self-registration, in one thread.

Both make slow network calls (up to ~10 s each), so they stay off the
supervisor thread, which must notice a dead tunnel program promptly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from gsmbridge.config import Settings
from gsmbridge.tunnel import registration
from gsmbridge.tunnel.registration import RegistrationResult, register_provider
from gsmbridge.tunnel.selfcheck import CheckResult, check_health
from gsmbridge.tunnel.status import TunnelOptions

log = logging.getLogger("gsmbridge.tunnel")

MAX_REGISTRATION_DELAY_S = 900.0


class Upkeep:
    def __init__(
        self,
        settings: Settings,
        options: TunnelOptions,
        publish: Callable[..., Any],
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.options = options
        self._publish = publish
        self._clock, self._wall_clock = clock, wall_clock
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._stopping = False
        self._url = ""  # the public URL while the tunnel is up
        self._next_check: float | None = None
        self._check_requested = False
        self._next_register: float | None = None
        self._register_delay = options.registration_retry_s
        self._settled_url = ""  # registered, or failed for good: do not repeat on its own
        self._thread = threading.Thread(target=self._run, name="tunnel-upkeep", daemon=True)

    def interval(self) -> float:
        if self.options.self_check_interval_s is not None:
            return self.options.self_check_interval_s
        return float(getattr(self.settings.tunnel, "self_check_interval_s", 300.0))

    # -- called by the manager (any thread) ------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
        self._event.set()
        if self._thread.ident is not None:
            # A check or registration in flight may take its full timeout; it harms
            # nothing, so shutdown does not wait for it.
            self._thread.join(2.0)

    def tunnel_up(self, url: str) -> None:
        with self._lock:
            self._url = url
            now = self._clock()
            self._next_check = (
                now + self.options.self_check_delay_s if url and self.interval() else None
            )
            self._next_register = None
            if url and url != self._settled_url:
                if registration.automatic(self.settings):
                    self._register_delay = self.options.registration_retry_s
                    self._next_register = now
                else:
                    log.info(
                        "Not registering %s/webhook in CometChat (needs cometchat.api_key, "
                        "app_id and region; cometchat.register_provider on): enter it in "
                        "CometChat's dashboard.",
                        url,
                    )
        self._event.set()

    def tunnel_down(self) -> None:
        with self._lock:
            self._url = ""
            self._next_check = self._next_register = None

    def check_now(self) -> None:
        with self._lock:
            self._check_requested = True
        self._event.set()

    def register_now(self) -> None:
        with self._lock:
            self._settled_url = ""
            self._register_delay = self.options.registration_retry_s
            self._next_register = self._clock()
        self._event.set()

    # -- the thread ----------------------------------------------------------------------

    def _due(self) -> tuple[bool, bool, float]:
        """(check now?, register now?, seconds until the next due action)."""
        with self._lock:
            now = self._clock()
            check = self._check_requested or (
                self._next_check is not None and now >= self._next_check
            )
            register = self._next_register is not None and now >= self._next_register
            pending = [t for t in (self._next_check, self._next_register) if t is not None]
            wait = min((t - now for t in pending), default=3600.0)
            return check, register, max(0.0, min(wait, 3600.0))

    def _run(self) -> None:
        while True:
            check, register, wait = self._due()
            if self._stopping:
                return
            if register:
                self._register()
            if check:
                self._check()
            if not (check or register):
                self._event.wait(wait)
                self._event.clear()

    def _check(self) -> None:
        with self._lock:
            url, self._check_requested = self._url, False
            self._next_check = None
        if not url:
            result = CheckResult(False, self._wall_clock(), error="the tunnel has no public URL")
        else:
            result = check_health(
                url,
                timeout=self.options.self_check_timeout_s,
                clock=self._clock,
                wall_clock=self._wall_clock,
            )
            if result.ok:
                log.info("Self-check of %s: OK in %.0f ms", result.url, result.latency_ms or 0)
            else:
                log.warning("Self-check of %s failed: %s", result.url, result.error)
        with self._lock:
            interval = self.interval()
            if self._url == url and url and interval:
                if not result.ok:
                    interval = min(interval, self.options.self_check_retry_s)
                self._next_check = self._clock() + interval
        self._publish(self_check=result)

    def _register(self) -> None:
        with self._lock:
            url, self._next_register = self._url, None
        if not url:
            result = RegistrationResult(
                False, self._wall_clock(), "the tunnel has no public URL yet"
            )
            self._publish(registration=result)
            return
        webhook = url + "/webhook"
        result = register_provider(
            self.settings,
            webhook,
            timeout=self.options.registration_timeout_s,
            wall_clock=self._wall_clock,
        )
        if result.ok:
            log.info("%s", result.message)
        else:
            log.warning("Could not register %s in CometChat: %s", webhook, result.message)
        with self._lock:
            if self._url == url:
                if result.retry:
                    self._next_register = self._clock() + self._register_delay
                    self._register_delay = min(self._register_delay * 2, MAX_REGISTRATION_DELAY_S)
                else:
                    self._settled_url = url
        self._publish(registration=result)
