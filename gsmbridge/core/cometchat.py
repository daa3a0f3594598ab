"""CometChat's REST API, for the one thing the sender may need from it: a phone number.

When a notification has no ``data.to.phno`` and the uid is not in the local
contacts, and a REST API key is configured, the number is fetched from
CometChat's Notifications contact-details API and cached as a contact.  Runs in
its own thread, never in the webhook's request.  Uses urllib (the standard
library) because one GET with two headers does not justify another dependency.
"""

from __future__ import annotations

import functools
import json
import logging
import queue
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPException

from gsmbridge.config import Settings
from gsmbridge.core.phones import InvalidNumber, normalise

log = logging.getLogger(__name__)

REGIONS = ("us", "eu", "in")


class LookupFailed(Exception):
    """The number could not be fetched; the message says why."""


@dataclass(frozen=True)
class LookupRequest:
    uid: str
    app_id: str
    region: str


def api_url(template: str, app_id: str, region: str, path: str) -> str:
    """An endpoint of CometChat's REST API for one app (ValueError if it cannot be built).

    The app id goes into the host name, so it is checked: a payload must not be
    able to point the request (and the API key) at another host.
    """
    if not app_id or not all(c.isalnum() or c in "-_" for c in app_id):
        raise ValueError(f"the app ID {app_id!r} cannot be used in a URL")
    region = region.lower()
    if region not in REGIONS:
        raise ValueError(f"the region {region!r} is not one of {', '.join(REGIONS)}")
    return template.format(app_id=app_id, region=region) + path


def contact_details_url(template: str, app_id: str, region: str) -> str:
    try:
        return api_url(template, app_id, region, "/notifications/v1/contact-details")
    except ValueError as exc:
        raise LookupFailed(str(exc)) from exc


def fetch_phone(
    api_url: str, api_key: str, request: LookupRequest, default_region: str, timeout: float = 10
) -> str:
    """GET contact-details on behalf of the uid; return the number in E.164."""
    url = contact_details_url(api_url, request.app_id, request.region)
    http = urllib.request.Request(
        url,
        headers={"apikey": api_key, "onBehalfOf": request.uid, "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(http, timeout=timeout) as response:
            body = response.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        detail = exc.read(2048).decode("utf-8", "replace")
        try:
            detail = json.loads(detail).get("error", {}).get("code", detail)
        except (ValueError, AttributeError):
            pass
        raise LookupFailed(f"CometChat answered {exc.code}: {str(detail)[:200]}") from exc
    except (urllib.error.URLError, TimeoutError, OSError, HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise LookupFailed(f"CometChat could not be reached: {reason}") from exc
    try:
        data = json.loads(body)["data"]
        phno = data.get("phno")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LookupFailed("CometChat's answer has no data.phno") from exc
    if not phno:
        raise LookupFailed(f"CometChat has no phone number stored for {request.uid}")
    try:
        return normalise(phno, default_region)
    except InvalidNumber as exc:
        # Without the number (exc.why): this reason goes to the log and the waiting jobs.
        raise LookupFailed(f"CometChat's number for {request.uid} is unusable: {exc.why}") from exc


class PhoneLookup:
    """A background thread that resolves numbers one request at a time.

    ``on_found(uid, number)`` saves the contact (which releases the waiting
    jobs); ``on_failed(uid, reason)`` records the reason on them.
    """

    def __init__(
        self,
        settings: Settings,
        on_found: Callable[[str, str], None],
        on_failed: Callable[[str, str], None],
    ) -> None:
        self.settings = settings
        self._on_found = on_found
        self._on_failed = on_failed
        self._queue: queue.SimpleQueue[LookupRequest | None] = queue.SimpleQueue()
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="cometchat-lookup", daemon=True)

    @property
    def enabled(self) -> bool:
        return bool(self.settings.cometchat.api_key)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        if self._thread.ident is not None:
            self._thread.join(timeout=15)

    def request(self, uid: str, app_id: str, region: str) -> bool:
        """Ask for a uid's number (once at a time per uid); False when lookups are off."""
        if not self.enabled:
            return False
        with self._lock:
            if uid in self._pending:
                return True
            self._pending.add(uid)
        self._queue.put(
            LookupRequest(
                uid,
                app_id or self.settings.cometchat.app_id,
                region or self.settings.cometchat.region,
            )
        )
        return True

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            cc = self.settings.cometchat
            try:
                number = fetch_phone(
                    cc.api_url, cc.api_key, item, self.settings.sending.default_region
                )
            except Exception as exc:  # noqa: BLE001 - one bad lookup must not end the thread
                reason = (
                    str(exc) if isinstance(exc, LookupFailed) else f"{type(exc).__name__}: {exc}"
                )
                log.warning("Number lookup for %s failed: %s", item.uid, reason)
                self._done(item.uid, functools.partial(self._on_failed, item.uid, reason))
            else:
                log.info("Number for %s found in CometChat", item.uid)
                self._done(item.uid, functools.partial(self._on_found, item.uid, number))

    def _done(self, uid: str, report: Callable[[], None]) -> None:
        with self._lock:
            self._pending.discard(uid)
        try:
            report()
        except Exception:  # noqa: BLE001 - e.g. the store closing during shutdown
            log.exception("could not record the lookup for %s", uid)
