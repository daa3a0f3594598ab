"""The webhook against a real waitress on 127.0.0.1 and a real SQLite file."""

from __future__ import annotations

import base64
import json
import logging
import socket

import pytest

from gsmbridge.config import Settings, hash_password
from gsmbridge.service import Bridge
from gsmbridge.web.server import ExposureError, ServerError
from tests.helpers import GROUP_NO_CONTENT, ONE_TO_ONE, Client, payload


def test_accepts_and_stores_a_notification(bridge: Bridge, client: Client) -> None:
    status, _, body = client.post("/webhook", ONE_TO_ONE)
    assert status == 200
    assert body == {"id": body["id"], "status": "queued"}
    job = bridge.store.get(body["id"])
    assert job is not None
    assert job.number == "+12125550123"
    assert job.uid == "cometchat-uid-1"
    assert job.name == "Andrew Joseph"
    assert job.text.startswith("You've received new messages from Susan Marie")
    assert job.conversation == "Susan Marie"
    assert job.payload == ONE_TO_ONE  # the whole payload is kept


def test_unknown_fields_are_kept(bridge: Bridge, client: Client) -> None:
    sent = payload(extra={"future": [1, 2]}, data__to__locale="de")
    status, _, body = client.post("/webhook", sent)
    assert status == 200
    stored = bridge.store.get(body["id"]).payload
    assert stored["extra"] == {"future": [1, 2]}
    assert stored["data"]["to"]["locale"] == "de"


def test_health_needs_no_auth(client: Client) -> None:
    status, _, body = client.get("/health", auth=False)
    assert (status, body) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Basic ",
        "Basic " + base64.b64encode(b"cometchat:wrong").decode(),
        "Basic " + base64.b64encode(b"someone:s3cret-pass").decode(),
        "Basic " + base64.b64encode(b"cometchat").decode(),
        "Basic not-base64!!",
        "Bearer abc",
        "Basic " + base64.b64encode("cometchat:s3cret-päss".encode()).decode(),
    ],
)
def test_rejects_missing_or_wrong_credentials(bridge: Bridge, header: str | None) -> None:
    client = Client(bridge.web.port)
    headers = {"Authorization": header} if header is not None else {}
    status, headers_out, body = client.post("/webhook", ONE_TO_ONE, headers=headers)
    assert status == 401
    assert headers_out["www-authenticate"].startswith("Basic realm=")
    assert "credentials" in body["error"]
    assert bridge.store.count_jobs() == 0


def test_hashed_password_is_verified(settings: Settings, tmp_path) -> None:
    settings.auth.password = ""
    settings.auth.password_hash = hash_password("hashed-one")
    b = Bridge(settings, tmp_path)
    b.start()
    try:
        good = Client(b.web.port, "cometchat", "hashed-one")
        bad = Client(b.web.port, "cometchat", "hashed-two")
        assert good.post("/webhook", ONE_TO_ONE)[0] == 200
        assert good.post("/webhook", payload(data__to__uid="u2"))[0] == 200  # cached path
        assert bad.post("/webhook", ONE_TO_ONE)[0] == 401
    finally:
        b.stop()


@pytest.mark.parametrize(
    ("body", "content_type", "status", "fragment"),
    [
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b"\xff\xfe\x00garbage", "application/json", 400, "not valid JSON"),
        (b"", "application/json", 400, "not valid JSON"),
        (b"a=1&b=2", "application/x-www-form-urlencoded", 415, "Content-Type"),
        (b"[1, 2, 3]", "application/json", 400, "JSON object"),
        (b'"text"', "application/json", 400, "JSON object"),
        (b"null", "application/json", 400, "JSON object"),
    ],
)
def test_rejects_bodies_that_are_not_json_objects(
    client: Client, body: bytes, content_type: str, status: int, fragment: str
) -> None:
    got, _, out = client.post("/webhook", body, headers={"Content-Type": content_type})
    assert got == status
    assert fragment in out["error"]


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"trigger": "email-notification-payload-generated"}, "trigger"),
        ({"trigger": None}, "trigger"),
        ({"webhook": "twilio"}, "webhook"),
        ({"webhook": None}, "webhook"),
        ({"data": None}, "data"),
        ({"data": "text"}, "data"),
        ({"data__to": None}, "data.to"),
        ({"data__to": ["x"]}, "data.to"),
        ({"data__to__uid": None}, "data.to.uid"),
        ({"data__to__uid": 42}, "data.to.uid"),
        ({"data__to__uid": ""}, "data.to.uid"),
        ({"data__to__uid": "x" * 300}, "data.to.uid"),
        ({"data__smsContent": 5}, "data.smsContent"),
        ({"data__messages": "hello"}, "data.messages"),
        ({"appId": ["a"]}, "appId"),
        ({"data__smsContent": None, "data__messages": []}, "nothing to send"),
    ],
)
def test_rejects_invalid_payloads_naming_the_problem(
    bridge: Bridge, client: Client, changes: dict, fragment: str
) -> None:
    status, _, body = client.post("/webhook", payload(**changes))
    assert status == 400
    assert fragment in body["error"]
    assert bridge.store.count_jobs() == 0


def test_oversized_body_gets_413(settings: Settings, tmp_path) -> None:
    settings.server.max_body_bytes = 2048
    b = Bridge(settings, tmp_path)
    b.start()
    try:
        client = Client(b.web.port, "cometchat", "s3cret-pass")
        big = payload(data__smsContent="x" * 5000)
        status, _, body = client.post("/webhook", big)
        assert status == 413
        assert "larger than 2048" in body["error"]
        assert client.post("/webhook", ONE_TO_ONE)[0] == 200  # still answering
    finally:
        b.stop()


def test_builds_text_from_messages_when_sms_content_is_missing(
    bridge: Bridge, client: Client
) -> None:
    status, _, body = client.post("/webhook", GROUP_NO_CONTENT)
    assert status == 200
    job = bridge.store.get(body["id"])
    assert job.text == "[Hiking Group] Susan Marie: Trail at 9?\nJohn Paul: Yes!"
    assert job.conversation == "Hiking Group"

    one = payload(data__smsContent="   ", data__to__uid="u-9")
    status, _, body = client.post("/webhook", one)
    assert status == 200
    text = bridge.store.get(body["id"]).text
    assert text == (
        "Susan Marie: Are we meeting on this weekend?\nSusan Marie: 📷 Has shared an image"
    )


def test_missing_number_is_accepted_as_needs_number_and_released_by_a_contact(
    bridge: Bridge, client: Client
) -> None:
    status, _, body = client.post("/webhook", payload(data__to__phno=None))
    assert (status, body["status"]) == (200, "needs-number")
    job = bridge.store.get(body["id"])
    assert "not in contacts" in job.last_error

    bridge.contacts.add("cometchat-uid-1", "(212) 555-0199", "Andrew")
    job = bridge.store.get(body["id"])
    assert job.state.value == "queued"
    assert job.number == "+12125550199"
    # Later notifications for that uid use the contact at once.
    status, _, body = client.post("/webhook", payload(data__to__phno=None, data__smsContent="2nd"))
    assert body["status"] == "queued"
    assert bridge.store.get(body["id"]).number == "+12125550199"


@pytest.mark.parametrize("phno", ["123", "+1 555", "call me", "+99912345678901234", 12, True, []])
def test_impossible_number_is_kept_as_needs_number_with_reason(
    bridge: Bridge, client: Client, phno: object
) -> None:
    status, _, body = client.post("/webhook", payload(data__to__phno=phno))
    assert (status, body["status"]) == (200, "needs-number")
    job = bridge.store.get(body["id"])
    assert job.last_error.startswith("invalid number from CometChat")


def test_national_number_uses_the_default_region(settings: Settings, tmp_path) -> None:
    settings.sending.default_region = "DE"
    b = Bridge(settings, tmp_path)
    b.start()
    try:
        client = Client(b.web.port, "cometchat", "s3cret-pass")
        status, _, body = client.post("/webhook", payload(data__to__phno="030 1234567"))
        assert body["status"] == "queued"
        assert b.store.get(body["id"]).number == "+49301234567"
    finally:
        b.stop()


def test_duplicate_delivery_is_queued_once(bridge: Bridge, client: Client) -> None:
    first = client.post("/webhook", ONE_TO_ONE)[2]
    second = client.post("/webhook", ONE_TO_ONE)[2]
    assert second == {"id": first["id"], "status": "queued", "duplicate": True}
    assert bridge.store.count_jobs() == 1
    # The same text for another member of the group is not a duplicate.
    other = client.post("/webhook", payload(data__to__uid="cometchat-uid-7"))[2]
    assert other["id"] != first["id"]
    assert bridge.store.count_jobs() == 2


def test_duplicates_by_message_object_id(bridge: Bridge, client: Client) -> None:
    with_ids = payload()
    for i, m in enumerate(with_ids["data"]["messages"]):
        m["messageObject"] = {"id": str(700 + i), "type": "text"}
    first = client.post("/webhook", with_ids)[2]
    # An edited text with the same message ids is the same notification.
    with_ids["data"]["smsContent"] = "edited"
    second = client.post("/webhook", with_ids)[2]
    assert second["id"] == first["id"] and second["duplicate"] is True


def test_dedup_window_zero_disables_it(settings: Settings, tmp_path) -> None:
    settings.sending.dedup_window_s = 0
    b = Bridge(settings, tmp_path)
    b.start()
    try:
        client = Client(b.web.port, "cometchat", "s3cret-pass")
        a = client.post("/webhook", ONE_TO_ONE)[2]["id"]
        c = client.post("/webhook", ONE_TO_ONE)[2]["id"]
        assert a != c
    finally:
        b.stop()


def test_lone_surrogates_and_control_characters_are_stored(bridge: Bridge, client: Client) -> None:
    raw = json.dumps(ONE_TO_ONE).replace("You've", "\\ud800You\\u0000've")
    status, _, body = client.post("/webhook", raw)
    assert status == 200
    job = bridge.store.get(body["id"])
    assert "You\x00've" in job.payload["data"]["smsContent"]  # the payload as received
    assert job.text.startswith("?You've received")  # the text as sent: no NUL (an SMS)


def test_unknown_paths_and_methods_answer_json(client: Client) -> None:
    status, _, body = client.get("/nope")
    assert status == 404 and "error" in body
    status, _, body = client.get("/webhook")
    assert status == 405 and "GET" in body["error"]


def test_refuses_non_loopback_without_credentials(settings: Settings, tmp_path) -> None:
    settings.auth.username = ""
    settings.auth.password = ""
    settings.server.host = "0.0.0.0"
    with pytest.raises(ExposureError, match="without credentials"):
        Bridge(settings, tmp_path).start()


def test_warns_loudly_on_loopback_without_credentials(
    settings: Settings, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    settings.auth.username = ""
    settings.auth.password = ""
    b = Bridge(settings, tmp_path)
    with caplog.at_level(logging.WARNING):
        b.start()
    try:
        assert "NO CREDENTIALS" in caplog.text
        assert Client(b.web.port).post("/webhook", ONE_TO_ONE)[0] == 200
    finally:
        b.stop()


def test_port_in_use_is_a_clear_error(settings: Settings, tmp_path) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    settings.server.port = blocker.getsockname()[1]
    try:
        with pytest.raises(ServerError, match="already in use"):
            Bridge(settings, tmp_path).start()
    finally:
        blocker.close()


def test_stop_frees_the_port_and_a_restart_keeps_the_queue(settings: Settings, tmp_path) -> None:
    b = Bridge(settings, tmp_path)
    b.start()
    port = b.web.port
    job_id = Client(port, "cometchat", "s3cret-pass").post("/webhook", ONE_TO_ONE)[2]["id"]
    b.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    settings.server.port = port
    b2 = Bridge(settings, tmp_path)
    b2.start()  # would fail if the port were still held
    try:
        assert b2.store.get(job_id) is not None
    finally:
        b2.stop()


def test_payload_is_kept_as_received(bridge: Bridge, client: Client) -> None:
    # The JSON text as CometChat sent it (spacing, key order, non-ASCII) is what is
    # stored; a UTF-16 body (valid JSON too) is stored re-encoded.
    as_sent = json.dumps(payload(data__to__name="Zoë 🙂"), indent=1, ensure_ascii=False)
    status, _, body = client.post("/webhook", as_sent.encode("utf-8"))
    assert status == 200
    job = bridge.store.get(body["id"])
    assert job.payload_json == as_sent
    assert job.payload["data"]["to"]["name"] == "Zoë 🙂"
    # JSON that json.loads accepts but that is not plain UTF-8 text is re-encoded.
    for n, encode in enumerate(
        [
            lambda text: text.encode("utf-16"),
            lambda text: text.encode("utf-16-le"),  # no BOM: decodes as UTF-8 full of NULs
            lambda text: text.encode("utf-32-be"),
            lambda text: b"\xef\xbb\xbf" + text.encode(),  # UTF-8 with a BOM
        ]
    ):
        other = payload(data__to__uid=f"encoded-{n}")
        status, _, body = client.post("/webhook", encode(json.dumps(other)))
        assert status == 200
        assert bridge.store.get(body["id"]).payload == other
        status, _, _ = client.get(f"/api/jobs/{body['id']}")
        assert status == 200


def test_a_full_disk_is_a_clear_503_and_nothing_is_acknowledged(
    bridge: Bridge, client: Client
) -> None:
    # A real SQLITE_FULL: the database may not grow past the pages it has.
    status, _, _ = client.post("/webhook", payload(data__to__uid="before"))
    assert status == 200
    conn = bridge.store.backend._conn  # the SQLite backend's write connection
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages}")
    big = payload(data__to__uid="too-big", data__smsContent="x" * 200_000)
    status, _, body = client.post("/webhook", big)
    assert status == 503
    assert "queue database cannot be written" in body["error"] and "full" in body["error"]
    conn.execute("PRAGMA max_page_count=1073741823")
    status, _, body = client.post("/webhook", big)  # sent again once there is room
    assert status == 200
    assert bridge.store.get(body["id"]).uid == "too-big"


def test_a_webhook_during_shutdown_is_refused_not_lost(bridge: Bridge, client: Client) -> None:
    bridge.store.close()
    status, headers, body = client.post("/webhook", payload(data__to__uid="late"))
    assert status == 503 and headers.get("retry-after") == "5"
    assert "shutting down" in body["error"]


@pytest.mark.parametrize("phno", ["+4917612345", "0176 1234 5678 9"])
def test_an_invalid_number_is_not_logged_whole_at_info(
    bridge: Bridge, client: Client, phno: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The reason ("phone number '+4917612345' is not a valid number") carried the whole
    number into the log at INFO and into the job's error; the job keeps it as its raw
    number, masked where it shows."""
    import logging

    caplog.set_level(logging.INFO, logger="gsmbridge")
    status, _, body = client.post("/webhook", payload(data__to__phno=phno))
    assert (status, body["status"]) == (200, "needs-number")
    job = bridge.store.get(body["id"])
    assert job.raw_number == phno
    digits = phno.replace(" ", "")
    assert digits not in job.last_error.replace(" ", "")
    assert "not a valid number" in job.last_error or "impossible length" in job.last_error
    logged = " ".join(r.getMessage() for r in caplog.records).replace(" ", "")
    assert digits not in logged
