"""Crossing threads: core events and log records reach the GUI thread only by signal."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, QThread, Slot
from PySide6.QtWidgets import QApplication

from gsmbridge.gui.bridge import CoreEvents, connect_queued
from gsmbridge.gui.loghandler import QtLogHandler
from gsmbridge.gui.views.tabs.log_view import LogView
from tests.gui.conftest import client_for, unique_payload


class Probe(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, str, QThread]] = []

    @Slot(int, str)
    def on_job_changed(self, job_id: int, state: str) -> None:
        self.calls.append((job_id, state, QThread.currentThread()))


def test_listener_slots_run_on_the_gui_thread(qtbot):
    events = CoreEvents()
    probe = Probe()
    connect_queued(events.job_changed, probe.on_job_changed)
    worker = threading.Thread(target=events.listener.job_changed, args=(7, "sent"))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bool(probe.calls), timeout=2000)
    job_id, state, thread = probe.calls[0]
    assert (job_id, state) == (7, "sent")
    assert thread is QApplication.instance().thread()


def test_connect_queued_refuses_lambdas(qtbot):
    events = CoreEvents()
    try:
        connect_queued(events.jobs_changed, lambda: None)
    except TypeError:
        return
    raise AssertionError("a lambda was accepted")


def test_window_slots_run_on_the_gui_thread(gui, qtbot):
    client_for(gui).post("/webhook", unique_payload())
    window = gui.window
    qtbot.waitUntil(
        lambda: (
            window.counts.get("queued", 0)
            + window.counts.get("sent", 0)
            + window.counts.get("sending", 0)
            + window.counts.get("delivered", 0)
            >= 1
        ),
        timeout=5000,
    )
    assert window.event_threads == {QApplication.instance().thread()}


def test_log_view_shows_records_from_other_threads(qtbot):
    handler = QtLogHandler(capacity=100)
    logger = logging.getLogger("gsmbridge.test.threads")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    view = LogView(handler, masked=True)
    qtbot.addWidget(view)
    try:

        def work(n: int) -> None:
            logger.warning("from worker %d: sent to +4915112345678", n)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        qtbot.waitUntil(lambda: view.visible_text().count("from worker") == 5, timeout=3000)
        text = view.visible_text()
        assert "+4915112345678" not in text and "5678" in text  # masked
        view.mask.setChecked(False)
        assert "+4915112345678" in view.visible_text()
        view.search.setText("worker 3")
        view.rebuild()
        assert view.visible_text().count("from worker") == 1
        view.search.setText("")
        view.level.setCurrentIndex(3)  # errors only
        assert "from worker" not in view.visible_text()
        assert len(handler.snapshot()) == 5
    finally:
        logger.removeHandler(handler)


def test_emits_do_not_drain_true(qtbot):
    """PySide6 6.12.0's emit() takes a reference from True each time (see gui.compat)."""
    import gc
    import sys

    from gsmbridge.gui.compat import emit

    events = CoreEvents()
    probe = Probe()
    connect_queued(events.job_changed, probe.on_job_changed)
    gc.collect()  # earlier tests' garbage holds references to True too
    before = sys.getrefcount(True)
    for i in range(20000):
        emit(events.job_changed, i, "sent")
    qtbot.waitUntil(lambda: len(probe.calls) == 20000, timeout=10000)
    # The bug takes one per emit (-20,000); what is left is other threads' noise.
    assert sys.getrefcount(True) - before > -2000


class BatchProbe(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[tuple[dict, QThread]] = []

    @Slot(object)
    def on_jobs_updated(self, batch: dict) -> None:
        self.batches.append((batch, QThread.currentThread()))


def test_job_events_from_threads_arrive_batched_on_the_gui_thread(qtbot):
    events = CoreEvents()
    probe = BatchProbe()
    events.jobs_updated.connect(probe.on_jobs_updated)

    def burst(start: int) -> None:
        for job_id in range(start, start + 500):
            events.listener.job_changed(job_id, "queued")
            events.listener.job_changed(job_id, "sent")

    workers = [threading.Thread(target=burst, args=(n * 1000,)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    qtbot.waitUntil(lambda: sum(len(b) for b, _ in probe.batches) == 2000, timeout=3000)
    merged = {k: v for b, _ in probe.batches for k, v in b.items()}
    assert set(merged.values()) == {"sent"}  # the latest state wins within a batch
    assert len(probe.batches) < 100  # 4,000 events, a handful of deliveries
    assert {t for _, t in probe.batches} == {QApplication.instance().thread()}
