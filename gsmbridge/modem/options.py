"""Options of a Modem, how a message is encoded for them, and the result of a send
(kept apart so gsm.py stays small)."""

from __future__ import annotations

from dataclasses import dataclass

from gsmbridge.modem import pdu
from gsmbridge.modem.errors import ModemError


@dataclass
class ModemOptions:
    baudrate: int = 115200
    pin: str | None = None
    status_reports: bool = True
    smart_encoding: bool = True
    max_parts: int = 6
    validity_minutes: int | None = 1440
    command_timeout_s: float = 5.0
    send_timeout_s: float = 120.0  # Ctrl-Z -> +CMGS (Quectel: up to 120 s)
    register_timeout_s: float = 120.0
    poll_interval_s: float = 30.0
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    simulated: bool = False  # shown as SIMULATED (the caller says no real SMS leave)
    prompt_timeout_s: float = 20.0  # AT+CMGS -> '>'
    max_timeouts: int = 3  # consecutive timeouts before the port is reopened
    candidate_ports: list[str] | None = None  # where "imei:<digits>" looks; None = all ports


@dataclass(frozen=True)
class SendResult:
    encoding: str  # "gsm7" | "ucs2"
    text_sent: str  # after smart replacement / truncation
    parts: int  # total parts of the message
    references: list[int]  # TP-MR of each part sent by this call (first_part..parts)
    concat_ref: int
    truncated: bool
    first_part: int = 1


def encode_message(
    number: str, text: str, concat_ref: int, options: ModemOptions, *, reports: bool
) -> pdu.EncodedMessage:
    """The SMS-SUBMIT parts of a message as these options want it; a number or text
    that cannot be sent is a permanent ModemError (kind "input")."""
    try:
        pdu.normalise_address(number)
    except pdu.PduError as exc:
        raise ModemError(
            f"invalid number: {exc}", kind="input", name="invalid number", transient=False
        ) from exc
    try:
        return pdu.encode_submit(
            number,
            text,
            concat_ref=concat_ref,
            status_report=options.status_reports and reports,
            validity_minutes=options.validity_minutes,
            smart=options.smart_encoding,
            max_parts=options.max_parts,
        )
    except pdu.PduError as exc:
        raise ModemError(
            f"cannot encode: {exc}", kind="input", name="cannot encode", transient=False
        ) from exc
