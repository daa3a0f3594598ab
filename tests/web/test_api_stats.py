"""GET /api/stats over a real waitress: authenticated, validated, the store's figures."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gsmbridge.config import Settings
from gsmbridge.core.models import State
from gsmbridge.service import Bridge
from gsmbridge.simulator import fast_options
from tests.conftest import PASSWORD, USER
from tests.helpers import Client, payload


@pytest.fixture
def fast_bridge(settings: Settings, tmp_path: Path) -> Iterator[Bridge]:
    settings.limits.per_minute = 0
    settings.limits.per_day = 50
    b = Bridge(settings, tmp_path / "data", simulator_options=fast_options())
    b.start()
    yield b
    b.stop()


def test_stats_need_credentials_and_a_sane_days(bridge: Bridge, client: Client) -> None:
    assert client.get("/api/stats", auth=False)[0] == 401
    for query in (
        "days=0",
        "days=367",
        "days=week",
        "days=-3",
        "days=3_0",
        "days=%20%207",
        "days=%D9%A3",
    ):
        status, _, body = client.get(f"/api/stats?{query}")
        assert status == 400, query
        assert "days must be" in body["error"]


def test_stats_default_to_30_days_of_zeros(bridge: Bridge, client: Client) -> None:
    status, _, body = client.get("/api/stats")
    assert status == 200
    assert body["days"] == 30 and len(body["per_day"]) == 30
    assert body["per_day"][-1]["date"] == dt.date.today().isoformat()
    assert body["totals"] == {
        "sent": 0,
        "notifications_sent": 0,
        "delivered": 0,
        "failed": 0,
        "cancelled": 0,
    }
    assert body["per_day"][0]["to_sent_s"] == {"p50": None, "p90": None}
    assert body["failure_reasons"] == []
    assert body["modems_today"] == [{"modem": "sim", "parts": 0, "limit": 0}]


def test_stats_count_what_was_sent_today(fast_bridge: Bridge) -> None:
    client = Client(fast_bridge.web.port, USER, PASSWORD)
    job_id = client.post("/webhook", payload(data__to__uid="s", data__smsContent="y" * 200))[2][
        "id"
    ]
    waiting = client.post("/webhook", payload(data__to__uid="w", data__to__phno=None))[2]["id"]
    fast_bridge.store.mark_failed(waiting, "no number found")
    deadline = time.monotonic() + 20
    while fast_bridge.store.get(job_id).state != State.DELIVERED:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status, _, body = client.get("/api/stats?days=7")
    assert status == 200
    today = body["per_day"][-1]
    assert (today["sent"], today["delivered"], today["failed"]) == (1, 1, 1)
    assert today["to_sent_s"]["p50"] is not None and today["to_sent_s"]["p50"] >= 0
    assert today["to_delivered_s"]["p90"] >= today["to_sent_s"]["p90"]
    assert body["failure_reasons"] == [{"reason": "no number found", "count": 1}]
    assert body["modems_today"] == [{"modem": "sim", "parts": 2, "limit": 50}]
