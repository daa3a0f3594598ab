"""TunnelManager: runs cloudflared or ngrok, learns the public URL, keeps it alive.

One supervisor thread owns the tunnel: for cloudflared (and ngrok where its SDK
cannot be imported) it starts the program, asks the program's local API (or,
failing that, reads its log) for the public URL; ngrok otherwise runs
in-process through its SDK (``ngrok_sdk``), which hands the URL over directly.
The supervisor watches the tunnel, restarts it with backoff when it dies, and
stops it on ``stop()``.
Every change is published as a new ``TunnelStatus`` through
``listener.tunnel_changed``.  Nothing here blocks the caller, and every wait
has a timeout.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gsmbridge.config import Settings
from gsmbridge.core.events import Listener
from gsmbridge.tunnel import ngrok_sdk, programs
from gsmbridge.tunnel.ngrok_sdk import BackgroundForward, NgrokListenerHandle, NgrokSdk
from gsmbridge.tunnel.process import ChildProcess
from gsmbridge.tunnel.programs import Launch, LineInfo
from gsmbridge.tunnel.status import TunnelOptions, TunnelStatus
from gsmbridge.tunnel.upkeep import Upkeep

log = logging.getLogger("gsmbridge.tunnel")

NO_AUTH = (
    "refusing to open a public tunnel without Basic Auth: anyone could send SMS through "
    "your SIM. Set a username and password (auth.*) first."
)
NO_PUBLIC_URL = (
    "a named tunnel does not say its public hostname: set tunnel.public_url to the "
    "hostname routed to this tunnel in Cloudflare"
)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (for cloudflared's metrics server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class _Run:
    """What one run of the program has said so far (filled by the reader threads)."""

    log_url: str = ""
    api_addr: str = ""
    connected: bool = False
    errors: deque[str] = field(default_factory=lambda: deque(maxlen=50))


@dataclass
class _SdkRun:
    """What the in-process ngrok said during one session (set from the SDK's threads)."""

    last_heartbeat: float | None = None
    stopped: str = ""  # the dashboard's stop command


@dataclass
class _Outcome:
    was_up: bool = False
    up_for: float = 0.0
    error: str = ""
    fatal: bool = False  # a restart will not fix it
    requested: bool = False  # stop() or restart(): no failure


class TunnelManager:
    """Starts, watches and stops the tunnel program.

    ``command`` replaces the found executable (tests pass ``[python, fake.py]``;
    for ngrok it also means "the program, not the SDK"); ``ngrok`` replaces the
    ngrok SDK (tests pass a stand-in; by default the real one, or the program
    where it cannot be imported); ``program`` overrides
    ``settings.tunnel.program``; ``search_path`` replaces PATH when looking for
    the program.  Settings are read at every (re)start, so
    call ``restart()`` after changing ``tunnel.*`` and ``register_now()`` after
    changing ``cometchat.*`` or ``auth.*``.
    """

    def __init__(
        self,
        settings: Settings,
        local_port: int,
        listener: Listener | None = None,
        *,
        options: TunnelOptions | None = None,
        program: str | None = None,
        command: Sequence[str] | None = None,
        local_host: str = "127.0.0.1",
        search_path: str | None = None,
        ngrok: NgrokSdk | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.local_port = local_port
        self.local_host = local_host
        self.listener = listener or Listener()
        self.options = options or TunnelOptions()
        self._program = program
        self._command = list(command) if command else None
        self._search_path = search_path
        self._clock, self._wall_clock = clock, wall_clock
        self._lock = threading.Lock()
        self._publish_lock = threading.Lock()  # listeners see changes in order
        self._status = TunnelStatus(program=self.program, since=wall_clock())
        self._stopping = threading.Event()
        self._restart = threading.Event()
        self._wake = threading.Event()  # cuts the supervisor's waits short
        self._news = threading.Event()  # a log line said something useful
        self._child: ChildProcess | None = None
        self._ngrok, self._ngrok_loaded = ngrok, ngrok is not None
        self._sdk_start: BackgroundForward | None = None
        self._sdk_handle: NgrokListenerHandle | None = None
        self._restart_times: deque[float] = deque()
        self._upkeep = Upkeep(settings, self.options, self._publish, clock, wall_clock)
        self._thread: threading.Thread | None = None

    # -- public API ---------------------------------------------------------------------

    @property
    def program(self) -> str:
        """ "cloudflared", "ngrok", or "" for no tunnel."""
        tunnel = self.settings.tunnel
        chosen = self._program if self._program is not None else tunnel.program
        if not chosen and tunnel.path:
            chosen = programs.guess_program(tunnel.path)
        return chosen

    @property
    def status(self) -> TunnelStatus:
        with self._lock:
            return self._status

    def start(self) -> None:
        """Returns at once; the tunnel comes up in the background."""
        if self._thread is not None:
            return
        self._upkeep.start()
        self._thread = threading.Thread(target=self._supervise, name="tunnel", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the program (terminate, kill after ``stop_timeout_s``); bounded wait."""
        self._stopping.set()
        self._wake.set()
        opts = self.options
        if self._thread is not None:
            self._thread.join(opts.stop_timeout_s * 2 + opts.endpoint_timeout_s + 2)
        child = self._child
        if child is not None and child.poll() is None:
            child.stop(opts.stop_timeout_s)  # the supervisor did not get to it in time
        start, handle = self._sdk_start, self._sdk_handle
        if start is not None:
            start.abandon()  # a session still opening is closed when it opens
        if handle is not None:
            handle.close()
        self._upkeep.stop()
        self._publish(state="off", pid=None, public_url="")

    def restart(self) -> None:
        """Start the program again with the current settings (or look for it again)."""
        self._restart.set()
        self._wake.set()

    def check_now(self) -> None:
        """Run a self-check soon; the result arrives with the next status."""
        self._upkeep.check_now()

    def register_now(self) -> None:
        """Register the current public URL in CometChat again (after a settings change)."""
        self._upkeep.register_now()

    def last_lines(self) -> list[str]:
        """The program's last output lines, for diagnostics."""
        child = self._child
        return [programs.redact(line) for line in child.last_lines()] if child else []

    # -- status -------------------------------------------------------------------------

    def _publish(self, **changes: Any) -> TunnelStatus:
        with self._publish_lock:
            with self._lock:
                old = self._status
                new = dataclasses.replace(old, **changes)
                if new.state != old.state:
                    new = dataclasses.replace(new, since=self._wall_clock())
                if new == old:
                    return old
                self._status = new
            try:
                self.listener.tunnel_changed(new)
            except Exception:  # noqa: BLE001 - a listener must not kill the supervisor
                log.exception("tunnel listener failed")
            return new

    # -- the supervisor thread ------------------------------------------------------------

    def _pause(self, seconds: float) -> None:
        self._wake.wait(seconds)

    def _take_restart(self) -> bool:
        if self._restart.is_set() and not self._stopping.is_set():
            self._restart.clear()
            self._wake.clear()
            return True
        return False

    def _supervise(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            if self._take_restart():
                failures = 0
            outcome = self._attempt()
            if outcome is None or self._stopping.is_set():
                continue
            if outcome.requested:
                failures = 0
                continue
            failures = 0 if outcome.up_for >= self.options.stable_after_s else failures
            failures += 1
            self._after_failure(outcome, failures)

    def _sdk(self) -> NgrokSdk | None:
        """The ngrok SDK (loaded once), or None to run the ngrok program instead."""
        if self._command:
            return None
        if not self._ngrok_loaded:
            self._ngrok, self._ngrok_loaded = ngrok_sdk.load(), True
        return self._ngrok

    def _refuse_without_auth(self, program: str) -> bool:
        if self.options.require_auth and not self.settings.auth.enabled:
            if self.status.last_error != NO_AUTH:
                log.error("Tunnel: %s", NO_AUTH)
            self._publish(program=program, state="failed", last_error=NO_AUTH, pid=None)
            self._pause(self.options.failed_retry_s)
            return True
        return False

    def _attempt(self) -> _Outcome | None:
        """One start of the program; None when there is nothing to run (paused meanwhile)."""
        program, tunnel, opts = self.program, self.settings.tunnel, self.options
        if not program:
            self._publish(program="", state="off", last_error="", pid=None, public_url="")
            self._pause(3600)
            return None
        sdk = self._sdk() if program == "ngrok" else None
        if sdk is not None:
            return None if self._refuse_without_auth(program) else self._run_sdk_once(sdk)
        if self._command:
            prefix, executable = self._command, " ".join(self._command)
        else:
            found = programs.find_program(program, tunnel.path, search_path=self._search_path)
            if found is None:
                message = programs.missing_message(program, tunnel.path)
                if program == "ngrok":
                    # Only here does ngrok need a program: say why the built-in one did not do.
                    message += f" (the built-in ngrok cannot run here: {ngrok_sdk.unavailable()})"
                if self.status.state != "missing":
                    log.warning("Tunnel: %s", message)
                self._publish(program=program, state="missing", last_error=message, pid=None)
                self._pause(opts.missing_recheck_s)
                return None
            prefix, executable = [found], found
        if self._refuse_without_auth(program):
            return None
        launch = self._launch(program, prefix)
        self._publish(
            program=program,
            mode=launch.mode,
            executable=executable,
            state="starting" if self.status.state != "restarting" else "restarting",
            public_url="",
        )
        return self._run_once(program, launch)

    def _launch(self, program: str, prefix: list[str]) -> Launch:
        tunnel = self.settings.tunnel
        if program == "ngrok":
            return programs.ngrok_http(prefix, f"{self.local_host}:{self.local_port}", tunnel.token)
        metrics = f"127.0.0.1:{free_port()}"
        if tunnel.token:
            return programs.cloudflared_named(prefix, tunnel.token, metrics)
        origin = f"http://{self.local_host}:{self.local_port}"
        return programs.cloudflared_quick(prefix, origin, metrics)

    def _on_line(self, program: str, run: _Run, stream: str, line: str) -> None:
        parse = programs.parse_ngrok_line if program == "ngrok" else programs.parse_cloudflared_line
        info: LineInfo = parse(line)
        log.debug("%s %s: %s", program, stream, programs.redact(line))
        with self._lock:
            if info.url and not run.log_url:
                run.log_url = info.url
            if info.api_addr:
                run.api_addr = info.api_addr
            run.connected = run.connected or info.connected
            if info.error:
                run.errors.append(info.error)
        if info.error:
            log.warning("%s: %s", program, info.error)
        if info.url or info.api_addr or info.connected or info.error:
            self._news.set()

    def _summary(self, program: str, run: _Run) -> str:
        with self._lock:
            return programs.summarise_errors(program, list(run.errors))

    def _fatal(self, run: _Run) -> bool:
        with self._lock:
            codes = programs.ngrok_error_codes(list(run.errors))
        return bool(set(codes) & programs.NGROK_FATAL)

    def _run_once(self, program: str, launch: Launch) -> _Outcome:
        opts, run = self.options, _Run()
        log.info("Starting %s: %s", program, " ".join(launch.argv))
        try:
            child = ChildProcess(
                launch.argv,
                functools.partial(self._on_line, program, run),
                env=launch.env,
                keep_lines=opts.keep_lines,
            )
        except OSError as exc:
            return _Outcome(error=f"cannot start {launch.argv[0]}: {exc}", fatal=True)
        self._child = child
        self._publish(pid=child.pid)
        url = self._discover_until_up(program, launch, run, child)
        if isinstance(url, _Outcome):
            return url
        up_at = self._clock()
        error = NO_PUBLIC_URL if url == "" else ""
        check = self.status.self_check
        if check is not None and check.url != f"{url}/health":
            check = None  # an old URL's result would mislead
        # The upkeep learns the URL first: whoever sees "up" may ask for a check at once.
        self._upkeep.tunnel_up(url)
        self._publish(state="up", public_url=url, last_error=error, self_check=check)
        log.info("Tunnel up: %s", f"webhook {url}/webhook" if url else NO_PUBLIC_URL)
        try:
            while not (self._stopping.is_set() or self._restart.is_set()):
                code = child.wait(opts.poll_interval_s)
                if code is not None:
                    message = self._exited(program, run, child, code)
                    log.warning("Tunnel down: %s", message)
                    return _Outcome(True, self._clock() - up_at, message)
        finally:
            self._upkeep.tunnel_down()
        self._end(child)
        return _Outcome(True, self._clock() - up_at, requested=True)

    # -- ngrok in-process -----------------------------------------------------------------

    def _run_sdk_once(self, sdk: NgrokSdk) -> _Outcome:
        """One ngrok session through the SDK: no child process, nothing left behind."""
        opts, tunnel = self.options, self.settings.tunnel
        self._publish(
            program="ngrok",
            mode="ngrok",
            executable=f"ngrok SDK {sdk.version}".strip(),
            state="starting" if self.status.state != "restarting" else "restarting",
            public_url="",
            pid=None,
        )
        token = ngrok_sdk.find_authtoken(tunnel.token)
        if not token:
            return _Outcome(error=programs.NGROK_NO_TOKEN, fatal=True)
        configured = programs.normalise_public_url(getattr(tunnel, "public_url", "") or "")
        domain = configured.split("://", 1)[-1].split("/", 1)[0]
        run = _SdkRun()

        def on_event(event: ngrok_sdk.SessionEvent) -> None:
            with self._lock:
                if event.kind == "heartbeat":
                    run.last_heartbeat = self._clock()
                elif event.kind == "stop":
                    run.stopped = event.detail or "stopped from the ngrok dashboard"
            if event.kind == "stop":
                self._news.set()

        addr = f"{self.local_host}:{self.local_port}"
        log.info("Starting ngrok in-process (SDK %s) for %s", sdk.version, addr)
        start = BackgroundForward(sdk, addr, authtoken=token, domain=domain, on_event=on_event)
        self._sdk_start = start
        try:
            deadline = self._clock() + opts.discover_timeout_s
            while not start.done.wait(opts.poll_interval_s):
                if self._stopping.is_set() or self._restart.is_set():
                    start.abandon()
                    return _Outcome(requested=True)
                if self._clock() >= deadline:
                    start.abandon()
                    error = f"ngrok gave no public URL within {opts.discover_timeout_s:.0f} s"
                    return _Outcome(error=f"{error}: {programs.NGROK_NO_NETWORK}")
        finally:
            self._sdk_start = None
        if start.error is not None or start.handle is None:
            failure = start.error or ngrok_sdk.NgrokSdkError("ngrok opened no listener")
            message = programs.summarise_sdk_error(failure.message, failure.code)
            return _Outcome(error=message, fatal=failure.code in programs.NGROK_FATAL)
        handle = self._sdk_handle = start.handle
        try:
            return self._watch_sdk(handle, run)
        finally:
            self._sdk_handle = None
            handle.close()

    def _watch_sdk(self, handle: NgrokListenerHandle, run: _SdkRun) -> _Outcome:
        opts = self.options
        url = handle.url().strip().rstrip("/")
        up_at = self._clock()
        check = self.status.self_check
        if check is not None and check.url != f"{url}/health":
            check = None
        self._upkeep.tunnel_up(url)
        self._publish(state="up", public_url=url, last_error="", self_check=check)
        log.info("Tunnel up: webhook %s/webhook (ngrok in-process)", url)
        try:
            while not (self._stopping.is_set() or self._restart.is_set()):
                reason = handle.wait(opts.poll_interval_s)
                with self._lock:
                    heartbeat, stopped = run.last_heartbeat, run.stopped
                error, fatal = "", False
                if reason is not None:
                    codes = programs.ngrok_error_codes([reason])
                    error = "ngrok's tunnel ended: " + programs.summarise_sdk_error(
                        reason, codes[0] if codes else ""
                    )
                    fatal = bool(set(codes) & programs.NGROK_FATAL)
                elif stopped:
                    error, fatal = f"ngrok: {stopped}; press Restart to start it again", True
                elif heartbeat is not None and self._clock() - heartbeat > opts.session_lost_s:
                    error = (
                        f"ngrok lost its session (no heartbeat for {opts.session_lost_s:.0f} s): "
                        "starting a new one"
                    )
                if error:
                    log.warning("Tunnel down: %s", error)
                    return _Outcome(True, self._clock() - up_at, error, fatal=fatal)
        finally:
            self._upkeep.tunnel_down()
        return _Outcome(True, self._clock() - up_at, requested=True)

    # -- the program ----------------------------------------------------------------------

    def _exited(self, program: str, run: _Run, child: ChildProcess, code: int) -> str:
        self._end(child)  # the readers finish first: the last lines hold the reason
        summary = self._summary(program, run)
        return f"{program} exited with code {code}" + (f": {summary}" if summary else "")

    def _discover_until_up(
        self, program: str, launch: Launch, run: _Run, child: ChildProcess
    ) -> str | _Outcome:
        """The public URL ("" for a named tunnel without one), or how the attempt ended."""
        opts = self.options
        deadline = self._clock() + opts.discover_timeout_s
        while True:
            if self._stopping.is_set() or self._restart.is_set():
                self._end(child)
                return _Outcome(requested=True)
            code = child.poll()
            if code is not None:
                message = self._exited(program, run, child, code)
                return _Outcome(error=message, fatal=self._fatal(run))
            if self._fatal(run):
                self._end(child)
                return _Outcome(error=self._summary(program, run), fatal=True)
            url = self._discover(launch, run)
            if url is not None:
                return url
            if self._clock() >= deadline:
                self._end(child)
                summary = self._summary(program, run)
                message = f"{program} gave no public URL within {opts.discover_timeout_s:.0f} s"
                return _Outcome(error=message + (f" ({summary})" if summary else ""))
            self._news.wait(opts.poll_interval_s)
            self._news.clear()

    def _discover(self, launch: Launch, run: _Run) -> str | None:
        """Ask the local endpoint first (the program's own answer), then the log."""
        timeout = self.options.endpoint_timeout_s
        with self._lock:
            log_url, api_addr, connected = run.log_url, run.api_addr, run.connected
        try:
            if launch.mode == "quick":
                url = programs.read_quicktunnel(launch.metrics_addr, timeout)
            elif launch.mode == "ngrok":
                api = api_addr or programs.NGROK_DEFAULT_API
                url = programs.read_ngrok_tunnels(api, self.local_port, timeout)
            else:
                connected = connected or programs.read_ready(launch.metrics_addr, timeout) > 0
                url = None
        except (OSError, ValueError):
            url = None  # not listening yet: the log may know
        if launch.mode == "named":
            configured = getattr(self.settings.tunnel, "public_url", "") or ""
            return programs.normalise_public_url(configured) if connected else None
        if url:
            log.debug("public URL from the local API: %s", url)
        return url or log_url or None

    def _end(self, child: ChildProcess) -> None:
        child.stop(self.options.stop_timeout_s)
        self._publish(pid=None)

    def _after_failure(self, outcome: _Outcome, failures: int) -> None:
        opts, now = self.options, self._clock()
        self._restart_times.append(now)
        while self._restart_times and now - self._restart_times[0] > opts.restart_window_s:
            self._restart_times.popleft()
        restarts = self.status.restarts + 1
        if outcome.fatal or len(self._restart_times) > opts.max_restarts:
            error = outcome.error
            if not outcome.fatal:
                error += (
                    f" (gave up after {opts.max_restarts} restarts in "
                    f"{opts.restart_window_s / 60:.0f} min)"
                )
            log.error("Tunnel failed: %s; trying again in %.0f s", error, opts.failed_retry_s)
            self._publish(
                state="failed", last_error=error, pid=None, public_url="", restarts=restarts
            )
            self._restart_times.clear()
            self._pause(opts.failed_retry_s)
            return
        delay = min(opts.backoff_max_s, opts.backoff_s * 2 ** (failures - 1))
        log.warning("Tunnel: %s; restarting in %.1f s", outcome.error, delay)
        self._publish(
            state="restarting", last_error=outcome.error, pid=None, public_url="", restarts=restarts
        )
        self._pause(delay)
