"""/metrics against a real waitress on 127.0.0.1, parsed back with prometheus_client's parser."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gsmbridge.config import Settings
from gsmbridge.core.models import State
from gsmbridge.service import Bridge
from gsmbridge.simulator import fast_options
from gsmbridge.web import metrics
from tests.conftest import PASSWORD, USER
from tests.helpers import Client, payload

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _wait(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def scrape(client: Client, **kw) -> tuple[int, dict[str, str], Samples]:
    status, headers, body = client.get("/metrics", **kw)
    samples: Samples = {}
    if status == 200:
        assert isinstance(body, str), body
        for family in text_string_to_metric_families(body):
            for s in family.samples:
                samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return status, headers, samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def fast_bridge(settings: Settings, tmp_path: Path) -> Iterator[Bridge]:
    settings.limits.per_minute = 0
    b = Bridge(settings, tmp_path / "data", simulator_options=fast_options())
    b.start()
    yield b
    b.stop()


def test_metrics_need_the_webhooks_credentials(bridge: Bridge, client: Client) -> None:
    assert client.get("/metrics", auth=False)[0] == 401
    status, headers, samples = scrape(client)
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=")
    assert value(samples, "gsmbridge_jobs", state="queued") == 0
    assert value(samples, "gsmbridge_oldest_due_job_age_seconds") == 0
    assert value(samples, "gsmbridge_replies_received_total") == 0
    assert value(samples, "gsmbridge_modem_up", modem="sim") in (0, 1)
    # No tunnel configured: no tunnel_up sample at all, rather than a false "down".
    assert not [k for k in samples if k[0] == "gsmbridge_tunnel_up"]


def test_counters_move_when_a_job_is_sent(fast_bridge: Bridge) -> None:
    client = Client(fast_bridge.web.port, USER, PASSWORD)
    _wait(lambda: all(s.ready for s in fast_bridge.modem_statuses()))
    _, _, before = scrape(client)
    assert value(before, "gsmbridge_sms_sent_total", modem="sim") == 0
    assert value(before, "gsmbridge_webhook_requests_total", code="200") is None
    assert value(before, "gsmbridge_modem_up", modem="sim") == 1
    assert value(before, "gsmbridge_modem_registration", modem="sim", registration="home") == 1
    assert value(before, "gsmbridge_modem_signal_dbm", modem="sim") is not None

    long_text = "x" * 200  # two parts
    job_id = client.post("/webhook", payload(data__to__uid="m", data__smsContent=long_text))[2][
        "id"
    ]
    assert client.post("/webhook", b"{", headers={"Content-Type": "application/json"})[0] == 400
    _wait(lambda: fast_bridge.store.get(job_id).state == State.DELIVERED)

    def moved() -> bool:
        samples = scrape(client)[2]
        return value(samples, "gsmbridge_sms_delivered_total", modem="sim") == 1

    _wait(moved, timeout=metrics.SETTLE_S + 10)
    _, _, after = scrape(client)
    assert value(after, "gsmbridge_sms_sent_total", modem="sim") == 1
    assert value(after, "gsmbridge_sms_parts_sent_total", modem="sim") == 2
    assert value(after, "gsmbridge_sms_failed_total", modem="sim") == 0
    assert value(after, "gsmbridge_jobs", state="delivered") == 1
    assert value(after, "gsmbridge_webhook_requests_total", code="200") == 1
    assert value(after, "gsmbridge_webhook_requests_total", code="400") == 1
    assert value(after, "gsmbridge_webhook_request_duration_seconds_count") == 2
    assert value(after, "gsmbridge_webhook_request_duration_seconds_bucket", le="+Inf") == 2
    # Scraping again adds nothing that did not happen.
    time.sleep(0.2)
    again = scrape(client)[2]
    assert value(again, "gsmbridge_sms_sent_total", modem="sim") == 1


def test_merged_notifications_count_as_the_sms_that_carried_them(
    settings: Settings, tmp_path: Path
) -> None:
    """sending.coalesce: four webhooks to one number, one SMS out: sent says 1, and the
    four notifications are in gsmbridge_jobs by state."""
    settings.limits.per_minute = 0
    settings.sending.coalesce = True
    b = Bridge(settings, tmp_path / "data", simulator_options=fast_options())
    b.start()
    try:
        client = Client(b.web.port, USER, PASSWORD)
        _wait(lambda: all(s.ready for s in b.modem_statuses()))
        b.pause_sending()
        ids = [
            client.post("/webhook", payload(data__to__uid=f"m{k}", data__smsContent=f"n{k}"))[2][
                "id"
            ]
            for k in range(4)
        ]
        b.resume_sending()
        _wait(lambda: all(b.store.get(i).state == State.DELIVERED for i in ids))

        def moved() -> bool:
            return value(scrape(client)[2], "gsmbridge_sms_delivered_total", modem="sim") == 1

        _wait(moved, timeout=metrics.SETTLE_S + 10)
        samples = scrape(client)[2]
        assert value(samples, "gsmbridge_sms_sent_total", modem="sim") == 1
        assert value(samples, "gsmbridge_jobs", state="delivered") == 4
        totals = client.get("/api/stats?days=1")[2]["totals"]
        assert (totals["sent"], totals["notifications_sent"], totals["delivered"]) == (1, 4, 1)
    finally:
        b.stop()


def test_failed_jobs_and_replies_are_counted(fast_bridge: Bridge) -> None:
    client = Client(fast_bridge.web.port, USER, PASSWORD)
    # Waiting for a number: the sender never takes it, so it fails before any modem.
    job_id = client.post("/webhook", payload(data__to__uid="gone", data__to__phno=None))[2]["id"]
    fast_bridge.store.mark_failed(job_id, "test failure")
    # A person cancels it before Prometheus looks: it failed all the same.
    assert fast_bridge.store.cancel([job_id]) == [job_id]
    fast_bridge.store.add_incoming("+12125550123", "thanks", modem="sim")

    def counted() -> bool:
        samples = scrape(client)[2]
        return value(samples, "gsmbridge_replies_received_total") == 1

    _wait(counted, timeout=metrics.SETTLE_S + 10)
    samples = scrape(client)[2]
    assert value(samples, "gsmbridge_sms_failed_total", modem="sim") == 0
    assert value(samples, "gsmbridge_sms_failed_total", modem=metrics.NO_MODEM) == 1


PROXY_HEADERS = (
    ("X-Forwarded-For", "1.2.3.4"),
    ("x-forwarded-host", "bridge.example.com"),
    ("X-Forwarded-Proto", "https"),
    ("Forwarded", "for=1.2.3.4;proto=https"),
    ("True-Client-IP", "1.2.3.4"),
    ("X-Client-IP", "1.2.3.4"),
    ("X-Real-IP", "1.2.3.4"),
    ("CF-Connecting-IP", "1.2.3.4"),
    ("Via", "1.1 caddy"),
)


def test_metrics_public_opens_loopback_without_a_tunnel_only(
    settings: Settings, tmp_path: Path
) -> None:
    settings.server.metrics_public = True
    b = Bridge(settings, tmp_path / "data", simulator_options=fast_options())
    b.start()
    try:
        client = Client(b.web.port, USER, PASSWORD)
        assert client.get("/metrics", auth=False)[0] == 200
        # The rest of the API still asks.
        assert client.get("/api/stats", auth=False)[0] == 401
        # A request a proxy or a tunnel gsmbridge did not start forwarded came from
        # elsewhere (nginx, Caddy, Apache and ngrok send X-Forwarded-For only), through
        # this real waitress, which must not strip the headers before the app sees them.
        for header, header_value in PROXY_HEADERS:
            answer = client.get("/metrics", auth=False, headers={header: header_value})
            assert answer[0] == 401, header
            assert client.get("/metrics", headers={header: header_value})[0] == 200, header
        # A tunnel forwards the internet to this loopback address: credentials again.
        settings.tunnel.program = "cloudflared"
        assert client.get("/metrics", auth=False)[0] == 401
        assert client.get("/metrics")[0] == 200
        settings.tunnel.program = ""
        settings.server.metrics_public = False  # applied live
        assert client.get("/metrics", auth=False)[0] == 401
    finally:
        b.stop()


def test_public_is_refused_off_loopback_with_a_reason(settings: Settings) -> None:
    settings.server.metrics_public = True
    assert metrics.metrics_open(settings, [])
    settings.server.host = "0.0.0.0"
    assert "not on loopback" in metrics.public_refusal(settings)
    assert not metrics.metrics_open(settings, [])
    settings.server.host = "::1"
    assert metrics.metrics_open(settings, ["Accept"])
    settings.tunnel.program = "ngrok"
    assert "tunnel (ngrok)" in metrics.public_refusal(settings)


def test_two_apps_in_one_process_have_their_own_registries(
    bridge: Bridge, client: Client, settings: Settings, tmp_path: Path
) -> None:
    other = Bridge(settings, tmp_path / "other", simulator_options=fast_options())
    other.start()
    try:
        other_client = Client(other.web.port, USER, PASSWORD)
        client.post("/webhook", payload(data__to__uid="one"))
        mine = scrape(client)[2]
        theirs = scrape(other_client)[2]
        assert value(mine, "gsmbridge_webhook_requests_total", code="200") == 1
        assert value(theirs, "gsmbridge_webhook_requests_total", code="200") is None
    finally:
        other.stop()


def test_a_closed_store_is_a_503_not_a_crash(bridge: Bridge, client: Client) -> None:
    bridge.store.close()
    status, _, body = client.get("/metrics")
    assert status == 503
    assert "cannot be read" in body["error"]


def test_tunnel_up_follows_the_tunnel(bridge: Bridge, client: Client, settings: Settings) -> None:
    from gsmbridge.tunnel import TunnelManager
    from tests.tunnel.conftest import FAKE_CLOUDFLARED, Recorder
    from tests.tunnel.conftest import fast_options as tunnel_options

    recorder = Recorder()
    settings.tunnel.token = "eyJ-named-token"
    settings.tunnel.public_url = bridge.url
    manager = TunnelManager(
        settings,
        bridge.web.port,
        recorder,
        options=tunnel_options(),
        program="cloudflared",
        command=FAKE_CLOUDFLARED,
    )
    bridge.tunnel = manager  # what Bridge._start_tunnel does with tunnel.program set
    manager.start()
    try:
        recorder.wait_for(lambda s: s.up)
        assert value(scrape(client)[2], "gsmbridge_tunnel_up") == 1
    finally:
        manager.stop()
    assert value(scrape(client)[2], "gsmbridge_tunnel_up") == 0
    bridge.tunnel = None


def test_public_off_loopback_still_asks_and_says_why(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings.server.metrics_public = True
    settings.server.host = "0.0.0.0"
    b = Bridge(settings, tmp_path / "data", simulator_options=fast_options())
    with caplog.at_level("WARNING", logger="gsmbridge.web.app"):
        b.start()
    try:
        assert any(
            "metrics_public is set but /metrics still needs credentials" in r.getMessage()
            and "0.0.0.0" in r.getMessage()
            for r in caplog.records
        ), [r.getMessage() for r in caplog.records]
        client = Client(b.web.port, USER, PASSWORD)
        assert client.get("/metrics", auth=False)[0] == 401
        assert client.get("/metrics")[0] == 200
    finally:
        b.stop()


def test_on_a_shared_store_a_node_counts_its_modems_by_their_queue_names(
    settings: Settings, tmp_path: Path, pg_url: str
) -> None:
    """The queue names a shared store's modem "node:port"; /metrics looked for the bare
    port and so never counted an SMS sent through a shared store."""
    settings.limits.per_minute = 0
    settings.store.url, settings.store.node = pg_url, "pc-1"
    b = Bridge(settings, tmp_path / "data", simulator_options=fast_options())
    b.start()
    try:
        client = Client(b.web.port, USER, PASSWORD)
        _wait(lambda: all(s.ready for s in b.modem_statuses()))
        job_id = client.post("/webhook", payload(data__to__uid="m"))[2]["id"]
        _wait(lambda: b.store.get(job_id).state == State.DELIVERED)

        def counted() -> bool:
            samples = scrape(client)[2]
            return value(samples, "gsmbridge_sms_delivered_total", modem="pc-1:sim") == 1

        _wait(counted, timeout=metrics.SETTLE_S + 10)
        samples = scrape(client)[2]
        assert value(samples, "gsmbridge_sms_sent_total", modem="pc-1:sim") == 1
        assert value(samples, "gsmbridge_modem_up", modem="pc-1:sim") == 1
        assert value(samples, "gsmbridge_sms_sent_total", modem="sim") is None
        assert [m.modem for m in b.stats(7).modems] == ["pc-1:sim"]  # and the Statistics tab
    finally:
        b.stop()
