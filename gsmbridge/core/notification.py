"""CometChat's webhook payload: validation, the SMS text, and the duplicate key.

Pure functions over the decoded JSON; the web layer maps PayloadError to 400.
The payload's shape is documented in CometChat's "custom SMS provider" page:
``data.to.{uid, phno?, name}``, ``data.smsContent`` (optional), ``data.messages[]``,
``senderDetails`` (one-to-one) or ``groupDetails`` (groups), ``appId``, ``region``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

TRIGGER = "sms-notification-payload-generated"
WEBHOOK = "custom"
MAX_UID_LENGTH = 256


class PayloadError(ValueError):
    """The payload cannot be accepted; the message names the problem."""


@dataclass(frozen=True)
class Notification:
    uid: str
    name: str
    phno: Any  # as received: None when absent; validated later
    text: str
    conversation: str
    app_id: str
    dedup_key: str


# Control characters (C0, DEL, C1) in an SMS: a phone shows them as boxes or nothing,
# and a NUL or a BEL is not GSM 7-bit, so it alone made the whole text UCS-2 (70
# characters a part instead of 160).  Line breaks are kept as LF (the GSM alphabet has
# it; a CR would show as a second break on some phones), a tab becomes a space.
_CONTROL_RE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_LINE_BREAK_RE = re.compile("\r\n?|[\x0b\x0c\x85]")
_OTHER_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")


def sms_text(text: str) -> str:
    """``text`` as an SMS carries it: CR-LF, CR, VT, FF and NEL become LF, a tab a space,
    other control characters go."""
    if not _CONTROL_RE.search(text):
        return text  # the usual case, at the cost of one scan
    text = _LINE_BREAK_RE.sub("\n", text).replace("\t", " ")
    return _OTHER_CONTROL_RE.sub("", text)


def clean(text: str) -> str:
    """Replace lone surrogates (legal in JSON escapes, illegal in UTF-8) with "?"."""
    return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")


def _obj(value: Any, where: str, *, required: bool = True) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be a JSON object")
    return value


def _opt_str(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{where} must be a string")
    return value


def _messages(data: dict[str, Any]) -> list[dict[str, Any]]:
    messages = data.get("messages")
    if messages is None:
        return []
    if not isinstance(messages, list):
        raise PayloadError("data.messages must be a list")
    return [m for m in messages if isinstance(m, dict)]


def _name_of(value: Any) -> str:
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return value["name"].strip()
    return ""


def text_from_messages(data: dict[str, Any]) -> str:
    """Build the SMS text when CometChat sent no ``smsContent`` (some group payloads)."""
    group = _name_of(data.get("groupDetails"))
    lines = []
    for message in _messages(data):
        body = message.get("message")
        body = sms_text(body).strip() if isinstance(body, str) else ""
        if not body:
            continue
        sender = _name_of(message.get("sender")) or _name_of(data.get("senderDetails"))
        sender = sms_text(sender).strip()
        lines.append(f"{sender}: {body}" if sender else body)
    if not lines:
        return ""
    group = sms_text(group).strip()
    if group:
        return f"[{group}] " + "\n".join(lines)
    return "\n".join(lines)


def dedup_key(app_id: str, uid: str, data: dict[str, Any]) -> str:
    """Identify a notification so a second delivery of it is recognised.

    With "Include message object" enabled, message ids identify it; otherwise
    the text and messages do.  The recipient is always part of the key: a
    group message legitimately fires one webhook per member.
    """
    messages = _messages(data)
    ids = sorted(
        str(m["messageObject"]["id"])
        for m in messages
        if isinstance(m.get("messageObject"), dict) and m["messageObject"].get("id") is not None
    )
    if ids:
        basis: list[Any] = ["ids", app_id, uid, ids]
    else:
        basis = [
            "text",
            app_id,
            uid,
            data.get("smsContent"),
            [[_name_of(m.get("sender")), m.get("message")] for m in messages],
        ]
    blob = json.dumps(basis, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


def parse_notification(payload: Any) -> Notification:
    """Validate a decoded webhook body; raise PayloadError naming the problem."""
    body = _obj(payload, "the request body")
    if body.get("trigger") != TRIGGER:
        raise PayloadError(f"trigger must be {TRIGGER!r}, got {body.get('trigger')!r}")
    if body.get("webhook") != WEBHOOK:
        raise PayloadError(f"webhook must be {WEBHOOK!r}, got {body.get('webhook')!r}")
    data = _obj(body.get("data"), "data")
    to = _obj(data.get("to"), "data.to")
    uid = to.get("uid")
    if not isinstance(uid, str) or not uid.strip():
        raise PayloadError("data.to.uid is missing or not a non-empty string")
    if len(uid) > MAX_UID_LENGTH:
        raise PayloadError(f"data.to.uid is longer than {MAX_UID_LENGTH} characters")
    raw_name = to.get("name")
    name: str = raw_name if isinstance(raw_name, str) else ""
    app_id = _opt_str(body.get("appId"), "appId")
    # Cleaned here, so the job shows the text that goes out (and a text of control
    # characters alone counts as empty).
    text = sms_text(_opt_str(data.get("smsContent"), "data.smsContent")).strip()
    if not text:
        text = text_from_messages(data)
    if not text:
        raise PayloadError(
            "nothing to send: data.smsContent is empty and data.messages has no message text"
        )
    conversation = _name_of(data.get("groupDetails")) or _name_of(data.get("senderDetails"))
    return Notification(
        uid=clean(uid),
        name=clean(name.strip()),
        phno=to.get("phno"),
        text=clean(text),
        conversation=clean(conversation),
        app_id=clean(app_id),
        dedup_key=dedup_key(app_id, uid, data),
    )
