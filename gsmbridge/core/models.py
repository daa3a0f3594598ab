"""Jobs and their states: the vocabulary shared by the store, web, sender and GUI."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class State(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    NEEDS_NUMBER = "needs-number"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (State.DELIVERED, State.FAILED, State.CANCELLED)


# States a user may retry from, and states a user may cancel.  A retry of a job
# that already went out (WENT_OUT) sends it again, so it needs force=True.
RETRYABLE = (State.FAILED, State.CANCELLED, State.SENT, State.DELIVERED, State.QUEUED)
WENT_OUT = (State.SENT, State.DELIVERED)
CANCELLABLE = (State.QUEUED, State.NEEDS_NUMBER, State.FAILED)
# A number can be changed on a job not under way nor gone out (Store.set_number).
NUMBER_EDITABLE = (State.NEEDS_NUMBER, State.QUEUED, State.FAILED, State.CANCELLED)


@dataclass
class NewJob:
    """A validated notification, ready to be queued."""

    uid: str
    name: str
    text: str
    payload: dict[str, Any]
    dedup_key: str
    state: State
    number: str | None = None
    raw_number: str = ""
    last_error: str = ""
    app_id: str = ""
    conversation: str = ""  # group name or sender name, for the views
    # The payload as received, when it is JSON text already (saves encoding it again)
    payload_json: str | None = None


@dataclass
class Job:
    id: int
    created_at: float
    updated_at: float
    state: State
    uid: str
    name: str
    number: str | None
    raw_number: str
    text: str
    attempts: int
    next_attempt_at: float
    last_error: str
    note: str
    modem: str
    concat_ref: int | None
    parts_total: int
    parts_sent: int
    references: list[int] = field(default_factory=list)
    sent_at: float | None = None
    delivered_at: float | None = None
    app_id: str = ""
    conversation: str = ""
    merged_into: int | None = None
    payload_json: str = "{}"

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.payload_json)

    def to_dict(self, *, with_payload: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "state": self.state.value,
            "to": {"uid": self.uid, "name": self.name, "number": self.number},
            "raw_number": self.raw_number,
            "text": self.text,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at,
            "last_error": self.last_error,
            "note": self.note,
            "modem": self.modem,
            "parts": {"total": self.parts_total, "sent": self.parts_sent},
            "references": self.references,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "sent_at": self.sent_at,
            "delivered_at": self.delivered_at,
            "app_id": self.app_id,
            "conversation": self.conversation,
            "merged_into": self.merged_into,
        }
        if with_payload:
            out["payload"] = self.payload
        return out


@dataclass
class JobEvent:
    job_id: int
    at: float
    kind: str
    detail: str


@dataclass(frozen=True)
class IncomingSms:
    """An SMS a modem received (a reply), its parts joined."""

    id: int
    received_at: float
    updated_at: float
    sender: str  # as the network gave it: "+<digits>", national digits or a name
    sent_at: float | None  # the SMS centre's time stamp
    text: str  # "[…]" stands for parts still missing
    parts_total: int
    parts_received: int
    uid: str  # the CometChat user with this number, when known
    name: str
    modem: str

    @property
    def complete(self) -> bool:
        return self.parts_received >= self.parts_total

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": {"number": self.sender, "uid": self.uid, "name": self.name},
            "text": self.text,
            "parts": {"total": self.parts_total, "received": self.parts_received},
            "complete": self.complete,
            "received_at": self.received_at,
            "updated_at": self.updated_at,
            "sent_at": self.sent_at,
            "modem": self.modem,
        }


@dataclass
class Contact:
    uid: str
    number: str
    name: str = ""
    updated_at: float = 0.0
