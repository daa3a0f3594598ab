"""The settings schema: one dataclass per section, each field declared with
``setting()`` and what it needs (restart, secret, its check), and the rules between
fields.  The restart list, the checks and the secrets are derived from it."""

from __future__ import annotations

import copy
import dataclasses
import functools
import logging
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers

from gsmbridge.modem import parsing

log = logging.getLogger("gsmbridge.config")


APP_NAME = "gsmbridge"
ENV_PREFIX = "GSMBRIDGE_"

# The command line's flags that set a setting (``args`` attribute, flag, key).
COMMAND_LINE_FLAGS = (
    ("host", "--host", "server.host"),
    ("port", "--port", "server.port"),
    ("store", "--store", "store.url"),
    ("modem", "--modem", "modem.port"),
    ("log_level", "--log-level", "logging.level"),
    ("tunnel", "--tunnel", "tunnel.program"),
)


class ConfigError(Exception):
    """A configuration problem, with a one-line message naming the key.

    ``problems`` lists everything found when the whole file was read (the first
    one is the message); empty when the error came from a single check.
    """

    def __init__(
        self, message: str, problems: tuple[ConfigProblem, ...] = (), *, key: str = ""
    ) -> None:
        super().__init__(message)
        self.problems = problems
        self.key = key  # the setting it is about ("server.port"), "" when not one


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in a config file or the environment, located for the user."""

    key: str  # "server.port", "[servre]", or "" for the file as a whole
    message: str  # one line, naming the key, the origin and the line when known
    origin: str  # the file's path, "the environment" or "the command line"
    line: int | None = None
    warning: bool = False  # loaded as written, but probably not what was meant


@dataclass
class Loaded:
    """What a lenient load found: every valid value, and what was wrong."""

    settings: Settings
    problems: list[ConfigProblem]
    # Where each key that is not a default came from: the file's path or "the environment".
    origins: dict[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> list[ConfigProblem]:
        return [p for p in self.problems if not p.warning]


# -- the schema: each field carries what it needs (restart, secret, its check) -----------


def setting(
    default: Any = dataclasses.MISSING,
    *,
    factory: Callable[[], Any] | None = None,
    restart: bool = False,
    secret: str = "",
    check: tuple[Callable[[Any], bool], str] | None = None,
) -> Any:
    """A settings field with its metadata.

    ``restart``: the running service takes it only when it (re)starts (sockets, the
    modem ports, the store); every other field applies live, as soon as it is saved.
    ``secret``: what it is, in words, when other users must not read it (a config file
    holding one must be private).
    ``check``: (predicate, what the value must be), e.g. ``(positive, "must be > 0")``;
    ``Settings.failed_checks`` runs them all, and the Settings dialog shows the message
    under the field.
    """
    metadata = {"restart": restart, "secret": secret, "check": check}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def _at_least(low: float) -> Callable[[Any], bool]:
    return lambda value: value >= low


def _between(low: float, high: float) -> Callable[[Any], bool]:
    return lambda value: low <= value <= high


def _one_of(*choices: str) -> Callable[[Any], bool]:
    return lambda value: value in choices


_UNLIMITED = "must be >= 0 (0 = unlimited)"


@dataclass
class ServerSettings:
    host: str = setting("127.0.0.1", restart=True)
    port: int = setting(8080, restart=True, check=(_between(0, 65535), "must be 0..65535"))
    max_body_bytes: int = setting(
        1024 * 1024, restart=True, check=(_at_least(1024), "must be at least 1024")
    )
    # A thread per webhook of a burst (CometChat sends up to 30 at once): they commit
    # together (core/db.py).  32 against 16: 15-45% more webhooks a second under
    # wrk -c32 (tests/perf/bench_webhook.py --threads 16,32, issue 19).
    threads: int = setting(32, restart=True, check=(_between(1, 256), "must be 1..256"))
    # Windows: keep the PC from sleeping while gsmbridge runs (webhooks fail in sleep).
    keep_awake: bool = setting(True)
    # GET /metrics without credentials (for a Prometheus on the same machine).  Only
    # while host is a loopback address (127.0.0.1, ::1, localhost) and no tunnel is
    # configured (a tunnel forwards the internet to loopback), and only for requests
    # that no proxy forwarded; otherwise /metrics asks for the webhook's Basic Auth.
    metrics_public: bool = setting(False)


@dataclass
class AuthSettings:
    # Basic Auth splits "user:password" at the first colon: a name with one never logs in.
    username: str = setting("", check=(lambda name: ":" not in name, "must not contain ':'"))
    # scrypt$n$r$p$salt$hash, written by the app; never the plain password.
    password_hash: str = setting("", secret="the webhook password hash")
    # Plain password, accepted from the environment (GSMBRIDGE_AUTH_PASSWORD)
    # or a hand-written file; never written back by the app.
    password: str = setting("", secret="the webhook password")

    def __post_init__(self) -> None:
        # Not a field (never saved or compared): why the file's credentials could not
        # be read.  While set, the webhook answers 401 to everyone rather than run open.
        self.unreadable = ""

    @property
    def enabled(self) -> bool:
        return bool(self.unreadable or (self.username and (self.password_hash or self.password)))

    @property
    def missing(self) -> str:
        """What keeps the credentials from being complete ("" when they are)."""
        if self.enabled:
            return ""
        if self.username:
            return f"auth.username is {self.username!r} but no password is set"
        if self.password_hash or self.password:
            return "a password is set but auth.username is empty"
        return "neither auth.username nor a password is set"


@dataclass
class ModemSettings:
    # One or several ports: device names, pyserial URLs, or "sim".
    port: list[str] = setting(factory=lambda: ["sim"], restart=True)
    baudrate: int = setting(115200, restart=True, check=(_at_least(1), "must be positive"))
    pin: str = setting(
        "",
        secret="the SIM PIN",
        check=(lambda pin: pin == "" or parsing.valid_pin(pin), "must be 4 to 8 digits"),
    )
    # Pin the modem by IMEI: it is looked for among `port` (or all ports when `port`
    # is empty) on every connect, so a renamed port is found again.
    imei: str = setting("", restart=True)
    poll_interval_s: float = setting(30.0, check=(_at_least(1), "must be at least 1 second"))
    register_timeout_s: float = setting(120.0, check=(_at_least(1), "must be at least 1 second"))
    send_timeout_s: float = setting(120.0, check=(_at_least(1), "must be at least 1 second"))


@dataclass
class SendingSettings:
    default_region: str = setting(
        "US",
        check=(
            lambda code: code.upper() in phonenumbers.SUPPORTED_REGIONS,
            "must be a two-letter country code phone numbers know, such as US, DE or GB",
        ),
    )
    smart_encoding: bool = setting(True)
    max_parts: int = setting(6, check=(_between(1, 255), "must be 1..255"))
    status_reports: bool = setting(True)
    # How long the network keeps trying an SMS the phone does not take; 0 = its default.
    validity_minutes: int = setting(
        24 * 60,
        check=(
            _between(0, 63 * 7 * 24 * 60),
            "must be 0..635040 (63 weeks; 0 = the network's default)",
        ),
    )
    dedup_window_s: float = setting(600.0, check=(_at_least(0), "must be >= 0"))
    coalesce: bool = setting(False)
    coalesce_window_s: float = setting(60.0, check=(_at_least(0), "must be >= 0"))
    # What to do with a job found "sending" after a crash: "resend" or "fail".
    crash_policy: str = setting(
        "resend", check=(_one_of("resend", "fail"), 'must be "resend" or "fail"')
    )


@dataclass
class RetrySettings:
    max_attempts: int = setting(8, check=(_at_least(1), "must be >= 1"))
    base_delay_s: float = setting(30.0, check=(_at_least(0), "must be >= 0"))
    max_delay_s: float = setting(1800.0)  # >= base_delay_s: a rule of Settings


@dataclass
class LimitsSettings:
    # Consumer SIMs get blocked for bursts; a modem sends ~10-20 a minute at best.
    per_minute: int = setting(10, check=(_at_least(0), _UNLIMITED))
    per_day: int = setting(0, check=(_at_least(0), _UNLIMITED))
    per_recipient_per_hour: int = setting(0, check=(_at_least(0), _UNLIMITED))


@dataclass
class CometChatSettings:
    # A REST API key (fullAccess); enables lookup and registration.
    api_key: str = setting("", secret="the CometChat API key")
    app_id: str = setting("")  # also the defaults for when a payload lacks appId/region
    region: str = setting("")
    api_url: str = setting("https://{app_id}.api-{region}.cometchat.io/v3")
    # Self-registration: write the tunnel's URL into CometChat's provider settings.
    register_provider: bool = setting(True)
    # CometChat's "Trigger only if phone number is stored" (sent on registration).
    use_stored_phno: bool = setting(False)


@dataclass
class TunnelSettings:
    program: str = setting(
        "", check=(_one_of("", "cloudflared", "ngrok"), 'must be "", "cloudflared" or "ngrok"')
    )
    path: str = setting("")  # the program's path when it is not on PATH
    token: str = setting(
        "", secret="the tunnel token"
    )  # a named cloudflared tunnel's token, or ngrok's
    public_url: str = setting("")  # a named tunnel's hostname (quick tunnels are discovered)
    self_check_interval_s: float = setting(
        300.0, check=(_at_least(0), "must be >= 0 (0 = on demand only)")
    )


@dataclass
class GuiSettings:
    close_to_tray: bool = setting(True)
    start_at_login: bool = setting(False)
    mask_numbers: bool = setting(True)


@dataclass
class LoggingSettings:
    level: str = setting(
        "INFO",
        check=(
            lambda level: level.upper() in ("DEBUG", "INFO", "WARNING", "ERROR"),
            "must be DEBUG, INFO, WARNING or ERROR",
        ),
    )


@dataclass
class HistorySettings:
    # Finished jobs (delivered, sent, failed, cancelled) and replies older than this
    # are removed; 0 keeps everything.
    keep_days: int = setting(90, check=(_at_least(0), "must be >= 0 (0 = keep all)"))


@dataclass
class StoreSettings:
    # "" = the SQLite file in the data directory (one PC);
    # postgresql://user:password@host:port/dbname = the queue several PCs share.
    url: str = setting(
        "",
        restart=True,
        secret="the shared store's URL (it may hold a password)",
        check=(
            lambda url: url == "" or url.startswith(("postgresql://", "postgres://")),
            "must be empty (this PC's own queue) or a postgresql:// URL",
        ),
    )
    node: str = setting("", restart=True)  # this PC's name in the shared store ("" = host name)
    # How long a job claimed here stays claimed without a renewal before another
    # PC may take it over (a PC that died).
    lease_s: float = setting(60.0, restart=True, check=(_at_least(5), "must be at least 5 seconds"))


def _opt_out_words() -> list[str]:
    return ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"]


@dataclass
class RepliesSettings:
    # Post recipients' SMS replies into the CometChat conversation they answer, as
    # the recipient (needs cometchat.api_key, app_id, region).  Off by default: an
    # SMS sender's number can be spoofed, and a spoofed reply would be posted as
    # the person whose number it claims.
    to_cometchat: bool = setting(False)
    # How long after a notification a reply from that number belongs to its conversation.
    window_hours: float = setting(72.0, check=(_at_least(0.1), "must be at least 0.1 hours"))
    # A long reply is posted once all its parts are in, or this long after its first
    # part (the missing parts marked).
    part_timeout_s: float = setting(600.0, check=(_at_least(0), "must be >= 0"))
    # A reply that is one of these words alone (any case) opts its number out of
    # notifications (never posted); an opt-in word takes it off the list.
    opt_out_keywords: list[str] = setting(factory=_opt_out_words)
    opt_in_keywords: list[str] = setting(factory=lambda: ["START", "UNSTOP"])
    # Answer an opt-out with "You will get no more notifications. Reply START to resume."
    confirm_opt_out: bool = setting(False)


@dataclass
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    modem: ModemSettings = field(default_factory=ModemSettings)
    sending: SendingSettings = field(default_factory=SendingSettings)
    retry: RetrySettings = field(default_factory=RetrySettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    cometchat: CometChatSettings = field(default_factory=CometChatSettings)
    tunnel: TunnelSettings = field(default_factory=TunnelSettings)
    gui: GuiSettings = field(default_factory=GuiSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    history: HistorySettings = field(default_factory=HistorySettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    replies: RepliesSettings = field(default_factory=RepliesSettings)

    def __post_init__(self) -> None:
        # Not fields: the file these settings came from (the config watch reads it again),
        # and the keys the command line set (--port, --modem…), which a file edit leaves.
        self.loaded_from: Path | None = None
        self.from_command_line: frozenset[str] = frozenset()

    def validate(self) -> None:
        """Check values that a type alone does not; raise ConfigError (with its key)."""
        for key, message in self.failed_checks():
            raise ConfigError(message, key=key)
        self.sending.default_region = self.sending.default_region.upper()

    def failed_checks(self) -> list[tuple[str, str]]:
        """(key, message) for every value its field's check (or a rule between fields)
        refuses; each message starts with its key."""
        failed = []
        for key, f in schema_fields():
            section, name = key.split(".", 1)
            value = getattr(getattr(self, section), name)
            if isinstance(value, float) and not math.isfinite(value):  # inf, nan: never meant
                failed.append((key, f"{key} must be a number (not {value})"))
                continue
            check = f.metadata.get("check")
            if check is None:
                continue
            try:
                ok = bool(check[0](value))
            except (TypeError, AttributeError, ValueError):  # a value of the wrong type
                ok = False
            if not ok:
                failed.append((key, f"{key} {check[1]}"))
        for key, ok, message in self._rules():
            if not ok:
                failed.append((key, f"{key} {message}"))
        return failed

    def _rules(self) -> list[tuple[str, bool, str]]:
        """Rules between fields: (the key the message goes to, holds?, message)."""
        return [
            (
                "modem.port",
                bool(self.modem.port or self.modem.imei),
                "must name at least one port (or set modem.imei)",
            ),
            (
                "retry.max_delay_s",
                self.retry.max_delay_s >= self.retry.base_delay_s,
                "must be >= retry.base_delay_s",
            ),
            (
                # Without the key every reply would fail to post: say so where it is set.
                "replies.to_cometchat",
                not self.replies.to_cometchat or bool(self.cometchat.api_key.strip()),
                "needs cometchat.api_key (a CometChat REST API key with full access)",
            ),
        ]


@functools.cache
def schema_fields() -> tuple[tuple[str, dataclasses.Field[Any]], ...]:
    """Every setting as (dotted key, its field with the metadata ``setting`` gave it)."""
    sections = section_types()
    return tuple(
        (f"{section.name}.{f.name}", f)
        for section in dataclasses.fields(Settings)
        for f in dataclasses.fields(sections[section.name])
    )


def restart_keys() -> tuple[str, ...]:
    """The settings the running service takes only when it (re)starts."""
    return tuple(key for key, f in schema_fields() if f.metadata.get("restart"))


def secret_keys() -> dict[str, str]:
    """The settings other users must not read: {key: what it is, in words}."""
    return {key: f.metadata["secret"] for key, f in schema_fields() if f.metadata.get("secret")}


def get_key(settings: Settings, key: str) -> Any:
    """The value of a dotted key ("server.port")."""
    section, name = key.split(".", 1)
    return getattr(getattr(settings, section), name)


def set_key(settings: Settings, key: str, value: object) -> None:
    section, name = key.split(".", 1)
    setattr(getattr(settings, section), name, copy.deepcopy(value))


def changed_keys(old: Settings, new: Settings) -> list[str]:
    """Dotted keys whose values differ, in the schema's order."""
    return [key for key, _f in schema_fields() if get_key(old, key) != get_key(new, key)]


def section_types() -> dict[str, type]:
    return {f.name: typing.get_type_hints(Settings)[f.name] for f in dataclasses.fields(Settings)}


# A SIM PIN is 4 to 8 digits (3GPP TS 22.030): a modem fact, kept with the modem.
valid_pin = parsing.valid_pin


def command_line_args(settings: Settings) -> list[str]:
    """The flags that set what the command line set for this run (``from_command_line``),
    with their running values: to start the same way again (at login)."""
    argv: list[str] = []
    for _attr, flag, key in COMMAND_LINE_FLAGS:
        if key not in settings.from_command_line:
            continue
        value = get_key(settings, key)
        if key == "modem.port":
            value = ",".join(value)
        elif key == "tunnel.program" and not value:
            value = "off"
        argv += [flag, str(value)]
    return argv
