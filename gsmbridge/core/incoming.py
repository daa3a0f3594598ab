"""SMS the modems receive (replies): kept on disk before the modem deletes them, then
handed to the replies (which conversation, STOP) and announced to the window."""

from __future__ import annotations

import logging

from gsmbridge.config import Settings
from gsmbridge.core.events import Listener
from gsmbridge.core.phones import InvalidNumber, mask, normalise
from gsmbridge.core.replies import Replies
from gsmbridge.core.store import Store
from gsmbridge.modem.deliver import Deliver

log = logging.getLogger("gsmbridge.service")


class SmsReceiver:
    """Takes each SMS a modem received; called on that modem's thread."""

    def __init__(self, store: Store, replies: Replies, events: Listener, settings: Settings):
        self.store = store
        self.replies = replies
        self.events = events
        self.settings = settings

    def received(self, modem: str, sms: Deliver) -> None:
        """On disk before the modem deletes it (raises if not, and the modem keeps it)."""
        try:  # a national number as the network gave it, for finding who sent it
            number: str | None = normalise(sms.sender, self.settings.sending.default_region)
        except InvalidNumber:
            number = None
        message = self.store.add_incoming(
            sms.sender,
            sms.text,
            sent_at=sms.sent_at.timestamp() if sms.sent_at else None,
            concat=sms.concat,
            modem=modem,
            lookup_number=number,
        )
        who = f" ({message.name or message.uid})" if message.uid else ""
        if message.complete:
            log.info("Reply from %s%s stored (#%d)", mask(sms.sender), who, message.id)
        self.replies.received(message, number)  # where it goes, or why nowhere
        self.events.sms_received(message)
