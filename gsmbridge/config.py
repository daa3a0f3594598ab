"""Settings: dataclasses, TOML load/save, environment overrides, platform paths.

Precedence, lowest first: defaults, the TOML file, ``GSMBRIDGE_<SECTION>_<KEY>``
environment variables, command-line flags.  Nothing happens at import time.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import os
import secrets
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

APP_NAME = "gsmbridge"
ENV_PREFIX = "GSMBRIDGE_"


class ConfigError(Exception):
    """A configuration problem, with a one-line message naming the key."""


@dataclass
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 1024 * 1024
    threads: int = 16


@dataclass
class AuthSettings:
    username: str = ""
    # scrypt$n$r$p$salt$hash, written by the app; never the plain password.
    password_hash: str = ""
    # Plain password, accepted from the environment (GSMBRIDGE_AUTH_PASSWORD)
    # or a hand-written file; never written back by the app.
    password: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.username and (self.password_hash or self.password))


@dataclass
class ModemSettings:
    # One or several ports: device names, pyserial URLs, or "sim".
    port: list[str] = field(default_factory=lambda: ["sim"])
    baudrate: int = 115200
    pin: str = ""
    # Pin the modem by IMEI: it is looked for among `port` (or all ports when `port`
    # is empty) on every connect, so a renamed port is found again.
    imei: str = ""
    poll_interval_s: float = 30.0
    register_timeout_s: float = 120.0
    send_timeout_s: float = 120.0


@dataclass
class SendingSettings:
    default_region: str = "US"
    smart_encoding: bool = True
    max_parts: int = 6
    status_reports: bool = True
    validity_minutes: int = 24 * 60
    dedup_window_s: float = 600.0
    coalesce: bool = False
    coalesce_window_s: float = 60.0
    # What to do with a job found "sending" after a crash: "resend" or "fail".
    crash_policy: str = "resend"


@dataclass
class RetrySettings:
    max_attempts: int = 8
    base_delay_s: float = 30.0
    max_delay_s: float = 1800.0


@dataclass
class LimitsSettings:
    # Consumer SIMs get blocked for bursts; a modem sends ~10-20 a minute at best.
    per_minute: int = 10
    per_day: int = 0
    per_recipient_per_hour: int = 0


@dataclass
class CometChatSettings:
    api_key: str = ""  # a REST API key (fullAccess); enables lookup and registration
    app_id: str = ""  # also the defaults for when a payload lacks appId/region
    region: str = ""
    api_url: str = "https://{app_id}.api-{region}.cometchat.io/v3"
    # Self-registration: write the tunnel's URL into CometChat's provider settings.
    register_provider: bool = True
    # CometChat's "Trigger only if phone number is stored" (sent on registration).
    use_stored_phno: bool = False


@dataclass
class TunnelSettings:
    program: str = ""  # "", "cloudflared" or "ngrok"
    path: str = ""  # the program's path when it is not on PATH
    token: str = ""  # a named cloudflared tunnel's token, or ngrok's authtoken
    public_url: str = ""  # a named tunnel's hostname (quick tunnels are discovered)
    self_check_interval_s: float = 300.0  # 0 = on demand only


@dataclass
class GuiSettings:
    close_to_tray: bool = True
    start_at_login: bool = False
    mask_numbers: bool = True


@dataclass
class LoggingSettings:
    level: str = "INFO"


@dataclass
class HistorySettings:
    # Finished jobs (delivered, sent, failed, cancelled) and replies older than this
    # are removed; 0 keeps everything.
    keep_days: int = 90


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

    def validate(self) -> None:
        """Check values that a type alone does not; raise ConfigError."""
        checks: list[tuple[bool, str]] = [
            (0 <= self.server.port <= 65535, "server.port must be 0..65535"),
            (self.server.max_body_bytes >= 1024, "server.max_body_bytes must be at least 1024"),
            (1 <= self.server.threads <= 256, "server.threads must be 1..256"),
            (
                bool(self.modem.port or self.modem.imei),
                "modem.port must name at least one port (or set modem.imei)",
            ),
            (self.modem.baudrate > 0, "modem.baudrate must be positive"),
            (
                self.modem.pin == "" or valid_pin(self.modem.pin),
                "modem.pin must be 4 to 8 digits",
            ),
            (1 <= self.sending.max_parts <= 255, "sending.max_parts must be 1..255"),
            (
                len(self.sending.default_region) == 2 and self.sending.default_region.isalpha(),
                "sending.default_region must be a two-letter country code such as US or DE",
            ),
            (
                self.sending.crash_policy in ("resend", "fail"),
                'sending.crash_policy must be "resend" or "fail"',
            ),
            (self.sending.dedup_window_s >= 0, "sending.dedup_window_s must be >= 0"),
            (
                self.tunnel.self_check_interval_s >= 0,
                "tunnel.self_check_interval_s must be >= 0 (0 = on demand only)",
            ),
            (self.history.keep_days >= 0, "history.keep_days must be >= 0 (0 = keep all)"),
            (self.retry.max_attempts >= 1, "retry.max_attempts must be >= 1"),
            (self.retry.base_delay_s >= 0, "retry.base_delay_s must be >= 0"),
            (
                self.retry.max_delay_s >= self.retry.base_delay_s,
                "retry.max_delay_s must be >= retry.base_delay_s",
            ),
            (self.limits.per_minute >= 0, "limits.per_minute must be >= 0 (0 = unlimited)"),
            (self.limits.per_day >= 0, "limits.per_day must be >= 0 (0 = unlimited)"),
            (
                self.limits.per_recipient_per_hour >= 0,
                "limits.per_recipient_per_hour must be >= 0 (0 = unlimited)",
            ),
            (
                self.tunnel.program in ("", "cloudflared", "ngrok"),
                'tunnel.program must be "", "cloudflared" or "ngrok"',
            ),
            (
                self.logging.level.upper() in ("DEBUG", "INFO", "WARNING", "ERROR"),
                "logging.level must be DEBUG, INFO, WARNING or ERROR",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        self.sending.default_region = self.sending.default_region.upper()


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


def valid_pin(pin: str) -> bool:
    """A SIM PIN is 4 to 8 digits (3GPP TS 22.030); anything else is never sent."""
    return pin.isdigit() and 4 <= len(pin) <= 8 and pin.isascii()


def generate_password() -> str:
    """A strong random password that survives copy-paste into a dashboard."""
    return secrets.token_urlsafe(18)


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


def _apply(settings: Settings, data: dict[str, Any], origin: str) -> None:
    sections = _sections()
    for section_name, values in data.items():
        if section_name not in sections:
            raise ConfigError(f"unknown section [{section_name}] in {origin}")
        if not isinstance(values, dict):
            raise ConfigError(f"{section_name} in {origin} must be a table [{section_name}]")
        section = getattr(settings, section_name)
        known = {f.name for f in dataclasses.fields(section)}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"unknown key {section_name}.{key} in {origin}")
            target = _type_of(type(section), key)
            where = f"{section_name}.{key} in {origin}"
            setattr(section, key, _convert(value, target, where, numeric_text=key == "pin"))


def _env_overrides(environ: typing.Mapping[str, str]) -> dict[str, dict[str, str]]:
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
            raise ConfigError(f"unknown setting {name} (no key {section}.{key})")
        out.setdefault(section, {})[key] = value
    return out


def load_settings(
    path: Path | None = None,
    *,
    environ: typing.Mapping[str, str] | None = None,
    must_exist: bool = False,
) -> Settings:
    """Defaults, then the TOML file (if it exists), then the environment."""
    settings = Settings()
    path = path or default_config_path()
    if path.exists() or must_exist:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"config file {path} is not UTF-8 text") from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        _apply(settings, data, str(path))
    env = _env_overrides(os.environ if environ is None else environ)
    _apply(settings, env, "the environment")
    settings.validate()
    return settings


def settings_to_dict(settings: Settings) -> dict[str, Any]:
    """What the app writes: never the plain password."""
    data = dataclasses.asdict(settings)
    data["auth"].pop("password", None)
    return data


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write atomically (temp file + rename) so a crash never leaves half a config."""
    path = path or default_config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(settings_to_dict(settings)), encoding="utf-8")
    try:
        os.chmod(tmp, 0o600)  # the file holds a password hash and maybe an API key
    except OSError:
        pass
    os.replace(tmp, path)
    return path
