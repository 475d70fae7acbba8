"""The protocol's fixed parts: paths, limits, and the send body, checked before anything is sent.

No third-party import: the operators import these constants at DAG-parse time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

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
    if not isinstance(serial_number, str) or not SERIAL_PATTERN.fullmatch(serial_number):
        raise ValueError(f"serial number must be exactly 20 digits, got {serial_number!r}")
    return {
        "type": SEND_TYPE_SMS,
        "userNumber": ",".join(normalized),
        "templateId": template_id,
        "messageContent": content,
        "serialNumber": serial_number,
    }
