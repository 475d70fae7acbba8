"""The protocol's fixed parts: paths, limits, the send body, and reading the answer's envelope.

No third-party import: the operators import these constants at DAG-parse time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from yxt_provider.client.advice import after_lost_answer
from yxt_provider.client.errors import YxtProtocolError, error_for_code, truncate_for_message
from yxt_provider.client.numbers import normalize_numbers

__all__ = [
    "MAX_NUMBERS_PER_REQUEST",
    "PATH_CONFIRM",
    "PATH_QUERY",
    "PATH_REPORT",
    "PATH_SEND",
    "SEND_TYPE_SMS",
    "SERIAL_PATTERN",
    "build_send_body",
    "describe_data",
    "parse_envelope",
]

#: Path of the send call.
PATH_SEND = "/api/sms/send"
#: Path of the delivery-receipt call (read once).
PATH_REPORT = "/info/sms/report"
#: Path of the reply query.
PATH_QUERY = "/info/sms/reply/query"
#: Path of the reply confirmation (``maxId``).
PATH_CONFIRM = "/info/sms/reply/confirm"
#: Most numbers one send request may carry (more: code 9).
MAX_NUMBERS_PER_REQUEST = 1000
#: A serial number: exactly 20 ASCII digits (else code 14).
SERIAL_PATTERN = re.compile(r"[0-9]{20}")
#: The send ``type`` of an SMS, the only one the protocol has (else code 39).
SEND_TYPE_SMS = "1"


def _is_utf8_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def build_send_body(
    numbers: Iterable[str], content: str, template_id: str, serial_number: str
) -> dict[str, str]:
    """Validate a send request and return its JSON body; raises ``ValueError`` before anything is sent.

    :param numbers: 1–1000 mainland mobile numbers (``+86``, spaces and dashes are normalised).
    :param content: the message text, non-empty.
    :param template_id: the gateway template the text fits, non-empty.
    :param serial_number: 20 digits, unique per request.
    """
    normalized = normalize_numbers(numbers)
    if not normalized:
        raise ValueError("send needs at least one recipient number")
    if len(normalized) > MAX_NUMBERS_PER_REQUEST:
        raise ValueError(
            f"send takes at most {MAX_NUMBERS_PER_REQUEST} numbers per request, got {len(normalized)}; "
            "split the recipients into batches"
        )
    if not isinstance(content, str) or not content.strip():
        raise ValueError("message content is empty; give the text to send")
    if not isinstance(template_id, str) or not template_id.strip():
        raise ValueError("template_id is empty; give the id of the template registered with the gateway")
    for name, text in (("message content", content), ("template_id", template_id)):
        if not _is_utf8_text(text):
            # Else the request fails later, inside JSON encoding or the signature, as a bare UnicodeEncodeError.
            raise ValueError(
                f"{name} holds a lone surrogate (U+D800-U+DFFF), which is not text UTF-8 can send"
            )
    if not isinstance(serial_number, str) or not SERIAL_PATTERN.fullmatch(serial_number):
        raise ValueError(f"serial number must be exactly 20 digits, got {serial_number!r}")
    return {
        "type": SEND_TYPE_SMS,
        "userNumber": ",".join(normalized),
        "templateId": template_id,
        "messageContent": content,
        "serialNumber": serial_number,
    }


# How much of a spoiled answer a message quotes: room for the advice, in one readable log line.
_BODY_LIMIT = 120


def describe_data(data: object) -> str:
    """A short, masked ``repr`` of decoded gateway data for an error message, whatever its shape.

    ``repr`` of data nested deeper than the interpreter's recursion limit raises
    ``RecursionError``; the message then says so instead of escaping as that error.
    """
    try:
        text = repr(data)
    except RecursionError:
        return f"<{type(data).__name__} nested too deeply to show>"
    return truncate_for_message(text)


def parse_envelope(status: int, content: bytes, what: str) -> Any:
    """Read one gateway answer and return its ``data``; every failure is one of the provider's errors.

    :param status: the HTTP status.
    :param content: the raw body, decoded as UTF-8 (invalid bytes replaced: the protocol is UTF-8).
    :param what: names the call in messages, e.g. ``"send serial 2024…"``; the advice at the
        end of a message (:func:`~yxt_provider.client.advice.after_lost_answer`) depends on it.
    :raises YxtProtocolError: not HTTP 200, not JSON, no integer ``code``.
    :raises YxtResultError: a non-zero ``code`` (:func:`~yxt_provider.client.errors.error_for_code`).
    """
    text = content.decode("utf-8", errors="replace")
    if status != 200:
        raise YxtProtocolError(
            f"{what}: HTTP {status} from the gateway: {truncate_for_message(text, _BODY_LIMIT)!r}. "
            f"{_http_advice(status, what)}",
            status=status,
            body=truncate_for_message(text),
        )
    try:
        envelope = json.loads(text)
    # RecursionError: "[[[[…" nested deeper than the decoder's stack; ValueError covers
    # integers longer than int's str limit as well as text that is not JSON.
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else "not JSON"
        raise broken_answer(what, f"the gateway's answer is {reason}", text) from None
    if not isinstance(envelope, dict) or "code" not in envelope:
        raise broken_answer(what, "the gateway's answer has no 'code'", text)
    code = envelope["code"]
    if isinstance(code, bool) or not isinstance(code, int):
        raise broken_answer(
            what,
            f"the gateway's 'code' is {type(code).__name__} {describe_data(code)}, expected an integer",
            text,
        )
    if code != 0:
        msg = envelope.get("msg")
        raise error_for_code(code, msg if isinstance(msg, str) else "", context=what)
    return envelope.get("data")


def broken_answer(what: str, problem: str, text: str) -> YxtProtocolError:
    """HTTP 200 with an answer that breaks the protocol: whether the call took effect is unknown.

    :param what: names the call, as for :func:`parse_envelope`.
    :param problem: what is wrong with the answer.
    :param text: the answer (or the offending part), shortened in the message.
    """
    return YxtProtocolError(
        f"{what}: {problem}: {truncate_for_message(text, _BODY_LIMIT)!r}. The gateway broke the protocol "
        f"(report it to the gateway operator if it repeats). {after_lost_answer(what)}",
        status=200,
        body=truncate_for_message(text),
    )


def _http_advice(status: int, what: str) -> str:
    if status >= 500:
        return (
            "A server error (gateway or proxy): retried; if it persists, ask the gateway operator. "
            f"{after_lost_answer(what)}"
        )
    return (
        "Not the gateway's protocol: check that the connection's host and port point at the YXT gateway's API"
    )
