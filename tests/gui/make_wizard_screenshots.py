"""Grab each setup-wizard page offscreen into docs/screenshots/wizard-*.png (a script).

    QT_QPA_PLATFORM=offscreen python -m tests.gui.make_wizard_screenshots [output dir]

Real Bridge, simulated modem, the stand-in cloudflared from the tunnel tests.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from gsmbridge.config import Settings  # noqa: E402
from gsmbridge.gui.app import GuiApp  # noqa: E402
from gsmbridge.logs import setup_logging  # noqa: E402
from tests.gui.conftest import fast_bridge  # noqa: E402
from tests.gui.make_screenshots import OUT, pump, wait  # noqa: E402
from tests.gui.test_wizard import fake_cloudflared  # noqa: E402


def main(out: Path = OUT) -> None:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    out.mkdir(parents=True, exist_ok=True)
    setup_logging(None, "WARNING", stderr=False)
    tmp = Path(tempfile.mkdtemp(prefix="gsmbridge-wizard-"))
    settings = Settings()
    settings.server.port = 0
    settings.gui.close_to_tray = False
    settings.tunnel.self_check_interval_s = 0
    gui = GuiApp(
        settings,
        tmp / "data",
        config_path=tmp / "config.toml",
        bridge_factory=fast_bridge,
        route_qt_messages=False,
        use_tray=False,
    )
    gui.start()
    wait(lambda: gui.ctx.running)
    wizard = gui.window.open_wizard()
    pump(0.3)

    def shot(name: str) -> None:
        pump(0.3)
        wizard.grab().save(str(out / f"wizard-{name}.png"))

    wizard.credentials.password.generate()
    shot("1-credentials")
    wizard.next()
    wait(lambda: wizard.currentPage() is wizard.modem)
    wait(lambda: "ready" in wizard.modem.state.text())
    wait(wizard.modem.detect_button.isEnabled, timeout=60)
    shot("2-modem")
    wizard.next()
    sms = wizard.test_sms
    sms.number.setText("+1 212 555 0123")
    sms.send_button.click()
    wait(lambda: sms.last_state in ("sent", "delivered"))
    shot("3-test-sms")
    wizard.next()
    tunnel = wizard.tunnel
    tunnel.radios["cloudflared"].setChecked(True)
    tunnel.path.setText(str(fake_cloudflared(tmp)))
    tunnel.start_button.click()
    wait(lambda: tunnel.url.text().startswith("https://"))
    shot("4-tunnel")
    wizard.next()
    wait(lambda: wizard.currentPage() is wizard.cometchat)
    wizard.cometchat.dashboard.setChecked(True)
    shot("5-cometchat-dashboard")
    wizard.cometchat.self_register.setChecked(True)
    wizard.cometchat.app_id.setText("2613867c2e4a4b1")
    wizard.cometchat.api_key.setText("rest-api-key")
    shot("6-cometchat-register")
    wizard.cometchat.dashboard.setChecked(True)  # Finish must not call the real CometChat
    saved: list[object] = []
    wizard.saved.connect(saved.append)
    wizard.accept()
    wait(lambda: bool(saved))
    gui.window.tabs.setCurrentWidget(gui.window.tunnel_panel)
    pump(0.5)
    gui.window.grab().save(str(out / "tunnel.png"))
    gui.shutdown()
    app.processEvents()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
