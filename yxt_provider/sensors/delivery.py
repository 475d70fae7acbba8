"""``SmsDeliverySensor``: wait until a campaign's messages are delivered, without holding a worker.

Timeouts are Airflow's own: ``timeout`` bounds the wait in both modes, and ``soft_fail``
turns a timeout into a skip, exactly as for every Airflow sensor. ``on_timeout`` only adds
the third outcome Airflow has no flag for (``succeed``: return the report anyway) and is
checked against ``soft_fail``/``never_fail`` when the DAG is parsed, so the two never say
different things.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
)

from yxt_provider.get_provider_info import DEFAULT_CONN_ID
from yxt_provider.hooks.ledger import LedgerUserMixin
from yxt_provider.ledger.report import pending_timeout_of
from yxt_provider.ledger.report import result_meanings as result_meanings_of
from yxt_provider.receipts.conditions import (
    DeliveryOutcome,
    describe_condition,
    evaluate_condition,
    validate_condition,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from yxt_provider.campaign.group import CampaignGroup
    from yxt_provider.hooks.yxt import YxtHook
    from yxt_provider.ledger import DeliveryReport
    from yxt_provider.receipts.ingest import IngestResult

__all__ = [
    "ON_TIMEOUT_CHOICES",
    "SmsDeliverySensor",
    "SmsDeliveryUnreachable",
    "default_deferrable",
    "timeout_outcome",
]

#: What ``on_timeout`` may say.
ON_TIMEOUT_CHOICES = ("fail", "succeed", "skip")
# The trigger reports "timeout" itself at the deadline; the deferral timeout Airflow enforces is
# only a backstop for a trigger that stopped polling, so it gets this much slack.
_DEFER_TIMEOUT_SLACK = timedelta(minutes=5)


def default_deferrable() -> bool:
    """``[yxt] default_deferrable``, else ``[operators] default_deferrable``, else False."""
    from airflow.configuration import conf

    fallback = conf.getboolean("operators", "default_deferrable", fallback=False)
    return conf.getboolean("yxt", "default_deferrable", fallback=fallback)


class SmsDeliveryUnreachable(AirflowSensorTimeout):
    """The condition can no longer be met: every message is final and too few were delivered.

    Handled like a timeout (``on_timeout``), only earlier: waiting longer cannot help.
    """


def timeout_outcome(on_timeout: str | None, *, soft_fail: bool, never_fail: bool) -> str:
    """What a timeout does, from ``on_timeout`` and Airflow's own ``soft_fail`` / ``never_fail``.

    ``skip`` is Airflow's ``soft_fail``: either one implies the other. A combination that says
    two things (``soft_fail=True`` with ``on_timeout="fail"``) is refused when the DAG is parsed.

    :param on_timeout: ``fail``, ``succeed``, ``skip``, or ``None`` to follow ``soft_fail``.
    :param soft_fail: the sensor's ``soft_fail``.
    :param never_fail: the sensor's ``never_fail`` (skips on a timeout too).
    :raises ValueError: for an unknown value or a contradiction.
    """
    skips = soft_fail or never_fail
    if on_timeout is None:
        return "skip" if skips else "fail"
    if on_timeout not in ON_TIMEOUT_CHOICES:
        raise ValueError(f"on_timeout must be one of {', '.join(ON_TIMEOUT_CHOICES)}; got {on_timeout!r}")
    if skips and on_timeout != "skip":
        flag = "soft_fail" if soft_fail else "never_fail"
        raise ValueError(
            f"{flag}=True skips the task when the wait times out, but on_timeout={on_timeout!r} says otherwise; "
            f"use on_timeout='skip' (the same as soft_fail=True) or drop {flag}"
        )
    return on_timeout


class SmsDeliverySensor(LedgerUserMixin, BaseSensorOperator):
    """Wait for a campaign's delivery receipts to reach a condition.

    Each poke drains the account's receipt queue into the ledger (every receipt read is
    stored, whoever sent it: the queue is read-once and shared) and then judges the
    campaign from the ledger. So no separate receipts-sync DAG is needed, though one helps
    when several sensors wait at once.

    With ``deferrable=True`` the wait runs in the triggerer
    (:class:`~yxt_provider.triggers.delivery.SmsDeliveryTrigger`), polling asynchronously,
    and no worker slot is held. Either way the task returns (XCom) the campaign's delivery
    report as a small dict (counts only, never a phone number) plus ``outcome``
    (``met``, ``timeout`` or ``unreachable``), and logs it as a table.

    Given the shards of a mapped send (``campaign_id=send.output`` after
    ``SendSmsOperator.partial(...).expand(...)``), it waits for them as one campaign group:
    the condition applies to the shards' combined counts, and the report has a per-shard
    table (XCom key ``shards``). Shards that recorded no campaign are named
    (``missing_shards``) and not waited for; when no shard recorded one, the task fails.

    :param campaign_id: the campaign to wait for (templated): an id, the send task's summary
        dict, so ``campaign_id=send.output`` works (``send.output["campaign_id"]`` would name an
        XCom *key*, which ``SendSmsOperator`` does not push), or a sequence of ids or summaries
        (``send.output`` of a mapped send): a campaign group. An empty sequence fails the task.
    :param yxt_conn_id: the YXT connection to drain receipts with (templated); ``None`` to only
        read the ledger (when a sync DAG ingests receipts).
    :param ledger_conn_id: the ledger's SQL connection (templated); default the embedded SQLite file.
    :param condition: ``all_final`` (every message delivered or failed) or ``delivered_share``
        (delivered / sent at or above ``min_delivered_share``).
    :param min_delivered_share: the threshold for ``delivered_share``, in (0, 1].
    :param on_timeout: what happens when ``timeout`` passes — or, for ``delivered_share``,
        as soon as every message is final below the threshold: ``fail`` (the task fails, no
        retry), ``succeed`` (the task succeeds, ``outcome`` says ``timeout``) or ``skip``
        (the task is skipped: Airflow's ``soft_fail``, which implies it). Default: ``skip``
        when ``soft_fail`` is set, else ``fail``.
    :param pending_timeout: seconds (or a timedelta) after which a message still without a
        receipt counts as ``pending_past_timeout`` in the report; ``None`` to not count them.
    :param max_pages_per_poke: receipt pages read at most per poke.
    :param max_seconds_per_poke: seconds spent reading receipts at most per poke.
    :param deferrable: wait in the triggerer. Default: ``[yxt] default_deferrable``, else
        ``[operators] default_deferrable`` (False).
    :param poke_interval: seconds between pokes (default 60).
    :param timeout: seconds to wait in all (default 2 hours).
    :param result_meanings: what failure result codes mean for this account
        (``{2: "空号"}``); printed beside the codes in the report and included in its dict.
    """

    template_fields: Sequence[str] = ("campaign_id", "yxt_conn_id", "ledger_conn_id")
    ui_color = "#e3f0f7"

    def __init__(
        self,
        *,
        campaign_id: Any,
        yxt_conn_id: str | None = DEFAULT_CONN_ID,
        ledger_conn_id: str | None = None,
        condition: str = "all_final",
        min_delivered_share: float | None = None,
        on_timeout: str | None = None,
        pending_timeout: float | timedelta | None = None,
        max_pages_per_poke: int = 100,
        max_seconds_per_poke: float = 30.0,
        deferrable: bool | None = None,
        poke_interval: float | timedelta = 60.0,
        timeout: float | timedelta = 2 * 3600,
        result_meanings: Mapping[Any, str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.on_timeout = timeout_outcome(
            on_timeout, soft_fail=bool(kwargs.get("soft_fail")), never_fail=bool(kwargs.get("never_fail"))
        )
        if self.on_timeout == "skip" and not kwargs.get("never_fail"):
            kwargs["soft_fail"] = True
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.min_delivered_share = validate_condition(condition, min_delivered_share)
        if max_pages_per_poke < 1:
            raise ValueError(f"max_pages_per_poke must be at least 1, got {max_pages_per_poke}")
        self.campaign_id = campaign_id
        self.yxt_conn_id = yxt_conn_id
        self.ledger_conn_id = ledger_conn_id
        self.condition = condition
        self.pending_timeout = pending_timeout_of(pending_timeout)
        self.max_pages_per_poke = max_pages_per_poke
        self.max_seconds_per_poke = max_seconds_per_poke
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.result_meanings = result_meanings_of(result_meanings)

    # -- resources (built on first use, on the worker; never at parse time) ----------------

    @cached_property
    def yxt_hook(self) -> YxtHook | None:
        """The hook receipts are read with (``None`` when ``yxt_conn_id`` is ``None``)."""
        from yxt_provider.hooks.yxt import YxtHook

        return YxtHook(self.yxt_conn_id) if self.yxt_conn_id else None

    # -- the wait -----------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        """Check once; then wait by poking (worker) or deferring (triggerer)."""
        self._group = self._resolve_group(context)
        campaign_id = self._group.label
        try:
            if self.deferrable:
                return self._check_then_defer(campaign_id)
            try:
                return super().execute(context)
            except AirflowSkipException as exc:  # soft_fail made a timeout (or a failed poke) a skip
                self._log_give_up(campaign_id, str(exc))
                raise
            except AirflowSensorTimeout as exc:
                outcome = (
                    DeliveryOutcome.UNREACHABLE
                    if isinstance(exc, SmsDeliveryUnreachable)
                    else DeliveryOutcome.TIMEOUT
                )
                return self._give_up(campaign_id, outcome, str(exc))
        finally:
            if self.yxt_hook is not None:
                self.yxt_hook.close()

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """Drain receipts into the ledger, then judge the campaign from the ledger."""
        outcome, report = self._check(self._target(context).label)
        if outcome is DeliveryOutcome.MET:
            return PokeReturnValue(is_done=True, xcom_value=self._succeed(report, outcome))
        if outcome is DeliveryOutcome.UNREACHABLE:
            raise SmsDeliveryUnreachable(self._unreachable_message(report))
        return False

    def execute_complete(self, context: Context, event: Mapping[str, Any] | None = None) -> Any:
        """Resume after the trigger fired: succeed, give up as ``on_timeout`` says, or fail on an error.

        Raising ``AirflowSensorTimeout`` here hands the outcome to Airflow's own handling:
        ``soft_fail`` turns it into a skip.
        """
        event = dict(event or {})
        status = event.get("status")
        # From the rendered campaign_id again (dag.test() drops defer kwargs): the shards' ids are
        # deterministic, and the missing ones are only known here.
        group = self._group = self._resolve_group(context, check=False)
        campaign_id = group.label if group.grouped else str(event.get("campaign_id") or group.label)
        ingested = event.get("ingested") or {}
        self.log.info(
            "Trigger finished after %s polls (%s): ingested %s receipts (%s ours, %s for other senders)",
            event.get("polls"), status, ingested.get("read", 0), ingested.get("matched", 0),
            ingested.get("unmatched", 0),
        )  # fmt: skip
        if status == DeliveryOutcome.MET.value:
            return self._succeed(self._report(campaign_id), DeliveryOutcome.MET)
        if status in (DeliveryOutcome.TIMEOUT.value, DeliveryOutcome.UNREACHABLE.value):
            return self._give_up(campaign_id, DeliveryOutcome(status), str(event.get("message")))
        raise AirflowException(f"waiting for campaign {campaign_id} failed: {event.get('message', event)}")

    # -- helpers ------------------------------------------------------------------------------

    def _check_then_defer(self, campaign_id: str) -> Any:
        # One look on the worker first, so a campaign already done never defers.
        from yxt_provider.triggers.delivery import SmsDeliveryTrigger

        outcome, report = self._check(campaign_id)
        if outcome is DeliveryOutcome.MET:
            return self._succeed(report, outcome)
        if outcome is DeliveryOutcome.UNREACHABLE:
            return self._give_up(campaign_id, outcome, self._unreachable_message(report))
        self.log.info(
            "Deferring: the triggerer waits for campaign %s (%s), polling every %ss for up to %ss",
            campaign_id, self._wanted(), self.poke_interval, self.timeout,
        )  # fmt: skip
        from yxt_provider.campaign.group import recorded

        self.defer(
            trigger=SmsDeliveryTrigger(
                # Ids, never reports: a group's trigger polls only the shards that recorded a campaign.
                campaign_id=list(recorded(report)) if report.shards else campaign_id,
                settled_unsent=list(self._target().settled_unsent),
                yxt_conn_id=self.yxt_conn_id,
                ledger_conn_id=self.ledger_conn_id,
                condition=self.condition,
                min_delivered_share=self.min_delivered_share,
                # Absolute, so the trigger decides the timeout itself and says so in its event.
                deadline=time.time() + self.timeout,
                poke_interval=self.poke_interval,
                max_pages_per_poke=self.max_pages_per_poke,
                max_seconds_per_poke=self.max_seconds_per_poke,
            ),
            method_name="execute_complete",
            # Airflow's own deferral timeout is the backstop for a trigger that stopped polling.
            timeout=timedelta(seconds=self.timeout) + _DEFER_TIMEOUT_SLACK,
        )

    def _check(self, campaign_id: str) -> tuple[DeliveryOutcome, DeliveryReport]:
        from yxt_provider.client.errors import YxtError
        from yxt_provider.receipts.ingest import drain_receipts

        hook = self.yxt_hook
        if hook is not None:
            try:
                ingest = drain_receipts(
                    hook,
                    self.ledger,
                    max_pages=self.max_pages_per_poke,
                    max_seconds=self.max_seconds_per_poke,
                )
                self._log_ingest(ingest)
            except YxtError as exc:
                if not exc.retryable:
                    raise AirflowFailException(f"reading delivery receipts failed: {exc}") from exc
                # The client already retried; judge from the ledger and try again next poke.
                self.log.warning("Reading delivery receipts failed (%s); will try again next poke", exc)
        from yxt_provider.campaign.group import judged_report

        report = self._report(campaign_id)
        judged = judged_report(report, self._target().settled_unsent)
        outcome = evaluate_condition(judged, self.condition, self.min_delivered_share)
        what = f"Campaign group ({len(report.shards)} shards)" if report.shards else "Campaign"
        self.log.info(
            "%s %s: %d delivered, %d failed, %d pending of %d sent (%.1f%% delivered); waiting for %s: %s",
            what, campaign_id, report.delivered, report.failed, report.pending, report.sent,
            100 * report.delivered_share, self._wanted(), outcome.value,
        )  # fmt: skip
        return outcome, report

    def _log_ingest(self, ingest: IngestResult) -> None:
        if ingest.read:
            self.log.info(
                "Ingested %d receipts in %d pages: %d settled our messages, %d for other senders or "
                "already final, %d already stored",
                ingest.read, ingest.pages, ingest.matched, ingest.unmatched, ingest.duplicates,
            )  # fmt: skip

    def _resolve_group(self, context: Context, *, check: bool = True) -> CampaignGroup:
        """The campaign (group) to wait for; with ``check``, fail when the ledger has none of it, warn of missing shards."""
        from yxt_provider.campaign.group import group_report, recorded
        from yxt_provider.operators.groups import campaign_group_in, no_campaign_recorded

        group = campaign_group_in(self.campaign_id, self, context)
        if not group.grouped:
            if check:
                self.ledger_hook.require_campaign(group.label)
            return group
        if check:
            report = group_report(self.ledger, group)
            if not recorded(report):
                raise no_campaign_recorded(group, self.ledger_conn_id)
            missing = [shard for shard in report.shards if shard.campaign_id in report.missing_shards]
            settled = [shard for shard in report.shards if shard.campaign_id in group.settled_unsent]
            if settled:
                self.log.warning(
                    "%d of %d shards of campaign group %s failed for good; their %d unsent recipients are not "
                    "waited for (their sent messages are): %s",
                    len(settled), len(group.shards), group.label, sum(shard.not_sent for shard in settled),
                    ", ".join(shard.campaign_id for shard in settled),
                )  # fmt: skip
            if missing:
                self.log.warning(
                    "%d of %d shards of campaign group %s recorded no campaign and are not waited for: %s",
                    len(missing), len(group.shards), group.label,
                    "; ".join(f"{shard.campaign_id} ({shard.error})" for shard in missing),
                )  # fmt: skip
        return group

    def _target(self, context: Context | None = None) -> CampaignGroup:
        group: CampaignGroup | None = getattr(self, "_group", None)
        if group is None:  # poke() called without execute() (a test, or an older caller)
            from yxt_provider.operators.groups import campaign_group_in

            group = self._group = campaign_group_in(self.campaign_id, self, context)
        return group

    def _report(self, campaign_id: str) -> DeliveryReport:
        from yxt_provider.campaign.group import group_report

        return group_report(self.ledger, self._target(), pending_timeout=self.pending_timeout)

    def _wanted(self) -> str:
        return describe_condition(self.condition, self.min_delivered_share)

    def _unreachable_message(self, report: DeliveryReport) -> str:
        return (
            f"campaign {report.campaign_id} cannot reach {self._wanted()}: every message is final and "
            f"{report.delivered_share:.2%} were delivered"
        )

    def _result(self, report: DeliveryReport, outcome: DeliveryOutcome) -> dict[str, Any]:
        return {**report.to_dict(self.result_meanings), "outcome": outcome.value, "condition": self.condition}

    def _succeed(self, report: DeliveryReport, outcome: DeliveryOutcome) -> dict[str, Any]:
        self.log.info(
            "Delivery condition met (%s).\n%s", self._wanted(), report.as_table(self.result_meanings)
        )
        return self._result(report, outcome)

    def _log_give_up(self, campaign_id: str, message: str) -> DeliveryReport:
        report = self._report(campaign_id)
        self.log.warning(
            "%s; on_timeout=%s.\n%s", message, self.on_timeout, report.as_table(self.result_meanings)
        )
        return report

    def _give_up(self, campaign_id: str, outcome: DeliveryOutcome, message: str) -> dict[str, Any]:
        """Log the report, then succeed with it, or raise the timeout for Airflow to fail or skip on."""
        report = self._log_give_up(campaign_id, message)
        if self.on_timeout == "succeed":
            return self._result(report, outcome)
        if self.soft_fail or self.never_fail:
            raise AirflowSkipException(message)
        if outcome is DeliveryOutcome.UNREACHABLE:
            raise SmsDeliveryUnreachable(message)
        raise AirflowSensorTimeout(message)
