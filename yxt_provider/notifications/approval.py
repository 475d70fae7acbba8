"""``YxtSmsApprovalNotifier``: put a human-in-the-loop request to approvers by SMS, answerable by reply.

Give it to any of Airflow's HITL operators (``notifiers=[...]``), or use the SMS operators
of :mod:`yxt_provider.operators.approvals`, which add it. When the task starts waiting, the
notifier records the question in the ledger — its options, its approvers, a short code no
other open question of theirs has — and texts the approvers the question with how to
answer (``【Airflow】审批 发布 v2？回复 A1 同意，A2 拒绝``). Their replies reach Airflow through
:class:`~yxt_provider.operators.approvals.SmsApprovalResponderOperator`.

One question, one SMS: the serial is derived from the question (task instance and try), so
a notifier that runs twice for one try sends once. Like every notifier it never fails the
task: without the SMS the request can still be answered in the UI, and the failure is logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from yxt_provider.get_provider_info import DEFAULT_CONN_ID
from yxt_provider.notifications._recipients import numbers_to_text

if TYPE_CHECKING:
    from airflow.sdk import Context

    from yxt_provider.hooks.yxt import YxtHook

__all__ = ["MAX_SUBJECT_CHARS", "YxtSmsApprovalNotifier", "approval_text"]

#: Characters of the subject the SMS keeps (one SMS is 70 characters; the instructions need ~20).
MAX_SUBJECT_CHARS = 40


def approval_text(subject: str, code: str, options: Sequence[str], *, multiple: bool = False) -> str:
    """The SMS: the subject (shortened to :data:`MAX_SUBJECT_CHARS`) and how to answer.

    :param subject: the HITL request's subject (rendered).
    :param code: the question's code.
    :param options: its options.
    :param multiple: whether several may be chosen.
    """
    from yxt_provider.replies.approvals import instructions

    short = " ".join(subject.split())
    if len(short) > MAX_SUBJECT_CHARS:
        short = short[: MAX_SUBJECT_CHARS - 1] + "…"
    how = (
        instructions(code, list(options))
        if not multiple
        else instructions(code, list(options), multiple=True)
    )
    return f"【Airflow】审批 {short}：{how}"


class YxtSmsApprovalNotifier(BaseNotifier):
    """Text a HITL task's question to its approvers, who answer by replying.

    :param approvers: the numbers that may answer (a list or a comma-separated string, templated).
    :param template_id: the gateway template the text fits (templated); the text starts with
        ``【Airflow】`` like the alerts of :class:`~yxt_provider.notifications.sms.YxtSmsNotifier`.
    :param yxt_conn_id: the YXT connection (templated).
    :param ledger_conn_id: the ledger's SQL connection (templated); the responder must use the
        same ledger. Default: the embedded SQLite file.
    """

    template_fields: Sequence[str] = ("approvers", "template_id", "yxt_conn_id", "ledger_conn_id")

    def __init__(
        self,
        *,
        approvers: Sequence[str] | str,
        template_id: str,
        yxt_conn_id: str = DEFAULT_CONN_ID,
        ledger_conn_id: str | None = None,
    ) -> None:
        super().__init__()
        self.approvers = approvers
        self.template_id = template_id
        self.yxt_conn_id = yxt_conn_id
        self.ledger_conn_id = ledger_conn_id

    def notify(self, context: Context) -> None:
        """Record the question and text it (in the HITL task's process, before it waits)."""
        from yxt_provider.hooks.yxt import YxtHook

        hook = YxtHook(self.yxt_conn_id)
        try:
            self._ask(hook, context)
        except Exception as exc:  # the request stays answerable in the UI; say why no SMS went
            self.log.error("No approval SMS was sent: %s: %s", type(exc).__name__, exc)
        finally:
            hook.close()

    def _ask(self, hook: YxtHook, context: Context) -> None:
        from yxt_provider.campaign.planning import check_content
        from yxt_provider.campaign.serials import serial_for_batch
        from yxt_provider.client.errors import YxtDuplicateSerialError
        from yxt_provider.hooks.ledger import open_ledger
        from yxt_provider.ledger.approval_store import ApprovalRequest, ask
        from yxt_provider.replies.approvals import next_code

        task: Any = context["task"]
        ti: Any = context["ti"]
        options = getattr(task, "options", None)
        if not options:
            raise TypeError(
                f"{type(task).__name__} has no options: YxtSmsApprovalNotifier belongs to a "
                "human-in-the-loop operator's notifiers (HITLOperator, ApprovalOperator, HITLBranchOperator)"
            )
        numbers = numbers_to_text(
            self.approvers, self.log, "Approval SMS", "no valid approver number; check the approvers"
        )
        ledger = open_ledger(self.ledger_conn_id)
        request = ApprovalRequest(
            ti_id=str(ti.id), dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id,
            map_index=int(ti.map_index if ti.map_index is not None else -1), try_number=int(ti.try_number),
            options=tuple(options), multiple=bool(getattr(task, "multiple", False)), approvers=tuple(numbers),
        )  # fmt: skip
        question = ask(ledger.engine, request, next_code)
        text = approval_text(str(getattr(task, "subject", "")), question.code, question.options,
                             multiple=question.multiple)  # fmt: skip
        check_content(text)
        serial = serial_for_batch(f"approval\x1f{question.question_key}", 0, ledger.identity)
        try:
            refused = hook.send(numbers, text, self.template_id, serial).refused
        except YxtDuplicateSerialError:
            self.log.info("The approval SMS for this try was already sent (%s)", question.code)
            return
        self.log.info(
            "Approval SMS %s sent to %d approvers%s", question.code, len(numbers) - len(refused),
            f" ({len(refused)} refused by the gateway)" if refused else "",
        )  # fmt: skip
