"""Reading the settings: the TOML file (leniently: every valid value kept, each
problem placed by key and line), then ``GSMBRIDGE_<SECTION>_<KEY>`` variables.

Precedence, lowest first: defaults, the file, the environment, command-line flags.
Nothing happens at import time."""

from __future__ import annotations

import copy
import dataclasses
import difflib
import logging
import os
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from gsmbridge.config.paths import default_config_path
from gsmbridge.config.schema import (
    ENV_PREFIX,
    ConfigError,
    ConfigProblem,
    Loaded,
    Settings,
    section_types,
)

log = logging.getLogger("gsmbridge.config")


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


def _at(origin: str, line: int | None) -> str:
    return f"{origin}, line {line}" if line else origin


_LOCATED = re.compile(r"\(at line (\d+), column \d+\)")
HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_-]+)\s*\]\s*(#.*)?$")
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
        header = HEADER.match(line)
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


def apply_values(
    settings: Settings,
    data: dict[str, Any],
    origin: str,
    problems: list[ConfigProblem],
    origins: dict[str, tuple[str, int | None]],
    text: str | None = None,
) -> None:
    """Set every valid value; each invalid one becomes a problem and keeps its default."""
    sections = section_types()
    for section_name, values in data.items():
        if section_name not in sections:
            line = _key_line(text, section_name)
            close = _singular(section_name, sections) or difflib.get_close_matches(
                section_name, sections, n=1
            )
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


def _singular(name: str, known: typing.Iterable[str]) -> list[str]:
    """[retries] for [retry], [limit] for [limits]: difflib would say [replies]."""
    forms = {name[:-3] + "y", name[:-1], name + "s"} if name.endswith("ies") else set()
    forms |= {name[:-1], name + "s"}
    return [section for section in known if section in forms]


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
    sections = section_types()
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


def check_ranges(
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


def read_text(path: Path) -> tuple[str | None, ConfigProblem | None]:
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
        text, problem = read_text(path)
        if problem is not None:
            problems.append(problem)
        if text is None:
            file_unreadable = path.exists()
        else:
            data, parse_problems = _parse(text, str(path))
            problems += parse_problems
            apply_values(settings, data, str(path), problems, origins, text)
    env = _env_overrides(os.environ if environ is None else environ, problems)
    apply_values(settings, env, "the environment", problems, origins)
    if "password" in env.get("auth", {}) and "password_hash" not in env.get("auth", {}):
        settings.auth.password_hash = ""  # the environment's password wins over the file's hash
    check_ranges(settings, problems, origins)
    errors = [p for p in problems if not p.warning]
    if errors and not settings.auth.enabled:
        if file_unreadable or (text is not None and _CREDENTIAL.search(text)):
            settings.auth.unreadable = f"the credentials in {path} cannot be read"
    return Loaded(settings, problems, {key: origin for key, (origin, _l) in origins.items()})


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
