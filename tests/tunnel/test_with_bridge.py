"""The self-check against gsmbridge's real web server (the /health contract)."""

from __future__ import annotations

from pathlib import Path

from gsmbridge.config import Settings
from gsmbridge.service import Bridge
from gsmbridge.tunnel import TunnelManager
from tests.tunnel.conftest import FAKE_CLOUDFLARED, Recorder, fast_options


def test_self_check_reaches_the_real_health_endpoint(settings: Settings, tmp_path: Path) -> None:
    settings.server.port = 0
    bridge = Bridge(settings, tmp_path / "data")
    bridge.start()
    recorder = Recorder()
    try:
        settings.tunnel.token = "eyJ-named-token"
        settings.tunnel.public_url = bridge.url  # type: ignore[attr-defined] - stands in
        manager = TunnelManager(
            settings,
            bridge.web.port,
            recorder,
            options=fast_options(),
            program="cloudflared",
            command=FAKE_CLOUDFLARED,
        )
        manager.start()
        try:
            recorder.wait_for(lambda s: s.up)
            manager.check_now()
            check = recorder.wait_for(lambda s: s.self_check is not None).self_check
            assert check.ok, check.error
        finally:
            manager.stop()
    finally:
        bridge.stop()
