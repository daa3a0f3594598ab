"""Random and mutated payloads thrown at a real server: never a 5xx, always still answering."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gsmbridge.config import Settings
from gsmbridge.service import Bridge
from tests.helpers import GROUP_NO_CONTENT, ONE_TO_ONE, Client

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)

PATHS = [
    ("trigger",),
    ("webhook",),
    ("appId",),
    ("region",),
    ("data",),
    ("data", "to"),
    ("data", "to", "uid"),
    ("data", "to", "phno"),
    ("data", "to", "name"),
    ("data", "smsContent"),
    ("data", "messages"),
    ("data", "senderDetails"),
    ("data", "groupDetails"),
]


def mutate(base: dict[str, Any], path: tuple[str, ...], value: Any, delete: bool) -> dict:
    out = copy.deepcopy(base)
    node = out
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            return out
        node = node[key]
    if delete:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Settings()
    s.server.port = 0
    s.server.max_body_bytes = 256 * 1024
    s.auth.username, s.auth.password = "u", "p"
    b = Bridge(s, tmp_path_factory.mktemp("fuzz"))
    b.start()
    yield Client(b.web.port, "u", "p")
    b.stop()


def check(client: Client, body: bytes | str | dict | list) -> int:
    status, _, out = client.post("/webhook", body)
    assert status < 500, out
    if status != 200:
        assert isinstance(out, dict) and isinstance(out.get("error"), str)
    return status


common = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@common
@given(
    base=st.sampled_from([ONE_TO_ONE, GROUP_NO_CONTENT]),
    mutations=st.lists(
        st.tuples(st.sampled_from(PATHS), json_values, st.booleans()), min_size=1, max_size=4
    ),
)
def test_mutated_payloads(server: Client, base: dict, mutations: list) -> None:
    body = base
    for path, value, delete in mutations:
        body = mutate(body, path, value, delete)
    check(server, body)


@common
@given(value=json_values)
def test_random_json(server: Client, value: Any) -> None:
    check(server, json.dumps(value))


@common
@given(raw=st.binary(max_size=300))
def test_random_bytes(server: Client, raw: bytes) -> None:
    check(server, raw)


@pytest.mark.parametrize(
    "body",
    [
        "[" * 50_000 + "]" * 50_000,
        '{"a":' * 20_000 + "1" + "}" * 20_000,
        json.dumps({**ONE_TO_ONE, "deep": json.loads("[" * 500 + "]" * 500)}),
        # Under max_body_bytes (\u00e9 is 6 bytes escaped): an oversized body is answered
        # 413 before it is all sent and the connection closed (test_server_limits).
        json.dumps({**ONE_TO_ONE, "data": {**ONE_TO_ONE["data"], "smsContent": "é" * 40_000}}),
        b'{"trigger": "\xc3\x28"}',
        b"\xef\xbb\xbf" + json.dumps(ONE_TO_ONE).encode(),
        json.dumps(ONE_TO_ONE).encode("utf-16"),
    ],
)
def test_hostile_bodies(server: Client, body: str | bytes) -> None:
    check(server, body)


def test_server_still_answers_after_the_fuzzing(server: Client) -> None:
    assert server.get("/health")[0] == 200
    assert check(server, ONE_TO_ONE) == 200
