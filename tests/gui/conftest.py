"""GUI fixtures: real Bridges on 127.0.0.1:0 with a tmp data dir, and job makers."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from gsmbridge.config import Settings
from gsmbridge.service import Bridge
from tests.helpers import ONE_TO_ONE, Client, payload

_seq = itertools.count(1)


def unique_payload(uid: str = "cometchat-uid-1", phno: str | None = "+12125550123", **kw: Any):
    """A distinct notification each call (the intake drops duplicates)."""
    n = next(_seq)
    changes: dict[str, Any] = {
        "data__smsContent": kw.pop("text", f"Message number {n} from Susan Marie"),
        "data__to__uid": uid,
        "data__to__phno": phno,
    }
    changes.update(kw)
    return payload(ONE_TO_ONE, **changes)


def make_jobs(bridge: Bridge, n: int, **kw: Any) -> list[int]:
    """Queue n jobs through the real intake (no HTTP; the fastest real path)."""
    return [bridge.accept(unique_payload(**kw)).id for _ in range(n)]


@pytest.fixture
def make(bridge: Bridge):
    def _make(n: int = 1, **kw: Any) -> list[int]:
        return make_jobs(bridge, n, **kw)

    return _make


@pytest.fixture
def log_records(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.INFO)
    yield caplog


FAST_MODEM = dict(
    command_timeout_s=1.0,
    prompt_timeout_s=1.0,
    send_timeout_s=2.0,
    register_timeout_s=5.0,
    poll_interval_s=5.0,
    reconnect_min_s=0.05,
    reconnect_max_s=0.2,
)


def fast_bridge(settings: Settings, data_dir) -> Bridge:
    """A real Bridge whose simulated modem answers at once."""
    from gsmbridge.simulator import fast_options

    return Bridge(settings, data_dir, simulator_options=fast_options(), modem_options=FAST_MODEM)


@pytest.fixture
def gui_settings(settings: Settings) -> Settings:
    settings.modem.port = ["sim"]
    settings.limits.per_minute = 0  # tests send bursts
    settings.gui.close_to_tray = False
    return settings


@pytest.fixture
def gui_factory(qtbot, gui_settings: Settings, tmp_path):
    """Make GuiApps (window + real Bridge); all are shut down at the end."""
    from gsmbridge.gui.app import GuiApp

    made: list[GuiApp] = []

    def make(
        settings: Settings | None = None,
        data_dir=None,
        *,
        wait: bool = True,
        factory=fast_bridge,
        **kw: Any,
    ) -> GuiApp:
        gui = GuiApp(
            settings or gui_settings,
            data_dir or tmp_path / f"data{len(made)}",
            config_path=tmp_path / "config.toml",
            bridge_factory=factory,
            route_qt_messages=False,
            use_tray=False,
            **kw,
        )
        made.append(gui)
        gui.start(show=True)
        if wait:
            qtbot.waitUntil(lambda: not gui.ctx.starting, timeout=10000)
        return gui

    yield make
    for gui in made:
        gui.shutdown()


@pytest.fixture
def gui(gui_factory):
    app = gui_factory()
    assert app.ctx.running, app.ctx.problem
    return app


def client_for(gui) -> Client:
    from tests.conftest import PASSWORD, USER

    return Client(gui.ctx.bridge.web.port, USER, PASSWORD)
