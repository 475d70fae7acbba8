"""The answers of faults that mimic a broken gateway without processing the call.

Each is what a real deployment has been seen to answer (a throttle, an internal failure, a
skewed clock, a proxy's error page, a cut-off or ill-typed JSON body), so a client can be
tested against it; none of them changes the sandbox's state.
"""

from __future__ import annotations

from dataclasses import dataclass

from yxt_provider.sandbox.records import CallResult, error_result

__all__ = ["SPOILED_KINDS", "SpoiledAnswer", "spoiled_answer"]

_GATEWAY_JSON = "application/json;charset=UTF-8"
_HTML_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class SpoiledAnswer:
    """An HTTP answer to send instead of the protocol's."""

    status: int
    body: bytes
    media_type: str = _GATEWAY_JSON


def _code(result: CallResult) -> SpoiledAnswer:
    return SpoiledAnswer(200, result.envelope())


def _malformed() -> SpoiledAnswer:
    whole = CallResult(0, "OK", '{"taskId":"10000000001","failList":""}').envelope()
    return SpoiledAnswer(200, whole[: len(whole) // 2])


_ANSWERS = {
    "code_11": lambda: _code(error_result(11)),
    "code_20": lambda: _code(error_result(20)),
    # What the sandbox itself answers to a request id outside request_max_age.
    "clock_skew": lambda: _code(error_result(507, "x-request-id is 600s off the gateway clock")),
    "html_error": lambda: SpoiledAnswer(502, _HTML_PAGE, "text/html"),
    "malformed_json": _malformed,
    "wrong_type_code": lambda: SpoiledAnswer(200, b'{"code":"0","msg":"OK","ok":true,"data":null}'),
    "wrong_type_data": lambda: SpoiledAnswer(200, b'{"code":0,"msg":"OK","ok":true,"data":"OK"}'),
}

#: The fault kinds answered by :func:`spoiled_answer`.
SPOILED_KINDS: frozenset[str] = frozenset(_ANSWERS)


def spoiled_answer(kind: str) -> SpoiledAnswer:
    """The answer of the fault ``kind`` (one of :data:`SPOILED_KINDS`)."""
    return _ANSWERS[kind]()
