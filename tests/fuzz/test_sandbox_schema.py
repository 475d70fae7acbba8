"""Schema fuzz: schemathesis drives every route of the sandbox's OpenAPI schema over real HTTP.

No request, however malformed, may get a 5xx; every gateway answer is the protocol envelope
with an integer ``code`` (``ok`` true exactly when it is 0), and every refused control-plane
change says why. Half the gateway cases are re-signed correctly, so the fuzzer gets past the
signature check into the body rules (send validation, ``maxId``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from tests.fuzz.budget import FUZZ_EXAMPLES, FUZZ_RANDOM
from yxt_provider.client.protocol import PATH_CONFIRM, PATH_REPORT, PATH_SEND
from yxt_provider.client.request_id import new_request_id
from yxt_provider.client.signing import sign
from yxt_provider.sandbox import SandboxConfig, SandboxServer
from yxt_provider.sandbox.app import CONTROL_PREFIX
from yxt_provider.sandbox.openapi import OPENAPI_PATH, openapi_schema

schema = schemathesis.openapi.from_dict(openapi_schema(control_prefix=CONTROL_PREFIX))


def _sign(case: Any, config: SandboxConfig) -> None:
    """Give ``case`` the account's headers and a valid signature over the body it will send."""
    request_id = new_request_id()
    body = case.body if isinstance(case.body, dict) else None
    case.headers = {
        **(case.headers or {}),
        "x-sp-code": config.sp_code,
        "x-app-key": config.app_key,
        "x-request-id": request_id,
        "x-sign": sign(config.sp_code, config.app_key, config.app_secret, request_id, body),
    }


def _assert_answer(path: str, method: str, response: requests.Response) -> None:
    assert response.status_code < 500, response.text[:300]
    if method.lower() not in schema.raw_schema["paths"][path]:
        # schemathesis also tries methods the route does not take: HTTP refuses those itself.
        assert response.status_code == 405, response.text[:300]
        return
    if path.startswith(CONTROL_PREFIX):
        assert response.status_code in (200, 400), response.text[:300]
        if response.status_code == 400:
            assert response.json()["detail"]
        return
    assert response.status_code == 200, response.text[:300]
    envelope = response.json()
    assert set(envelope) == {"code", "msg", "ok", "data"}, envelope
    assert type(envelope["code"]) is int and isinstance(envelope["msg"], str)
    assert envelope["ok"] is (envelope["code"] == 0)


@pytest.mark.parametrize("signed", [False, True], ids=["as-generated", "signed"])
@schema.parametrize()
@settings(
    max_examples=max(1, FUZZ_EXAMPLES // 4),
    deadline=None,
    derandomize=not FUZZ_RANDOM,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error(case: Any, signed: bool, yxt_sandbox_session: SandboxServer) -> None:
    """Any generated request (schema-valid or not) gets a 2xx/4xx, and a gateway answer carries a code."""
    sandbox = yxt_sandbox_session
    if signed:
        if case.path.startswith(CONTROL_PREFIX):
            return  # the control plane is not signed; the as-generated run covers it
        _sign(case, sandbox.config)
    try:
        response = case.call(base_url=sandbox.base_url, timeout=10)
        _assert_answer(case.path, case.method, response)
    finally:
        # A fuzzed config change (faults, control off, a latency) must not leak into the next case.
        sandbox.reset(SandboxConfig())


def test_the_schema_is_served_and_describes_every_route(yxt_sandbox: SandboxServer) -> None:
    """``/openapi.json`` is the module's schema, naming exactly the app's routes and methods."""
    served = requests.get(yxt_sandbox.base_url + OPENAPI_PATH, timeout=10)
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(openapi_schema(control_prefix=CONTROL_PREFIX)))

    from fastapi.routing import APIRoute

    from yxt_provider.sandbox.app import create_app
    from yxt_provider.sandbox.state import SandboxState

    app = create_app(SandboxState())
    routes = {
        (route.path, method.lower())
        for route in app.routes
        if isinstance(route, APIRoute) and route.path != OPENAPI_PATH
        for method in route.methods
    }
    described = {(path, method) for path, item in served.json()["paths"].items() for method in item}
    assert described == routes


def test_the_schema_leaves_out_a_control_plane_that_is_off(yxt_sandbox: SandboxServer) -> None:
    """With ``control`` off the schema lists only the four gateway calls, as the routes answer."""
    yxt_sandbox.configure(control=False)
    paths = requests.get(yxt_sandbox.base_url + OPENAPI_PATH, timeout=10).json()["paths"]
    assert sorted(paths) == sorted(openapi_schema(control_prefix=None)["paths"])
    assert not any(path.startswith(CONTROL_PREFIX) for path in paths)
    assert requests.get(yxt_sandbox.base_url + CONTROL_PREFIX + "/config", timeout=10).status_code == 404


_LONE_SURROGATE_SEND = (
    b'{"type":"1","userNumber":"13800138000","templateId":"\\ud800",'
    b'"messageContent":"x","serialNumber":"11111111111111111111"}'
)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (PATH_CONFIRM, b'{"maxId":"\xc2\xb2"}'),  # "²".isdigit() is True; int("²") is not
        (PATH_CONFIRM, b'{"maxId":"' + b"9" * 5000 + b'"}'),  # past int()'s str limit
        (PATH_CONFIRM, b'{"maxId":' + b"[" * 990 + b"]" * 990 + b"}"),  # too deep to sign
        (PATH_REPORT, b"[" * 100_000),  # too deep for json.loads
        (PATH_REPORT, b'{"a":"\\ud800"}'),  # a lone surrogate has no UTF-8 bytes to hash
        (PATH_SEND, _LONE_SURROGATE_SEND),
    ],
    ids=[
        "superscript-maxId",
        "5000-digit-maxId",
        "deep-maxId",
        "deep-body",
        "surrogate-body",
        "surrogate-send",
    ],
)
def test_hostile_gateway_bodies_get_code_1(yxt_sandbox: SandboxServer, path: str, body: bytes) -> None:
    """Bodies that were HTTP 500s (found by fuzzing) are refused as parameter errors, code 1.

    The signature is computed as a client would have to, over what the sandbox decodes; where
    no signature can be computed, any header value goes: the body is refused before it counts.
    """
    config = yxt_sandbox.config
    request_id = new_request_id()
    try:
        signature = sign(config.sp_code, config.app_key, config.app_secret, request_id, json.loads(body))
    except (ValueError, RecursionError):
        signature = "0" * 64
    headers = {
        "Content-Type": "application/json",
        "x-sp-code": config.sp_code,
        "x-app-key": config.app_key,
        "x-request-id": request_id,
        "x-sign": signature,
    }
    response = requests.post(yxt_sandbox.base_url + path, data=body, headers=headers, timeout=10)
    _assert_answer(path, "post", response)
    assert response.json()["code"] == 1


@pytest.mark.parametrize(
    "change",
    [
        {"templates": [1]},
        {"report_page_size": 1.5},
        {"burst": True},
        {"control": "yes"},
        {"receipt_delay": 1e999},
    ],
    ids=["templates-list", "float-page-size", "bool-burst", "string-flag", "infinite-delay"],
)
def test_control_plane_refuses_wrong_types_with_400(
    yxt_sandbox: SandboxServer, change: dict[str, Any]
) -> None:
    """A config change of the wrong type is a 400 naming the field, and the config in force stays."""
    before = requests.get(yxt_sandbox.base_url + CONTROL_PREFIX + "/config", timeout=10).json()
    response = requests.post(
        yxt_sandbox.base_url + CONTROL_PREFIX + "/config", data=json.dumps(change), timeout=10
    )
    assert response.status_code == 400 and next(iter(change)) in response.json()["detail"]
    assert requests.get(yxt_sandbox.base_url + CONTROL_PREFIX + "/config", timeout=10).json() == before


def test_lone_surrogates_set_over_the_control_plane_come_back_escaped(yxt_sandbox: SandboxServer) -> None:
    """A reply or config text with a lone surrogate is answered as a JSON escape, not an HTTP 500."""
    base = yxt_sandbox.base_url
    assert requests.post(
        base + CONTROL_PREFIX + "/config", data='{"reply_call_mdn": "\\ud800"}', timeout=10
    ).ok
    assert requests.get(base + CONTROL_PREFIX + "/config", timeout=10).json()["reply_call_mdn"] == "\ud800"
    injected = requests.post(
        base + CONTROL_PREFIX + "/replies", data='{"callMdn": "1", "content": "\\udfff"}', timeout=10
    )
    assert injected.ok
    with yxt_sandbox.client() as client:
        page = client.query_replies()
    assert [reply.content for reply in page.replies] == ["\udfff"]
