"""The command line on a Windows console or a redirect in a legacy code page (cp1252)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

INSTALLER = Path(__file__).resolve().parents[1] / "installer"


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GSMBRIDGE_", "PYTHONUTF8"))}
    env["PYTHONIOENCODING"] = "cp1252"  # what `> out.txt` gets on a Western-European Windows
    env["PYTHONUTF8"] = "0"
    return subprocess.run(
        [sys.executable, "-m", "gsmbridge", *args, "--data-dir", str(tmp_path)],
        capture_output=True,
        timeout=60,
        env=env,
    )


def test_contacts_list_with_non_latin_names_in_cp1252(tmp_path: Path) -> None:
    added = _cli(tmp_path, "contacts", "add", "u1", "+12125550123", "--name", "Дмитрий 王芳")
    assert added.returncode == 0, added.stderr.decode(errors="replace")
    _cli(tmp_path, "contacts", "add", "u2", "+12125550124", "--name", "José")
    out = _cli(tmp_path, "contacts", "list")
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    assert b"Traceback" not in out.stderr
    text = out.stdout.decode("cp1252")
    assert "u1" in text and "+12125550123" in text
    assert "José" in text  # what cp1252 holds is written as it is
    assert "Дмитрий" not in text and "?" in text  # what it cannot hold is replaced


def test_frozen_executables_run_in_utf8_mode() -> None:
    spec = (INSTALLER / "gsmbridge.spec").read_text(encoding="utf-8")
    exe = spec[spec.index("def _exe(") :]
    exe = exe[: exe.index("\n\n\n")]
    assert '[("X utf8_mode=1", None, "OPTION")]' in exe
