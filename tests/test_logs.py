"""The log thread: request threads only enqueue; order, flushing, uncaught exceptions,
no console handler without a console, and rotation that another process blocks."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gsmbridge import logs
from gsmbridge.config import Settings
from gsmbridge.core.instance import AlreadyRunning, InstanceLock
from gsmbridge.logs import PrivateRotatingFileHandler, setup_logging
from gsmbridge.service import Bridge
from tests.helpers import Client, payload

ROOT = Path(__file__).resolve().parent.parent


class Recorder(logging.Handler):
    """Notes each record with the thread that handled it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str, logging.LogRecord]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((threading.current_thread().name, record))


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


def run_script(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_lines_from_many_threads_keep_their_order(tmp_path: Path, clean_logging: None) -> None:
    log_file = setup_logging(tmp_path / "data", "INFO", stderr=False)
    assert log_file is not None
    recorder = Recorder()
    logs.attach(recorder)
    order = threading.Lock()
    counter = iter(range(100_000))
    logger = logging.getLogger("gsmbridge.test.order")

    def work() -> None:
        for _ in range(400):
            with order:  # the global order is the order of the calls
                logger.info("line %d", next(counter))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert logs.flush_logging()
    numbers = [
        int(row.rsplit(" ", 1)[1]) for row in log_file.read_text().splitlines() if "line " in row
    ]
    assert numbers == list(range(1600))
    seen = [r.getMessage() for _, r in recorder.seen if r.name == logger.name]
    assert seen == [f"line {n}" for n in range(1600)]
    assert {name for name, _ in recorder.seen} == {"gsmbridge-log"}


def test_a_waitress_thread_only_enqueues(
    tmp_path: Path, clean_logging: None, settings: Settings
) -> None:
    setup_logging(tmp_path / "data", "INFO", stderr=False)
    recorder = Recorder()
    logs.attach(recorder)
    bridge = Bridge(settings, tmp_path / "data")
    bridge.start()
    try:
        client = Client(bridge.web.port, settings.auth.username, settings.auth.password)
        status, _, body = client.post("/webhook", payload(data__to__uid="thread-test"))
        assert status == 200, body
        assert logs.flush_logging()
    finally:
        bridge.stop()
    accepted = [(h, r) for h, r in recorder.seen if "Webhook accepted" in r.getMessage()]
    assert len(accepted) == 1
    handled_in, record = accepted[0]
    assert record.threadName.startswith("waitress")  # logged there...
    assert handled_in == "gsmbridge-log"  # ...formatted and written here


def test_an_error_is_on_disk_before_the_caller_goes_on(tmp_path: Path) -> None:
    # os._exit: no atexit, no flush; only what was written before it survives.
    result = run_script(
        f"""
        import logging, os
        from pathlib import Path
        from gsmbridge.logs import setup_logging
        setup_logging(Path({str(tmp_path / "data")!r}), "INFO", stderr=False)
        log = logging.getLogger("gsmbridge.test")
        for i in range(3000):
            log.info("filler %d", i)
        log.error("the last words before the crash")
        os._exit(3)
        """,
        tmp_path,
    )
    assert result.returncode == 3, result.stderr
    text = (tmp_path / "data" / "logs" / "gsmbridge.log").read_text()
    assert "filler 2999" in text  # everything before the error, in order
    assert text.rstrip().endswith("the last words before the crash")


class FlushCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.flushes = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def flush(self) -> None:
        self.flushes += 1


def test_lines_a_moment_apart_are_written_in_batches(tmp_path: Path, clean_logging: None) -> None:
    setup_logging(tmp_path / "data", "INFO", stderr=False)
    counter = FlushCounter()
    logs.attach(counter)
    assert logs.flush_logging()
    before = counter.flushes
    logger = logging.getLogger("gsmbridge.test.batches")
    for i in range(40):  # a webhook every 2 ms: line by line, each would be a flush
        logger.info("line %d", i)
        time.sleep(0.002)
    assert logs.flush_logging()
    assert counter.lines[-40:] == [f"line {i}" for i in range(40)]
    assert counter.flushes - before <= 20, counter.flushes - before


def test_an_error_and_a_flush_do_not_wait_for_the_batch(
    tmp_path: Path, clean_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "GATHER_S", 30.0)
    log_file = setup_logging(tmp_path / "data", "INFO", stderr=False)
    assert log_file is not None
    logger = logging.getLogger("gsmbridge.test.urgent")
    logger.info("gathered")
    started = time.monotonic()
    logger.error("written at once")
    assert time.monotonic() - started < logs.ERROR_WAIT_S
    assert log_file.read_text().rstrip().endswith("written at once")
    logger.info("also gathered")
    assert logs.flush_logging(timeout=5.0)
    assert log_file.read_text().rstrip().endswith("also gathered")


def test_exit_drains_the_queue(tmp_path: Path) -> None:
    result = run_script(
        f"""
        import logging
        from pathlib import Path
        from gsmbridge.logs import setup_logging
        setup_logging(Path({str(tmp_path / "data")!r}), "INFO", stderr=False)
        log = logging.getLogger("gsmbridge.test")
        for i in range(5000):
            log.info("line %d", i)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    rows = (tmp_path / "data" / "logs" / "gsmbridge.log").read_text().splitlines()
    assert len([r for r in rows if " line " in r]) == 5000
    assert rows[-1].endswith("line 4999")


def test_stop_logging_drains_and_later_lines_still_land(
    tmp_path: Path, clean_logging: None
) -> None:
    log_file = setup_logging(tmp_path / "data", "INFO", stderr=False)
    assert log_file is not None
    logger = logging.getLogger("gsmbridge.test.stop")
    for i in range(2000):
        logger.info("before %d", i)
    logs.stop_logging()
    assert "before 1999" in log_file.read_text()
    logger.warning("after the stop")  # written on the caller's thread now
    assert "after the stop" in log_file.read_text()


def test_no_console_handler_without_a_console(
    tmp_path: Path, clean_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The windowed exe (and pythonw) has sys.stderr None.
    monkeypatch.setattr(sys, "stderr", None)
    log_file = setup_logging(tmp_path / "data", "INFO", stderr=True)
    pipeline = logs.current_pipeline()
    assert pipeline is not None
    assert [type(h) for h in pipeline.owned] == [PrivateRotatingFileHandler]
    logging.getLogger("gsmbridge.test").warning("still in the file")
    assert logs.flush_logging()
    assert log_file is not None and "still in the file" in log_file.read_text()


def test_uncaught_exceptions_from_slots_and_threads_reach_the_log_file(tmp_path: Path) -> None:
    # As the windowed exe runs: no stdout, no stderr; a slot and a thread raise.
    result = run_script(
        f"""
        import sys, threading
        from pathlib import Path
        sys.stdout = sys.stderr = None
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        from gsmbridge.logs import setup_logging
        setup_logging(Path({str(tmp_path / "data")!r}), "INFO")

        def slot():
            raise ValueError("raised in a Qt slot")

        def work():
            raise KeyError("raised in a thread")

        app = QApplication([])
        QTimer.singleShot(0, slot)
        worker = threading.Thread(target=work, name="worker-7")
        worker.start()
        worker.join()
        QTimer.singleShot(200, app.quit)
        app.exec()
        """,
        tmp_path,
    )
    assert result.returncode == 0
    text = (tmp_path / "data" / "logs" / "gsmbridge.log").read_text()
    assert "Uncaught exception in thread worker-7: KeyError: 'raised in a thread'" in text
    assert "Uncaught exception: ValueError: raised in a Qt slot" in text
    assert "Traceback (most recent call last)" in text and "in slot\n" in text


# -- rotation while another process holds the file (Windows) -------------------------


class HeldOpen:
    """os.replace as Windows does it while another process holds ``held`` open."""

    def __init__(self, held: str) -> None:
        self.held = held
        self.real = os.replace
        self.active = True
        self.refused = 0

    def __call__(self, src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if self.active and os.fspath(src) == self.held:
            self.refused += 1
            raise PermissionError(
                13,
                "The process cannot access the file because it is being used by another process",
                os.fspath(src),
            )
        self.real(src, dst)


def test_a_refused_rollover_loses_neither_lines_nor_old_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "gsmbridge.log"
    for i in (1, 2):
        (tmp_path / f"gsmbridge.log.{i}").write_text(f"old log {i}\n")
    now = [1000.0]
    handler = PrivateRotatingFileHandler(base, maxBytes=400, backupCount=3, encoding="utf-8")
    handler.clock = lambda: now[0]  # type: ignore[method-assign]
    held = HeldOpen(str(base))
    monkeypatch.setattr(os, "replace", held)
    try:
        for i in range(40):
            handler.emit(logging.makeLogRecord({"msg": f"line {i:02d} " + "x" * 30}))
        handler.flush()
        # Refused once, then not again before the retry time: every line in the file.
        assert held.refused == 1
        text = base.read_text()
        assert all(f"line {i:02d} " in text for i in range(40))
        assert "Cannot rotate the log file" in text and "another program may hold it" in text
        assert (tmp_path / "gsmbridge.log.1").read_text() == "old log 1\n"
        assert (tmp_path / "gsmbridge.log.2").read_text() == "old log 2\n"
        assert not (tmp_path / "gsmbridge.log.3").exists()
        # The other program lets go; after the retry time the rollover happens.
        held.active = False
        now[0] += logs.ROLLOVER_RETRY_S
        handler.emit(logging.makeLogRecord({"msg": "after the viewer closed"}))
        handler.flush()
    finally:
        handler.close()
    assert base.read_text() == "after the viewer closed\n"
    first = (tmp_path / "gsmbridge.log.1").read_text()
    assert "line 39 " in first and "line 00 " in first
    assert (tmp_path / "gsmbridge.log.2").read_text() == "old log 1\n"
    assert (tmp_path / "gsmbridge.log.3").read_text() == "old log 2\n"


def test_rollover_still_rotates(tmp_path: Path) -> None:
    base = tmp_path / "gsmbridge.log"
    handler = PrivateRotatingFileHandler(base, maxBytes=200, backupCount=2, encoding="utf-8")
    try:
        for i in range(30):
            handler.emit(logging.makeLogRecord({"msg": f"line {i:02d} " + "y" * 30}))
    finally:
        handler.close()
    files = sorted(tmp_path.glob("gsmbridge.log*"))
    assert [p.name for p in files] == ["gsmbridge.log", "gsmbridge.log.1", "gsmbridge.log.2"]
    assert all(p.stat().st_size < 200 for p in files)
    assert "line 29 " in base.read_text()


# -- the lock before the log ---------------------------------------------------------


def test_a_second_headless_launch_does_not_open_the_log(
    tmp_path: Path, clean_logging: None, settings: Settings
) -> None:
    from gsmbridge import headless

    data = tmp_path / "data"
    first = InstanceLock(data)
    first.acquire()
    try:
        with pytest.raises(AlreadyRunning):
            headless.run(settings, data)
    finally:
        first.release()
    assert not (data / "logs" / "gsmbridge.log").exists()
