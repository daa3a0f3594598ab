"""What a webhook's text becomes on the air: a real waitress, the store, the sender and the
simulated modem (the simulator decodes the PDUs it was given)."""

from __future__ import annotations

import time
from collections.abc import Callable

from gsmbridge.core.models import State
from gsmbridge.service import Bridge
from tests.helpers import Client, payload


def _wait(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_control_characters_are_not_sent_and_the_text_stays_gsm7(
    bridge: Bridge, client: Client
) -> None:
    """``a\\x00b\\x07c`` went out as UCS-2 with its NUL and BEL (garbage on a phone, and
    70 characters a part instead of 160)."""
    raw = "a\x00b\x07c\r\nsecond\tline\x1b"
    status, _, body = client.post("/webhook", payload(data__to__uid="ctl", data__smsContent=raw))
    assert status == 200
    job_id = body["id"]
    _wait(lambda: bridge.store.get(job_id).state in (State.SENT, State.DELIVERED))
    sent = [m for m in bridge.modems.simulator_outbox() if m.number.endswith("2125550123")]
    assert [(m.text, m.encoding) for m in sent] == [("abc\nsecond line", "gsm7")]
    job = client.get(f"/api/jobs/{job_id}")[2]
    assert job["text"] == "abc\nsecond line"  # the job shows what went out
    assert job["parts"]["total"] == 1
