"""The webhook password: a scrypt hash to store, a check, a generated one, and the
one way the app takes a new one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from gsmbridge.config.schema import Settings

# -- passwords ---------------------------------------------------------------

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """A salted scrypt hash in a self-describing string."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored_hash: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored_hash.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        digest = hashlib.scrypt(
            password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


# Letters and digits that cannot be mistaken for one another when read or typed:
# no l, I, 1, O, 0 (57 symbols, 5.8 bits each).
PASSWORD_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PASSWORD_LENGTH = 24  # 140 bits


def generate_password() -> str:
    """A strong random password (over 128 bits) that survives copy-paste into a
    dashboard and reading aloud: no punctuation, no look-alike characters."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def apply_new_password(settings: Settings, password: str) -> None:
    """A new webhook password, the one way the app takes one: the scrypt hash is what a
    save writes; the plain text stays in memory for this run only (self-registration in
    CometChat sends it), since ``update_config_file`` never writes ``auth.password``."""
    settings.auth.password_hash = hash_password(password)
    settings.auth.password = password
