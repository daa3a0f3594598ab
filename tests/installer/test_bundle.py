"""Slow: build the PyInstaller bundle and run it (``python -m pytest -m slow``).

The same as ``python installer/build.py --check`` followed by
``python installer/check_bundle.py --gui``; the first build takes a minute or two.
The shared-store part runs on a throwaway PostgreSQL when initdb is installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "installer"

pytestmark = pytest.mark.slow
REQUIRE_POSTGRES = "GSMBRIDGE_REQUIRE_POSTGRES"  # as tests/pgcluster.py: no skipping


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, INSTALLER / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bundle() -> Path:
    done = subprocess.run(
        [sys.executable, INSTALLER / "build.py"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return ROOT / "dist" / "gsmbridge"


def test_bundle_runs_headless_and_gui(bundle: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    assert load("check_bundle").main([str(bundle), "--gui", "--json", str(report)]) == 0
    results = json.loads(report.read_text())
    assert results["job_state"] in ("sent", "delivered")
    assert results["bundle_mib"] < 300  # QML/WebEngine creeping in would double it
    assert results["version_s"] < 5 and results["listening_s"] < 10
    assert results["ngrok_sdk"].startswith("ngrok SDK 1.")  # the native module was bundled
    # /metrics from the frozen app, on this PC's queue and on the shared store.
    assert results["metrics_families"] >= 10
    if "pg_skipped" in results:
        assert load("check_bundle").find_initdb() is None, results["pg_skipped"]
        assert os.environ.get(REQUIRE_POSTGRES) != "1", results["pg_skipped"]
        return
    # A throwaway PostgreSQL: the frozen psycopg with the libpq it brings (not the
    # system's, which a Windows PC lacks), a webhook sent through the shared store.
    assert results["psycopg_impl"] == "binary"
    assert results["pg_backend"] == "postgresql"
    assert results["pg_job_state"] in ("sent", "delivered")
    assert results["pg_metrics_families"] >= 10


def test_inno_setup_compiles(bundle: Path) -> None:
    build = load("build")
    if build.iscc_command() is None:
        pytest.skip("no Inno Setup (set ISCC to ISCC.exe; on Linux it runs through wine)")
    setup = build.installer()
    assert setup.is_file() and setup.stat().st_size > 10 * 2**20
