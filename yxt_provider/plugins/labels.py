"""The view's words in English and Simplified Chinese, and which of them a request gets.

Airflow's UI keeps its language in the browser (i18next: ``localStorage.i18nextLng``, e.g.
``zh-CN``), which the server never sees. The view's pages are served into an iframe of the
same origin, so a few lines of script on each page copy that choice into the ``yxt_lang``
cookie and reload once when it differs from what was served; before that (and for the JSON
API) ``?lang=``, then the cookie, then ``Accept-Language`` decide.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["LANGUAGES", "LANGUAGE_COOKIE", "labels_for", "language_of"]

#: The cookie the pages' script sets from Airflow's own language choice.
LANGUAGE_COOKIE = "yxt_lang"

_EN: dict[str, str] = {
    "title": "SMS campaigns",
    "subtitle": "Every campaign in the YXT delivery ledger, newest first.",
    "dag": "DAG",
    "run": "Run",
    "task": "Task",
    "created": "Created (UTC)",
    "recipients": "Recipients",
    "delivered": "Delivered",
    "failed": "Failed",
    "pending": "Pending",
    "not_sent": "Not sent",
    "replies": "Replies",
    "opt_outs": "Opt-outs",
    "status": "Status",
    "all_dags": "All DAGs",
    "from": "From",
    "to": "To",
    "filter": "Filter",
    "reset": "Clear",
    "no_campaigns": "No campaign matches. Campaigns appear here once a SendSmsOperator has planned one.",
    "page_of": "Page {page} of {pages} · {total} campaigns",
    "previous": "Previous",
    "next": "Next",
    "back": "All campaigns",
    "task_instance": "Task instance in Airflow",
    "funnel": "Delivery funnel",
    "planned": "Planned",
    "sent": "Sent",
    "refused": "Refused at send",
    "excluded": "Set aside before planning",
    "invalid": "invalid",
    "duplicate": "duplicate",
    "opted_out": "opted out",
    "capped": "over the frequency cap",
    "failures": "Failures by result code",
    "no_failures": "No failures.",
    "kind": "Where",
    "kind_receipt": "receipt",
    "kind_refused": "send answer",
    "kind_not_sent": "batch not accepted",
    "code": "Code",
    "meaning": "Meaning",
    "messages": "Messages",
    "receipts": "Receipts over time",
    "no_receipts": "No receipts yet.",
    "per_bar": "one bar = {width}",
    "replies_title": "Replies (latest {n})",
    "no_replies": "No replies.",
    "number": "Number",
    "received": "Received (UTC)",
    "content": "Text",
    "opted_out_reply": "opted out",
    "campaign": "Campaign",
    "no_campaign_for_task": "This task instance sent no SMS campaign into the ledger the view reads.",
    "json": "JSON",
    "minutes": "{n} min",
    "hours": "{n} h",
    "days": "{n} d",
}

_ZH_HANS: dict[str, str] = {
    "title": "短信活动",
    "subtitle": "一信通投递台账中的全部短信活动，最新的在前。",
    "dag": "DAG",
    "run": "运行",
    "task": "任务",
    "created": "创建时间 (UTC)",
    "recipients": "接收人",
    "delivered": "已送达",
    "failed": "失败",
    "pending": "待回执",
    "not_sent": "未发送",
    "replies": "回复",
    "opt_outs": "退订",
    "status": "状态",
    "all_dags": "全部 DAG",
    "from": "起始",
    "to": "截止",
    "filter": "筛选",
    "reset": "清除",
    "no_campaigns": "没有符合条件的活动。SendSmsOperator 规划活动后，它会出现在这里。",
    "page_of": "第 {page} / {pages} 页 · 共 {total} 个活动",
    "previous": "上一页",
    "next": "下一页",
    "back": "全部活动",
    "task_instance": "Airflow 中的任务实例",
    "funnel": "投递漏斗",
    "planned": "计划",
    "sent": "已发送",
    "refused": "发送时被拒",
    "excluded": "规划前剔除",
    "invalid": "无效号码",
    "duplicate": "重复",
    "opted_out": "已退订",
    "capped": "超出频次限制",
    "failures": "按结果码统计的失败",
    "no_failures": "没有失败。",
    "kind": "环节",
    "kind_receipt": "回执",
    "kind_refused": "发送应答",
    "kind_not_sent": "批次未被接受",
    "code": "结果码",
    "meaning": "含义",
    "messages": "条数",
    "receipts": "回执时间分布",
    "no_receipts": "尚无回执。",
    "per_bar": "每柱 = {width}",
    "replies_title": "回复（最新 {n} 条）",
    "no_replies": "没有回复。",
    "number": "号码",
    "received": "接收时间 (UTC)",
    "content": "内容",
    "opted_out_reply": "已退订",
    "campaign": "活动",
    "no_campaign_for_task": "该任务实例没有向本视图读取的台账发送短信活动。",
    "json": "JSON",
    "minutes": "{n} 分钟",
    "hours": "{n} 小时",
    "days": "{n} 天",
}

#: Language tag → the view's words in it.
LANGUAGES: Mapping[str, Mapping[str, str]] = {"en": _EN, "zh-Hans": _ZH_HANS}


def _supported(tag: str | None) -> str | None:
    """The view's language for a BCP 47 tag (``zh``, ``zh-CN``, ``zh-Hans-CN``, ``en-GB``), if it has one."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    # Airflow's UI offers zh-CN and zh-TW; the view has Simplified Chinese only, which readers
    # of Traditional Chinese read more easily than English.
    if primary == "zh":
        return "zh-Hans"
    if primary == "en":
        return "en"
    return None


def language_of(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language to answer in: ``?lang=``, then the cookie, then ``Accept-Language``, then English.

    :param query: the ``lang`` query parameter.
    :param cookie: the :data:`LANGUAGE_COOKIE` cookie.
    :param accept_language: the ``Accept-Language`` header.
    """
    for explicit in (query, cookie):
        if explicit:
            # A choice made in Airflow's UI stands: a language the view lacks reads as English.
            return _supported(explicit) or "en"
    ranked: list[tuple[float, str]] = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        if (chosen := _supported(tag)) and weight > 0:
            ranked.append((-weight + position * 1e-6, chosen))
    return min(ranked)[1] if ranked else "en"


def labels_for(language: str) -> Mapping[str, str]:
    """The view's words in ``language`` (a key of :data:`LANGUAGES`; English otherwise)."""
    return LANGUAGES.get(language, _EN)
