"""What a webhook's text becomes on the air: a real waitress, the store, the sender and the
simulated modem (the simulator decodes the PDUs it was given)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

from gsmbridge.core.models import State
from gsmbridge.core.phones import mask
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


def test_a_text_cut_to_the_longest_message_says_so_on_the_job(
    bridge: Bridge, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """A text over sending.max_parts (6) was cut with only an INFO line and a history
    entry: the queue showed a plain "sent"/"delivered"."""
    caplog.set_level(logging.INFO, logger="gsmbridge")
    text = " ".join(f"word{i:04d}" for i in range(120))  # 1,079 characters: 8 parts
    body = payload(data__to__uid="long", data__smsContent=text)
    job_id = client.post("/webhook", body)[2]["id"]
    _wait(lambda: bridge.store.get(job_id).state in (State.SENT, State.DELIVERED))
    (sent,) = [m for m in bridge.modems.simulator_outbox() if m.text.startswith("word0000")]
    assert sent.parts == 6 and sent.text.endswith("...")
    job = client.get(f"/api/jobs/{job_id}")[2]
    # On the job itself: the API's note, which the Queue tab's note column and the
    # job's details show.
    assert job["note"] == (
        f"text cut to 6 part(s) (Longest message, sending.max_parts):"
        f" {len(sent.text)} of {len(text)} characters went out"
    )
    assert job["last_error"] == ""
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and f"Job {job_id} " in r.getMessage()
    ]
    assert warnings == [f"Job {job_id} to {mask('+12125550123')}: {job['note']}"]
    assert "2125550123" not in warnings[0]  # numbers whole only at DEBUG


def test_a_text_that_fits_has_no_note(bridge: Bridge, client: Client) -> None:
    body = payload(data__to__uid="short", data__smsContent="short and sweet")
    job_id = client.post("/webhook", body)[2]["id"]
    _wait(lambda: bridge.store.get(job_id).state in (State.SENT, State.DELIVERED))
    assert client.get(f"/api/jobs/{job_id}")[2]["note"] == ""


def test_a_number_from_cometchat_read_in_the_default_country_says_so(
    bridge: Bridge, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """'0151 12345678' with Default country US: the job waited with 'the number has an
    impossible length', which did not say it was read as a US number."""
    caplog.set_level(logging.INFO, logger="gsmbridge")
    body = payload(data__to__uid="de-user", data__to__phno="0151 12345678")
    status, _, out = client.post("/webhook", body)
    assert (status, out["status"]) == (200, "needs-number")
    job = client.get(f"/api/jobs/{out['id']}")[2]
    assert job["last_error"] == (
        "invalid number from CometChat: the number has an impossible length, read as a US"
        " number: use + and the country code, or set Default country (sending.default_region)"
    )
    assert job["raw_number"] == "0151 12345678"  # kept, masked where it shows
    logged = " ".join(r.getMessage() for r in caplog.records).replace(" ", "")
    assert "015112345678" not in logged
