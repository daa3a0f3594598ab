"""Self-registration against a real local server answering like CometChat's REST API."""

from __future__ import annotations

from gsmbridge.config import Settings, hash_password
from gsmbridge.tunnel.registration import UNKNOWN_PASSWORD, provider_url, register_provider
from tests.tunnel.conftest import PASSWORD, PROVIDER, USER, HttpStub, use_cometchat

WEBHOOK = "https://fake-abc.trycloudflare.com/webhook"


def test_put_is_exactly_as_documented(settings: Settings, stub: HttpStub) -> None:
    use_cometchat(settings, stub)
    stub.routes[("PUT", PROVIDER)] = (200, {"data": {"isEnabled": True}})
    result = register_provider(settings, WEBHOOK, timeout=2, wall_clock=lambda: 99.0)
    assert result.ok and result.time == 99.0 and result.webhook_url == WEBHOOK
    assert "Updated" in result.message
    [seen] = stub.seen
    assert (seen.method, seen.path) == ("PUT", PROVIDER)
    assert seen.headers["apikey"] == "rest-key"
    assert seen.headers["content-type"] == "application/json"
    assert seen.body == {
        "isEnabled": True,
        "webhookURL": WEBHOOK,
        "useBasicAuth": True,
        "useStoredPhNo": False,
        "basicAuthUsername": USER,
        "basicAuthPassword": PASSWORD,
    }


def test_post_creates_the_provider_when_missing(settings: Settings, stub: HttpStub) -> None:
    use_cometchat(settings, stub)
    settings.cometchat.use_stored_phno = True  # type: ignore[attr-defined] - the lead's new key
    stub.routes[("PUT", PROVIDER)] = (
        404,
        {"error": {"code": "ERR_PROVIDER_NOT_FOUND", "message": "Provider not found"}},
    )
    stub.routes[("POST", PROVIDER)] = (200, {"data": {}})
    result = register_provider(settings, WEBHOOK, timeout=2)
    assert result.ok and "Created" in result.message
    assert [(s.method, s.path) for s in stub.seen] == [("PUT", PROVIDER), ("POST", PROVIDER)]
    assert stub.seen[1].body == stub.seen[0].body
    assert stub.seen[1].body["useStoredPhNo"] is True
    assert stub.seen[1].headers["apikey"] == "rest-key"


def test_not_found_code_with_another_status_also_posts(settings: Settings, stub: HttpStub) -> None:
    use_cometchat(settings, stub)
    stub.routes[("PUT", PROVIDER)] = (400, {"error": {"code": "ERR_PROVIDER_NOT_FOUND"}})
    stub.routes[("POST", PROVIDER)] = (409, {"error": {"code": "ERR_PROVIDER_ALREADY_EXISTS"}})
    result = register_provider(settings, WEBHOOK, timeout=2)
    assert not result.ok and not result.retry
    assert result.message == "CometChat answered 409: ERR_PROVIDER_ALREADY_EXISTS"


def test_http_url_is_refused_without_a_request(settings: Settings, stub: HttpStub) -> None:
    use_cometchat(settings, stub)
    result = register_provider(settings, "http://127.0.0.1:8080/webhook", timeout=2)
    assert not result.ok and "https" in result.message and not result.retry
    assert stub.seen == []


def test_unknown_password_is_refused_without_a_request(settings: Settings, stub: HttpStub) -> None:
    use_cometchat(settings, stub)
    settings.auth.password_hash = hash_password(PASSWORD)
    settings.auth.password = ""
    result = register_provider(settings, WEBHOOK, timeout=2)
    assert not result.ok and result.message == UNKNOWN_PASSWORD
    assert "GSMBRIDGE_AUTH_PASSWORD" in result.message
    assert stub.seen == []


def test_password_that_does_not_match_the_hash_is_refused(
    settings: Settings, stub: HttpStub
) -> None:
    use_cometchat(settings, stub)
    settings.auth.password_hash = hash_password("the-real-one")
    result = register_provider(settings, WEBHOOK, timeout=2)
    assert not result.ok and "does not match" in result.message
    assert stub.seen == []
    settings.auth.password_hash = hash_password(PASSWORD)
    stub.routes[("PUT", PROVIDER)] = (200, {})
    assert register_provider(settings, WEBHOOK, timeout=2).ok


def test_without_auth_no_credentials_are_sent(settings: Settings, stub: HttpStub) -> None:
    use_cometchat(settings, stub)
    settings.auth.username = settings.auth.password = ""
    stub.routes[("PUT", PROVIDER)] = (200, {})
    assert register_provider(settings, WEBHOOK, timeout=2).ok
    body = stub.seen[0].body
    assert body["useBasicAuth"] is False
    assert "basicAuthUsername" not in body and "basicAuthPassword" not in body


def test_errors_say_whether_to_retry(settings: Settings, stub: HttpStub) -> None:
    use_cometchat(settings, stub)
    stub.routes[("PUT", PROVIDER)] = (401, {"error": {"code": "AUTH_ERR_APIKEY_NOT_FOUND"}})
    result = register_provider(settings, WEBHOOK, timeout=2)
    assert not result.ok and not result.retry
    assert "401" in result.message and "fullAccess" in result.message
    stub.routes[("PUT", PROVIDER)] = (503, {"error": {"message": "try later"}})
    result = register_provider(settings, WEBHOOK, timeout=2)
    assert not result.ok and result.retry and "try later" in result.message
    stub.close()
    result = register_provider(settings, WEBHOOK, timeout=2)
    assert not result.ok and result.retry and "could not be reached" in result.message


def test_configuration_checked_first(settings: Settings) -> None:
    result = register_provider(settings, WEBHOOK)
    assert not result.ok and "REST API key, app ID and region" in result.message
    settings.cometchat.api_key, settings.cometchat.app_id = "k", "bad/app"
    settings.cometchat.region = "us"
    assert "cannot be used in a URL" in register_provider(settings, WEBHOOK).message
    settings.cometchat.app_id, settings.cometchat.region = "app1", "mars"
    assert "not one of" in register_provider(settings, WEBHOOK).message


def test_provider_url_from_the_template() -> None:
    template = Settings().cometchat.api_url
    assert provider_url(template, "app123", "EU") == (
        "https://app123.api-eu.cometchat.io/v3/notifications/sms/v1/providers/custom"
    )
