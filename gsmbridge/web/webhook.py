"""POST /webhook: the one route under load, answered before Flask's per-request work.

A webhook with good credentials, a JSON content type and a body within the limit
is answered here in plain WSGI: no request context, URL matching, before/after
hooks or Response object (under ``wrk`` they were about a third of the GIL
samples of a webhook, py-spy --gil; measured with tests/perf/bench_webhook.py).
Anything else on that path (no or wrong credentials, another content type, a
body without a length or over the limit, another method) goes on to Flask, whose
handlers give the usual answers; so do all other paths.  ``answer`` is the route's
one body of logic, used by both.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from gsmbridge.core.db import StoreClosed, StoreUnavailable, is_locked
from gsmbridge.core.notification import PayloadError
from gsmbridge.web.auth import BasicAuth
from gsmbridge.web.refusals import SLOW_S, RefusalKind, WebhookWatch, client_of

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from gsmbridge.core.intake import Accepted
    from gsmbridge.web.metrics import WebhookMetrics

log = logging.getLogger(__name__)

PATH = "/webhook"
AUTH_REFUSAL = "gsmbridge.auth_refusal"  # environ key: why the credentials were refused
JSON_TYPE = "application/json"
Headers = list[tuple[str, str]]
_STATUS_LINES = {s.value: f"{s.value} {s.phrase.upper()}" for s in HTTPStatus}


def is_json_type(mimetype: str) -> bool:
    """CometChat posts ``application/json``; ``+json`` types are JSON too."""
    mimetype = mimetype.lower()
    return mimetype == JSON_TYPE or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def error_body(message: str) -> bytes:
    """``{"error": ...}`` as Flask's jsonify writes it (compact, a newline)."""
    return json.dumps({"error": message}, separators=(",", ":")).encode() + b"\n"


def closed_answer(exc: StoreClosed, method: str, path: str) -> tuple[int, bytes, Headers]:
    """A shared-store outage or a restart is not a bug: one line, the reason in the
    answer, and the client may send again (no traceback, no 500)."""
    if isinstance(exc, StoreUnavailable):
        message = str(exc) or "the shared store is unreachable"
    else:
        message = f"{exc or 'the queue is closed'} (gsmbridge is stopping or restarting)"
    log.warning("%s %s answered 503: %s", method, path, message)
    return 503, error_body(message), [("Retry-After", "5")]


Refused = Callable[[int, RefusalKind, str], None]  # (answer's status, kind, reason)
CLOSING = "the queue is closing (gsmbridge is stopping or restarting)"


def answer(
    accept: Callable[[Any, str | None], Accepted],
    body: bytes,
    refused: Refused | None = None,
    why_locked: Callable[[], str] | None = None,
) -> tuple[int, bytes, Headers]:
    """The webhook's answer to a JSON body (credentials and content type checked):
    (status, JSON bytes, extra headers).  A 200 means the job is on disk.  A 400, and a
    503 (not queued: lost), is told to ``refused`` (status, kind, reason), which logs
    it; without one it is logged here.  ``why_locked`` names who held the queue
    database's lock when a write gave up waiting for it."""

    def bad(kind: RefusalKind, message: str) -> tuple[int, bytes, Headers]:
        if refused is not None:
            refused(400, kind, message)
        else:
            log.warning("Webhook rejected: %s", message)
        return 400, error_body(message), []

    def lost(
        kind: RefusalKind, reason: str, out: tuple[int, bytes, Headers]
    ) -> tuple[int, bytes, Headers]:
        if refused is not None:
            refused(out[0], kind, reason)
        else:
            log.error("Webhook NOT queued (%d): %s", out[0], reason)
        return out

    try:
        payload = json.loads(body)
    except RecursionError:
        return bad(RefusalKind.TOO_DEEP, "body is not valid JSON: it is nested too deeply")
    except ValueError as exc:
        return bad(RefusalKind.NOT_JSON, f"body is not valid JSON: {str(exc)[:200]}")
    raw: str | None = None  # kept as received when it is plain UTF-8 JSON text
    if json.detect_encoding(body) == "utf-8":  # not UTF-16/32, no BOM
        try:
            raw = body.decode("utf-8")
        except UnicodeDecodeError:  # json.loads allowed lone surrogates
            raw = None
    try:
        accepted = accept(payload, raw)
    except PayloadError as exc:
        return bad(RefusalKind.INVALID, str(exc))
    except RecursionError:
        return bad(RefusalKind.TOO_DEEP, "payload is nested too deeply")
    # Below: not queued, so not acknowledged; CometChat does not send it again, though.
    except StoreUnavailable as exc:  # no spool took it either
        message = str(exc) or "the shared store is unreachable"
        out = 503, error_body(message), [("Retry-After", "5")]
        return lost(RefusalKind.QUEUE_UNREACHABLE, f"the queue is unreachable: {message}", out)
    except StoreClosed:
        out = 503, error_body("gsmbridge is shutting down; send again"), [("Retry-After", "5")]
        return lost(RefusalKind.QUEUE_CLOSED, CLOSING, out)
    except sqlite3.Error as exc:
        message = f"the queue database cannot be written: {exc}"
        out = 503, error_body(message), []
        if is_locked(exc):
            why = why_locked() if why_locked is not None else ""
            return lost(RefusalKind.QUEUE_LOCKED, why or message, out)
        return lost(RefusalKind.QUEUE_ERROR, message, out)
    state = accepted.state.value
    if accepted.spooled:  # on this PC's disk, not yet a job: no id to give
        return 200, f'{{"status":"{state}","spooled":true}}\n'.encode(), []
    tail = ',"duplicate":true}\n' if accepted.duplicate else "}\n"
    return 200, f'{{"id":{accepted.id},"status":"{state}"{tail}'.encode(), []


class WebhookRoute:
    """WSGI middleware: answers an ordinary POST /webhook itself, hands the rest on."""

    def __init__(
        self,
        app: WSGIApplication,
        accept: Callable[[Any, str | None], Accepted],
        auth: Callable[[], BasicAuth],
        max_body: Callable[[], int],
        metrics: WebhookMetrics,
        watch: WebhookWatch,
        why_slow: Callable[[float], str],
        why_locked: Callable[[], str] | None = None,
    ) -> None:
        self.app = app
        self._accept = accept
        self._auth = auth  # read per request: replaced credentials apply at once
        self._max_body = max_body
        self._metrics = metrics
        self._watch = watch
        self._why_slow = why_slow
        self._why_locked = why_locked

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        started = time.perf_counter()
        length = environ.get("CONTENT_LENGTH") or ""
        if not (
            length.isdigit()
            and int(length) <= self._max_body()
            and is_json_type(environ.get("CONTENT_TYPE", "").partition(";")[0].strip())
        ):
            return self.app(environ, start_response)  # Flask answers 413, 415...
        refusal = self._auth().refusal(environ.get("HTTP_AUTHORIZATION"))
        if refusal is not None:
            # Flask answers the 401 with this reason: a wrong password's scrypt runs once.
            environ[AUTH_REFUSAL] = refusal
            return self.app(environ, start_response)
        watch = self._watch

        def refused(status: int, kind: RefusalKind, reason: str) -> None:
            watch.refused(status, kind, reason, client_of(environ))

        try:
            body = environ["wsgi.input"].read(int(length))
            status, out, headers = answer(self._accept, body, refused, self._why_locked)
        except Exception as exc:  # noqa: BLE001 - as Flask's handler of the unexpected
            log.exception("unexpected error handling POST %s", PATH)
            status, out, headers = 500, error_body(f"internal error: {type(exc).__name__}"), []
        headers += [("Content-Type", JSON_TYPE), ("Content-Length", str(len(out)))]
        start_response(_STATUS_LINES[status], headers)
        took = time.perf_counter() - started
        self._metrics.observe(status, took)
        if took > SLOW_S:
            note_slow(watch, self._why_slow, status, took)
        elif watch.troubled and status == 200:  # the first good one after a refusal
            watch.accepted()
        return [out]


def note_slow(
    watch: WebhookWatch, why_slow: Callable[[float], str], status: int, took: float
) -> None:
    """A webhook answered after more than SLOW_S: say so, and why when it is known."""
    try:
        why = why_slow(time.monotonic() - took)
    except Exception:  # noqa: BLE001 - the reason is a nicety; the warning must come
        log.debug("finding why a webhook was slow failed", exc_info=True)
        why = ""
    watch.slow(took, status, why)
    if watch.troubled and status == 200:
        watch.accepted()
