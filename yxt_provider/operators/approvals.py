"""Approve by text message: Airflow's human-in-the-loop operators, answerable by an SMS reply.

``SmsApprovalOperator``, ``SmsHITLOperator`` and ``SmsHITLBranchOperator`` are Airflow's
``ApprovalOperator``, ``HITLOperator`` and ``HITLBranchOperator`` with one more notifier
(:class:`~yxt_provider.notifications.approval.YxtSmsApprovalNotifier`): everything else —
options, ``defaults``, ``response_timeout``, the UI, the waiting state — is Airflow's own.
:class:`SmsApprovalResponderOperator` reads the approvers' replies from the ledger and
answers through Airflow's REST API; run it on the replies asset (see
``dags/yxt_sms_approval.py``), so it runs whenever replies arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLBranchOperator, HITLOperator
from airflow.sdk import BaseOperator

from yxt_provider.get_provider_info import DEFAULT_CONN_ID
from yxt_provider.hooks.ledger import LedgerUserMixin
from yxt_provider.notifications.approval import YxtSmsApprovalNotifier

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "SmsApprovalMixin",
    "SmsApprovalOperator",
    "SmsApprovalResponderOperator",
    "SmsHITLBranchOperator",
    "SmsHITLOperator",
]

_DEFAULT_AIRFLOW_API_CONN_ID = (
    "yxt_airflow_api"  # hooks.airflow_api.DEFAULT_AIRFLOW_API_CONN_ID (not imported: requests)
)
_DEFAULT_CONSUMER = "yxt_sms_approvals"  # replies.responder.DEFAULT_CONSUMER


class SmsApprovalMixin:
    """Adds the approval SMS to a HITL operator: ``approvers`` get the question and answer by replying.

    :param approvers: the numbers that may answer (list or comma-separated string, templated);
        a reply from any other number changes nothing.
    :param template_id: the gateway template the text fits (``【Airflow】…``).
    :param yxt_conn_id: the YXT connection.
    :param ledger_conn_id: the ledger's SQL connection; the responder must use the same one.
    """

    def __init__(
        self,
        *,
        approvers: Sequence[str] | str,
        template_id: str,
        yxt_conn_id: str = DEFAULT_CONN_ID,
        ledger_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        notifier = YxtSmsApprovalNotifier(
            approvers=approvers,
            template_id=template_id,
            yxt_conn_id=yxt_conn_id,
            ledger_conn_id=ledger_conn_id,
        )
        given = kwargs.pop("notifiers", None)
        given = [given] if given is not None and not isinstance(given, (list, tuple)) else list(given or [])
        super().__init__(notifiers=[*given, notifier], **kwargs)  # type: ignore[call-arg]
        self.approvers = approvers


class SmsApprovalOperator(SmsApprovalMixin, ApprovalOperator):
    """``ApprovalOperator`` answerable by SMS: ``回复 A1 同意，A2 拒绝`` (or 同意 / 拒绝 / 1 / 2).

    Takes :class:`SmsApprovalMixin`'s arguments and every argument of Airflow's ``ApprovalOperator``.
    """

    # An __init__ of its own, so BaseOperator's metaclass wraps this class's (default_args and its
    # check of the outermost __init__); the mixin's does the work.
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)


class SmsHITLOperator(SmsApprovalMixin, HITLOperator):
    """``HITLOperator`` answerable by SMS: each option numbered, ``回复 A1 发布，A2 回滚``.

    Takes :class:`SmsApprovalMixin`'s arguments and every argument of Airflow's ``HITLOperator``.
    An SMS cannot fill a form: a request with ``params`` gets their defaults.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)


class SmsHITLBranchOperator(SmsApprovalMixin, HITLBranchOperator):
    """``HITLBranchOperator`` answerable by SMS: the chosen option's branch runs.

    Takes :class:`SmsApprovalMixin`'s arguments and every argument of Airflow's ``HITLBranchOperator``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)


class SmsApprovalResponderOperator(LedgerUserMixin, BaseOperator):
    """Answer waiting HITL requests from the approvers' SMS replies in the ledger.

    Takes every reply it has not handled yet (consumer ``yxt_sms_approvals``), and for an
    approver's matching answer answers the request through Airflow's REST API: the first
    answer wins, whether by SMS or in the UI. Everything else is recorded in the ledger
    (``yxt_approval_outcomes``) and changes nothing. Returns the counts (XCom).

    :param airflow_api_conn_id: the ``http`` connection to Airflow's API server and the user
        that answers (see :class:`~yxt_provider.hooks.airflow_api.AirflowApiHook`).
    :param ledger_conn_id: the ledger the approval operators use.
    :param yxt_conn_id: the YXT connection, for ``acknowledge``.
    :param acknowledge: answer an approver whose reply changed nothing with a short text saying
        why (a closed question, an answer that matches no option, a missing code). Off by
        default: replies cost money. Needs ``template_id``.
    :param template_id: the template of those texts (``【Airflow】…``).
    :param consumer: the reply consumer name (one per deployment of responders).
    """

    template_fields: Sequence[str] = ("airflow_api_conn_id", "ledger_conn_id", "yxt_conn_id")
    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        airflow_api_conn_id: str = _DEFAULT_AIRFLOW_API_CONN_ID,
        ledger_conn_id: str | None = None,
        yxt_conn_id: str = DEFAULT_CONN_ID,
        acknowledge: bool = False,
        template_id: str | None = None,
        consumer: str = _DEFAULT_CONSUMER,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if acknowledge and not template_id:
            raise ValueError("acknowledge=True needs template_id: the template of the acknowledgement texts")
        self.airflow_api_conn_id = airflow_api_conn_id
        self.ledger_conn_id = ledger_conn_id
        self.yxt_conn_id = yxt_conn_id
        self.acknowledge = acknowledge
        self.template_id = template_id
        self.consumer = consumer

    def execute(self, context: Context) -> dict[str, Any]:
        """Handle every reply not handled yet, in batches of 500."""
        from yxt_provider.hooks.airflow_api import AirflowApiHook
        from yxt_provider.replies.responder import ResponderCounts, respond

        airflow = AirflowApiHook(self.airflow_api_conn_id)
        acknowledge = self._acknowledger() if self.acknowledge else None
        total = ResponderCounts()
        while True:
            with self.ledger.take_replies(self.consumer) as batch:
                counts = respond(batch, airflow, acknowledge)
                taken = len(batch.replies)
            total.answered += counts.answered
            total.unrelated += counts.unrelated
            for outcome, n in counts.outcomes.items():
                total.outcomes[outcome] = total.outcomes.get(outcome, 0) + n
            if taken < 500:
                break
        self.log.info(
            "Approvals by SMS: %d answered, others %s, %d replies about something else",
            total.answered, total.outcomes or "none", total.unrelated,
        )  # fmt: skip
        return {"answered": total.answered, "outcomes": total.outcomes, "unrelated": total.unrelated}

    def _acknowledger(self) -> Any:
        from yxt_provider.campaign.serials import serial_for_batch
        from yxt_provider.client.errors import YxtDuplicateSerialError
        from yxt_provider.hooks.yxt import YxtHook

        hook = YxtHook(self.yxt_conn_id)
        identity = self.ledger.identity
        template_id = self.template_id or ""

        def acknowledge(number: str, hint: str, reply_key: str) -> None:
            # One text per reply, whatever happens: the serial is the reply's.
            try:
                hook.send(
                    [number],
                    f"【Airflow】{hint}",
                    template_id,
                    serial_for_batch(f"ack\x1f{reply_key}", 0, identity),
                )
            except YxtDuplicateSerialError:
                pass
            except Exception as exc:  # an unsent acknowledgement must not undo the handling
                self.log.warning("No acknowledgement SMS: %s: %s", type(exc).__name__, exc)

        return acknowledge
