"""Settings: dataclasses, TOML load/save, environment overrides, platform paths.

Precedence, lowest first: defaults, the TOML file, ``GSMBRIDGE_<SECTION>_<KEY>``
environment variables, command-line flags.  Nothing happens at import time.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import difflib
import functools
import hashlib
import hmac
import logging
import math
import os
import re
import secrets
import time
import tomllib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

from gsmbridge.modem import parsing

log = logging.getLogger(__name__)

APP_NAME = "gsmbridge"
ENV_PREFIX = "GSMBRIDGE_"


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
    threads: int = setting(16, restart=True, check=(_between(1, 256), "must be 1..256"))
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
            lambda code: len(code) == 2 and code.isalpha(),
            "must be a two-letter country code such as US or DE",
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
        # Not a field: the file these settings came from (the config watch reads it again).
        self.loaded_from: Path | None = None

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
        ]


@functools.cache
def schema_fields() -> tuple[tuple[str, dataclasses.Field[Any]], ...]:
    """Every setting as (dotted key, its field with the metadata ``setting`` gave it)."""
    sections = _sections()
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


# -- paths -------------------------------------------------------------------


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def default_data_dir() -> Path:
    env = os.environ.get(ENV_PREFIX + "DATA_DIR")
    if env:
        return Path(env)
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


# -- passwords ---------------------------------------------------------------

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """A salted scrypt hash in a self-describing string."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored_hash: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored_hash.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        digest = hashlib.scrypt(
            password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


# A SIM PIN is 4 to 8 digits (3GPP TS 22.030): a modem fact, kept with the modem.
valid_pin = parsing.valid_pin


# Letters and digits that cannot be mistaken for one another when read or typed:
# no l, I, 1, O, 0 (57 symbols, 5.8 bits each).
PASSWORD_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PASSWORD_LENGTH = 24  # 140 bits


def generate_password() -> str:
    """A strong random password (over 128 bits) that survives copy-paste into a
    dashboard and reading aloud: no punctuation, no look-alike characters."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


# -- loading -----------------------------------------------------------------


def _type_of(section_cls: type, key: str) -> Any:
    return typing.get_type_hints(section_cls)[key]


def _convert(value: Any, target: Any, where: str, *, numeric_text: bool = False) -> Any:
    """Convert a TOML or environment value to the field's type, or raise ConfigError."""
    from_env = isinstance(value, str) and target is not str
    if target is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off", ""):
            return False
    elif target is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if from_env:
            try:
                return int(value.strip())
            except ValueError:
                pass
    elif target is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if from_env:
            try:
                return float(value.strip())
            except ValueError:
                pass
    elif target is str:
        if isinstance(value, str):
            return value
        if numeric_text and isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # pin = 1234 written without quotes (a leading 0 would be lost)
    elif typing.get_origin(target) is list:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
    expected = getattr(target, "__name__", str(target))
    if isinstance(target, types.GenericAlias):
        expected = "a string or a list of strings"
    raise ConfigError(f"{where}: expected {expected}, got {value!r}")


def _sections() -> dict[str, type]:
    return {f.name: typing.get_type_hints(Settings)[f.name] for f in dataclasses.fields(Settings)}


def _at(origin: str, line: int | None) -> str:
    return f"{origin}, line {line}" if line else origin


_LOCATED = re.compile(r"\(at line (\d+), column \d+\)")
_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_-]+)\s*\]\s*(#.*)?$")
# A non-empty password or hash written in the file: its credentials must not be lost.
# Written any way TOML allows: bare or quoted key, dotted (auth.password_hash), or in
# an inline table (auth = { username = "…", password_hash = "…" }).
_CREDENTIAL = re.compile(r"""(?:^|[{,.])\s*["']?password(?:_hash)?["']?\s*=\s*(?!""|'')\S""", re.M)
_CONTROL = {"\t": "a tab", "\n": "a line break", "\r": "a line break", "\b": "a backspace"}


def _key_line(text: str | None, section: str, key: str = "") -> int | None:
    """The line where ``[section]`` (or ``key`` in it) is written; None if not found."""
    if text is None:
        return None
    current = ""
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            current = header.group(1)
            if not key and current == section:
                return number
            continue
        stripped = line.strip()
        if (
            key
            and current == section
            and re.match(rf"""["']?{re.escape(key)}["']?\s*=""", stripped)
        ):
            return number
        dotted = (
            rf"{re.escape(section)}\.{re.escape(key)}\s*=" if key else rf"{re.escape(section)}\."
        )
        if not current and re.match(dotted, stripped):
            return number
    return None


def _problem(key: str, message: str, origin: str, line: int | None = None) -> ConfigProblem:
    return ConfigProblem(key, message, origin, line)


def _apply(
    settings: Settings,
    data: dict[str, Any],
    origin: str,
    problems: list[ConfigProblem],
    origins: dict[str, tuple[str, int | None]],
    text: str | None = None,
) -> None:
    """Set every valid value; each invalid one becomes a problem and keeps its default."""
    sections = _sections()
    for section_name, values in data.items():
        if section_name not in sections:
            line = _key_line(text, section_name)
            close = difflib.get_close_matches(section_name, sections, n=1)
            hint = f" (did you mean [{close[0]}]?)" if close else ""
            message = f"unknown section [{section_name}] in {_at(origin, line)}{hint}"
            problems.append(_problem(f"[{section_name}]", message, origin, line))
            continue
        if not isinstance(values, dict):
            line = _key_line(text, section_name)
            message = f"{section_name} in {_at(origin, line)} must be a table [{section_name}]"
            problems.append(_problem(f"[{section_name}]", message, origin, line))
            continue
        section = getattr(settings, section_name)
        known = [f.name for f in dataclasses.fields(section)]
        for key, value in values.items():
            dotted = f"{section_name}.{key}"
            line = _key_line(text, section_name, key)
            where = f"{dotted} in {_at(origin, line)}"
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean {section_name}.{close[0]}?)" if close else ""
                problems.append(_problem(dotted, f"unknown key {where}{hint}", origin, line))
                continue
            target = _type_of(type(section), key)
            try:
                converted = _convert(value, target, where, numeric_text=key == "pin")
            except ConfigError as exc:
                problems.append(_problem(dotted, str(exc), origin, line))
                continue
            setattr(section, key, converted)
            origins[dotted] = (origin, line)
            if text is not None:
                problems.extend(_control_warnings(dotted, converted, where, origin, line))


def _control_warnings(
    key: str, value: object, where: str, origin: str, line: int | None
) -> list[ConfigProblem]:
    """A Windows path in double quotes loads wrong: "C:\tools" holds a tab."""
    texts = value if isinstance(value, list) else [value]
    for text in texts:
        found = [name for char, name in _CONTROL.items() if isinstance(text, str) and char in text]
        if found:
            message = (
                f"{where} contains {found[0]} ({text!r}): in double quotes a backslash starts "
                "an escape (\\t is a tab); write Windows paths in single quotes, "
                "as in path = 'C:\\tools\\ngrok.exe'"
            )
            return [ConfigProblem(key, message, origin, line, warning=True)]
    return []


def _env_overrides(
    environ: typing.Mapping[str, str], problems: list[ConfigProblem]
) -> dict[str, dict[str, str]]:
    sections = _sections()
    out: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section, _, key = rest.partition("_")
        if section not in sections:
            continue  # e.g. GSMBRIDGE_DATA_DIR is not a config key
        known = {f.name for f in dataclasses.fields(sections[section])}
        if key not in known:
            message = f"unknown setting {name} (no key {section}.{key})"
            problems.append(_problem(f"{section}.{key}", message, "the environment"))
            continue
        out.setdefault(section, {})[key] = value
    return out


def _check_ranges(
    settings: Settings,
    problems: list[ConfigProblem],
    origins: dict[str, tuple[str, int | None]],
) -> None:
    """Out-of-range values become problems and go back to their defaults."""
    defaults = Settings()
    reported: set[str] = set()
    for _ in range(3):
        failed = settings.failed_checks()
        for key, message in failed:
            section, name = key.split(".", 1)
            if key in reported:  # its default still clashes (retry.max_delay_s): reset all
                setattr(settings, section, copy.deepcopy(getattr(defaults, section)))
                continue
            reported.add(key)
            origin, line = origins.get(key, ("the defaults", None))
            problems.append(_problem(key, f"{message} (in {_at(origin, line)})", origin, line))
            setattr(
                getattr(settings, section),
                name,
                copy.deepcopy(getattr(getattr(defaults, section), name)),
            )
        if not failed:
            break
    settings.sending.default_region = settings.sending.default_region.upper()


def _read_text(path: Path) -> tuple[str | None, ConfigProblem | None]:
    """The file's text (BOM or not), and why it cannot be used as it is."""
    origin = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, _problem("", f"cannot read config file {path}: {exc.strerror or exc}", origin)
    utf16 = None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        utf16 = "utf-16"
    elif len(raw) >= 2 and raw[1] == 0 and raw[0] != 0:
        utf16 = "utf-16-le"
    elif len(raw) >= 2 and raw[0] == 0 and raw[1] != 0:
        utf16 = "utf-16-be"
    if utf16:
        # PowerShell's ">" and Out-File (5.1) write UTF-16: read it, but say so.
        message = (
            f"config file {path} is UTF-16 text (as PowerShell's > writes it), not UTF-8: "
            "save it as UTF-8 (Notepad: Save as, Encoding UTF-8; PowerShell: "
            "Set-Content -Encoding utf8)"
        )
        try:
            return raw.decode(utf16).lstrip("\ufeff"), _problem("", message, origin)
        except UnicodeDecodeError:
            return None, _problem("", message, origin)
    try:
        return raw.decode("utf-8-sig"), None  # a BOM (PowerShell 5.1, old Notepad) is fine
    except UnicodeDecodeError as exc:
        message = f"config file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        return None, _problem("", message, origin)


def _first_breaking_line(lines: list[str]) -> int | None:
    """The first line after which the text no longer parses, for an error the parser
    places "at end of document" (an unterminated multi-line string): skipping that
    line keeps the values after it, as for any other broken line."""
    for k in range(1, len(lines) + 1):
        try:
            tomllib.loads("\n".join(lines[:k]))
        except tomllib.TOMLDecodeError:
            return k
    return None


def _parse(text: str, origin: str) -> tuple[dict[str, Any], list[ConfigProblem]]:
    """Parse TOML; a line that breaks it is reported and skipped, so the rest still loads."""
    lines = text.split("\n")
    problems: list[ConfigProblem] = []
    for _ in range(100):
        try:
            return tomllib.loads("\n".join(lines)), problems
        except tomllib.TOMLDecodeError as exc:
            located = _LOCATED.search(str(exc))
            line = int(located.group(1)) if located else _first_breaking_line(lines)
            reason = _LOCATED.sub("", str(exc)).strip()
            hint = ""
            # The hint only where a backslash is written on that line: the reason itself
            # holds one for "Illegal character '\\n'" (an unterminated string).
            written = lines[line - 1] if line and line <= len(lines) else ""
            if "\\" in written and ("escape" in reason.lower() or "hex value" in reason.lower()):
                hint = (
                    ": a Windows path in double quotes needs every backslash doubled; "
                    "write it in single quotes instead, as in path = 'D:\\bin\\ngrok.exe'"
                )
            message = f"config file {_at(origin, line)} is not valid TOML: {reason}{hint}"
            problems.append(_problem("", message, origin, line))
            if line is None or line > len(lines) or not lines[line - 1].strip():
                return {}, problems  # nothing left to skip: no values from the file
            lines[line - 1] = ""
    return {}, problems


def read_settings(
    path: Path | None = None,
    *,
    environ: typing.Mapping[str, str] | None = None,
    must_exist: bool = False,
) -> Loaded:
    """Defaults, then the file, then the environment, keeping every valid value.

    Each value that cannot be used is a problem (with its line when the file
    says it) and keeps its default.  If the file's credentials are lost that
    way, ``auth.unreadable`` says so: the webhook then refuses everyone.
    """
    settings = Settings()
    path = path or default_config_path()
    settings.loaded_from = path
    problems: list[ConfigProblem] = []
    origins: dict[str, tuple[str, int | None]] = {}
    text: str | None = None
    file_unreadable = False
    if path.exists() or must_exist:
        text, problem = _read_text(path)
        if problem is not None:
            problems.append(problem)
        if text is None:
            file_unreadable = path.exists()
        else:
            data, parse_problems = _parse(text, str(path))
            problems += parse_problems
            _apply(settings, data, str(path), problems, origins, text)
    env = _env_overrides(os.environ if environ is None else environ, problems)
    _apply(settings, env, "the environment", problems, origins)
    if "password" in env.get("auth", {}) and "password_hash" not in env.get("auth", {}):
        settings.auth.password_hash = ""  # the environment's password wins over the file's hash
    _check_ranges(settings, problems, origins)
    errors = [p for p in problems if not p.warning]
    if errors and not settings.auth.enabled:
        if file_unreadable or (text is not None and _CREDENTIAL.search(text)):
            settings.auth.unreadable = f"the credentials in {path} cannot be read"
    return Loaded(settings, problems)


def load_settings(
    path: Path | None = None,
    *,
    environ: typing.Mapping[str, str] | None = None,
    must_exist: bool = False,
) -> Settings:
    """Defaults, then the TOML file (if it exists), then the environment; strict."""
    loaded = read_settings(path, environ=environ, must_exist=must_exist)
    if loaded.errors:
        raise ConfigError(loaded.errors[0].message, tuple(loaded.problems))
    for problem in loaded.problems:
        log.warning("%s", problem.message)
    return loaded.settings


def settings_to_dict(settings: Settings) -> dict[str, Any]:
    """What the app writes: never the plain password."""
    data = dataclasses.asdict(settings)
    data["auth"].pop("password", None)
    return data


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write every key; the previous file is kept as ``config.toml.bak``."""
    path = path or default_config_path()
    return write_config_text(path, tomli_w.dumps(settings_to_dict(settings)))


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


def write_config_text(path: Path, text: str) -> Path:
    """Write atomically (temp file + rename) so a crash never leaves half a config;
    the previous file is copied to ``<name>.bak`` first."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        _private(tmp)  # the file holds a password hash and maybe an API key
        if path.exists():
            backup = backup_path(path)
            backup.write_bytes(path.read_bytes())
            _private(backup)
        replace_retrying(tmp, path)
    except OSError as exc:
        raise ConfigError(f"cannot write config file {path}: {exc.strerror or exc}") from exc
    return path


def _private(path: Path) -> None:
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass


_BUSY_WINERRORS = (5, 32)  # access denied, sharing violation: a scanner has the file open


def replace_retrying(src: Path, dst: Path, *, attempts: int = 6, delay_s: float = 0.05) -> None:
    """``os.replace``, tried again for a moment while Windows says the file is busy
    (antivirus, the search indexer and sync clients open files briefly)."""
    for attempt in range(attempts):
        try:
            os.replace(src, dst)
            return
        except PermissionError as exc:
            busy = getattr(exc, "winerror", None) in _BUSY_WINERRORS
            if not busy or attempt == attempts - 1:
                raise
            time.sleep(delay_s * 2**attempt)


# -- updating the file ---------------------------------------------------------

_KEY_LINE = re.compile(r"""^\s*["']?([A-Za-z0-9_-]+)["']?\s*=""")


def _toml_value(value: object) -> str:
    """One-line TOML; a backslash path goes in single quotes so it reads as written."""
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if (
        isinstance(value, str)
        and "\\" in value
        and "'" not in value
        and not any(c < " " for c in value)
    ):
        return f"'{value}'"
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


def _comment_of(line: str) -> str:
    """The trailing ``# comment`` of a one-line ``key = value`` (kept when patched)."""
    whole = tomllib.loads(line)
    for index in [i for i, c in enumerate(line) if c == "#"]:
        try:
            if tomllib.loads(line[:index]) == whole:
                return "  " + line[index:].strip()
        except tomllib.TOMLDecodeError:
            continue
    return ""


def patch_text(text: str, changes: dict[str, object | None]) -> str | None:
    """``text`` with the dotted keys in ``changes`` set (None removes a key), comments and
    layout kept; None where the file's shape is beyond this simple editor."""
    lines = text.splitlines()
    sections: dict[str, list[int]] = {}  # section -> [header line, key lines...]
    current = ""
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("["):
            header = _HEADER.match(line)
            if not header or header.group(1) in sections:
                return None  # [[arrays]], [a.b] or a repeated table
            current = header.group(1)
            sections[current] = [number]
        elif _KEY_LINE.match(line):
            if not current:
                return None  # top-level dotted keys
            sections[current].append(number)
    additions: dict[str, list[str]] = {}
    for dotted, value in changes.items():
        section, key = dotted.split(".", 1)
        found = None
        for number in sections.get(section, [])[1:]:
            match = _KEY_LINE.match(lines[number])
            if match and match.group(1) == key:
                found = number
        if found is not None:
            try:
                comment = _comment_of(lines[found])
            except tomllib.TOMLDecodeError:
                return None  # a value over several lines
            removed = "\0"  # dropped below, after the positions are no longer needed
            lines[found] = removed if value is None else f"{key} = {_toml_value(value)}{comment}"
        elif value is not None:
            additions.setdefault(section, []).append(f"{key} = {_toml_value(value)}")
    out = list(lines)
    # Insert from the bottom so earlier positions stay valid.
    for section, new_lines in sorted(
        additions.items(), key=lambda item: -max(sections.get(item[0], [len(lines)]))
    ):
        if section in sections:
            at = max(sections[section]) + 1
            out[at:at] = new_lines
        else:
            out += (["", f"[{section}]"] if out else [f"[{section}]"]) + new_lines
    return "\n".join(line for line in out if line != "\0") + "\n"


def update_config_file(path: Path, changes: dict[str, object]) -> Settings:
    """Set ``changes`` (dotted keys) in the config file; return what the file now says.

    A file that does not load is never written over: ConfigError says what is
    wrong in it.  The user's comments and layout are kept where the file is
    simple enough to patch; otherwise it is rewritten whole.  Either way the
    previous file is kept as ``<name>.bak``.  ``auth.password`` is never written.
    """
    exists = path.exists()
    try:
        saved = load_settings(path, environ={})  # the file's values, not the environment's
    except ConfigError as exc:
        raise ConfigError(
            f"nothing was saved: {path} has a problem to fix first ({exc})", exc.problems
        ) from exc
    for dotted, value in changes.items():
        section, name = dotted.split(".", 1)
        setattr(getattr(saved, section), name, copy.deepcopy(value))
    saved.validate()
    saved.auth.password = ""  # the app never writes a plain password
    wanted = settings_to_dict(saved)
    text = None
    if exists:
        edits: dict[str, object | None] = {
            k: (None if k == "auth.password" else wanted[k.split(".")[0]][k.split(".")[1]])
            for k in changes
        }
        old_text, _ = _read_text(path)
        text = patch_text(old_text or "", edits) if old_text is not None else None
        if text is not None and not _same_settings(text, saved):
            text = None  # the patch would not say what we mean: write it whole
    write_config_text(path, text if text is not None else tomli_w.dumps(wanted))
    return saved


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


def save_changes(new: Settings, keys: list[str], path: Path) -> Settings:
    """Write ``keys`` of ``new`` into the config file at ``path``; return what was saved.

    Only the keys a person changed are written: the running settings also hold the
    environment's and the command line's values (``--modem sim``), which must not become
    permanent.  A missing file starts from the defaults; one that does not load is never
    written over; ``auth.password`` is never written (see ``update_config_file``).
    """
    return update_config_file(path, {key: get_key(new, key) for key in keys})


def apply_new_password(settings: Settings, password: str) -> None:
    """A new webhook password, the one way the app takes one: the scrypt hash is what a
    save writes; the plain text stays in memory for this run only (self-registration in
    CometChat sends it), since ``update_config_file`` never writes ``auth.password``."""
    settings.auth.password_hash = hash_password(password)
    settings.auth.password = password


def _same_settings(text: str, expected: Settings) -> bool:
    """Whether ``text`` alone (no environment) loads as ``expected``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    settings, problems = Settings(), list[ConfigProblem]()
    _apply(settings, data, "the text", problems, {}, text)
    _check_ranges(settings, problems, {})
    if any(not p.warning for p in problems):
        return False
    return settings_to_dict(settings) == settings_to_dict(expected)
