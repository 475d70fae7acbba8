"""``YxtSmsNotifier``: a text to on-call staff when a task fails, retries, succeeds or misses its deadline.

A thin shell over :mod:`yxt_provider.alerting`: the callback context becomes an
:class:`~yxt_provider.alerting.event.AlertEvent`, the event gives the text and the serial,
and the hook sends it. Sending is the notifier's whole job, so it never fails the task it
reports on: every failure to notify is logged with its reason and swallowed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from yxt_provider.get_provider_info import DEFAULT_CONN_ID
from yxt_provider.notifications._recipients import numbers_to_text

if TYPE_CHECKING:
    from airflow.sdk import Context

    from yxt_provider.alerting.event import AlertEvent
    from yxt_provider.hooks.yxt import YxtHook

__all__ = ["YxtSmsNotifier", "send_yxt_sms_notification"]


class YxtSmsNotifier(BaseNotifier):
    """Send an SMS about a task, DAG or deadline event through the YXT gateway.

    Use it as ``on_failure_callback``, ``on_retry_callback``, ``on_success_callback``, a DAG
    callback, the ``notifiers`` of a human-in-the-loop operator, or — run in the triggerer
    through :meth:`async_notify` — a deadline alert::

        DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=timedelta(minutes=30),
            callback=AsyncCallback(YxtSmsNotifier, kwargs={"recipients": ["13800138000"], "template_id": "..."}),
        )

    **One event, one SMS.** The serial is derived from the event (dag, run, task, map index,
    try, what happened), what this notifier sends to whom, and this deployment's ledger
    identity, so a callback that fires twice for one event — in one process or two — sends
    one SMS: the gateway answers the repeat with code 15, which counts as sent. Two notifiers
    with other recipients on one event send one SMS each.

    Numbers are never logged in full, and a failure to notify (gateway down, wrong
    connection, no valid number) is logged with the reason and never raises into the task.

    :param recipients: the numbers to text: a list or a comma-separated string (templated,
        e.g. ``"{{ var.value.oncall_numbers }}"``).
    :param template_id: the gateway template the text fits (templated). A real gateway sends
        only text matching a registered template: register one for alerts.
    :param text: the message (templated); default: one SMS (70 characters) with the DAG,
        task, try, run and the start of the error, e.g.
        ``【Airflow】billing.load 失败 第2次 12-01 09:00：ValueError: bad row 17``.
    :param yxt_conn_id: the YXT connection (templated).
    :param final_failure_only: send only when no retry is left, so nobody is paged by a
        failure the next try fixes (Airflow calls failure callbacks also when a retry follows
        after a worker restart: apache/airflow#56942).
    :param include_log_url: append the task's log URL to the default text (costs more messages).
    :param deployment_key: what tells this Airflow deployment from another on the same account
        in the serial; default: the ledger's identity (``ledger_conn_id``).
    :param ledger_conn_id: the ledger whose identity keys the serial; default the embedded
        SQLite file. Not needed with ``deployment_key``.
    :param kind: what happened, when the context cannot tell (``failure``, ``retry``, …);
        default: read from the task instance's state.
    """

    template_fields: Sequence[str] = ("text", "recipients", "yxt_conn_id", "template_id")

    def __init__(
        self,
        *,
        recipients: Sequence[str] | str,
        template_id: str,
        text: str | None = None,
        yxt_conn_id: str = DEFAULT_CONN_ID,
        final_failure_only: bool = False,
        include_log_url: bool = False,
        deployment_key: str | None = None,
        ledger_conn_id: str | None = None,
        kind: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)  # "context": given by a deadline alert's callback
        self.recipients = recipients
        self.template_id = template_id
        self.text = text
        self.yxt_conn_id = yxt_conn_id
        self.final_failure_only = final_failure_only
        self.include_log_url = include_log_url
        self.deployment_key = deployment_key
        self.ledger_conn_id = ledger_conn_id
        self.kind = kind

    def notify(self, context: Context) -> None:
        """Send the SMS for this event (in the task's process or the DAG processor)."""
        from yxt_provider.hooks.yxt import YxtHook

        hook = YxtHook(self.yxt_conn_id)
        try:
            self._send(hook, context)
        except Exception as exc:  # a failed alert must never change the task's own outcome
            self._log_failure(exc)
        finally:
            hook.close()

    async def async_notify(self, context: Context) -> None:
        """Send the SMS from an event loop (the triggerer, for deadline alerts) without blocking it."""
        from yxt_provider.hooks.yxt import YxtHook

        hook = YxtHook(self.yxt_conn_id)
        try:
            await hook.aget_settings()  # the connection lookup is async; the request runs in a thread
            await asyncio.to_thread(self._send, hook, context)
        except Exception as exc:
            self._log_failure(exc)
        finally:
            hook.close()

    def _send(self, hook: YxtHook, context: Context) -> None:
        from yxt_provider.alerting.event import AlertEvent
        from yxt_provider.alerting.text import default_text
        from yxt_provider.campaign.planning import check_content
        from yxt_provider.client.errors import YxtDuplicateSerialError
        from yxt_provider.client.protocol import MAX_NUMBERS_PER_REQUEST

        event = AlertEvent.from_context(context, self.kind)
        if self.final_failure_only and event.retries_left:
            self.log.info(
                "No SMS for %s try %s: a retry follows (final_failure_only)", event.task_id, event.try_number
            )
            return
        numbers = numbers_to_text(
            self.recipients,
            self.log,
            "Alert SMS",
            "no valid recipient number; check the notifier's recipients",
        )
        text = self.text or default_text(event, log_url=self.include_log_url)
        check_content(text)
        key = self._deployment_key()
        audience = "\x1f".join([self.template_id, text, *sorted(numbers)])
        refused = 0
        for index, start in enumerate(range(0, len(numbers), MAX_NUMBERS_PER_REQUEST)):
            batch = numbers[start : start + MAX_NUMBERS_PER_REQUEST]
            try:
                refused += len(
                    hook.send(batch, text, self.template_id, event.serial(audience, index, key)).refused
                )
            except YxtDuplicateSerialError:
                self.log.info(
                    "Alert SMS for this %s event was already sent (a repeated callback)", event.kind
                )
                continue
        if refused:
            # The client logged which (masked); the others still got the alert.
            self.log.warning(
                "Alert SMS for %s: the gateway refused %d of %d recipients (data.failList)",
                _about(event), refused, len(numbers),
            )  # fmt: skip
        self.log.info("Alert SMS for %s sent to %d recipients", _about(event), len(numbers) - refused)

    def _deployment_key(self) -> str:
        if self.deployment_key is not None:
            return self.deployment_key
        from yxt_provider.hooks.ledger import open_ledger

        try:
            return open_ledger(self.ledger_conn_id).identity
        except Exception as exc:
            # Without the key two deployments' alerts for one run id could share a serial;
            # that is worth a warning, not a lost alert.
            self.log.warning("Alert SMS: cannot read the ledger's identity (%s); serials without it", exc)
            return ""

    def _log_failure(self, exc: BaseException) -> None:
        from yxt_provider.client.errors import YxtProtocolError, YxtTransportError

        # Refused, unknown host, TLS, no connection: the request never reached the gateway.
        answer_lost = (
            isinstance(exc, YxtTransportError)
            and (exc.kind == "reset" or exc.cause.startswith("connected, but no answer"))
        ) or (isinstance(exc, YxtProtocolError) and exc.status == 200)
        if answer_lost:
            # The gateway may have taken the request: saying "not sent" would invite a manual repeat.
            self.log.error(
                "The alert SMS may have been sent, but the gateway's answer was lost; a repeated "
                "callback for this event sends nothing twice: %s: %s", type(exc).__name__, exc,
            )  # fmt: skip
            return
        self.log.error("No alert SMS was sent: %s: %s", type(exc).__name__, exc)


def _about(event: AlertEvent) -> str:
    what = event.dag_id if event.task_id is None else f"{event.dag_id}.{event.task_id}"
    return f"{what} ({event.kind})"


send_yxt_sms_notification = YxtSmsNotifier
"""The notifier under the name Airflow's notifiers also have (``send_*_notification``)."""
