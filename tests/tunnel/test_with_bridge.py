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
            seen = len(recorder.statuses)
            manager.check_now()
            # A check that ran against the URL (an earlier automatic one may have
            # finished with "no public URL" while the tunnel was still coming up).
            check = recorder.wait_for(
                lambda s: s.self_check is not None and bool(s.self_check.url), after=seen
            ).self_check
            assert check.ok, check.error
        finally:
            manager.stop()
    finally:
        bridge.stop()
