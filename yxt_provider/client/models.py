"""Typed results of the four gateway calls.

Reprs mask phone numbers, so logging a result never leaks one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pendulum

from yxt_provider.client.numbers import mask_number

__all__ = ["GATEWAY_TIMEZONE", "Receipt", "Reply", "ReplyPage", "SendResult", "parse_gateway_time"]

#: Times in payloads carry no zone; the gateway runs on Beijing time.
GATEWAY_TIMEZONE = "Asia/Shanghai"


def parse_gateway_time(text: str) -> datetime:
    """Parse a zone-less gateway timestamp as Beijing time and return it as aware UTC."""
    parsed = pendulum.parse(text.strip(), tz=GATEWAY_TIMEZONE, strict=False)
    if not isinstance(parsed, datetime):
        raise ValueError(f"not a timestamp: {text!r}")
    return parsed.in_timezone("UTC")


@dataclass(frozen=True)
class SendResult:
    """The gateway accepted a send request.

    :param task_id: the gateway's ``taskId`` for the request.
    :param serial_number: the 20-digit serial the request was sent under.
    :param count: how many numbers the request carried.
    :param duplicate: True when the gateway answered code 15 (serial seen before).
    :param refused: numbers of the request the gateway refused although it accepted the
        request (``data.failList``): they get no message and no receipt.
    """

    task_id: str
    serial_number: str
    count: int
    duplicate: bool = False
    refused: tuple[str, ...] = field(default=(), repr=False)

    @property
    def accepted(self) -> int:
        """How many numbers of the request the gateway took (``count`` less ``refused``)."""
        return self.count - len(self.refused)

    def __repr__(self) -> str:
        return (
            f"SendResult(task_id={self.task_id!r}, serial_number={self.serial_number!r}, "
            f"count={self.count}, duplicate={self.duplicate}, refused=<{len(self.refused)} numbers>)"
        )


@dataclass(frozen=True)
class Receipt:
    """One delivery receipt from ``/info/sms/report``.

    :param serial_number: the serial of the request that sent the message.
    :param user_number: the recipient.
    :param result: 0 delivered, anything else failed (the gateway's result code).
    """

    serial_number: str
    user_number: str = field(repr=False)
    result: int

    @property
    def delivered(self) -> bool:
        """True when the gateway reports the message delivered."""
        return self.result == 0

    def __repr__(self) -> str:
        return (
            f"Receipt(serial_number={self.serial_number!r}, "
            f"user_number={mask_number(self.user_number)!r}, result={self.result})"
        )


@dataclass(frozen=True)
class Reply:
    """One inbound reply from ``/info/sms/reply/query``.

    :param call_mdn: the access number (接入号) the reply was sent to, i.e. the account's side.
    :param content: the reply text.
    :param reply_time: when it was received, aware UTC.
    :param user_number: the mobile number that replied.
    :param reply_id: the gateway's id for the reply when it gives one.
    """

    call_mdn: str
    content: str
    reply_time: datetime
    user_number: str
    reply_id: str | None = None

    def __repr__(self) -> str:
        return (
            f"Reply(call_mdn={mask_number(self.call_mdn)!r}, content=<{len(self.content)} chars>, "
            f"reply_time={self.reply_time.isoformat()!r}, user_number={mask_number(self.user_number)!r})"
        )


@dataclass(frozen=True)
class ReplyPage:
    """A page of unconfirmed replies and the ``maxId`` to confirm them with.

    :param replies: the replies in this page (empty when there are none).
    :param max_id: the highest id in the page, ``None`` when the page is empty.
    """

    replies: list[Reply]
    max_id: str | None
