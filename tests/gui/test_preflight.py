"""The check before Qt loads on Linux: the xcb plugin's system libraries.

The ELF reading runs on the real plugin of the installed PySide6; which libraries
are "missing" is injected with a loader, so the tests pass whether or not this
machine has them.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gsmbridge.gui import preflight

QT = preflight.qt_directory()
XCB = QT / "plugins" / "platforms" / "libqxcb.so" if QT else None
needs_xcb_plugin = pytest.mark.skipif(
    XCB is None or not XCB.is_file(), reason="PySide6 without its xcb plugin"
)
X11 = {"DISPLAY": ":0"}


def loads_all_but(*missing: str):
    tried: list[str] = []

    def loader(name: str) -> bool:
        tried.append(name)
        return name not in missing

    loader.tried = tried  # type: ignore[attr-defined]
    return loader


@needs_xcb_plugin
def test_the_plugins_needs_are_read_from_its_elf_header():
    needed = preflight.needed_libraries(XCB)
    assert "libxcb-icccm.so.4" in needed and "libxcb-keysyms.so.1" in needed
    assert "libQt6XcbQpa.so.6" in needed  # bundled: its own needs are read too


@needs_xcb_plugin
def test_missing_libraries_are_named_with_their_packages():
    loader = loads_all_but("libxcb-icccm.so.4", "libxcb-keysyms.so.1")
    message = preflight.check_desktop(X11, "linux", loader=loader)
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1\n" in message
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in message
    assert "--headless" in message
    assert "libxcb-cursor0" not in message  # Qt's own hint names that one whatever lacks
    # Bundled Qt libraries and the C library are not asked about.
    assert not [n for n in loader.tried if n.startswith(("libQt6", "libc.so", "libm.so"))]
    assert "libxcb-cursor.so.0" in loader.tried


@needs_xcb_plugin
def test_nothing_to_say_when_everything_loads():
    assert preflight.check_desktop(X11, "linux", loader=lambda _name: True) == ""


@pytest.mark.parametrize(
    ("platform", "environ"),
    [
        ("win32", X11),
        ("darwin", X11),
        ("linux", {"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}),
        ("linux", {"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland;xcb"}),
        ("linux", {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"}),
        ("linux", {}),  # no display at all: not this check's business
    ],
)
def test_only_where_qt_would_use_xcb(platform, environ):
    loader = loads_all_but("libxcb-icccm.so.4")
    assert preflight.check_desktop(environ, platform, qt_dir=QT, loader=loader) == ""
    assert loader.tried == []


@needs_xcb_plugin
def test_an_explicit_xcb_platform_is_checked():
    environ = {"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":1"}
    assert "libxcb-icccm4" in preflight.check_desktop(
        environ, "linux", loader=loads_all_but("libxcb-icccm.so.4")
    )


def test_package_names_follow_debian():
    assert preflight.package_for("libxcb-icccm.so.4") == "libxcb-icccm4"
    assert preflight.package_for("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert preflight.package_for("libX11-xcb.so.1") == "libx11-xcb1"
    assert preflight.package_for("libxcb-render-util.so.0") == "libxcb-render-util0"
    assert preflight.package_for("libglib-2.0.so.0") == "libglib2.0-0"


def test_not_an_elf_file_needs_nothing(tmp_path):
    fake = tmp_path / "libqxcb.so"
    fake.write_text("not a library")
    assert preflight.needed_libraries(fake) == []


def test_the_desktop_is_told_when_nobody_reads_stderr():
    runs: list[list[str]] = []
    told = preflight.tell_desktop(
        "install x", interactive=False, which=lambda _n: "/usr/bin/notify-send", run=runs.append
    )
    assert told and runs[0][0] == "/usr/bin/notify-send" and runs[0][-1] == "install x"
    assert not preflight.tell_desktop("x", interactive=True, which=lambda _n: "/x", run=runs.append)
    assert not preflight.tell_desktop(
        "x", interactive=False, which=lambda _n: None, run=runs.append
    )
    assert len(runs) == 1


@needs_xcb_plugin
def test_gsmbridge_exits_with_the_message_before_qt_loads(monkeypatch, capsys, tmp_path):
    from gsmbridge import __main__ as cli

    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(preflight, "can_load", loads_all_but("libxcb-keysyms.so.1"))
    told: list[str] = []
    monkeypatch.setattr(preflight, "tell_desktop", told.append)
    config = tmp_path / "config.toml"
    config.touch()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--config", str(config), "--data-dir", str(tmp_path / "data")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "sudo apt install libxcb-keysyms1" in err
    assert told == [err.strip()]


def test_the_check_does_not_import_qt():
    code = (
        "import sys; from gsmbridge.gui import preflight; preflight.check_desktop("
        "{'DISPLAY': ':0'}, 'linux', loader=lambda n: True); "
        "print('PySide6' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ)
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
