"""The GUI's log view behind the log thread: it and the file get every line, in
order, and no request thread ever emits to Qt; a second launch leaves the log alone."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gsmbridge import logs
from gsmbridge.config import Settings
from gsmbridge.core.instance import InstanceLock
from gsmbridge.gui.loghandler import QtLogHandler
from gsmbridge.logs import setup_logging
from tests.gui.conftest import client_for
from tests.helpers import payload


@pytest.fixture
def clean_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    hooks = sys.excepthook, threading.excepthook
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    sys.excepthook, threading.excepthook = hooks


class ThreadNoting(QtLogHandler):
    """The GUI's handler, noting which thread feeds it."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.threads.add(threading.current_thread().name)
        super().emit(record)


def test_log_view_gets_webhook_lines_from_the_log_thread(
    gui_factory, tmp_path: Path, clean_logging: None, qtbot
) -> None:
    data = tmp_path / "data-log"
    log_file = setup_logging(data, "INFO", stderr=False)
    assert log_file is not None
    gui = gui_factory(data_dir=data)
    assert gui.ctx.running, gui.ctx.problem
    pipeline = logs.current_pipeline()
    assert pipeline is not None and gui.log_handler in pipeline.attached
    assert gui.log_handler not in logging.getLogger().handlers  # only through the thread
    noting = ThreadNoting()
    logs.attach(noting)
    try:
        client = client_for(gui)
        for i in range(5):
            status, _, body = client.post("/webhook", payload(data__to__uid=f"view-{i}"))
            assert status == 200, body
        view = gui.window.log_view
        qtbot.waitUntil(lambda: view.visible_text().count("Webhook accepted") == 5, timeout=5000)
    finally:
        logs.detach(noting)
    assert noting.threads == {"gsmbridge-log"}
    in_view = [line for line in view.visible_text().splitlines() if "Webhook accepted" in line]
    assert [f"view-{i}" in line for i, line in enumerate(in_view)] == [True] * 5
    assert logs.flush_logging()
    in_file = [row for row in log_file.read_text().splitlines() if "Webhook accepted" in row]
    assert [f"view-{i}" in row for i, row in enumerate(in_file)] == [True] * 5


def test_a_second_window_launch_does_not_open_the_log(
    qapp, tmp_path: Path, clean_logging: None, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gsmbridge.gui import app as gui_app

    activated: list[str] = []
    monkeypatch.setattr(gui_app, "activate_running", lambda name: activated.append(name) or True)
    data = tmp_path / "data"
    first = InstanceLock(data)
    first.acquire()
    try:
        assert gui_app.run(settings, data) == 0
    finally:
        first.release()
    assert activated  # the first window was asked to come forward...
    assert not (data / "logs" / "gsmbridge.log").exists()  # ...and its log left alone
