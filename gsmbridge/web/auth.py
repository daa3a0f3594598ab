"""HTTP Basic Auth, verified for real.

CometChat's sample server only checks that the header starts with ``Basic ``;
this compares the credentials in constant time.  The stored password is a
scrypt hash, which costs tens of milliseconds to check: far too slow for 30
webhooks a second.  So after a header has verified once, a keyed digest of it
is remembered and later requests with the same header are compared against
that digest (still constant-time).  The key is random per process, so the
cache is worthless outside it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading

from gsmbridge.config import AuthSettings, verify_password
from gsmbridge.web.refusals import RefusalKind, printable


class BasicAuth:
    def __init__(self, settings: AuthSettings) -> None:
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self.update(settings)

    def update(self, settings: AuthSettings) -> None:
        """New credentials: forget every header verified with the old ones."""
        with self._lock:
            self.username = settings.username
            self._password = settings.password
            self._password_hash = settings.password_hash
            # The config file's credentials could not be read: refuse everyone
            # rather than run open until they can (the config watch lifts it).
            self.locked = getattr(settings, "unreadable", "")
            self._verified: set[bytes] = set()

    @property
    def enabled(self) -> bool:
        return bool(self.locked or (self.username and (self._password or self._password_hash)))

    def _digest(self, header: str) -> bytes:
        return hmac.new(self._key, header.encode("utf-8", "replace"), hashlib.sha256).digest()

    def check(self, header: str | None) -> bool:
        """True when the Authorization header carries the configured credentials."""
        return self.refusal(header) is None

    def refusal(self, header: str | None) -> tuple[RefusalKind, str] | None:
        """None when the header carries the configured credentials; else why not (the
        kind and a reason for the log: the user name given, never the password)."""
        if self.locked:
            return RefusalKind.CREDENTIALS_UNREADABLE, (
                f"the config file's credentials could not be read ({self.locked})"
            )
        if not self.enabled:
            return None
        if not header:
            return RefusalKind.NO_CREDENTIALS, "no credentials sent (no Authorization header)"
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":  # RFC 7235: the scheme is case-insensitive
            return RefusalKind.NOT_BASIC, f"not Basic credentials ({printable(scheme, 20)!r})"
        digest = self._digest(header)
        with self._lock:  # one consistent set of credentials for the whole check
            verified, known = self._verified, list(self._verified)
            username, password_, password_hash = self.username, self._password, self._password_hash
        if any(hmac.compare_digest(digest, k) for k in known):
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            decoded = ""
        user, sep, password = decoded.partition(":")
        if not sep:
            return RefusalKind.BAD_CREDENTIALS, "unreadable Basic credentials (not user:password)"
        user_ok = hmac.compare_digest(user.encode(), username.encode())
        if password_hash:
            pass_ok = verify_password(password, password_hash)
        else:
            pass_ok = hmac.compare_digest(password.encode(), password_.encode())
        if user_ok and pass_ok:
            with self._lock:
                # Not if the credentials changed meanwhile: update() made a new set.
                if verified is self._verified and len(verified) < 16:
                    verified.add(digest)
            return None
        given = printable(user)
        if not user_ok:
            both = "" if pass_ok else " and wrong password"
            return RefusalKind.WRONG_USER, f"wrong user name {given!r}{both}"
        return RefusalKind.WRONG_PASSWORD, f"wrong password for user {given!r}"
