"""The default alert text: one SMS (70 characters) saying DAG, task, try, run and why.

Carriers bill by UTF-16 units: at most 70 make one message. The default text keeps to that
by shortening the parts that can give (the error first, then the names, each cut with
``…``), so an alert costs one message however long the exception or the DAG id.
"""

from __future__ import annotations

from yxt_provider.alerting.event import AlertEvent
from yxt_provider.campaign.segments import SINGLE_MESSAGE_UNITS, utf16_units

__all__ = ["SIGNATURE", "default_text", "fit", "fit_middle"]

# Chinese carriers require a 【signature】 in every message; register a template that starts with it.
SIGNATURE = "【Airflow】"
_WORDS = {
    "failure": "失败",
    "retry": "失败，将重试",
    "success": "成功",
    "skipped": "跳过",
    "running": "等待处理",
    "dag_failure": "运行失败",
    "dag_success": "运行成功",
    "deadline": "未按时完成",
}
_ELLIPSIS = "…"


def fit(text: str, units: int) -> str:
    """``text`` cut to at most ``units`` UTF-16 units, ending in ``…`` when cut.

    :param text: the text.
    :param units: the room it has.
    """
    if utf16_units(text) <= units:
        return text
    if units <= 0:
        return ""
    cut = text
    while cut and utf16_units(cut) > units - 1:
        cut = cut[:-1]
    return cut.rstrip() + _ELLIPSIS


def fit_middle(text: str, units: int) -> str:
    """``text`` cut to at most ``units`` UTF-16 units by dropping its middle (``billing_…_banking``).

    :param text: the text.
    :param units: the room it has.
    """
    if utf16_units(text) <= units:
        return text
    keep = max(0, units - 1)
    head, tail = text[: (keep + 1) // 2], text[len(text) - keep // 2 :] if keep // 2 else ""
    return head + _ELLIPSIS + tail


def default_text(event: AlertEvent, *, log_url: bool = False) -> str:
    """The alert's text, one message long unless ``log_url`` adds the link.

    ``【Airflow】billing.load 失败 第2次 12-01 09:00：ValueError: bad row 17``

    :param event: what happened.
    :param log_url: append the task's log URL (it costs more messages: URLs are long).
    """
    word = _WORDS.get(event.kind, event.kind)
    name = event.dag_id if event.task_id is None else f"{event.dag_id}.{event.task_id}"
    if event.map_index >= 0:
        name += f"[{event.map_index}]"
    attempt = f" 第{event.try_number}次" if event.try_number is not None else ""
    tail = f"{word}{attempt} {event.when}"
    room = SINGLE_MESSAGE_UNITS - utf16_units(SIGNATURE) - utf16_units(tail) - 1
    # With an error to tell, the name gives way down to 24 units (its middle goes first:
    # the DAG's start and the task's end say most); the error gets the rest.
    name = fit_middle(name, min(room, 24) if event.error else room)
    text = f"{SIGNATURE}{name} {tail}"
    if event.error:
        error = " ".join(event.error.split())  # one line: newlines cost as much as letters
        text = f"{text}：{fit(error, SINGLE_MESSAGE_UNITS - utf16_units(text) - 1)}"
    text = fit(text, SINGLE_MESSAGE_UNITS)
    if log_url and event.log_url:
        text = f"{text} {event.log_url}"
    return text
