"""Payload parsing, the text fallback and the duplicate key (pure functions)."""

from __future__ import annotations

import pytest

from gsmbridge.core.notification import PayloadError, dedup_key, parse_notification
from gsmbridge.core.phones import InvalidNumber, mask, mask_number, normalise
from tests.helpers import GROUP_NO_CONTENT, ONE_TO_ONE, payload


def test_parses_the_documented_one_to_one_payload() -> None:
    n = parse_notification(ONE_TO_ONE)
    assert (n.uid, n.name, n.phno, n.app_id) == (
        "cometchat-uid-1",
        "Andrew Joseph",
        "+12125550123",
        "app123",
    )
    assert n.text == ONE_TO_ONE["data"]["smsContent"]
    assert n.conversation == "Susan Marie"


def test_group_payload_without_sms_content() -> None:
    n = parse_notification(GROUP_NO_CONTENT)
    assert n.text == "[Hiking Group] Susan Marie: Trail at 9?\nJohn Paul: Yes!"


def test_text_fallback_skips_empty_and_odd_messages() -> None:
    p = payload(
        data__smsContent=None,
        data__messages=[
            "not an object",
            {"message": ""},
            {"message": 5},
            {"message": "  plain  "},
            {"sender": "nobody", "message": "from senderDetails"},
        ],
    )
    # A message without its own sender is attributed to senderDetails.
    assert parse_notification(p).text == "Susan Marie: plain\nSusan Marie: from senderDetails"


def test_missing_optional_fields_are_fine() -> None:
    minimal = {
        "trigger": "sms-notification-payload-generated",
        "webhook": "custom",
        "data": {"to": {"uid": "u"}, "smsContent": "hi"},
    }
    n = parse_notification(minimal)
    assert (n.uid, n.name, n.phno, n.app_id, n.conversation) == ("u", "", None, "", "")


def test_dedup_key_depends_on_recipient_and_content() -> None:
    data = ONE_TO_ONE["data"]
    base = dedup_key("app", "u1", data)
    assert base == dedup_key("app", "u1", data)
    assert base != dedup_key("app", "u2", data)
    assert base != dedup_key("other", "u1", data)
    changed = payload(data__smsContent="different")["data"]
    assert base != dedup_key("app", "u1", changed)


def test_bad_top_level_types() -> None:
    for bad in (None, [], "x", 1, {"trigger": 1}):
        with pytest.raises(PayloadError):
            parse_notification(bad)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+919299334134", "US", "+919299334134"),
        ("(212) 555-0123", "US", "+12125550123"),
        ("0151 23456789", "DE", "+4915123456789"),
        ("00 44 20 7946 0958", "DE", "+442079460958"),
        (12125550123, "US", "+12125550123"),
    ],
)
def test_normalise_to_e164(raw: object, region: str, expected: str) -> None:
    assert normalise(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "   ", None, "12", "+1", "phone", "+" + "9" * 70, 1.5, [1]])
def test_normalise_rejects_with_reason(raw: object) -> None:
    with pytest.raises(InvalidNumber) as info:
        normalise(raw, "US")
    assert str(info.value)


def test_mask_keeps_last_four() -> None:
    assert mask_number("+12125550123") == "+*******0123"
    assert mask_number("0123") == "0123"
    assert mask_number("") == ""
    assert mask_number(None) == ""


def test_log_lines_show_numbers_whole_only_at_debug(caplog) -> None:
    """The intake's and the sender's lines once stayed masked at DEBUG while the modem's
    showed the number: one rule for every layer's log lines."""
    import logging

    caplog.set_level(logging.INFO, logger="gsmbridge")
    assert mask("+12125550123") == "+*******0123"
    caplog.set_level(logging.DEBUG, logger="gsmbridge")
    assert mask("+12125550123") == "+12125550123"
    assert mask_number("+12125550123") == "+*******0123"  # the window's: always


@pytest.mark.parametrize(
    ("raw", "sent"),
    [
        ("a\x00b\x07c", "abc"),
        ("line 1\r\nline 2\rline 3\nline 4", "line 1\nline 2\nline 3\nline 4"),
        ("a\tb", "a b"),
        ("page\x0cbreak\x0bv\x85nel", "page\nbreak\nv\nnel"),
        ("c1\x80\x9b[0m del\x7f esc\x1b", "c1[0m del esc"),
        ("plain text, ünïcode 📷", "plain text, ünïcode 📷"),
    ],
)
def test_control_characters_leave_the_sms_text(raw: str, sent: str) -> None:
    assert parse_notification(payload(data__smsContent=raw)).text == sent


def test_a_text_of_control_characters_alone_is_empty() -> None:
    # Falls back to the messages, as an empty smsContent does.
    p = payload(data__smsContent="\x00\x07\r\n")
    assert parse_notification(p).text.startswith("Susan Marie: Are we meeting")
    p = payload(
        data__smsContent="\x00",
        data__messages=[{"sender": {"name": "S\x00am"}, "message": "\x07hi\tthere\x00"}],
    )
    assert parse_notification(p).text == "Sam: hi there"
    with pytest.raises(PayloadError, match="nothing to send"):
        parse_notification(payload(data__smsContent="\x00", data__messages=[{"message": "\x07"}]))
