"""cloudflared and ngrok: finding them, their command lines, and reading the URL they got.

The parsers are pure functions over one log line or one JSON answer, so tests
can feed them captured output; the few functions that touch the file system or
the network are kept apart at the bottom.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROGRAMS = ("cloudflared", "ngrok")
DOWNLOADS = {
    "cloudflared": (
        "https://developers.cloudflare.com/cloudflare-one/connections/connect-networks/downloads/"
    ),
    "ngrok": "https://ngrok.com/download",
}
NGROK_DEFAULT_API = "127.0.0.1:4040"

# -- finding the program -------------------------------------------------------------


def executable_names(program: str) -> tuple[str, ...]:
    # cloudflared's direct download keeps its release name on Windows.
    extra = (f"{program}-windows-amd64.exe", f"{program}-windows-386.exe")
    return (program, program + ".exe", *(extra if program == "cloudflared" else ()))


def guess_program(path: str) -> str:
    """Which program a configured path names ("cloudflared" unless it says ngrok)."""
    return "ngrok" if "ngrok" in Path(path).name.lower() else "cloudflared"


_REG_ENVIRONMENTS = (
    ("HKEY_CURRENT_USER", r"Environment"),
    ("HKEY_LOCAL_MACHINE", r"SYSTEM\CurrentControlSet\Control\Session Manager\Environment"),
)


def _registry_path_dirs() -> list[str]:
    """PATH as the registry holds it now (user, then machine): an installer that ran
    while gsmbridge was open changed it there, not in this process's environment."""
    try:
        winreg = importlib.import_module("winreg")
    except ImportError:
        return []
    dirs: list[str] = []
    for hive, subkey in _REG_ENVIRONMENTS:
        try:
            with winreg.OpenKey(getattr(winreg, hive), subkey) as key:
                value, kind = winreg.QueryValueEx(key, "Path")
        except OSError:
            continue
        if not isinstance(value, str):
            continue
        if kind == getattr(winreg, "REG_EXPAND_SZ", 2):
            value = winreg.ExpandEnvironmentStrings(value)
        dirs += [d.strip().strip('"') for d in value.split(";") if d.strip()]
    return dirs


def _windows_install_dirs() -> list[str]:
    """Where the installers people use put cloudflared or ngrok (and their shims)."""
    env = os.environ
    dirs = [
        str(Path(base) / "cloudflared")
        for base in (env.get("ProgramFiles", ""), env.get("ProgramFiles(x86)", ""))
        if base
    ]
    if env.get("LOCALAPPDATA"):
        dirs.append(str(Path(env["LOCALAPPDATA"]) / "Microsoft" / "WinGet" / "Links"))
    if env.get("ProgramData"):
        dirs.append(str(Path(env["ProgramData"]) / "chocolatey" / "bin"))
    home = env.get("USERPROFILE") or str(Path.home())
    dirs.append(str(Path(home) / "scoop" / "shims"))
    return dirs


def search_dirs() -> list[str]:
    """PATH read afresh, and on Windows the registry's PATH and the usual folders."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    if sys.platform == "win32":
        dirs += _registry_path_dirs() + _windows_install_dirs()
    return list(dict.fromkeys(dirs))


def find_program(
    program: str, configured_path: str = "", *, search_path: str | None = None
) -> str | None:
    """The configured file (or a directory holding it), else the first match on PATH
    (on Windows also the registry's PATH and the usual install folders), looked up
    again at each call so that a program installed while gsmbridge runs is found.

    ``search_path`` replaces all of that (tests pass "" for "nothing installed").
    """
    names = executable_names(program)
    if configured_path:
        path = Path(configured_path).expanduser()
        if path.is_dir():
            return next((str(path / n) for n in names if (path / n).is_file()), None)
        return str(path) if path.is_file() else None
    dirs = search_dirs() if search_path is None else search_path.split(os.pathsep)
    for name in names:
        for folder in filter(None, dirs):
            candidate = Path(folder) / name
            # Not shutil.which: it would add PATHEXT names and, on Windows, the
            # current directory; a plain file test is all "is it there" needs.
            if candidate.is_file() and (os.name == "nt" or os.access(candidate, os.X_OK)):
                return str(candidate)
    return None


def missing_message(program: str, configured_path: str = "") -> str:
    where = DOWNLOADS.get(program, "")
    if configured_path:
        return (
            f"{program} was not found at {configured_path} (tunnel.path). "
            f"Download it from {where} or correct the path."
        )
    return (
        f"{program} is not installed (not found on PATH). Download it from {where}, "
        "then put it on PATH or set its location in Settings (tunnel.path)."
    )


# -- command lines --------------------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    """How to start the program and where it will answer questions."""

    argv: list[str]
    mode: str  # "quick" or "named" (cloudflared), "ngrok"
    env: dict[str, str] = field(default_factory=dict)
    metrics_addr: str = ""  # cloudflared's metrics server (host:port)


def cloudflared_quick(prefix: Sequence[str], origin: str, metrics_addr: str) -> Launch:
    argv = [*prefix, "tunnel", "--no-autoupdate", "--url", origin, "--metrics", metrics_addr]
    return Launch(argv, "quick", metrics_addr=metrics_addr)


def cloudflared_named(prefix: Sequence[str], token: str, metrics_addr: str) -> Launch:
    # The token goes in cloudflared's TUNNEL_TOKEN variable rather than the command
    # line, where any local user could read it in the process list.
    argv = [*prefix, "tunnel", "--no-autoupdate", "--metrics", metrics_addr, "run"]
    return Launch(argv, "named", env={"TUNNEL_TOKEN": token}, metrics_addr=metrics_addr)


def ngrok_http(prefix: Sequence[str], origin_addr: str, authtoken: str = "") -> Launch:
    argv = [*prefix, "http", origin_addr, "--log", "stdout", "--log-format", "json"]
    env = {"NGROK_AUTHTOKEN": authtoken} if authtoken else {}
    return Launch(argv, "ngrok", env=env)


# -- log lines ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LineInfo:
    """What one log line tells us (all empty for most lines)."""

    url: str = ""
    error: str = ""
    api_addr: str = ""  # ngrok's agent API ("starting web service")
    connected: bool = False  # cloudflared registered a connection to the edge


_QUICK_URL = re.compile(
    r"https://([a-z0-9-]+)\.trycloudflare\.com(?![a-z0-9-]|\.[a-z0-9])", re.IGNORECASE
)
# The quick-tunnel service itself turns up in error messages ("Post https://api...").
_NOT_TUNNELS = {"api"}
_CONSOLE = re.compile(r"^\S+\s+(DBG|INF|WRN|ERR|FTL)\s+(.*)$")
_SECRET = re.compile(r"(authtoken:\s*|token[=: ]\s*)[A-Za-z0-9_\-.~]{8,}", re.IGNORECASE)


def redact(text: str) -> str:
    """Hide tokens that error messages echo back (ngrok prints "Your authtoken: ...")."""
    return _SECRET.sub(r"\1***", text)


def quick_tunnel_url(text: str) -> str | None:
    """The first https://<name>.trycloudflare.com in text, lower-cased."""
    for match in _QUICK_URL.finditer(text):
        name = match.group(1).lower()
        if name not in _NOT_TUNNELS:
            return f"https://{name}.trycloudflare.com"
    return None


def parse_cloudflared_line(line: str) -> LineInfo:
    """A console line (``2024-01-01T00:00:00Z INF ...``) or a ``--output json`` line."""
    line = line.strip()
    level, text = "", line
    if line.startswith("{"):
        try:
            data = json.loads(line)
        except ValueError:
            data = None
        if isinstance(data, dict):
            level = str(data.get("level", "")).lower()
            text = str(data.get("message", ""))
            if data.get("error"):
                text = f"{text}: {data['error']}"
    elif match := _CONSOLE.match(line):
        level, text = match.group(1).lower(), match.group(2).strip()
    error = text if level in ("err", "ftl", "error", "fatal", "panic") else ""
    return LineInfo(
        url=quick_tunnel_url(line) or "",
        error=redact(error),
        connected="Registered tunnel connection" in text,
    )


_LOGFMT = re.compile(r'([A-Za-z_][\w.]*)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_logfmt(line: str) -> dict[str, str]:
    """``t=... lvl=info msg="started tunnel" url=https://...`` -> a dict of strings."""
    out: dict[str, str] = {}
    for key, raw in _LOGFMT.findall(line):
        value = raw
        if raw.startswith('"'):
            try:
                value = json.loads(raw)  # Go's strconv.Quote is close enough to JSON
            except ValueError:
                value = raw[1:-1]
        out[key] = value
    return out


_NGROK_CODE = re.compile(r"ERR_NGROK_(\d+)")
NGROK_HINTS = {
    "4018": "ngrok needs an account: sign up at https://dashboard.ngrok.com/signup, then run "
    "`ngrok config add-authtoken <token>` or put the authtoken in Settings (tunnel.token)",
    "105": "the ngrok authtoken is not valid: copy it again from "
    "https://dashboard.ngrok.com/get-started/your-authtoken",
    "107": "the ngrok authtoken was revoked or reset: copy the current one from "
    "https://dashboard.ngrok.com/get-started/your-authtoken",
    "108": "another ngrok agent already runs with this account (the free plan allows "
    "only a few): stop the other one",
    "334": "this ngrok address is already online in another agent: stop the other one",
    "314": "this ngrok plan cannot use a custom domain: clear tunnel.public_url to use your "
    "free static domain, or upgrade the plan",
    "319": "this domain is not reserved in your ngrok account: reserve it at "
    "https://dashboard.ngrok.com/domains or correct tunnel.public_url",
    "320": "this domain is reserved by another ngrok account: use one of yours "
    "(https://dashboard.ngrok.com/domains) in tunnel.public_url",
}
# Errors a restart cannot fix.
NGROK_FATAL = {"4018", "105", "107", "314", "319", "320"}
NGROK_NO_TOKEN = (
    "ngrok needs an authtoken: copy yours from "
    "https://dashboard.ngrok.com/get-started/your-authtoken (sign up for free at "
    "https://dashboard.ngrok.com/signup) into Settings (tunnel.token) or NGROK_AUTHTOKEN"
)
NGROK_NO_NETWORK = (
    "cannot reach ngrok's service: check this PC's internet connection, or whether a "
    "firewall blocks outgoing connections to connect.ngrok-agent.com:443"
)
_TLS_INTERCEPTED = (
    "the connection to ngrok's service was intercepted (a proxy or antivirus that "
    "inspects TLS?): allow connect.ngrok-agent.com through it"
)
_NGROK_ERROR_LEVELS = ("eror", "error", "crit", "fatal")


def parse_ngrok_line(line: str) -> LineInfo:
    """A ``--log-format json`` or logfmt line, or one of the CLI's ``ERROR:`` lines."""
    line = line.strip()
    if line.startswith("ERROR:"):
        return LineInfo(error=redact(line[len("ERROR:") :].strip()))
    fields: dict[str, Any] = {}
    if line.startswith("{"):
        try:
            data = json.loads(line)
        except ValueError:
            data = None
        if isinstance(data, dict):
            fields = data
    elif "lvl=" in line or "msg=" in line:
        fields = parse_logfmt(line)
    if not fields:
        return LineInfo()
    msg = str(fields.get("msg", ""))
    url = str(fields.get("url", ""))
    api_addr = fields.get("addr", "") if msg == "starting web service" else ""
    error = ""
    if str(fields.get("lvl", "")).lower() in _NGROK_ERROR_LEVELS:
        err = str(fields.get("err", "")).strip()
        error = f"{msg}: {err}" if err and msg else (err or msg)
    return LineInfo(
        url=url if msg == "started tunnel" and url.startswith("https://") else "",
        error=redact(error),
        api_addr=api_addr if isinstance(api_addr, str) else "",
    )


def ngrok_error_codes(lines: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(code for line in lines for code in _NGROK_CODE.findall(line)))


def summarise_errors(program: str, lines: Sequence[str]) -> str:
    """One line for the status from a run's error lines."""
    lines = [line for line in lines if line.strip()]
    if not lines:
        return ""
    if program != "ngrok":
        return lines[-1][:300]
    codes = ngrok_error_codes(lines)
    # ngrok's messages span lines: a headline, sign-up links, the code, a docs link.
    headline = next(
        (
            first
            for line in lines
            if (first := line.strip().splitlines()[0].strip())
            and not first.startswith(("http", "ERR_NGROK_"))
        ),
        lines[0],
    )
    text = headline[:300]
    for code in codes:
        text += f" [ERR_NGROK_{code}]"
        if code in NGROK_HINTS:
            text += f": {NGROK_HINTS[code]}"
    return text


def summarise_sdk_error(message: str, code: str = "") -> str:
    """One line for the status from an error the ngrok SDK raised, with what to do."""
    text = redact(message.strip())[:300] or "ngrok failed"
    lower = text.lower()
    if code:
        text += f" [ERR_NGROK_{code}]"
        if code in NGROK_HINTS:
            return f"{text}: {NGROK_HINTS[code]}"
    if "tls handshake" in lower or "certificate" in lower:
        return f"{text}: {_TLS_INTERCEPTED}"
    if any(
        word in lower
        for word in ("tcp connection", "dns", "resolve", "network", "timed out", "connect through")
    ):
        return f"{text}: {NGROK_NO_NETWORK}"
    return text


# -- local endpoint answers ------------------------------------------------------------------

_HOSTNAME = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")


def parse_quicktunnel(data: Any) -> str | None:
    """cloudflared's ``GET /quicktunnel`` -> ``{"hostname": "x.trycloudflare.com"}``."""
    if not isinstance(data, dict):
        return None
    hostname = str(data.get("hostname") or "").strip().lower()
    return f"https://{hostname}" if _HOSTNAME.match(hostname) else None


def _port_of(addr: Any) -> int | None:
    """ "http://localhost:8080", "localhost:8080", "8080" or ngrok's {"Host": ...} -> 8080."""
    if isinstance(addr, dict):
        addr = addr.get("Host") or addr.get("host") or ""
    if isinstance(addr, int):
        return addr
    if not isinstance(addr, str) or not addr:
        return None
    if "://" in addr:
        try:
            return urllib.parse.urlsplit(addr).port
        except ValueError:
            return None
    tail = addr.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def parse_ngrok_tunnels(data: Any, local_port: int) -> str | None:
    """ngrok's ``GET /api/tunnels``: the https public URL of the tunnel to our port."""
    tunnels = data.get("tunnels") if isinstance(data, dict) else None
    if not isinstance(tunnels, list):
        return None
    for tunnel in tunnels:
        if not isinstance(tunnel, dict):
            continue
        url = tunnel.get("public_url")
        config = tunnel.get("config")
        addr = config.get("addr") if isinstance(config, dict) else None
        if isinstance(url, str) and url.startswith("https://") and _port_of(addr) == local_port:
            return url.rstrip("/")
    return None


def parse_ready(data: Any) -> int:
    """cloudflared's ``GET /ready`` -> the number of edge connections."""
    if isinstance(data, dict) and isinstance(data.get("readyConnections"), int):
        return int(data["readyConnections"])
    return 0


def normalise_public_url(url: str) -> str:
    """A configured hostname or URL -> ``https://host[/path]`` without our own suffixes."""
    url = url.strip().rstrip("/")
    if not url:
        return ""
    if "://" not in url:
        url = "https://" + url
    for suffix in ("/webhook", "/health"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url


# -- asking the local endpoints ------------------------------------------------------------


# The local endpoints are on 127.0.0.1: never through HTTP_PROXY or the system's
# proxy (urllib reads the Windows registry's proxy settings), which cannot reach them.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch_json(url: str, timeout: float = 2.0) -> Any:
    """GET a small JSON document from a local endpoint, without any proxy; an HTTP
    error status still yields its JSON body.

    Raises OSError (unreachable, timeout) or ValueError (not JSON).
    """
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with _DIRECT.open(request, timeout=timeout) as response:
            body = response.read(256 * 1024)
    except urllib.error.HTTPError as exc:  # /ready answers 503 with JSON
        body = exc.read(256 * 1024)
    return json.loads(body)


def read_quicktunnel(metrics_addr: str, timeout: float = 2.0) -> str | None:
    return parse_quicktunnel(fetch_json(f"http://{metrics_addr}/quicktunnel", timeout))


def read_ready(metrics_addr: str, timeout: float = 2.0) -> int:
    return parse_ready(fetch_json(f"http://{metrics_addr}/ready", timeout))


def read_ngrok_tunnels(api_addr: str, local_port: int, timeout: float = 2.0) -> str | None:
    return parse_ngrok_tunnels(fetch_json(f"http://{api_addr}/api/tunnels", timeout), local_port)
