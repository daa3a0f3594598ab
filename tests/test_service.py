"""The Bridge composes the parts and starts and stops them, nothing else (issue 15.2)."""

from __future__ import annotations

import socket

import pytest

from gsmbridge.config import Settings
from gsmbridge.core import store_stats
from gsmbridge.core.actions import ContactActions, JobActions
from gsmbridge.core.models import State
from gsmbridge.service import DB_NAME, Bridge
from gsmbridge.web.server import ServerError


def test_open_store_composes_the_actions_without_serving(settings: Settings, tmp_path) -> None:
    bridge = Bridge(settings, tmp_path / "data")
    store = bridge.open_store()
    try:
        assert (tmp_path / "data" / DB_NAME).exists()
        assert isinstance(bridge.jobs, JobActions) and isinstance(bridge.contacts, ContactActions)
        assert bridge.web is None and len(bridge.modems) == 0 and bridge.sender is None
        job_id = bridge.jobs.send_test("+12125550123", "hi")  # queued; nothing sends it
        assert store.get(job_id).state is State.QUEUED
    finally:
        bridge.stop()


def test_stop_goes_in_order_and_twice_is_harmless(settings: Settings, tmp_path) -> None:
    bridge = Bridge(settings, tmp_path / "data")
    bridge.start()
    order: list[str] = []

    def recording(name: str, method):
        def call(*args, **kwargs):
            order.append(name)
            return method(*args, **kwargs)

        return call

    bridge.web.stop = recording("web", bridge.web.stop)
    bridge.sender.stop = recording("sender", bridge.sender.stop)
    for modem in bridge.modems:
        modem.stop = recording("modem", modem.stop)
    bridge.store.close = recording("store", bridge.store.close)
    bridge.stop()
    assert order == ["sender", "web", "modem", "store"]
    assert bridge.web is None and bridge.sender is None and len(bridge.modems) == 0
    assert not bridge.started
    bridge.stop()  # again: nothing left to stop, no error


def test_webhooks_are_taken_while_stop_waits_for_the_sms_under_way(
    settings: Settings, tmp_path, caplog
) -> None:
    """Restart service (or quit) stopped the web server first, then waited for the SMS
    being sent: every webhook meanwhile met a closed port (up to the modem's send
    timeout, 2 minutes), and CometChat never retries.  Now the webhook stays open until
    the sender has finished, and what it took is in the queue."""
    import threading
    import time

    from gsmbridge.core.store import Store
    from gsmbridge.simulator import fast_options
    from tests.conftest import PASSWORD, USER
    from tests.helpers import Client, payload

    settings.modem.port = ["sim"]
    settings.limits.per_minute = 0
    bridge = Bridge(settings, tmp_path / "data", simulator_options=fast_options(send_latency_s=1.5))
    bridge.start()
    client = Client(bridge.web.port, USER, PASSWORD)
    status, _, first = client.post("/webhook", payload(data__to__uid="first"))
    assert status == 200
    deadline = time.monotonic() + 10
    while bridge.store.get(first["id"]).state is not State.SENDING:
        assert time.monotonic() < deadline, "the first SMS never started"
        time.sleep(0.02)
    settings.modem.send_timeout_s = 100  # the stop waits for it, within systemd's minute
    waits: list[float] = []
    real_stop = bridge.sender.stop
    bridge.sender.stop = lambda timeout: (waits.append(timeout), real_stop(timeout))[1]
    stopping = threading.Thread(target=bridge.stop)
    caplog.set_level("INFO", logger="gsmbridge.service")
    stopping.start()
    time.sleep(0.3)  # stop() is waiting for the SMS under way
    assert stopping.is_alive()
    status, _, during = client.post("/webhook", payload(data__to__uid="during the stop"))
    stopping.join(15)
    assert not stopping.is_alive()
    assert status == 200
    assert waits == [50.0]  # not the 10 s that cut a slow send short (sent again later)
    assert "Waiting up to 50 s for the SMS under way before stopping" in caplog.text
    store = Store(tmp_path / "data" / DB_NAME)
    try:
        assert store.get(during["id"]).state is State.QUEUED  # sent after the restart
        assert store.get(first["id"]).state in (State.SENT, State.DELIVERED)
    finally:
        store.close()


def test_a_start_that_fails_starts_no_modem(settings: Settings, tmp_path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    settings.server.port = taken.getsockname()[1]
    bridge = Bridge(settings, tmp_path / "data")
    try:
        with pytest.raises(ServerError, match="in use"):
            bridge.start()
        assert len(bridge.modems) == 0 and bridge.sender is None and not bridge.started
    finally:
        bridge.stop()
        taken.close()


def test_today_counts_as_the_statistics_do(settings: Settings, tmp_path) -> None:
    """The header's "today" once counted merged notifications as SMS sent, and a failed
    job only while it stayed failed; now it agrees with the Statistics tab."""
    from tests.helpers import add_job

    bridge = Bridge(settings, tmp_path / "data")
    store = bridge.open_store()
    try:
        failed = add_job(store, "will fail")
        assert store.claim_next(modem="sim") is not None
        store.mark_failed(failed, "CMS ERROR 38")
        store.retry([failed])  # a person retried it before looking: it still failed today
        sent = add_job(store, "goes out")
        job = store.claim_next(modem="sim")
        assert job is not None and job.id in (failed, sent)
        store.record_part(job.id, 1, 9, 0)
        store.mark_sent(job.id, parts_total=1)
        assert store_stats.counts_today(store) == {"sent": 1, "delivered": 0, "failed": 1}
    finally:
        bridge.stop()


def test_a_pause_outlives_a_restart_and_says_so(settings: Settings, tmp_path, caplog) -> None:
    """Pause sending (no credit, a bad SIM) was forgotten at the next start: sending
    resumed without a word."""
    import logging
    import time

    from gsmbridge.simulator import fast_options
    from tests.conftest import PASSWORD, USER
    from tests.helpers import Client, payload

    settings.modem.port = ["sim"]
    settings.limits.per_minute = 0
    data = tmp_path / "data"
    first = Bridge(settings, data, simulator_options=fast_options())
    first.start()
    first.pause_sending()
    first.stop()

    second = Bridge(settings, data, simulator_options=fast_options())
    with caplog.at_level(logging.WARNING, logger="gsmbridge.service"):
        second.start()
    try:
        assert second.sending_paused
        assert any("Sending is paused, as it was left" in r.getMessage() for r in caplog.records)
        assert second.status()["sending_paused"] is True
        client = Client(second.web.port, USER, PASSWORD)
        status, _, body = client.post("/webhook", payload(data__to__uid="held"))
        assert status == 200
        time.sleep(0.5)
        assert second.store.get(body["id"]).state is State.QUEUED  # held by the pause
        second.resume_sending()
        deadline = time.monotonic() + 10
        while second.store.get(body["id"]).state not in (State.SENT, State.DELIVERED):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        second.stop()
    third = Bridge(settings, data, simulator_options=fast_options())
    third.start()
    try:
        assert not third.sending_paused  # resumed is remembered too
    finally:
        third.stop()


def test_a_live_change_does_not_warn_again_about_missing_credentials(tmp_path, caplog) -> None:
    """Without credentials (on loopback), every edit of the config file logged the
    start's loud warning again."""
    import copy
    import logging

    settings = Settings()
    settings.server.port = 0
    bridge = Bridge(settings, tmp_path / "data")
    bridge.start()
    try:
        new = copy.deepcopy(settings)
        new.limits.per_minute = 3
        caplog.clear()  # the start's own warning
        with caplog.at_level(logging.WARNING):
            bridge.live.apply(new)
        assert settings.limits.per_minute == 3
        assert [r for r in caplog.records if "credentials" in r.getMessage().lower()] == []
    finally:
        bridge.stop()


def test_a_delivery_report_read_while_stopping_is_applied(settings: Settings, tmp_path) -> None:
    """A report the modem read after the sender had stopped was dropped (and deleted
    from the SIM): the job stayed "sent" for ever."""
    import time

    from gsmbridge.core.store import Store
    from gsmbridge.simulator import fast_options
    from tests.conftest import PASSWORD, USER
    from tests.helpers import Client, payload

    settings.modem.port = ["sim"]
    settings.limits.per_minute = 0
    bridge = Bridge(settings, tmp_path / "data", simulator_options=fast_options(report_delay_s=0.4))
    bridge.start()
    status, _, body = Client(bridge.web.port, USER, PASSWORD).post("/webhook", payload())
    assert status == 200
    deadline = time.monotonic() + 10
    while bridge.store.get(body["id"]).state is not State.SENT:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    real_stop = bridge.modems.stop

    def slow_modem_stop() -> None:  # the report comes in while the modems stop
        time.sleep(1.0)
        real_stop()

    bridge.modems.stop = slow_modem_stop  # type: ignore[method-assign]
    bridge.stop()
    store = Store(tmp_path / "data" / DB_NAME)
    try:
        assert store.get(body["id"]).state is State.DELIVERED
    finally:
        store.close()


def test_a_new_default_country_gives_waiting_jobs_their_number(
    settings: Settings, tmp_path
) -> None:
    """A German number read as a US one waited for a number; setting Default country to
    DE (Settings, or the config file) left it waiting."""
    import copy

    from tests.conftest import PASSWORD, USER
    from tests.helpers import Client, payload

    bridge = Bridge(settings, tmp_path / "data")
    bridge.open_store()
    bridge.start()
    try:
        client = Client(bridge.web.port, USER, PASSWORD)
        _, _, german = client.post("/webhook", payload(data__to__phno="0151 23456789"))
        _, _, none = client.post("/webhook", payload(data__to__uid="nobody", data__to__phno=None))
        assert german["status"] == none["status"] == "needs-number"
        new = copy.deepcopy(settings)
        new.sending.default_region = "DE"
        bridge.live.apply(new)
        job = bridge.store.get(german["id"])
        assert job.number == "+4915123456789" and job.state is not State.NEEDS_NUMBER
        assert bridge.store.get(none["id"]).state is State.NEEDS_NUMBER  # no number at all
    finally:
        bridge.stop()
