"""What goes next to the executables in dist/gsmbridge/ (outside _internal/).

Used by gsmbridge.spec to fill the bundle and by tests/test_installer.py to build a fake
bundle for install.sh, so the two cannot drift apart.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def extra_files(root: Path, platform: str) -> list[tuple[Path, str]]:
    """(source file or folder in the repo, destination relative to the bundle)."""
    resources = root / "resources"
    out: list[tuple[Path, str]] = []
    example = resources / "gsmbridge.example.toml"  # owned by the app; may not exist yet
    if example.exists():
        out.append((example, example.name))
    if platform.startswith("linux"):
        out += [
            (root / "installer" / "linux" / "install.sh", "install.sh"),
            (root / "gsmbridge" / "gui" / "resources" / "gsmbridge.svg", "share/gsmbridge.svg"),
            (resources / "gsmbridge.desktop", "share/gsmbridge.desktop"),
            (resources / "gsmbridge-autostart.desktop", "share/gsmbridge-autostart.desktop"),
            (resources / "icons", "share/icons"),
            (resources / "systemd", "share/systemd"),
            (resources / "udev", "share/udev"),
        ]
    return out


def copy_extra_files(root: Path, bundle: Path, platform: str) -> None:
    shutil.rmtree(bundle / "share", ignore_errors=True)
    for source, dest in extra_files(root, platform):
        target = bundle / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)
