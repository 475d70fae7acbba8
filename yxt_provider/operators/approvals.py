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

from yxt_provider.get_provider_info import APPROVALS_CONSUMER, DEFAULT_AIRFLOW_API_CONN_ID, DEFAULT_CONN_ID
from yxt_provider.hooks.ledger import LedgerUserMixin
from yxt_provider.notifications.approval import YxtSmsApprovalNotifier

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "REPLIES_PER_BATCH",
    "SmsApprovalMixin",
    "SmsApprovalOperator",
    "SmsApprovalResponderOperator",
    "SmsHITLBranchOperator",
    "SmsHITLOperator",
]

#: Replies the responder handles per transaction: Airflow is asked about each inside it, and on
#: SQLite that transaction holds the database's write lock.
REPLIES_PER_BATCH = 25


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
        # An SMS cannot fill a form: its answer sends the fields' defaults, so each needs one.
        params: Any = getattr(self, "params", None) or {}  # a ParamsDict (HITLOperator makes one)
        if missing := [name for name in params if not params.get_param(name).has_value]:
            raise ValueError(
                f"{type(self).__name__} {kwargs.get('task_id')!r}: an SMS answer cannot fill the form fields "
                f"{missing}; give each a default (Param(default, ...)) or answer in the UI only"
            )


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
    An SMS cannot fill a form: a request with ``params`` gets their defaults, so each needs one
    (refused when the DAG is parsed otherwise).
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
        airflow_api_conn_id: str = DEFAULT_AIRFLOW_API_CONN_ID,
        ledger_conn_id: str | None = None,
        yxt_conn_id: str = DEFAULT_CONN_ID,
        acknowledge: bool = False,
        template_id: str | None = None,
        consumer: str = APPROVALS_CONSUMER,
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
        """Handle every reply not handled yet, a few per transaction; acknowledge once each has committed."""
        from yxt_provider.hooks.airflow_api import AirflowApiHook
        from yxt_provider.replies.responder import ResponderCounts, respond

        airflow = AirflowApiHook(self.airflow_api_conn_id)
        acknowledge = self._acknowledger() if self.acknowledge else None
        total = ResponderCounts()
        while True:
            with self.ledger.take_replies(self.consumer, limit=REPLIES_PER_BATCH) as batch:
                counts = respond(batch, airflow)
                taken = len(batch.replies)
            # After the commit: a batch rolled back and handled again never sends a text twice
            # (and each text's serial is its reply's, so a repeat is refused by the gateway).
            if acknowledge is not None:
                for number, hint, reply_key in counts.acknowledgements:
                    acknowledge(number, hint, reply_key)
            total.add(counts)
            if taken < REPLIES_PER_BATCH:
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
            serial = serial_for_batch(f"ack\x1f{reply_key}", 0, identity)
            try:
                hook.send([number], f"【Airflow】{hint}", template_id, serial)
            except YxtDuplicateSerialError:
                pass
            except Exception as exc:  # an unsent acknowledgement must not undo the handling
                self.log.warning("No acknowledgement SMS: %s: %s", type(exc).__name__, exc)

        return acknowledge
