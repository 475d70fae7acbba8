"""The sandbox's records: protocol answers, what it accepted, and its ground truth.

Plain values with their JSON forms; :mod:`yxt_provider.sandbox.state` holds the rules.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = [
    "BEIJING",
    "MESSAGES",
    "AcceptedRequest",
    "CallResult",
    "PlannedReceipt",
    "SendRequest",
    "compile_template",
    "error_result",
    "format_reply_time",
]

#: Beijing time, the zone of the gateway's reply times.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
_REPLY_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

#: The original document's wording for each result code.
MESSAGES: dict[int, str] = {
    0: "OK",
    1: "提交参数校验错误",
    2: "账号无效或权限不足",
    3: "账号密码错误",
    5: "IP不合法",
    9: "接受号码过多，最大1000",
    11: "请求太频繁",
    13: "您的[普通短信业务]剩余数量发送不足，暂不能发送该类信息",
    14: "流水号格式不正确",
    15: "流水号重复",
    20: "发送失败，请联系管理员",
    28: "发送内容与模板不符",
    35: "签名认证失败",
    38: "无数据",
    39: "发送类型异常",
    505: "缺少参数",
    507: "超过五分钟的请求不处理",
}

# One C-level match validates a whole 1000-number list; the slow path only names the culprit.
_PLACEHOLDER = re.compile(r"\{[^{}]+\}")


def compile_template(text: str) -> re.Pattern[str]:
    """Turn template text into a pattern: literal parts must match, ``{name}`` parts match any non-empty text."""
    return re.compile("(?:.+?)".join(re.escape(part) for part in _PLACEHOLDER.split(text)), re.DOTALL)


@dataclass(frozen=True)
class CallResult:
    """The protocol answer to one call. ``data_json`` is ``data`` already serialised."""

    code: int
    msg: str = ""
    data_json: str = "null"

    def envelope(self) -> bytes:
        """The response body: ``{"code", "msg", "ok", "data"}``."""
        msg = json.dumps(self.msg or MESSAGES.get(self.code, ""), ensure_ascii=False)
        ok = "true" if self.code == 0 else "false"
        text = f'{{"code":{self.code},"msg":{msg},"ok":{ok},"data":{self.data_json}}}'
        # Lone surrogates (in replies or config set over the control plane) have no UTF-8 form;
        # they only occur inside JSON strings, where "\udXXX" is the JSON escape that reads back
        # as the same character. Strict encoding made them HTTP 500s.
        return text.encode("utf-8", errors="backslashreplace")


def error_result(code: int, detail: str = "") -> CallResult:
    """The answer carrying ``code``, with the document's wording and an optional detail."""
    base = MESSAGES.get(code, "")
    return CallResult(code, f"{base}: {detail}" if detail else base)


@dataclass(frozen=True)
class AcceptedRequest:
    """A send request the sandbox accepted: the witness of what was sent, exactly once or not.

    :param numbers: the numbers it took (those it refused are in ``refused``).
    :param results: the planned receipt result per number (``None``: no receipt ever).
    :param refused: numbers of the request refused inside it (the answer's ``data.failList``).
    """

    serial_number: str
    numbers: tuple[str, ...]
    content: str
    template_id: str
    task_id: str
    accepted_at: float
    results: tuple[int | None, ...]
    refused: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON form, as served by ``GET /_sandbox/accepted``."""
        return {
            "serialNumber": self.serial_number,
            "numbers": list(self.numbers),
            "content": self.content,
            "templateId": self.template_id,
            "taskId": self.task_id,
            "acceptedAt": self.accepted_at,
            "refused": list(self.refused),
        }


@dataclass(frozen=True)
class PlannedReceipt:
    """Ground truth for one accepted message: its receipt ``result``, or ``None`` if none will come."""

    serial_number: str
    user_number: str
    result: int | None

    def to_json(self) -> dict[str, Any]:
        """JSON form, as served by ``GET /_sandbox/truth``."""
        return {"serialNumber": self.serial_number, "userNumber": self.user_number, "result": self.result}


@dataclass(frozen=True)
class SendRequest:
    """A send request that passed validation: what will be accepted."""

    serial_number: str
    user_number: str
    numbers: list[str]
    content: str
    template_id: str


def format_reply_time(value: datetime | str | None) -> str:
    """``replyTime`` text: Beijing wall time without a zone. Naive datetimes are taken as Beijing time."""
    if value is None:
        return datetime.now(BEIJING).strftime(_REPLY_TIME_FORMAT)
    if isinstance(value, str):
        datetime.strptime(value, _REPLY_TIME_FORMAT)  # raises ValueError on another shape
        return value
    if value.tzinfo is not None:
        value = value.astimezone(BEIJING)
    return value.strftime(_REPLY_TIME_FORMAT)
