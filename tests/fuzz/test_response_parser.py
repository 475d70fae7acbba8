"""Response fuzz: whatever bytes come back, the client raises only the provider's own errors.

Fuzzed answers go over real HTTP from the scripted loopback gateway to a real ``YxtClient``
(one attempt, no retry), through every call's reading of ``data``; the envelope reader
:func:`~yxt_provider.client.protocol.parse_envelope` also gets many more examples directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.client.scripted_gateway import Scripted, ScriptedGateway, scripted_gateway
from tests.fuzz.budget import fuzz_settings
from yxt_provider.client import YxtClient
from yxt_provider.client.errors import YxtError
from yxt_provider.client.models import Receipt, ReplyPage, SendResult
from yxt_provider.client.protocol import parse_envelope
from yxt_provider.client.retry import RetrySettings

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(),
    st.sampled_from(["13800138000", "2024-01-01 12:00:00", "", "1", "1e999"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_FIELDS = [
    "serialNumber",
    "userNumber",
    "result",
    "callMdn",
    "content",
    "replyTime",
    "id",
    "taskId",
    "failList",
]
# Data shaped like the real answers, with any value in any field, so the readers past the
# envelope get exercised and not only the "not a list" branch.
record_like = st.dictionaries(st.sampled_from(_FIELDS), json_values, max_size=6)
data_values = st.one_of(
    json_values,
    st.lists(record_like, max_size=3),
    st.fixed_dictionaries({"apiSmsReplyBoList": st.lists(record_like, max_size=3), "maxId": json_values}),
    st.fixed_dictionaries({"taskId": json_values, "failList": json_values}),
)
envelopes = st.fixed_dictionaries(
    {"code": st.one_of(st.just(0), st.integers(), json_scalars)},
    optional={"msg": json_values, "ok": json_values, "data": data_values},
)


def _deep(depth: int, inside: bytes = b"[", close: bytes = b"]") -> bytes:
    return inside * depth + close * depth


# Raw texts the JSON encoder would never write: nesting past the recursion limit, integers
# past int's str() limit, infinities, lone surrogate escapes, invalid UTF-8.
hostile_bodies = st.sampled_from(
    [
        _deep(100_000),
        b'{"code":0,"data":' + _deep(995) + b"}",
        b'{"code":0,"data":' + _deep(100_000) + b"}",
        b'{"code":0,"data":[' + _deep(990, b'{"a":', b"}") + b"]}",
        b'{"code":' + b"9" * 5000 + b"}",
        b'{"code":0,"data":[{"serialNumber":"1","userNumber":"1","result":1e999}]}',
        b'{"code":0,"data":[{"serialNumber":"1","userNumber":"1","result":NaN}]}',
        b'{"code":1e999}',
        b'{"code":0,"data":{"apiSmsReplyBoList":[{"callMdn":"\\ud800","replyTime":"\\udfff","id":1}]}}',
        b'{"code":0,"data":{"apiSmsReplyBoList":[{"callMdn":"1","replyTime":"99999-99-99 99:99:99"}]}}',
        b'{"code":0,"data":{"taskId":"\\ud800","failList":"\\ud800,13800138000"}}',
        b'{"code":35,"msg":"\\ud800 13800138000"}',
        b"\xff\xfe\x00{",
        b"",
    ]
)
answer_bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    json_values.map(lambda value: json.dumps(value).encode()),
    envelopes.map(lambda value: json.dumps(value, ensure_ascii=False).encode()),
    hostile_bodies,
)
statuses = st.one_of(st.just(200), st.sampled_from([200, 200, 201, 204, 301, 400, 404, 500, 502, 503]))

_CALLS: dict[str, Callable[[YxtClient], object]] = {
    "send": lambda client: client.send(["13800138000", "13900139000"], "hi", "1000000000001", "2" * 20),
    "report": YxtClient.fetch_receipts,
    "query": YxtClient.query_replies,
    "confirm": lambda client: client.confirm_replies("7"),
}
_RESULT_TYPES: dict[str, Callable[[object], bool]] = {
    "send": lambda result: isinstance(result, SendResult),
    "report": lambda result: isinstance(result, list) and all(isinstance(r, Receipt) for r in result),
    "query": lambda result: isinstance(result, ReplyPage),
    "confirm": lambda result: result is None,
}


@pytest.fixture(scope="module")
def gateway() -> Iterator[ScriptedGateway]:
    """One scripted loopback gateway for every example of the module."""
    with scripted_gateway() as served:
        yield served


@pytest.fixture(scope="module")
def client(gateway: ScriptedGateway) -> Iterator[YxtClient]:
    """A client with one attempt per call: a fuzzed 5xx must come back at once, not after backoff."""
    with YxtClient(
        gateway.base_url, "100001", "demo_app", "s3cr3t", retry=RetrySettings(max_attempts=1)
    ) as fuzzed:
        yield fuzzed


def _outcome(call: Callable[[], Any]) -> tuple[object, YxtError | None]:
    try:
        return call(), None
    except YxtError as exc:
        str(exc)  # the message itself must be buildable
        return None, exc


@fuzz_settings
@given(status=statuses, body=answer_bodies, call=st.sampled_from(sorted(_CALLS)))
@example(status=200, body=b'{"code":0,"data":' + _deep(100_000) + b"}", call="report")
@example(status=200, body=b'{"code":0,"data":[' + _deep(990, b'{"a":', b"}") + b"]}", call="report")
@example(
    status=200,
    body=b'{"code":0,"data":[{"serialNumber":"1","userNumber":"1","result":1e999}]}',
    call="report",
)
def test_client_raises_only_its_own_errors(
    gateway: ScriptedGateway, client: YxtClient, status: int, body: bytes, call: str
) -> None:
    """Every call turns any answer into its typed result or a ``YxtError``; nothing else escapes."""
    gateway.answers.clear()
    gateway.script(Scripted(body, status))
    result, error = _outcome(lambda: _CALLS[call](client))
    if error is None:
        assert _RESULT_TYPES[call](result), result
        assert status == 200


@fuzz_settings
@given(status=statuses, body=answer_bodies)
@example(status=200, body=_deep(100_000))
@example(status=200, body=b'{"code":' + b"9" * 5000 + b"}")
def test_parse_envelope_raises_only_provider_errors(status: int, body: bytes) -> None:
    """The envelope reader alone, many more examples: data or a ``YxtError``, for any status and bytes."""
    _, error = _outcome(lambda: parse_envelope(status, body, "fuzz"))
    if status != 200:
        assert error is not None


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_the_client_does_not_follow_redirects(status: int) -> None:
    """A 3xx pointing elsewhere is a protocol error; the signed request is not sent on to the Location."""
    with scripted_gateway() as elsewhere:
        elsewhere.script({"code": 0, "msg": "ok", "ok": True, "data": {"taskId": "1"}})
        with scripted_gateway() as first:
            first.script(Scripted(b"", status, headers={"Location": elsewhere.base_url + "/api/sms/send"}))
            with (
                YxtClient(
                    first.base_url, "100001", "demo_app", "s3cr3t", retry=RetrySettings(max_attempts=1)
                ) as c,
                pytest.raises(YxtError) as info,
            ):
                _CALLS["send"](c)
        assert getattr(info.value, "status", None) == status
        assert elsewhere.requests == []
