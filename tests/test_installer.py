"""Structure of the installers: names, paths and flags that must agree across the
PyInstaller spec, the Inno Setup script, the Linux entries and units, and the app.

Fast: nothing is built here (``python -m pytest -m slow`` builds and runs the bundle).
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
import shutil
import stat
import struct
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from gsmbridge.__main__ import build_parser

ROOT = Path(__file__).resolve().parent.parent
INSTALLER = ROOT / "installer"
RESOURCES = ROOT / "resources"
SPEC = (INSTALLER / "gsmbridge.spec").read_text(encoding="utf-8")
ISS = (INSTALLER / "gsmbridge.iss").read_text(encoding="utf-8")
SYSTEM_UNIT = RESOURCES / "systemd" / "system" / "gsmbridge.service"
USER_UNIT = RESOURCES / "systemd" / "user" / "gsmbridge.service"
INSTALL_SH = INSTALLER / "linux" / "install.sh"


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def spec_constant(name: str) -> str:
    match = re.search(rf'^{name} = "([^"]+)"', SPEC, re.M)
    assert match, f"{name} not in gsmbridge.spec"
    return match.group(1)


def iss_define(name: str) -> str:
    match = re.search(rf'^#define {name} "([^"]*)"', ISS, re.M)
    assert match, f"#define {name} not in gsmbridge.iss"
    return match.group(1)


def iss_sections() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = ""
    for raw in ISS.splitlines():
        line = raw.strip()
        if re.fullmatch(r"\[\w+\]", line):
            current = line[1:-1]
            sections.setdefault(current, [])
        elif current and line and not line.startswith(";"):
            sections[current].append(line)
    return sections


def iss_setup() -> dict[str, str]:
    return dict(line.split("=", 1) for line in iss_sections()["Setup"] if "=" in line)


def iss_entries(section: str) -> list[dict[str, str]]:
    """``Name: "x"; Flags: a b`` lines as dicts (quotes kept off, "" unescaped)."""
    entries = []
    for line in iss_sections()[section]:
        fields = re.findall(r'(\w+):\s*("(?:[^"]|"")*"|[^;]*)', line)
        entries.append({k: _unquote(v.strip()) for k, v in fields})
    return entries


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value.replace('""', '"')


def unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit as section -> [(key, value)] (keys repeat: DeviceAllow=...)."""
    out: dict[str, list[tuple[str, str]]] = {}
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            out[section] = []
        else:
            key, _, value = line.partition("=")
            out[section].append((key, value))
    return out


def values(u: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [v for k, v in u.get(section, []) if k == key]


def desktop(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


# -- PyInstaller spec ------------------------------------------------------------------


def test_spec_paths_exist() -> None:
    assert (INSTALLER / "entry.py").is_file()
    assert (RESOURCES / "gsmbridge.ico").is_file()
    assert (ROOT / "gsmbridge" / "gui" / "resources" / "gsmbridge.svg").is_file()
    assert (INSTALLER / "hooks" / "hook-phonenumbers.py").is_file()
    layout = load(INSTALLER / "bundle_layout.py")
    for platform in ("linux", "win32"):
        for source, _ in layout.extra_files(ROOT, platform):
            assert source.exists(), source


def test_spec_builds_two_executables_in_one_folder() -> None:
    assert spec_constant("GUI_NAME") == "gsmbridge"
    assert spec_constant("CLI_NAME") == "gsmbridge-cli"
    assert re.search(r"_exe\(GUI_NAME, console=False\)", SPEC)
    assert re.search(r"_exe\(CLI_NAME, console=True\)", SPEC)
    assert re.search(r"COLLECT\(gui_exe, cli_exe, a\.binaries, a\.datas", SPEC)
    assert "exclude_binaries=True" in SPEC  # one folder, not one file


def _qt_unused() -> set[str]:
    block = re.search(r'QT_UNUSED = """(.*?)"""', SPEC, re.S)
    assert block
    return set(block.group(1).split())


def test_spec_excludes_no_qt_module_the_app_imports() -> None:
    used = set()
    for path in (ROOT / "gsmbridge").rglob("*.py"):
        used |= set(re.findall(r"PySide6\.(Qt\w+)", path.read_text(encoding="utf-8")))
    assert {"QtCore", "QtGui", "QtWidgets"} <= used
    assert not used & _qt_unused(), "the app imports a Qt module the spec excludes"
    assert {"QtQml", "QtQuick", "QtWebEngineCore", "Qt3DCore", "QtMultimedia"} <= _qt_unused()


def test_phonenumbers_tables_left_out_are_not_used() -> None:
    hook = (INSTALLER / "hooks" / "hook-phonenumbers.py").read_text(encoding="utf-8")
    left_out = {"carrier", "geocoder", "timezone"}
    assert all(f'"{name}"' in hook for name in left_out)
    pattern = re.compile(
        r"phonenumbers\.(carrier|geocoder|timezone)\b|from phonenumbers import .*\b"
        r"(carrier|geocoder|timezone)\b"
    )
    for path in (ROOT / "gsmbridge").rglob("*.py"):
        assert not pattern.search(path.read_text(encoding="utf-8")), path


def test_spec_bundles_the_pyserial_url_handlers() -> None:
    # serial_for_url() imports them by name; the simulator is reached through socket://.
    for name in ("socket", "rfc2217", "loop", "spy"):
        assert f'"{name}"' in SPEC


def test_spec_bundles_the_ngrok_sdk() -> None:
    # Imported lazily by the tunnel; its native module must be in the frozen app.
    assert '"ngrok", "ngrok.ngrok"' in SPEC and 'copy_metadata("ngrok")' in SPEC
    source = (ROOT / "gsmbridge" / "tunnel" / "ngrok_sdk.py").read_text(encoding="utf-8")
    assert "import ngrok\n" in source  # the module the spec names is the one imported
    check = (INSTALLER / "check_bundle.py").read_text(encoding="utf-8")
    assert "check_ngrok(bundle" in check


def test_spec_bundles_psycopg_binary_and_its_libpq() -> None:
    # psycopg picks its implementation by importing psycopg_binary by name; without it a
    # frozen app falls back to a libpq of the system's (none on Windows).
    assert '"psycopg_binary", "psycopg_binary.pq"' in SPEC
    assert 'find_spec("psycopg_binary") is None' in SPEC  # the build stops without it
    assert 'collect_delvewheel_libs_directory("psycopg_binary")' in SPEC
    assert "binaries=PG_BINARIES" in SPEC and "*PG_DATAS" in SPEC
    import psycopg.pq

    selection = Path(psycopg.pq.__file__).read_text(encoding="utf-8")
    assert "from psycopg_binary import pq" in selection  # the name the spec hides in


def test_check_bundle_reads_the_client_line_of_store_check() -> None:
    from gsmbridge.cli.store import pg_client

    check = load(INSTALLER / "check_bundle.py")
    found = check.PG_CLIENT.search(f"shared store ...: reachable\nclient: {pg_client()}\n")
    assert found is not None, pg_client()
    assert found.group(2) in ("binary", "c", "python")


def test_check_bundle_redacts_a_password_in_the_url() -> None:
    redact = load(INSTALLER / "check_bundle.py").redact
    assert (
        redact("postgresql://gsm:pa:ss@db.lan:5432/queue")
        == "postgresql://gsm:***@db.lan:5432/queue"
    )
    assert redact("postgresql://gsm@db.lan/queue") == "postgresql://gsm@db.lan/queue"


def test_check_bundle_skips_postgres_with_a_reason_when_there_is_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    check = load(INSTALLER / "check_bundle.py")
    monkeypatch.setattr(check, "find_initdb", lambda: None)
    result = check.postgres(tmp_path / "no-bundle", tmp_path, None)
    assert "--pg-url" in result["pg_skipped"]


def test_check_bundle_throwaway_postgres_starts_and_is_removed() -> None:
    import psycopg

    check = load(INSTALLER / "check_bundle.py")
    initdb = check.find_initdb()
    if initdb is None:
        pytest.skip("PostgreSQL is not installed")
    server = check.PgServer(initdb)
    try:
        server.start()
        with psycopg.connect(server.url, connect_timeout=10) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()
    assert not server.dir.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url, connect_timeout=2)


# -- Windows: Inno Setup -------------------------------------------------------------


def test_iss_names_match_the_spec_and_the_entry_point() -> None:
    assert iss_define("AppExeName") == spec_constant("GUI_NAME") + ".exe"
    assert iss_define("CliExeName") == spec_constant("CLI_NAME") + ".exe"
    assert iss_define("BundleDir") == "dist\\" + spec_constant("BUNDLE_NAME")
    entry = load(INSTALLER / "entry.py")
    assert iss_define("AppMutexName") == entry.MUTEX_NAME
    assert entry.hold_mutex() == [] or os.name == "nt"


def test_iss_setup_section() -> None:
    setup = iss_setup()
    assert re.fullmatch(r"\{\{[0-9A-F]{8}-([0-9A-F]{4}-){3}[0-9A-F]{12}\}", setup["AppId"])
    assert setup["PrivilegesRequired"] == "lowest"
    assert set(setup["PrivilegesRequiredOverridesAllowed"].split()) == {"commandline", "dialog"}
    assert setup["AppMutex"] == "{#AppMutexName},Global\\{#AppMutexName}"
    assert setup["CloseApplications"] == "yes"
    assert setup["DefaultDirName"] == "{autopf}\\{#AppName}"
    assert setup["SourceDir"] == ".."
    assert (ROOT / setup["SetupIconFile"].replace("\\", "/")).is_file()
    for section in ("Setup", "Languages", "Tasks", "Files", "Icons", "Registry", "Run", "Code"):
        assert section in iss_sections(), section


def test_iss_files_come_from_the_bundle_or_exist() -> None:
    sources = [e["Source"] for e in iss_entries("Files")]
    assert sources == ["{#BundleDir}\\*"]
    for entry in iss_entries("Icons"):
        assert entry["Filename"] in ("{app}\\{#AppExeName}", "{app}\\{#CliExeName}")


def test_iss_tasks_and_start_at_login_match_the_app() -> None:
    tasks = {e["Name"] for e in iss_entries("Tasks")}
    assert {"desktopicon", "startatlogin"} <= tasks
    autostart = (ROOT / "gsmbridge" / "gui" / "autostart.py").read_text(encoding="utf-8")
    run_key = re.search(r'RUN_KEY = r"([^"]+)"', autostart)
    app_id = re.search(r'APP_ID = "([^"]+)"', autostart)
    assert run_key and app_id
    assert iss_define("RunKey") == run_key.group(1)
    assert iss_define("RunValue") == app_id.group(1)
    (registry,) = iss_entries("Registry")
    assert registry["Tasks"] == "startatlogin" and registry["Root"] == "HKCU"
    assert "uninsdeletevalue" in registry["Flags"]


def test_iss_firewall_rule_only_for_admins_and_a_network_address() -> None:
    netsh = [e for s in ("Run", "UninstallRun") for e in iss_entries(s) if "netsh" in e["Filename"]]
    adds = [e for e in netsh if " add rule" in e["Parameters"]]
    assert len(adds) == 2 and all(e["Check"] == "WantFirewallRule" for e in adds)
    programs = {re.findall(r'program="\{app\}\\([^"]+)"', e["Parameters"])[0] for e in adds}
    assert programs == {"{#AppExeName}", "{#CliExeName}"}
    assert all(e["Check"] in ("IsAdminInstallMode", "WantFirewallRule") for e in netsh)
    want = re.search(r"function WantFirewallRule: Boolean;.*?end;", ISS, re.S)
    assert want and "IsAdminInstallMode and ListensOnNetwork" in want.group(0)
    assert "CreateInputOptionPage" in ISS  # the page that asks


def test_iss_uninstall_keeps_data_unless_asked() -> None:
    code = ISS[ISS.index("[Code]") :]
    step = re.search(r"procedure CurUninstallStepChanged.*?\nend;", code, re.S)
    assert step
    body = step.group(0)
    assert "usPostUninstall" in body and "{localappdata}\\{#AppName}" in body
    assert "not UninstallSilent" in body and "MB_DEFBUTTON2" in body  # "No" is the default
    assert body.index("MsgBox") < body.index("DelTree")


# -- Linux: desktop entries, icons, units, udev, install.sh ------------------------------


def test_desktop_entries() -> None:
    main = desktop(RESOURCES / "gsmbridge.desktop")
    assert main["Type"] == "Application" and main["Icon"] == "gsmbridge"
    assert main["Exec"].split()[0] == "gsmbridge" and main["Terminal"] == "false"
    auto = desktop(RESOURCES / "gsmbridge-autostart.desktop")
    assert auto["X-GNOME-Autostart-enabled"] == "true"
    for entry in (main, auto):
        build_parser().parse_args(entry["Exec"].split()[1:])  # flags the app accepts
    if shutil.which("desktop-file-validate"):
        done = subprocess.run(
            ["desktop-file-validate", RESOURCES / "gsmbridge.desktop"],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_icons() -> None:
    hicolor = RESOURCES / "icons" / "hicolor"
    sizes = sorted(int(p.name.split("x")[0]) for p in hicolor.iterdir())
    assert {16, 32, 48, 64, 128, 256} <= set(sizes)
    for size in sizes:
        assert _png_size(hicolor / f"{size}x{size}" / "apps" / "gsmbridge.png") == (size, size)
    ico = (RESOURCES / "gsmbridge.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind) == (0, 1)
    dims = {ico[6 + 16 * i] or 256 for i in range(count)}
    assert {16, 32, 48, 256} <= dims


def _exec_args(u: dict[str, list[tuple[str, str]]]) -> tuple[str, list[str]]:
    (line,) = values(u, "Service", "ExecStart")
    exe, *args = line.split()
    return exe, args


def test_system_unit() -> None:
    u = unit(SYSTEM_UNIT)
    exe, args = _exec_args(u)
    assert exe == "/opt/gsmbridge/" + spec_constant("CLI_NAME")
    assert "APP_DIR=/opt/gsmbridge\n" in INSTALL_SH.read_text(encoding="utf-8")
    parsed = build_parser().parse_args(args)
    assert parsed.headless
    assert values(u, "Service", "ReadWritePaths") == [str(parsed.data_dir)]
    assert values(u, "Service", "User") == ["gsmbridge"]
    assert values(u, "Service", "SupplementaryGroups") == ["dialout"]
    assert {"char-ttyUSB rw", "char-ttyACM rw"} <= set(values(u, "Service", "DeviceAllow"))
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "Restart": "on-failure",
        "KillSignal": "SIGTERM",
        "DevicePolicy": "closed",
    }
    for key, value in expected.items():
        assert values(u, "Service", key) == [value], key
    families = values(u, "Service", "RestrictAddressFamilies")[0].split()
    assert set(families) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert int(values(u, "Service", "TimeoutStopSec")[0]) >= 30
    assert values(u, "Install", "WantedBy") == ["multi-user.target"]


def test_user_unit() -> None:
    u = unit(USER_UNIT)
    exe, args = _exec_args(u)
    assert exe == "%h/.local/bin/" + spec_constant("CLI_NAME")
    assert build_parser().parse_args(args).headless
    assert values(u, "Service", "Restart") == ["on-failure"]
    assert values(u, "Service", "KillSignal") == ["SIGTERM"]
    assert values(u, "Install", "WantedBy") == ["default.target"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze")
@pytest.mark.parametrize("path", [SYSTEM_UNIT, USER_UNIT], ids=["system", "user"])
def test_units_verify(path: Path, tmp_path: Path) -> None:
    # verify wants ExecStart to exist; everything else is checked as written.
    text = re.sub(r"^ExecStart=\S+", "ExecStart=/bin/true", path.read_text(), flags=re.M)
    copy = tmp_path / "gsmbridge.service"
    copy.write_text(text)
    cmd = ["systemd-analyze", "verify", str(copy)]
    if path == USER_UNIT:
        cmd.insert(1, "--user")
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=30)
    output = done.stdout + done.stderr
    assert not re.search(r"Unknown|Invalid|Failed to parse|ignoring", output), output


def test_udev_rule() -> None:
    (rule_file,) = (RESOURCES / "udev").glob("*.rules")
    rules = [
        line
        for line in rule_file.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    ignore = [r for r in rules if 'ENV{ID_MM_DEVICE_IGNORE}="1"' in r]
    assert ignore and all('ATTRS{idVendor}=="' in r and 'ATTRS{idProduct}=="' in r for r in ignore)
    link = [r for r in rules if "SYMLINK+=" in r]
    assert link and all('SUBSYSTEM=="tty"' in r for r in link)
    # All ATTRS of one rule must match the same sysfs parent: never mix the IDs (USB device)
    # with the interface number (USB interface).
    assert not any("ATTRS{bInterfaceNumber}" in r and "ATTRS{idVendor}" in r for r in rules)
    labels = re.findall(r'(?:GOTO|LABEL)="(\w+)"', "\n".join(rules))
    assert len(set(labels)) == 1


def _fake_bundle(tmp_path: Path) -> Path:
    bundle = tmp_path / "dist" / "gsmbridge"
    bundle.mkdir(parents=True)
    load(INSTALLER / "bundle_layout.py").copy_extra_files(ROOT, bundle, "linux")
    for name in ("gsmbridge", "gsmbridge-cli"):
        exe = bundle / name
        exe.write_text("#!/bin/sh\necho gsmbridge 0.0.0\n")
        exe.chmod(0o755)
    (bundle / "_internal").mkdir()
    return bundle


def _install(bundle: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "USER": "tester"}
    return subprocess.run(
        ["bash", str(bundle / "install.sh"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


needs_bash = pytest.mark.skipif(os.name == "nt" or not shutil.which("bash"), reason="POSIX")


@needs_bash
def test_install_sh_lints() -> None:
    assert subprocess.run(["bash", "-n", str(INSTALL_SH)]).returncode == 0
    if shutil.which("shellcheck"):
        done = subprocess.run(["shellcheck", str(INSTALL_SH)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout


@needs_bash
def test_install_sh_per_user_install_upgrade_uninstall(tmp_path: Path) -> None:
    bundle, home = _fake_bundle(tmp_path), tmp_path / "home"
    data = home / ".local" / "share" / "gsmbridge" / "gsmbridge.db"
    data.parent.mkdir(parents=True)
    data.write_text("queue")

    done = _install(bundle, home, "--autostart", "--user-service")
    assert done.returncode == 0, done.stderr
    app = home / ".local" / "opt" / "gsmbridge"
    assert (app / "gsmbridge-cli").is_file()
    cli = home / ".local" / "bin" / "gsmbridge-cli"
    assert subprocess.run([cli], capture_output=True, text=True).stdout.startswith("gsmbridge")
    entry = desktop(home / ".local" / "share" / "applications" / "gsmbridge.desktop")
    assert entry["Exec"] == f'"{app}/gsmbridge"'
    auto = desktop(home / ".config" / "autostart" / "gsmbridge.desktop")
    assert auto["Exec"] == f'"{app}/gsmbridge" --minimized'
    assert (home / ".local/share/icons/hicolor/48x48/apps/gsmbridge.png").is_file()
    assert (home / ".local/share/icons/hicolor/scalable/apps/gsmbridge.svg").is_file()
    service = unit(home / ".config" / "systemd" / "user" / "gsmbridge.service")
    assert values(service, "Service", "ExecStart") == [f'"{app}/gsmbridge-cli" --headless']

    # An upgrade without the options keeps what the first run installed on the list.
    assert _install(bundle, home).returncode == 0
    assert (home / ".config" / "autostart" / "gsmbridge.desktop").is_file()

    done = _install(app, home, "--uninstall")
    assert done.returncode == 0, done.stderr
    left = [
        p
        for p in home.rglob("*")
        if p.is_file() and p.name not in ("icon-theme.cache", "mimeinfo.cache")
    ]
    assert left == [data]  # the queue survives, everything installed is gone


@needs_bash
def test_install_sh_system_service_under_a_root(tmp_path: Path) -> None:
    bundle, root = _fake_bundle(tmp_path), tmp_path / "root"
    done = _install(bundle, tmp_path, "--system", "--system-service", "--root", str(root))
    assert done.returncode == 0, done.stderr
    assert (root / "opt/gsmbridge/gsmbridge-cli").is_file()
    assert os.readlink(root / "usr/local/bin/gsmbridge-cli") == "/opt/gsmbridge/gsmbridge-cli"
    service = unit(root / "etc/systemd/system/gsmbridge.service")
    (line,) = values(service, "Service", "ExecStart")
    assert line.startswith('"/opt/gsmbridge/gsmbridge-cli" --headless')
    assert (root / "etc/sysusers.d/gsmbridge.conf").is_file()
    assert stat.S_IMODE((root / "etc/gsmbridge/gsmbridge.env").stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "etc/gsmbridge/config.toml").stat().st_mode) == 0o640
    assert (root / "usr/local/share/applications/gsmbridge.desktop").is_file()

    done = _install(bundle, tmp_path, "--system", "--uninstall", "--root", str(root))
    assert done.returncode == 0, done.stderr
    assert not (root / "opt/gsmbridge").exists()
    assert not (root / "etc/systemd/system/gsmbridge.service").exists()
    assert (root / "etc/gsmbridge/config.toml").is_file()  # settings are kept


# -- README ----------------------------------------------------------------------------


def test_readme_has_the_section_before_development() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.index("## Installing and building") < readme.index("## Development")


# -- Windows: start at boot, firewall profiles, code signing (issue 14.5, 14.19, 14.20) ----


def test_iss_start_at_boot_task_creates_and_removes_the_scheduled_task() -> None:
    task = next(e for e in iss_entries("Tasks") if e["Name"] == "startatboot")
    assert "unchecked" in task["Flags"] and task["Check"] == "IsAdminInstallMode"
    assert iss_define("BootTask") == "gsmbridge at boot"
    name = "{#BootTask}"
    run = [e for e in iss_entries("Run") if "schtasks" in e["Filename"]]
    delete, create = run
    assert delete["Parameters"] == f'/Delete /F /TN "{name}"'  # the old one first
    assert delete["Check"] == "IsAdminInstallMode"
    params = create["Parameters"]
    assert create["Tasks"] == "startatboot"
    assert params.startswith(f'/Create /F /TN "{name}" /SC ONSTART /RU SYSTEM ')
    # /TR is one quoted argument whose inner quotes are \" (schtasks' escaping).
    tr = re.search(r'/TR "(.*)"$', params)
    assert tr, params
    inner = tr.group(1).replace('\\"', '"')
    assert inner == (
        '"{app}\\{#CliExeName}" --headless --data-dir "{localappdata}\\{#AppName}" '
        '--config "{localappdata}\\{#AppName}\\config.toml"'
    )
    options = {opt for action in build_parser()._actions for opt in action.option_strings}
    assert {"--headless", "--data-dir", "--config"} <= options
    (uninstall,) = [e for e in iss_entries("UninstallRun") if "schtasks" in e["Filename"]]
    assert uninstall["Parameters"] == f'/Delete /F /TN "{name}"'
    assert uninstall["RunOnceId"] == "DeleteBootTask"


def test_iss_firewall_rule_follows_the_port_and_names_its_profiles() -> None:
    adds = [e for e in iss_entries("Run") if " add rule" in e.get("Parameters", "")]
    for entry in adds:
        assert "localport={code:ListenPort} " in entry["Parameters"]
        assert "profile=private,domain " in entry["Parameters"]
    listen = re.search(r"function ListenPort\(Param: String\): String;.*?end;", ISS, re.S)
    assert listen and "PortPage.Values[0]" in listen.group(0)
    assert "GetPreviousData('ListenPort', DefaultPort)" in ISS  # an upgrade keeps the port
    assert "on private and domain networks" in ISS  # the page says which profiles


def test_build_signs_executables_and_installer_with_a_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    build = load(INSTALLER / "build.py")
    bundle = tmp_path / "gsmbridge"
    bundle.mkdir()
    for name in ("gsmbridge.exe", "gsmbridge-cli.exe"):
        (bundle / name).write_bytes(b"MZ")
    setup = tmp_path / "gsmbridge-0.1.0-setup.exe"
    ran: list[list[str]] = []
    monkeypatch.setattr(build, "BUNDLE", bundle)
    monkeypatch.setattr(build, "build", lambda python, clean: None)
    monkeypatch.setattr(build, "installer", lambda: setup)
    monkeypatch.setattr(build.subprocess, "run", lambda cmd, **kw: ran.append(cmd))
    monkeypatch.setenv("SIGNTOOL", r"C:\Kits\signtool.exe")
    monkeypatch.setenv("GSMBRIDGE_SIGN_PFX", r"C:\certs\code.pfx")
    monkeypatch.setenv("GSMBRIDGE_SIGN_PASSWORD", "pfx-secret")
    monkeypatch.delenv("GSMBRIDGE_SIGN_TIMESTAMP", raising=False)
    assert build.main(["--no-deps", "--current-env", "--installer"]) == 0
    head = [r"C:\Kits\signtool.exe", "sign", "/fd", "SHA256", "/tr", build.DEFAULT_TIMESTAMP]
    head += ["/td", "SHA256", "/f", r"C:\certs\code.pfx", "/p", "pfx-secret"]
    assert ran == [
        [*head, str(bundle / "gsmbridge-cli.exe"), str(bundle / "gsmbridge.exe")],
        [*head, str(setup)],
    ]
    out = capsys.readouterr().out
    assert "pfx-secret" not in out and "/p ***" in out


def test_build_without_a_certificate_says_what_unsigned_means(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    build = load(INSTALLER / "build.py")
    (tmp_path / "gsmbridge.exe").write_bytes(b"MZ")
    ran: list[list[str]] = []
    monkeypatch.setattr(build, "BUNDLE", tmp_path)
    monkeypatch.setattr(build, "build", lambda python, clean: None)
    monkeypatch.setattr(build.subprocess, "run", lambda cmd, **kw: ran.append(cmd))
    monkeypatch.delenv("GSMBRIDGE_SIGN_PFX", raising=False)
    assert build.main(["--no-deps", "--current-env"]) == 0
    assert ran == []
    out = capsys.readouterr().out
    assert "not signed" in out and "SmartScreen" in out and "Run anyway" in out
