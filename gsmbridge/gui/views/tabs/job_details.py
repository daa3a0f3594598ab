"""The details of one job: summary, attempt history, parts, and the full payload."""

from __future__ import annotations

import html
import json

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit, QTabWidget, QTextBrowser, QWidget

from gsmbridge.core.models import Job, JobEvent
from gsmbridge.core.store import Store
from gsmbridge.gui.formatting import format_full_time, format_number, mask_numbers
from gsmbridge.gui.icons import STATE_COLOURS


def job_summary_html(job: Job, events: list[JobEvent], *, masked: bool) -> str:
    """The Details tab as HTML (QTextBrowser's subset)."""
    esc = html.escape

    def clean(text: str) -> str:
        return esc(mask_numbers(text) if masked else text)

    colour = STATE_COLOURS.get(job.state.value, "#666")
    rows = [
        ("State", f"<b style='color:{colour}'>{esc(job.state.value)}</b>"),
        ("Recipient", esc(f"{job.name} ({job.uid})" if job.name else job.uid)),
        ("Number", esc(format_number(job.number, masked) or "— none —")),
    ]
    if job.raw_number and job.raw_number != job.number:
        rows.append(("Number as sent by CometChat", clean(job.raw_number)))
    if job.conversation:
        rows.append(("Conversation", esc(job.conversation)))
    rows += [
        ("Received", esc(format_full_time(job.created_at))),
        ("Attempts", str(job.attempts)),
    ]
    if job.state.value == "queued":
        rows.append(("Next attempt", esc(format_full_time(job.next_attempt_at))))
    if job.parts_total:
        refs = ", ".join(map(str, job.references)) or "—"
        concat = f", concatenation ref {job.concat_ref}" if job.concat_ref is not None else ""
        rows.append(
            ("Parts", esc(f"{job.parts_sent} of {job.parts_total} sent{concat}; refs {refs}"))
        )
    if job.modem:
        rows.append(("Modem", esc(job.modem)))
    if job.sent_at:
        rows.append(("Sent", esc(format_full_time(job.sent_at))))
    if job.delivered_at:
        rows.append(("Delivered", esc(format_full_time(job.delivered_at))))
    if job.merged_into:
        rows.append(("Merged into", f"job {job.merged_into}"))
    if job.note:
        rows.append(("Note", clean(job.note)))
    table = "".join(
        f"<tr><td style='padding-right:12px; color:gray'>{k}</td><td>{v}</td></tr>" for k, v in rows
    )
    history = "".join(
        f"<tr><td style='padding-right:12px'>{esc(format_full_time(e.at))}</td>"
        f"<td style='padding-right:12px'><b>{esc(e.kind)}</b></td><td>{clean(e.detail)}</td></tr>"
        for e in events
    )
    text = esc(job.text).replace("\n", "<br>")
    # The error first: it is what one looks for, and the history below can be long.
    error = (
        f"<p style='color:#c0392b; margin:4px 0'><b>Last error:</b> {clean(job.last_error)}</p>"
        if job.last_error
        else ""
    )
    return (
        f"<h3 style='margin:0'>Job {job.id}</h3>{error}"
        f"<table cellspacing=2>{table}</table>"
        f"<h4>Text</h4><p>{text}</p>"
        f"<h4>History</h4><table cellspacing=2>{history or '<tr><td>—</td></tr>'}</table>"
    )


def pretty_payload(job: Job, *, masked: bool) -> str:
    try:
        text = json.dumps(json.loads(job.payload_json), indent=2, ensure_ascii=False)
    except ValueError:
        text = job.payload_json
    return mask_numbers(text) if masked else text


class JobDetails(QTabWidget):
    """Shows the selected job; ``show_job`` re-reads it (two reads by primary key).

    Signals: none of its own.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QTextBrowser()
        self.summary.setOpenLinks(False)
        self.payload = QPlainTextEdit()
        self.payload.setReadOnly(True)
        self.payload.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.addTab(self.summary, "Details")
        self.addTab(self.payload, "Payload (JSON)")
        self.job_id: int | None = None
        self.masked = True
        self.show_none()

    def show_none(self, text: str = "Select a job to see its details and history.") -> None:
        self.job_id = None
        self.summary.setHtml(f"<p style='color:gray'>{html.escape(text)}</p>")
        self.payload.setPlainText("")

    def show_job(self, store: Store | None, job_id: int | None) -> None:
        job = store.get(job_id) if store is not None and job_id is not None else None
        if job is None:
            self.show_none() if job_id is None else self.show_none(f"Job {job_id} is gone.")
            return
        # The same job refreshed keeps its scroll position; another job starts at the top.
        scroll = self.summary.verticalScrollBar().value() if job_id == self.job_id else 0
        self.job_id = job_id
        self.summary.setHtml(job_summary_html(job, store.events(job_id), masked=self.masked))
        self.summary.verticalScrollBar().setValue(scroll)
        self.payload.setPlainText(pretty_payload(job, masked=self.masked))
