"""Settings > Replies: post SMS replies into CometChat (with the spoofing caveat) and
the STOP keywords."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from gsmbridge.config import Settings
from gsmbridge.gui.views.settings.page import SettingsPage

SPOOFING = (
    "A reply is posted into the conversation of the last notification sent to its number,"
    " as that notification's recipient. SMS sender numbers can be spoofed: anyone who knows"
    " a recipient's number can make a message appear there as them. A number that got no"
    " notification is never posted. Needs the CometChat REST API key (full access), app ID"
    " and region."
)


def parse_hours(text: str) -> float:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        raise ValueError("Enter a number of hours") from None
    if value < 0.1:
        raise ValueError("Enter 0.1 or more")
    return value


def parse_words(text: str) -> list[str]:
    return [w.strip() for w in text.split(",") if w.strip()]


class RepliesPage(SettingsPage):
    """Replies into the chat and STOP.  Signals: none of its own."""

    title = "Replies"

    def __init__(self, original: Settings, parent: QWidget | None = None) -> None:
        super().__init__(original, parent)
        r = original.replies
        self.to_cometchat = self.check(
            "replies.to_cometchat",
            "Post SMS replies into the CometChat conversation",
            r.to_cometchat,
        )
        self.to_cometchat.setToolTip(SPOOFING)
        self.add_note(SPOOFING)
        self.window_hours = self.line(
            "replies.window_hours", "Reply window (hours)", f"{r.window_hours:g}", parse_hours
        )
        self.add_note("A reply belongs to the last notification sent to its number this recently.")
        self.opt_out = self.line(
            "replies.opt_out_keywords",
            "Opt-out words",
            ", ".join(r.opt_out_keywords),
            parse_words,
        )
        self.opt_in = self.line(
            "replies.opt_in_keywords", "Opt-in words", ", ".join(r.opt_in_keywords), parse_words
        )
        self.add_note(
            "A reply that is one of these words alone (any case) stops, or resumes, the"
            " notifications to its number; it is never posted. The list is in the Contacts tab."
        )
        self.confirm = self.check(
            "replies.confirm_opt_out",
            "Answer an opt-out with “You will get no more notifications. Reply START to resume.”",
            r.confirm_opt_out,
        )
