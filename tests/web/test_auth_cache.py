"""Basic Auth's cache of verified headers across a change of credentials."""

from __future__ import annotations

import base64

from gsmbridge.config import AuthSettings, hash_password
from gsmbridge.web import auth as auth_module
from gsmbridge.web.auth import BasicAuth


def header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_check_in_flight_during_a_password_change_does_not_cache_the_old_one(
    monkeypatch,
) -> None:
    auth = BasicAuth(AuthSettings(username="cc", password_hash=hash_password("old")))
    real_verify = auth_module.verify_password
    changed = []

    def verify_then_change(password: str, stored_hash: str) -> bool:
        ok = real_verify(password, stored_hash)
        if not changed:  # the password is changed while the slow check runs
            changed.append(True)
            auth.update(AuthSettings(username="cc", password_hash=hash_password("new")))
        return ok

    monkeypatch.setattr(auth_module, "verify_password", verify_then_change)
    auth.check(header("cc", "old"))  # began with the old credentials
    assert changed
    assert not auth.check(header("cc", "old")), "the old password still works"
    assert auth.check(header("cc", "new"))
