"""Self-registration: tell CometChat the webhook's public URL.

A quick tunnel gets a new URL on every start, so without this the dashboard's
custom SMS provider would point at a dead address.  ``PUT`` updates the
provider; when CometChat says there is none yet, ``POST`` creates it.  The
body carries the Basic Auth credentials too, so a password we do not know
(only its hash is stored) blocks the registration rather than sending a wrong
one.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gsmbridge.config import Settings, verify_password
from gsmbridge.core.cometchat import api_url

PROVIDER_PATH = "/notifications/sms/v1/providers/custom"
UNKNOWN_PASSWORD = (
    "password unknown (only its hash is stored): re-enter it in Settings or set "
    "GSMBRIDGE_AUTH_PASSWORD to register"
)


class RegistrationFailed(Exception):
    """The provider could not be registered; the message says why."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry  # a passing problem (network, 5xx): worth trying again


@dataclass(frozen=True)
class RegistrationResult:
    ok: bool
    time: float  # wall clock (epoch seconds)
    message: str
    webhook_url: str = ""
    retry: bool = False


def configured(settings: Settings) -> bool:
    cc = settings.cometchat
    return bool(cc.api_key and cc.app_id and cc.region)


def automatic(settings: Settings) -> bool:
    """Register on every new URL?  ``cometchat.register_provider`` (default on) opts out."""
    return configured(settings) and bool(getattr(settings.cometchat, "register_provider", True))


def provider_url(template: str, app_id: str, region: str) -> str:
    try:
        return api_url(template, app_id, region, PROVIDER_PATH)
    except ValueError as exc:
        raise RegistrationFailed(str(exc)) from exc


def check_webhook_url(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise RegistrationFailed(f"CometChat requires an https webhook URL; {url!r} is not one")


def provider_body(settings: Settings, webhook_url: str) -> dict[str, Any]:
    """The documented body; raises RegistrationFailed rather than send wrong credentials."""
    check_webhook_url(webhook_url)
    auth = settings.auth
    body: dict[str, Any] = {
        "isEnabled": True,
        "webhookURL": webhook_url,
        "useBasicAuth": bool(auth.username),
        "useStoredPhNo": bool(getattr(settings.cometchat, "use_stored_phno", False)),
    }
    if auth.username:
        if not auth.password:
            raise RegistrationFailed(UNKNOWN_PASSWORD)
        # The web server checks the hash when there is one: a differing plain
        # password would have CometChat's every call rejected.
        if auth.password_hash and not verify_password(auth.password, auth.password_hash):
            raise RegistrationFailed(
                "the plain password (GSMBRIDGE_AUTH_PASSWORD) does not match the stored "
                "hash the webhook checks: re-enter the password in Settings to register"
            )
        body["basicAuthUsername"] = auth.username
        body["basicAuthPassword"] = auth.password
    return body


def _error_detail(exc: urllib.error.HTTPError) -> tuple[str, str]:
    """(code, text) from CometChat's ``{"error": {"code": ..., "message": ...}}``."""
    raw = exc.read(4096).decode("utf-8", "replace")
    try:
        error = json.loads(raw).get("error", {})
        return str(error.get("code", "")), str(error.get("message", "") or error.get("code", ""))
    except (ValueError, AttributeError):
        return "", raw.strip()[:200]


def _send(method: str, url: str, api_key: str, body: dict[str, Any], timeout: float) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method=method,
        headers={
            "apikey": api_key,
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read(64 * 1024)


def _failure(exc: urllib.error.HTTPError, code: str, text: str) -> RegistrationFailed:
    message = f"CometChat answered {exc.code}: {text or exc.reason}"
    if exc.code in (401, 403) or code.startswith("AUTH_ERR"):
        message += " (check the REST API key: it needs fullAccess)"
    return RegistrationFailed(message, retry=exc.code >= 500 or exc.code == 429)


def register_provider(
    settings: Settings,
    webhook_url: str,
    *,
    timeout: float = 10.0,
    wall_clock: Callable[[], float] = time.time,
) -> RegistrationResult:
    """PUT (or POST when missing) the custom SMS provider; never raises."""
    cc = settings.cometchat
    try:
        if not configured(settings):
            raise RegistrationFailed(
                "set the REST API key, app ID and region (cometchat.*) to register automatically"
            )
        url = provider_url(cc.api_url, cc.app_id, cc.region)
        body = provider_body(settings, webhook_url)
        action = "Updated"
        try:
            _send("PUT", url, cc.api_key, body, timeout)
        except urllib.error.HTTPError as exc:
            code, text = _error_detail(exc)
            if exc.code != 404 and code != "ERR_PROVIDER_NOT_FOUND":
                raise _failure(exc, code, text) from exc
            action = "Created"
            try:
                _send("POST", url, cc.api_key, body, timeout)
            except urllib.error.HTTPError as exc2:
                raise _failure(exc2, *_error_detail(exc2)) from exc2
    except RegistrationFailed as exc:
        return RegistrationResult(False, wall_clock(), str(exc), webhook_url, exc.retry)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        message = f"CometChat could not be reached: {reason}"
        return RegistrationResult(False, wall_clock(), message, webhook_url, True)
    message = f"{action} CometChat's custom SMS provider: {webhook_url}"
    return RegistrationResult(True, wall_clock(), message, webhook_url)
