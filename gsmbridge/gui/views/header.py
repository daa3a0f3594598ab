"""The strip above the tabs: webhook URL, auth, modem, counts, today's totals."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from PySide6.QtCore import QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QGuiApplication, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from gsmbridge.gui.compat import emit
from gsmbridge.gui.icons import STATE_COLOURS
from gsmbridge.gui.texts import modem_summary
from gsmbridge.gui.views.widgets import SignalBars
from gsmbridge.modem.status import ModemState, ModemStatus
from gsmbridge.tunnel.status import TunnelStatus
from gsmbridge.web.refusals import LOST_STATUS, SLOW_S, WebhookTrouble

# Order and labels of the count chips (jobs by their current state).
COUNT_LABELS = (
    ("queued", "queued"),
    ("sending", "sending"),
    ("needs-number", "need a number"),
    ("failed", "failed"),
    ("sent", "sent"),
    ("delivered", "delivered"),
    ("cancelled", "cancelled"),
)
ALWAYS_COUNTED = ("queued", "failed")  # shown even at 0; the others only when there are some
COUNTS_TIP = (
    "Jobs by their state now: each job counts once, so a delivered job is no longer "
    "counted as sent."
)
TODAY_TIP = (
    "Since midnight: SMS that went out (delivered ones included, their number in "
    "brackets) and jobs that failed."
)

WARN_STYLE = "color: #b06b00;"
ERROR_STYLE = "color: #c0392b; font-weight: bold;"
TROUBLE_RECOUNT_MS = 60_000  # "in the last hour" counts down, and goes after an hour
LOCAL_ONLY_TIP = (
    "This address is on this PC only ({host}); CometChat's servers are on the internet and "
    "cannot reach it. Start a tunnel (Tunnel tab) for a public https:// URL and give CometChat "
    "that one."
)
PRIVATE_TIP = (
    "This address is on your network ({host}) but not on the internet, where CometChat's "
    "servers are. Start a tunnel (Tunnel tab), or forward a port with HTTPS in front."
)


def url_reach(url: str) -> tuple[str, str]:
    """(short label, tooltip) saying who can reach a local webhook URL."""
    host = urlsplit(url).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1") or host.startswith("127."):
        return "local only: CometChat cannot reach it", LOCAL_ONLY_TIP.format(host=host)
    return "not public: CometChat cannot reach it", PRIVATE_TIP.format(host=host)


class ElidedLabel(QLabel):
    """One line of plain text cut with "…" to the width the layout gives it.

    It asks for no width of its own (its size policy is Ignored), so however long the
    text, it never widens the window: a plain QLabel's minimum width is its whole text,
    which pushed the window past the screen (review 8, finding 4).  ``text()`` is the
    whole text; put it in the tooltip where it may be cut.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def shown_text(self) -> str:
        """The text as drawn: cut to the room it has now."""
        return self.fontMetrics().elidedText(
            self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width()
        )

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(0, super().minimumSizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        self.style().drawItemText(
            painter,
            self.contentsRect(),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            self.palette(),
            self.isEnabled(),
            self.shown_text(),
            QPalette.ColorRole.WindowText,
        )


class HeaderBar(QFrame):
    """Webhook URL with a copy button, auth, modem state, counts.

    Signals:
        url_copied(str): the URL was put on the clipboard.
        modem_clicked(): the modem summary was clicked (go to the Modem tab).
    """

    url_copied = Signal(str)
    modem_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("header")
        self.setStyleSheet(
            "QFrame#header { border-bottom: 1px solid palette(mid); }"
            " QLabel[role='caption'] { color: palette(placeholder-text); }"
        )
        self.url = QLineEdit()
        self.url.setReadOnly(True)
        self.url.setPlaceholderText("starting…")
        self.url.setMinimumWidth(300)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the webhook URL for CometChat's SMS settings")
        self.copy_button.clicked.connect(self.copy_url)
        self.url_kind = QLabel()
        self.auth = QLabel()
        self.auth.setTextFormat(Qt.TextFormat.RichText)
        # Refused or slow webhooks (web/refusals.py); plain text: it quotes what clients
        # sent.  Cut to the room left beside the URL: it must never widen the window.
        self.trouble = ElidedLabel()
        self.trouble.hide()
        self._trouble: WebhookTrouble | None = None
        self._trouble_timer = QTimer(self)
        self._trouble_timer.setInterval(TROUBLE_RECOUNT_MS)
        self._trouble_timer.timeout.connect(self._show_trouble)

        self.modem = QPushButton("Modem: starting…")
        self.modem.setFlat(True)
        self.modem.setStyleSheet("text-align: left; padding: 0 4px;")
        self.modem.clicked.connect(self.modem_clicked)
        self.bars = SignalBars()
        self.counts = QLabel()
        self.counts.setTextFormat(Qt.TextFormat.RichText)
        self.counts.setToolTip(COUNTS_TIP)
        self.today = QLabel()
        self.today.setToolTip(TODAY_TIP)

        caption_webhook = QLabel("Webhook")
        caption_webhook.setProperty("role", "caption")
        caption_modem = QLabel("Modem")
        caption_modem.setProperty("role", "caption")

        grid = QGridLayout(self)
        grid.setContentsMargins(10, 8, 10, 8)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        url_row = QHBoxLayout()
        url_row.addWidget(self.url, 1)
        url_row.addWidget(self.copy_button)
        url_row.addWidget(self.url_kind)
        url_row.addSpacing(12)
        url_row.addWidget(self.auth)
        grid.addWidget(caption_webhook, 0, 0)
        grid.addLayout(url_row, 0, 1)
        # A line of its own under the URL, while there is trouble: beside the URL, the
        # reach and auth notes left it a few words on a laptop's screen.
        grid.addWidget(self.trouble, 1, 1)
        modem_row = QHBoxLayout()
        modem_row.addWidget(self.bars)
        modem_row.addWidget(self.modem)
        modem_row.addStretch(1)
        modem_row.addWidget(self.counts)
        modem_row.addSpacing(16)
        modem_row.addWidget(self.today)
        grid.addWidget(caption_modem, 2, 0)
        grid.addLayout(modem_row, 2, 1)
        grid.setColumnStretch(1, 1)
        self._local_url = ""
        self._public_url = ""
        self.set_auth(False)
        self.set_counts({})
        self.set_today({})

    # -- URL ----------------------------------------------------------------------------

    def set_local_url(self, base: str) -> None:
        self._local_url = f"{base}/webhook" if base else ""
        self._show_url()

    def set_public_url(self, base: str) -> None:
        self._public_url = f"{base.rstrip('/')}/webhook" if base else ""
        self._show_url()

    def _show_url(self) -> None:
        url = self._public_url or self._local_url
        self.url.setText(url)
        self.url.setCursorPosition(0)
        if self._public_url:
            kind, kind_tip = "public (tunnel)", "CometChat reaches gsmbridge through the tunnel"
        elif self._local_url:
            kind, kind_tip = url_reach(self._local_url)
        else:
            kind, kind_tip = "", ""
        self.url_kind.setText(kind)
        self.url_kind.setToolTip(kind_tip)
        self.url_kind.setStyleSheet(WARN_STYLE if kind and not self._public_url else "")
        tip = f"Local: {self._local_url}" if self._public_url else ""
        self.url.setToolTip(tip or "Paste this URL into CometChat → Notifications → SMS")
        self.copy_button.setEnabled(bool(url))

    def set_tunnel(self, status: TunnelStatus) -> None:
        """A tunnel status: its public URL when up; its state and error otherwise."""
        self.set_public_url(getattr(status, "public_url", "") or "")
        state = getattr(status, "state", "up" if self._public_url else "off")
        error = getattr(status, "last_error", "") or ""
        if self._public_url or state in ("off", ""):
            return  # _show_url said who can reach the URL
        program = getattr(status, "program", "") or "tunnel"
        text = {
            "starting": f"{program} starting…",
            "restarting": f"{program} restarting…",
            "failed": f"{program} failed",
            "missing": f"{program} not installed",
        }.get(state, f"{program}: {state}")
        self.url_kind.setText(text)
        bad = state in ("failed", "missing")
        self.url_kind.setStyleSheet("color: #c0392b;" if bad else "")
        self.url_kind.setToolTip(error or "The public URL appears when the tunnel is up")

    @property
    def webhook_url(self) -> str:
        return self.url.text()

    @Slot()
    def copy_url(self) -> None:
        if self.url.text():
            QGuiApplication.clipboard().setText(self.url.text())
            emit(self.url_copied, self.url.text())

    # -- auth, modem, counts ------------------------------------------------------------------

    def set_auth(self, enabled: bool, username: str = "") -> None:
        if enabled:
            self.auth.setText(f"<span style='color:#1e7a44'>✓ Basic auth on ({username})</span>")
            self.auth.setToolTip("CometChat must send this user name and password")
        else:
            self.auth.setText("<span style='color:#c0392b'><b>⚠ No password</b></span>")
            self.auth.setToolTip(
                "Anyone who can reach the URL can queue SMS through your SIM. "
                "Set credentials in Settings → Server before exposing it."
            )

    @Slot(object)
    def set_webhook_trouble(self, trouble: object) -> None:
        """Refused or slow webhooks (a ``WebhookTrouble``; None: a new run, none yet)."""
        self._trouble = trouble if isinstance(trouble, WebhookTrouble) else None
        self._show_trouble()

    @Slot()
    def _show_trouble(self) -> None:
        trouble, now = self._trouble, time.time()
        texts: list[str] = []
        tips: list[str] = []
        style = WARN_STYLE
        refused = trouble.refused_within(now) if trouble is not None else 0
        if trouble is not None and refused and (last := trouble.last_refusal) is not None:
            at = time.strftime("%H:%M:%S", time.localtime(last.at))
            if trouble.accepted_since:
                texts.append(f"⚠ {refused:,} webhook(s) refused in the last hour")
                tips.append("Webhooks were accepted since the last refusal.")
            else:
                # Every notification since is lost: CometChat does not send a refused one again.
                # The reason first: where the text is cut for room, the count goes first.
                # A 503: a good one not queued (another program's lock, a restart).
                what = "lost" if last.status == LOST_STATUS else "refused"
                texts.append(f"⚠ Webhooks {what}: {last.reason} ({refused:,} in the last hour)")
                style = ERROR_STYLE
            tips.insert(
                0,
                f"Last refused at {at} ({last.status}): {last.reason}, from {last.client}.\n"
                f"{last.hint}\nCometChat does not send a refused notification again.",
            )
        slow = trouble.slow_within(now) if trouble is not None else 0
        if trouble is not None and slow and (late := trouble.last_slow) is not None:
            at = time.strftime("%H:%M:%S", time.localtime(late.at))
            texts.append(f"⚠ {slow:,} slow answer(s) in the last hour")
            why = f": {late.why}" if late.why else " (the reason is not known)"
            tips.append(
                f"A webhook took {late.seconds:.1f} s to answer at {at}; CometChat waits "
                f"about {SLOW_S:g} s and may count it as failed{why}."
            )
        self.trouble.setText("   ".join(texts))
        # The whole text first: the header may show only its start.
        self.trouble.setToolTip("\n\n".join(["\n".join(texts), *tips]))
        self.trouble.setStyleSheet(style)
        self.trouble.setVisible(bool(texts))
        if texts and not self._trouble_timer.isActive():
            self._trouble_timer.start()
        elif not texts:
            self._trouble_timer.stop()

    def set_modem(self, statuses: list[ModemStatus], simulated: bool) -> None:
        prefix = "Simulated modem" if simulated else "Modem"
        if not statuses:
            self.modem.setText(f"{prefix}: not started")
            self.bars.set_bars(0, known=False)
            return
        first = statuses[0]
        text = f"{prefix}: {modem_summary(first)}"
        if len(statuses) > 1:
            ready = sum(1 for s in statuses if s.state == ModemState.READY)
            text += f"  (+{len(statuses) - 1} more; {ready}/{len(statuses)} ready)"
        self.modem.setText(text)
        self.modem.setToolTip(
            "\n".join(f"{s.port}: {modem_summary(s)}" for s in statuses) + "\nClick for details"
        )
        self.bars.set_bars(first.signal_bars, known=first.signal_dbm is not None)

    def set_counts(self, counts: dict[str, int]) -> None:
        chips = []
        for state, label in COUNT_LABELS:
            n = counts.get(state, 0)
            if n or state in ALWAYS_COUNTED:
                colour = STATE_COLOURS.get(state, "#666")
                weight = "bold" if state in ("failed", "needs-number") and n else "normal"
                chips.append(
                    f"<span style='color:{colour}; font-weight:{weight}'>● {n:,} {label}</span>"
                )
        self.counts.setText("By state: " + "&nbsp;&nbsp;".join(chips))

    def set_today(self, today: dict[str, int]) -> None:
        sent = today.get("sent", 0)
        failed = today.get("failed", 0)
        delivered = today.get("delivered", 0)
        # Delivered jobs were sent too: a part of "sent", not beside it.
        text = f"Today: {sent:,} sent"
        if delivered:
            text += f" ({delivered:,} delivered)"
        text += f", {failed:,} failed"
        self.today.setText(text)
