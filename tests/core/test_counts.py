"""The counts publisher: a burst of changes costs a few counts, and the last one is current."""

from __future__ import annotations

import threading
import time

from gsmbridge.core.counts import CountsPublisher


def test_a_burst_is_counted_a_few_times_and_ends_current() -> None:
    state = {"queued": 0}
    published: list[dict[str, int]] = []
    done = threading.Event()

    def publish(counts: dict[str, int]) -> None:
        published.append(counts)
        if counts["queued"] == 1000:
            done.set()

    publisher = CountsPublisher(lambda: dict(state), publish, interval_s=0.2)
    publisher.start()
    try:
        for n in range(1, 1001):
            state["queued"] = n
            publisher.job_changed(n, "queued")
        assert done.wait(3), published[-3:]
        time.sleep(0.5)  # nothing changed since: nothing more is published
        assert 1 <= len(published) <= 4, len(published)
        assert published[-1] == {"queued": 1000}
    finally:
        publisher.stop()


def test_a_failing_count_does_not_stop_the_publisher() -> None:
    calls: list[int] = []

    def counts() -> dict[str, int]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the store is closing")
        return {"sent": 1}

    got = threading.Event()
    publisher = CountsPublisher(counts, lambda c: got.set(), interval_s=0.01)
    publisher.start()
    try:
        publisher.jobs_changed()
        time.sleep(0.1)
        publisher.jobs_changed()
        assert got.wait(2)
    finally:
        publisher.stop()
