"""Build the one-folder bundle (dist/gsmbridge/) with PyInstaller, then optionally check it,
archive it (Linux) or compile the Windows installer (Inno Setup).

    python installer/build.py                  # build venv in build/venv, bundle in dist/
    python installer/build.py --check          # ... then run installer/check_bundle.py
    python installer/build.py --archive        # ... and dist/gsmbridge-VERSION-linux-x86_64.tar.gz
    python installer/build.py --installer      # ... and dist/gsmbridge-VERSION-setup.exe (Inno
                                               # Setup; elsewhere than Windows, ISCC=... + wine)
    python installer/build.py --current-env    # use this interpreter instead of build/venv

What gets installed comes from the project's own files: the dependencies in
pyproject.toml plus installer/requirements-build.txt (PyInstaller, pinned).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "installer" / "gsmbridge.spec"
ISS = ROOT / "installer" / "gsmbridge.iss"
REQUIREMENTS = ROOT / "installer" / "requirements-build.txt"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
VENV = ROOT / "build" / "venv"
BUNDLE = DIST / "gsmbridge"


def version() -> str:
    text = (ROOT / "gsmbridge" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    assert match, "no __version__ in gsmbridge/__init__.py"
    return match.group(1)


def run(cmd: list[str | Path], *, secret: str = "", **kwargs: object) -> None:
    shown = " ".join(map(str, cmd))
    print("+", shown.replace(secret, "***") if secret else shown, flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)  # type: ignore[call-overload]


# Code signing: with a certificate (a .pfx and its password in these variables) the
# executables and the installer are signed; without, the build says so and goes on.
SIGN_PFX = "GSMBRIDGE_SIGN_PFX"
SIGN_PASSWORD = "GSMBRIDGE_SIGN_PASSWORD"
SIGN_TIMESTAMP = "GSMBRIDGE_SIGN_TIMESTAMP"
DEFAULT_TIMESTAMP = "http://timestamp.digicert.com"
UNSIGNED_NOTE = (
    f"not signed ({SIGN_PFX} and {SIGN_PASSWORD} not set): Windows SmartScreen will say "
    '"Windows protected your PC" (More info > Run anyway), and antivirus heuristics may '
    "flag the PyInstaller bootloader"
)


def signtool() -> str | None:
    """signtool.exe: SIGNTOOL, PATH, or the newest Windows SDK's x64 one."""
    found = os.environ.get("SIGNTOOL") or shutil.which("signtool")
    if found:
        return found
    kits = Path(os.environ.get("ProgramFiles(x86)", r"C:\Program Files (x86)"))
    tools = sorted((kits / "Windows Kits" / "10" / "bin").glob("10.*/x64/signtool.exe"))
    return str(tools[-1]) if tools else None


def sign(files: list[Path]) -> bool:
    """Sign ``files`` (SHA-256, RFC 3161 timestamp) when a certificate is configured."""
    pfx, password = os.environ.get(SIGN_PFX, ""), os.environ.get(SIGN_PASSWORD, "")
    if not pfx or not password:
        print(UNSIGNED_NOTE, flush=True)
        return False
    tool = signtool()
    if tool is None:
        sys.exit(
            f"{SIGN_PFX} is set but signtool.exe was not found: install the Windows "
            "SDK's signing tools, or set SIGNTOOL"
        )
    timestamp = os.environ.get(SIGN_TIMESTAMP) or DEFAULT_TIMESTAMP
    cmd: list[str | Path] = [tool, "sign", "/fd", "SHA256", "/tr", timestamp, "/td", "SHA256"]
    run([*cmd, "/f", pfx, "/p", password, *files], secret=password)
    return True


def executables() -> list[Path]:
    return sorted(BUNDLE.glob("*.exe"))


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def prepare_python(current_env: bool) -> Path:
    """A Python with the project's dependencies and PyInstaller."""
    if current_env:
        python = Path(sys.executable)
    else:
        python = venv_python(VENV)
        if not python.exists():
            run([sys.executable, "-m", "venv", VENV])
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "dependencies"
    ]
    # gsmbridge itself is not installed: the spec takes it from this checkout.
    run([python, "-m", "pip", "install", "--quiet", "-r", REQUIREMENTS, *deps])
    return python


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def build(python: Path, clean: bool) -> None:
    started = time.monotonic()
    cmd: list[str | Path] = [python, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN"]
    cmd += ["--distpath", DIST, "--workpath", WORK]
    if clean:
        cmd.append("--clean")
    run([*cmd, SPEC], cwd=ROOT)
    size = du(BUNDLE) / 2**20
    print(f"built {BUNDLE} ({size:.0f} MiB) in {time.monotonic() - started:.0f} s")


def archive() -> Path:
    machine = platform.machine().lower() or "unknown"
    out = DIST / f"gsmbridge-{version()}-linux-{machine}.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        tar.add(BUNDLE, arcname=f"gsmbridge-{version()}")
    print(f"wrote {out} ({out.stat().st_size / 2**20:.0f} MiB)")
    return out


def iscc_command() -> list[str] | None:
    """ISCC.exe (Inno Setup's compiler); elsewhere than Windows, through wine."""
    candidates = [os.environ.get("ISCC", ""), shutil.which("iscc") or ""]
    for base in ("LOCALAPPDATA", "ProgramFiles(x86)", "ProgramFiles"):
        root = os.environ.get(base)
        if root:
            candidates.append(str(Path(root) / "Programs" / "Inno Setup 6" / "ISCC.exe"))
            candidates.append(str(Path(root) / "Inno Setup 6" / "ISCC.exe"))
    iscc = next((c for c in candidates if c and Path(c).is_file()), None)
    if iscc is None or os.name == "nt":
        return [iscc] if iscc else None
    wine = os.environ.get("WINE") or shutil.which("wine") or "/usr/lib/wine/wine"
    return [wine, iscc] if Path(wine).exists() or shutil.which(wine) else None


def windows_path(path: Path) -> str:
    # wine maps Z: to /; a bare /path would read as an ISCC option.
    return str(path) if os.name == "nt" else "Z:" + str(path).replace("/", "\\")


def installer() -> Path:
    iscc = iscc_command()
    if iscc is None:
        sys.exit("Inno Setup 6 not found: winget install JRSoftware.InnoSetup, or set ISCC")
    run([*iscc, f"/DAppVersion={version()}", windows_path(ISS)], cwd=ROOT)
    out = DIST / f"gsmbridge-{version()}-setup.exe"
    print(f"wrote {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--current-env", action="store_true", help="no build venv")
    parser.add_argument("--clean", action="store_true", help="empty PyInstaller's cache first")
    parser.add_argument("--no-deps", action="store_true", help="skip pip (offline rebuild)")
    parser.add_argument("--check", action="store_true", help="run check_bundle.py after")
    parser.add_argument("--archive", action="store_true", help="Linux: a .tar.gz of the bundle")
    parser.add_argument("--installer", action="store_true", help="Windows: run Inno Setup")
    args = parser.parse_args(argv)

    if args.no_deps:
        python = Path(sys.executable) if args.current_env else venv_python(VENV)
    else:
        python = prepare_python(args.current_env)
    build(python, args.clean)
    if executables():  # Windows builds: sign before the check runs and Inno packs them
        sign(executables())
    if args.check:
        run([python, ROOT / "installer" / "check_bundle.py", BUNDLE])
    if args.archive:
        archive()
    if args.installer:
        sign([installer()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
