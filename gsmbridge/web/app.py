"""The Flask app: CometChat's webhook and a small monitoring API.

The webhook handler does only what must happen before the answer: check
credentials, validate, and commit the job to disk.  Sending happens in the
sender's thread, never here (the 2-second budget, and waitress's threads).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any, Protocol

from flask import Flask, Response, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import HTTPException

from gsmbridge.config import Settings
from gsmbridge.core.actions import JobActions
from gsmbridge.core.db import StoreClosed
from gsmbridge.core.events import Listener
from gsmbridge.core.intake import Accepted
from gsmbridge.core.models import WENT_OUT, State
from gsmbridge.core.replies import Replies
from gsmbridge.core.store import Store
from gsmbridge.core.store_stats import MAX_DAYS, Stats
from gsmbridge.modem.status import ModemStatus
from gsmbridge.web.auth import BasicAuth
from gsmbridge.web.metrics import make_registry, metrics_open, public_refusal
from gsmbridge.web.refusals import SLOW_S, RefusalKind, WebhookWatch, client_of, printable
from gsmbridge.web.webhook import (
    AUTH_REFUSAL,
    PATH,
    WebhookRoute,
    answer,
    closed_answer,
    is_json_type,
    note_slow,
)

log = logging.getLogger(__name__)

MAX_PAGE = 1000
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


def too_large_message(limit: int) -> str:
    """The 413's error text, the same from Flask and from waitress (see server.py)."""
    return f"request body is larger than {limit} bytes (server.max_body_bytes)"


class WebBackend(Protocol):
    """What the web layer needs from the running bridge."""

    store: Store
    replies: Replies  # replies posted into CometChat (issue 17)
    jobs: JobActions  # retry, cancel…: what a person does to jobs

    @property
    def events(self) -> Listener: ...  # refused and slow webhooks are told to the window

    def accept(self, payload: Any, text: str | None = None) -> Accepted: ...

    def status(self) -> dict[str, Any]: ...

    def stats(self, days: int = 30) -> Stats: ...

    def modem_statuses(self) -> list[ModemStatus]: ...

    def tunnel_up(self) -> bool | None: ...


def _error(status: int, message: str, **headers: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    for name, value in headers.items():
        response.headers[name] = value
    return response


def _page() -> tuple[int, int] | Response:
    """limit and offset from the query string, or the 400 to answer."""
    try:
        limit = int(request.args.get("limit", 100))
        offset = int(request.args.get("offset", 0))
    except ValueError:
        return _error(400, "limit and offset must be integers")
    if not (1 <= limit <= MAX_PAGE) or offset < 0:
        return _error(400, f"limit must be 1..{MAX_PAGE} and offset >= 0")
    return limit, offset


def create_app(backend: WebBackend, settings: Settings) -> Flask:
    app = Flask("gsmbridge")
    app.config["MAX_CONTENT_LENGTH"] = settings.server.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    auth = BasicAuth(settings.auth)
    app.extensions["gsmbridge.auth"] = auth  # replaced credentials apply at once
    registry, webhook_metrics = make_registry(backend)
    app.extensions["gsmbridge.metrics"] = registry
    # Refused and slow webhooks: logged, in /api/status, and told to the window.
    watch = WebhookWatch(backend.events.webhook_trouble_changed)
    app.extensions["gsmbridge.webhook_watch"] = watch

    def refused(status: int, kind: RefusalKind, reason: str) -> None:
        watch.refused(status, kind, reason, client_of(request.environ))

    def why_slow(started: float) -> str:
        """Why a webhook took long, when the store knows (another program's lock)."""
        store = backend.store
        lock_wait = getattr(store.backend, "lock_wait_since", None)
        waited = float(lock_wait(started)) if callable(lock_wait) else 0.0
        if waited < 0.5:
            return ""
        return (
            f"the queue database was locked by another program for {waited:.1f} s "
            f"(a database browser or a backup holding {store.location}?)"
        )

    def why_locked() -> str:
        """Why a write just gave up waiting for the lock (the store noted the wait)."""
        return why_slow(time.monotonic() - 5.0)

    if settings.server.metrics_public and public_refusal(settings):
        log.warning(
            "server.metrics_public is set but /metrics still needs credentials: %s",
            public_refusal(settings),
        )

    @app.before_request
    def start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def count_webhook(response: Response) -> Response:
        started = g.get("started")
        if request.path == PATH and started is not None:
            took = time.perf_counter() - started
            webhook_metrics.observe(response.status_code, took)
            if took > SLOW_S:
                note_slow(watch, why_slow, response.status_code, took)
            elif watch.troubled and response.status_code == 200:
                watch.accepted()
        return response

    @app.before_request
    def require_auth() -> Response | None:
        if request.path == "/health":
            return None
        if request.path == "/metrics" and metrics_open(settings, request.headers.keys()):
            return None
        refusal: tuple[RefusalKind, str] | None = request.environ.get(AUTH_REFUSAL)
        if refusal is None:  # not already refused by WebhookRoute
            refusal = auth.refusal(request.headers.get("Authorization"))
        if refusal is not None:
            if request.path == PATH:
                kind, reason = refusal
                if request.method != "POST":
                    method = printable(request.method, 10)
                    reason += f"; a {method}, not CometChat's POST (a browser opening the URL?)"
                refused(401, kind, reason)
            return _error(
                401,
                "missing or wrong credentials (HTTP Basic Auth)",
                **{"WWW-Authenticate": 'Basic realm="gsmbridge", charset="UTF-8"'},
            )
        return None

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        messages = {
            413: too_large_message(settings.server.max_body_bytes),
            404: "no such endpoint",
            405: f"method {request.method} is not allowed here",
        }
        code = exc.code or 500
        if code == 413 and request.path == PATH:
            refused(413, RefusalKind.TOO_LARGE, too_large_message(settings.server.max_body_bytes))
        elif code == 405 and request.path == PATH:
            refused(405, RefusalKind.METHOD, f"method {request.method} (CometChat posts)")
        elif code == 404 and request.method == "POST" and not request.path.startswith("/api/"):
            # CometChat's URL with a wrong path (the API's own 404s name the job or reply)
            path = printable(request.path)
            refused(404, RefusalKind.PATH, f"POST to {path}: no such endpoint, not {PATH}")
        return _error(code, messages.get(code, exc.description or exc.name))

    @app.errorhandler(StoreClosed)
    def store_away(exc: StoreClosed) -> Response:
        status, body, headers = closed_answer(exc, request.method, request.path)
        return Response(body, status, headers, mimetype="application/json")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unexpected error handling %s %s", request.method, request.path)
        return _error(500, f"internal error: {type(exc).__name__}")

    @app.get("/health")
    def health() -> Response:
        return jsonify(status="ok")

    @app.post("/webhook")
    def webhook() -> Response:
        # Reached when WebhookRoute (below) hands the request on: a body without a
        # length (chunked), or a content type that is not JSON.
        mimetype = request.mimetype or ""
        if not is_json_type(mimetype):
            message = f"Content-Type must be application/json, got {mimetype or 'none'}"
            refused(415, RefusalKind.CONTENT_TYPE, printable(message, 100))
            return _error(415, message)
        body = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
        status, out, headers = answer(backend.accept, body, refused, why_locked)
        return Response(out, status, headers, mimetype="application/json")

    @app.get("/api/status")
    def status() -> Response:
        # The webhook's refused and slow answers: the web layer's own (this run's).
        return jsonify({**backend.status(), "webhook": watch.status()})

    @app.get("/api/stats")
    def stats() -> Response:
        text = request.args.get("days", "30")
        # ASCII digits only: int() would also take "3_0", " 7" and other scripts' digits.
        if not (text.isascii() and text.isdigit()):
            return _error(400, "days must be an integer")
        days = int(text)
        if not 1 <= days <= MAX_DAYS:
            return _error(400, f"days must be 1..{MAX_DAYS}")
        return jsonify(backend.stats(days).to_dict())

    @app.get("/metrics")
    def metrics() -> Response:
        try:
            body = generate_latest(registry)
        except (StoreClosed, sqlite3.Error) as exc:
            log.warning("/metrics: the queue database cannot be read: %s", exc)
            return _error(503, f"the queue database cannot be read: {exc}")
        return Response(body, content_type=CONTENT_TYPE_LATEST)

    @app.get("/api/jobs")
    def jobs() -> Response:
        states_arg = request.args.get("state", "")
        states = [s for s in states_arg.split(",") if s]
        valid = {s.value for s in State}
        unknown = [s for s in states if s not in valid]
        if unknown:
            return _error(400, f"unknown state {unknown[0]!r}; use one of {', '.join(valid)}")
        page = _page()
        if isinstance(page, Response):
            return page
        limit, offset = page
        search = request.args.get("q") or None
        store = backend.store
        found = store.list_jobs(states=states, search=search, limit=limit, offset=offset)
        return jsonify(
            jobs=[job.to_dict() for job in found],
            total=store.count_jobs(states=states, search=search),
            limit=limit,
            offset=offset,
        )

    @app.get("/api/jobs/<int:job_id>")
    def job(job_id: int) -> Response:
        found = backend.store.get(job_id)
        if found is None:
            return _error(404, f"no job {job_id}")
        out = found.to_dict(with_payload=True)
        out["history"] = [
            {"at": e.at, "kind": e.kind, "detail": e.detail} for e in backend.store.events(job_id)
        ]
        out["events"] = out["history"]  # the old name, kept for one release
        return jsonify(out)

    @app.get("/api/inbox")
    def inbox() -> Response:
        page = _page()
        if isinstance(page, Response):
            return page
        limit, offset = page
        store = backend.store
        messages = store.list_incoming(limit=limit, offset=offset)
        # Where each reply went in CometChat, or why not (null: received before posting).
        posts = backend.replies.store.posts_for([m.id for m in messages])
        out = []
        for m in messages:
            post = posts.get(m.id)
            out.append({**m.to_dict(), "posting": post.to_dict() if post else None})
        return jsonify(
            messages=out,
            total=store.count_incoming(),
            limit=limit,
            offset=offset,
        )

    @app.post("/api/inbox/<int:message_id>/post-again")
    def post_again(message_id: int) -> Response:
        post = backend.replies.store.get_post(message_id)
        if post is None:
            return _error(404, f"no reply {message_id} with a posting state")
        if not backend.replies.post_again([message_id]):
            why = (
                (post.error or "its sender is unknown")
                if not post.receiver
                else (f"it is {post.summary}")
            )
            return _error(409, f"reply {message_id} cannot be posted again: {why}")
        after = backend.replies.store.get_post(message_id) or post
        return jsonify(id=message_id, posting=after.to_dict())

    def _action(job_id: int, fn: Callable[[list[int]], list[int]], verb: str) -> Response:
        found = backend.store.get(job_id)
        if found is None:
            return _error(404, f"no job {job_id}")
        if not fn([job_id]):
            state = (backend.store.get(job_id) or found).state  # the state that refused it
            if verb == "retried" and state in WENT_OUT:
                return _error(
                    409,
                    f"job {job_id} is {state.value}: it already went out; "
                    "retry with ?force=true to send it again",
                )
            return _error(409, f"job {job_id} is {state.value} and cannot be {verb}")
        after = backend.store.get(job_id)
        return jsonify(id=job_id, status=after.state.value if after else "deleted")

    @app.post("/api/jobs/<int:job_id>/retry")
    def retry(job_id: int) -> Response:
        force_arg = request.args.get("force", "").lower()
        if force_arg not in _TRUE + _FALSE:
            return _error(400, f"force must be true or false, got {force_arg!r}")
        force = force_arg in _TRUE
        return _action(job_id, lambda ids: backend.jobs.retry(ids, force=force), "retried")

    @app.post("/api/jobs/<int:job_id>/cancel")
    def cancel(job_id: int) -> Response:
        return _action(job_id, backend.jobs.cancel, "cancelled")

    # The hot route in plain WSGI, before Flask's per-request machinery (web/webhook.py).
    app.wsgi_app = WebhookRoute(  # type: ignore[method-assign]
        app.wsgi_app,
        backend.accept,
        lambda: app.extensions["gsmbridge.auth"],
        lambda: int(app.config["MAX_CONTENT_LENGTH"]),
        webhook_metrics,
        watch,
        why_slow,
        why_locked,
    )
    return app
