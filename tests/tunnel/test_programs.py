"""Pure helpers: log lines, local API answers, finding the programs, command lines."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gsmbridge.tunnel import programs as p

from .conftest import HttpStub

# -- cloudflared -----------------------------------------------------------------------

BOX = """\
2023-01-16T08:32:58Z INF Requesting new quick Tunnel on trycloudflare.com...
2023-01-16T08:32:58Z INF +--------------------------------------------------------------------------------------------+
2023-01-16T08:32:58Z INF |  Your quick Tunnel has been created! Visit it at (it may take some time to be reachable):  |
2023-01-16T08:32:58Z INF |  https://oklahoma-solo-younger-truck.trycloudflare.com                                     |
2023-01-16T08:32:58Z INF +--------------------------------------------------------------------------------------------+
"""  # noqa: E501 - a captured box is this wide


def test_cloudflared_box_gives_the_url_once() -> None:
    found = [p.parse_cloudflared_line(line).url for line in BOX.splitlines()]
    assert found == ["", "", "", "https://oklahoma-solo-younger-truck.trycloudflare.com", ""]


def test_cloudflared_service_address_in_an_error_is_not_a_tunnel() -> None:
    line = (
        "2024-01-01T00:00:00Z ERR failed to request quick Tunnel: Post "
        '"https://api.trycloudflare.com/tunnel": dial tcp: lookup api.trycloudflare.com'
    )
    info = p.parse_cloudflared_line(line)
    assert info.url == ""
    assert info.error.startswith("failed to request quick Tunnel")


def test_cloudflared_json_output_and_levels() -> None:
    line = '{"level":"info","time":"t","message":"|  https://A-b1.trycloudflare.com  |"}'
    assert p.parse_cloudflared_line(line).url == "https://a-b1.trycloudflare.com"
    err = '{"level":"error","message":"Unauthorized: Invalid tunnel secret","error":"x"}'
    assert p.parse_cloudflared_line(err).error == "Unauthorized: Invalid tunnel secret: x"
    assert p.parse_cloudflared_line("2024-01-01T00:00:00Z WRN a warning").error == ""
    assert p.parse_cloudflared_line("2024-01-01T00:00:00Z FTL fatal thing").error == "fatal thing"
    connected = "2024-01-01T00:00:00Z INF Registered tunnel connection connIndex=0 ip=1.2.3.4"
    assert p.parse_cloudflared_line(connected).connected


def test_quick_tunnel_url_needs_a_scheme_and_a_name() -> None:
    assert p.quick_tunnel_url("Requesting new quick Tunnel on trycloudflare.com...") is None
    assert p.quick_tunnel_url("http://x.trycloudflare.com") is None
    assert p.quick_tunnel_url("https://x.trycloudflare.com.evil.example") is None
    assert (
        p.quick_tunnel_url("see https://x-1.trycloudflare.com.") == "https://x-1.trycloudflare.com"
    )


def test_quicktunnel_json() -> None:
    assert p.parse_quicktunnel({"hostname": "a-b.trycloudflare.com"}) == (
        "https://a-b.trycloudflare.com"
    )
    assert p.parse_quicktunnel({"hostname": ""}) is None  # not created yet
    assert p.parse_quicktunnel({"hostname": "x/y"}) is None
    assert p.parse_quicktunnel(["a"]) is None
    assert p.parse_ready({"status": 503, "readyConnections": 0}) == 0
    assert p.parse_ready({"status": 200, "readyConnections": 4}) == 4
    assert p.parse_ready("OK") == 0


# -- ngrok ----------------------------------------------------------------------------------


def test_ngrok_json_lines() -> None:
    started = (
        '{"addr":"http://localhost:4142","lvl":"info","msg":"started tunnel",'
        '"name":"command_line","obj":"tunnels","t":"2026-09-30T02:40:01Z",'
        '"url":"https://ab12-203-0-113-7.ngrok-free.app"}'
    )
    assert p.parse_ngrok_line(started).url == "https://ab12-203-0-113-7.ngrok-free.app"
    web = '{"addr":"127.0.0.1:4041","lvl":"info","msg":"starting web service","obj":"web"}'
    assert p.parse_ngrok_line(web).api_addr == "127.0.0.1:4041"
    # Some versions log addr as an object; the url is still there.
    obj = '{"addr":{"Scheme":"http","Host":"127.0.0.1:9700"},"msg":"started tunnel","url":"https://x.ngrok.app"}'  # noqa: E501
    assert p.parse_ngrok_line(obj).url == "https://x.ngrok.app"
    assert p.parse_ngrok_line('{"lvl":"info","msg":"update available","url":"https://u"}').url == ""


def test_ngrok_logfmt_lines() -> None:
    line = (
        't=2024-01-01T00:00:00+0000 lvl=info msg="started tunnel" obj=tunnels '
        "name=command_line addr=http://localhost:4142 url=https://ab12.ngrok-free.app"
    )
    assert p.parse_ngrok_line(line).url == "https://ab12.ngrok-free.app"
    fields = p.parse_logfmt('a=1 b="two words" c="quote \\" inside" d=')
    assert fields == {"a": "1", "b": "two words", "c": 'quote " inside', "d": ""}


def test_ngrok_errors_name_the_code_hide_the_token_and_say_what_to_do() -> None:
    line = (
        't=2021-09-24T23:20:55-0400 lvl=eror msg="failed to auth" obj=tunnels.session '
        'err="The authtoken you specified does not look like a proper ngrok tunnel authtoken.'
        "\\nYour authtoken: 1yaP1QLD0cVVKBknmtX9TAduxr6_6BSaEj1DVgGXFiVSHZbz9~\\nInstructions"
        '\\r\\n\\r\\nERR_NGROK_105\\r\\n"'
    )
    info = p.parse_ngrok_line(line)
    assert "1yaP1QLD" not in info.error and "Your authtoken: ***" in info.error
    summary = p.summarise_errors("ngrok", [info.error])
    assert summary.startswith("failed to auth: The authtoken you specified")
    assert "[ERR_NGROK_105]" in summary and "dashboard.ngrok.com" in summary


def test_ngrok_cli_error_lines_summarised() -> None:
    lines = [
        "ERROR:  authentication failed: Usage of ngrok requires a verified account and authtoken.",
        "ERROR:",
        "ERROR:  Sign up for an account: https://dashboard.ngrok.com/signup",
        "ERROR:  ERR_NGROK_4018",
        "ERROR:  https://ngrok.com/docs/errors/err_ngrok_4018",
    ]
    errors = [e for line in lines if (e := p.parse_ngrok_line(line).error)]
    assert p.ngrok_error_codes(errors) == ["4018"]
    summary = p.summarise_errors("ngrok", errors)
    assert summary.startswith("authentication failed: Usage of ngrok requires")
    assert "[ERR_NGROK_4018]" in summary and "add-authtoken" in summary
    assert p.summarise_errors("cloudflared", ["first", "last"]) == "last"
    assert p.summarise_errors("ngrok", []) == ""


def test_ngrok_tunnels_pick_the_https_tunnel_to_our_port() -> None:
    data = {
        "tunnels": [
            {
                "public_url": "http://a.ngrok.app",
                "proto": "http",
                "config": {"addr": "http://localhost:8080"},
            },  # noqa: E501
            {"public_url": "https://other.ngrok.app", "config": {"addr": "http://localhost:9000"}},
            {"public_url": "https://ours.ngrok.app/", "config": {"addr": "http://localhost:8080"}},
        ],
        "uri": "/api/tunnels",
    }
    assert p.parse_ngrok_tunnels(data, 8080) == "https://ours.ngrok.app"
    assert p.parse_ngrok_tunnels(data, 9000) == "https://other.ngrok.app"
    assert p.parse_ngrok_tunnels(data, 1234) is None
    assert p.parse_ngrok_tunnels({"tunnels": []}, 8080) is None
    assert p.parse_ngrok_tunnels({"tunnels": "x"}, 8080) is None
    for addr in ("127.0.0.1:8080", "8080", {"Host": "127.0.0.1:8080"}):
        one = {"tunnels": [{"public_url": "https://x.ngrok.app", "config": {"addr": addr}}]}
        assert p.parse_ngrok_tunnels(one, 8080) == "https://x.ngrok.app"


@given(st.text())
def test_parsers_never_raise(text: str) -> None:
    p.parse_cloudflared_line(text)
    p.parse_ngrok_line(text)
    p.parse_logfmt(text)
    p.summarise_errors("ngrok", [text])


# -- finding and starting -------------------------------------------------------------------


def test_find_program_on_path_and_configured(tmp_path: Path) -> None:
    assert p.find_program("cloudflared", search_path="") is None
    exe = tmp_path / "cloudflared"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    assert p.find_program("cloudflared", search_path=str(tmp_path)) == str(exe)
    assert p.find_program("cloudflared", str(exe)) == str(exe)
    assert p.find_program("cloudflared", str(tmp_path)) == str(exe)  # a directory holding it
    assert p.find_program("cloudflared", str(tmp_path / "nope")) is None
    (tmp_path / "ngrok.exe").write_text("")
    assert p.find_program("ngrok", str(tmp_path)) == str(tmp_path / "ngrok.exe")
    assert p.guess_program(r"C:\Tools\ngrok.exe") == "ngrok"
    assert p.guess_program("/usr/local/bin/cloudflared") == "cloudflared"


class FakeWinreg:
    """The few winreg calls find_program makes, over a dict of (hive, subkey) -> Path."""

    HKEY_CURRENT_USER = "HKCU"
    HKEY_LOCAL_MACHINE = "HKLM"
    REG_SZ, REG_EXPAND_SZ = 1, 2

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], tuple[str, int]] = {}
        self.env: dict[str, str] = {}

    def OpenKey(self, hive: str, subkey: str) -> contextlib.AbstractContextManager[tuple[str, str]]:  # noqa: N802
        if (hive, subkey) not in self.values:
            raise FileNotFoundError(subkey)
        return contextlib.nullcontext((hive, subkey))

    def QueryValueEx(self, key: tuple[str, str], name: str) -> tuple[str, int]:  # noqa: N802
        assert name == "Path"
        return self.values[key]

    def ExpandEnvironmentStrings(self, text: str) -> str:  # noqa: N802
        for name, value in self.env.items():
            text = text.replace(f"%{name}%", value)
        return text


def _exe(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeWinreg:
    """sys.platform win32, an empty process PATH, the usual folders under tmp_path."""
    fake = FakeWinreg()
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "winreg", fake)
    monkeypatch.setenv("PATH", "")
    for name in ("ProgramFiles", "ProgramFiles(x86)", "LOCALAPPDATA", "ProgramData"):
        monkeypatch.setenv(name, str(tmp_path / name))
    monkeypatch.setenv("USERPROFILE", str(tmp_path / "home"))
    return fake


def test_windows_finds_a_program_added_to_the_registry_path_while_running(
    windows: FakeWinreg, tmp_path: Path
) -> None:
    assert p.find_program("cloudflared") is None
    # An installer ran: it changed PATH in the registry, not in this process.
    exe = _exe(tmp_path / "Tools" / "cloudflared.exe")
    windows.env["TOOLS"] = str(tmp_path / "Tools")
    hklm = (
        windows.HKEY_LOCAL_MACHINE,
        r"SYSTEM\CurrentControlSet\Control\Session Manager\Environment",
    )
    windows.values[hklm] = (r"C:\Windows;%TOOLS%", windows.REG_EXPAND_SZ)
    assert p.find_program("cloudflared") == str(exe)
    user = _exe(tmp_path / "mine" / "ngrok.exe")
    windows.values[(windows.HKEY_CURRENT_USER, "Environment")] = (
        f'"{user.parent}"',
        windows.REG_SZ,
    )
    assert p.find_program("ngrok") == str(user)


@pytest.mark.parametrize(
    "where",
    [
        "ProgramFiles/cloudflared/cloudflared.exe",
        "ProgramFiles(x86)/cloudflared/cloudflared.exe",
        "LOCALAPPDATA/Microsoft/WinGet/Links/cloudflared.exe",
        "ProgramData/chocolatey/bin/cloudflared.exe",
        "home/scoop/shims/cloudflared.exe",
        "ProgramData/chocolatey/bin/cloudflared-windows-amd64.exe",
        "home/scoop/shims/cloudflared-windows-386.exe",
    ],
)
def test_windows_looks_in_the_usual_install_folders(
    windows: FakeWinreg, tmp_path: Path, where: str
) -> None:
    assert p.find_program("cloudflared") is None
    exe = _exe(tmp_path / where)
    assert p.find_program("cloudflared") == str(exe)


def test_the_download_name_is_accepted_in_a_configured_folder(tmp_path: Path) -> None:
    exe = _exe(tmp_path / "cloudflared-windows-amd64.exe")
    assert p.find_program("cloudflared", str(tmp_path)) == str(exe)


def test_other_platforms_read_only_path(
    windows: FakeWinreg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _exe(tmp_path / "ProgramData" / "chocolatey" / "bin" / "cloudflared.exe")
    monkeypatch.setattr(sys, "platform", "linux")
    assert p.find_program("cloudflared") is None
    monkeypatch.setenv("PATH", str(tmp_path / "ProgramData" / "chocolatey" / "bin"))
    assert p.find_program("cloudflared") is not None  # PATH read again at each call


def test_local_endpoints_bypass_the_proxy(stub: HttpStub, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = HttpStub()  # records what would have gone through a proxy
    try:
        for name in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("http_proxy", proxy.url)
        stub.routes[("GET", "/ready")] = (200, {"readyConnections": 3})
        stub.routes[("GET", "/quicktunnel")] = (200, {"hostname": "a-b.trycloudflare.com"})
        addr = f"127.0.0.1:{stub.port}"
        assert p.read_ready(addr) == 3
        assert p.read_quicktunnel(addr) == "https://a-b.trycloudflare.com"
        assert proxy.seen == []
    finally:
        proxy.close()


def test_missing_message_says_where_to_get_it() -> None:
    assert p.DOWNLOADS["cloudflared"] in p.missing_message("cloudflared")
    assert "https://ngrok.com/download" in p.missing_message("ngrok", "/opt/ngrok")
    assert "/opt/ngrok" in p.missing_message("ngrok", "/opt/ngrok")


def test_command_lines() -> None:
    quick = p.cloudflared_quick(["cf"], "http://127.0.0.1:8080", "127.0.0.1:5000")
    assert quick.argv == [
        "cf", "tunnel", "--no-autoupdate", "--url", "http://127.0.0.1:8080",
        "--metrics", "127.0.0.1:5000",
    ]  # fmt: skip
    named = p.cloudflared_named(["cf"], "eyJtoken", "127.0.0.1:5000")
    assert named.argv == ["cf", "tunnel", "--no-autoupdate", "--metrics", "127.0.0.1:5000", "run"]
    assert named.env == {"TUNNEL_TOKEN": "eyJtoken"} and "eyJtoken" not in named.argv
    ngrok = p.ngrok_http(["ngrok"], "127.0.0.1:8080", "tok")
    assert ngrok.argv == [
        "ngrok", "http", "127.0.0.1:8080", "--log", "stdout", "--log-format", "json",
    ]  # fmt: skip
    assert ngrok.env == {"NGROK_AUTHTOKEN": "tok"}
    assert p.ngrok_http(["ngrok"], "127.0.0.1:8080").env == {}


def test_normalise_public_url() -> None:
    assert p.normalise_public_url("sms.example.com") == "https://sms.example.com"
    assert p.normalise_public_url("https://sms.example.com/webhook/") == "https://sms.example.com"
    assert p.normalise_public_url("http://x.example/base") == "http://x.example/base"
    assert p.normalise_public_url("  ") == ""


def test_package_is_qt_free() -> None:
    code = "import sys, gsmbridge.tunnel; sys.exit('PySide6' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    assert subprocess.run([sys.executable, "-c", code], env=env, timeout=30).returncode == 0
