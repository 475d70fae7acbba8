"""``SmsDeliveryTrigger``: waits in the triggerer for a campaign's delivery, ingesting receipts as it goes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from yxt_provider.campaign.group import CampaignGroup, Shard, group_report, judged_report
from yxt_provider.client.errors import YxtError
from yxt_provider.hooks.ledger import open_ledger
from yxt_provider.receipts.conditions import (
    DeliveryOutcome,
    describe_condition,
    evaluate_condition,
    validate_condition,
)
from yxt_provider.receipts.ingest import IngestResult, adrain_receipts

if TYPE_CHECKING:
    from yxt_provider.client import YxtClient
    from yxt_provider.hooks.yxt import YxtHook

__all__ = ["SmsDeliveryTrigger"]

STATUS_ERROR = "error"


class SmsDeliveryTrigger(BaseTrigger):
    """Poll until a campaign meets its delivery condition or the deadline passes.

    Each poll drains the account's receipt queue into the ledger (in a worker thread: the
    client and ledger are synchronous), then judges the campaign's report from the ledger.
    Everything it reads is stored, whichever campaign or sender it belongs to.

    Given a list of campaign ids (the recorded shards of a mapped send), it waits for them
    as one campaign group: each poll reads the shards' reports together (the same few
    statements for any number of shards) and judges their combined counts; the event's
    ``campaign_id`` is then the group's label and ``campaign_ids`` the list.

    Fires one event, a dict with ``status`` (``met``, ``unreachable``, ``timeout`` or
    ``error``), ``campaign_id``, ``message``, the last counts (``delivered``, ``failed``,
    ``pending``, ``sent``, ``total``), ``polls`` and ``ingested`` (totals of the drains).
    The event holds everything the sensor needs to resume (``dag.test()`` drops the kwargs
    given to ``defer``).

    :param campaign_id: the campaign to wait for, or a list of campaign ids: a campaign group.
        Ids only, so the serialised kwargs stay small.
    :param yxt_conn_id: the YXT connection to drain receipts with; ``None`` only reads the ledger
        (when a separate sync DAG ingests).
    :param ledger_conn_id: the ledger's SQL connection; ``None`` for the embedded SQLite file.
    :param condition: ``all_final`` or ``delivered_share``.
    :param min_delivered_share: the threshold for ``delivered_share``.
    :param deadline: Unix time after which the trigger reports ``timeout``.
    :param poke_interval: seconds between polls.
    :param max_pages_per_poke: receipt pages to read at most per poll.
    :param max_seconds_per_poke: seconds to spend reading receipts at most per poll.
    :param settled_unsent: campaign ids whose sends failed for good: their unsent messages
        count as settled, so the wait can end (their sent messages are still waited for).
    """

    def __init__(
        self,
        *,
        campaign_id: str | Sequence[str],
        yxt_conn_id: str | None,
        ledger_conn_id: str | None,
        condition: str,
        min_delivered_share: float | None,
        deadline: float,
        poke_interval: float = 60.0,
        max_pages_per_poke: int = 100,
        max_seconds_per_poke: float = 30.0,
        settled_unsent: Sequence[str] = (),
    ) -> None:
        super().__init__()
        validate_condition(condition, min_delivered_share)
        if not isinstance(campaign_id, str):
            campaign_id = [str(cid) for cid in campaign_id]
            if not campaign_id:
                raise ValueError(
                    "campaign_id is an empty list: a campaign group needs at least one campaign id"
                )
        self.campaign_id: str | list[str] = campaign_id
        self.group = CampaignGroup(
            tuple(Shard(cid) for cid in ([campaign_id] if isinstance(campaign_id, str) else campaign_id)),
            grouped=not isinstance(campaign_id, str),
        )
        self.yxt_conn_id = yxt_conn_id
        self.ledger_conn_id = ledger_conn_id
        self.condition = condition
        self.min_delivered_share = min_delivered_share
        self.deadline = float(deadline)
        self.poke_interval = float(poke_interval)
        self.max_pages_per_poke = int(max_pages_per_poke)
        self.max_seconds_per_poke = float(max_seconds_per_poke)
        self.settled_unsent = [str(cid) for cid in settled_unsent]

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and JSON-able kwargs; connection ids only, never credentials."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "campaign_id": self.campaign_id,
                "yxt_conn_id": self.yxt_conn_id,
                "ledger_conn_id": self.ledger_conn_id,
                "condition": self.condition,
                "min_delivered_share": self.min_delivered_share,
                "deadline": self.deadline,
                "poke_interval": self.poke_interval,
                "max_pages_per_poke": self.max_pages_per_poke,
                "max_seconds_per_poke": self.max_seconds_per_poke,
                "settled_unsent": self.settled_unsent,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Drain, judge, sleep; yield one event when the wait is over."""
        hook: YxtHook | None = None
        client: YxtClient | None = None
        # Hooks are built here, in the triggerer, never carried over from the worker.
        if self.yxt_conn_id:
            from yxt_provider.hooks.yxt import YxtHook

            hook = YxtHook(self.yxt_conn_id)
        try:
            if hook is not None:
                try:
                    client = await hook.aget_conn()
                except Exception as exc:  # a missing or invalid connection: nothing to retry
                    yield self._event(STATUS_ERROR, f"cannot use YXT connection {self.yxt_conn_id!r}: {exc}")
                    return
            ledger = await asyncio.to_thread(open_ledger, self.ledger_conn_id)
            ingested = IngestResult()
            polls = 0
            while True:
                polls += 1
                if client is not None:
                    try:
                        ingested += await adrain_receipts(
                            client,
                            ledger,
                            max_pages=self.max_pages_per_poke,
                            max_seconds=self.max_seconds_per_poke,
                        )
                    except YxtError as exc:
                        if not exc.retryable:
                            # Credentials, IP allow-list, signature: waiting will not fix these.
                            yield self._event(
                                STATUS_ERROR,
                                f"reading receipts failed: {exc}",
                                polls=polls,
                                ingested=ingested,
                            )
                            return
                        # The client already retried; a gateway blip must not end the wait.
                        self.log.warning("Reading receipts failed (%s); will try again next poll", exc)
                report = await asyncio.to_thread(group_report, ledger, self.group)
                judged = judged_report(report, self.settled_unsent)
                outcome = evaluate_condition(judged, self.condition, self.min_delivered_share)
                if outcome is DeliveryOutcome.WAITING and time.time() >= self.deadline:
                    outcome = DeliveryOutcome.TIMEOUT
                if outcome is not DeliveryOutcome.WAITING:
                    counts = {
                        k: getattr(report, k) for k in ("total", "sent", "delivered", "failed", "pending")
                    }
                    yield self._event(
                        outcome.value, _describe(outcome, report.delivered_share, self), polls=polls,
                        ingested=ingested, **counts,
                    )  # fmt: skip
                    return
                self.log.info(
                    "Campaign %s: %d delivered, %d failed, %d pending of %d sent; waiting",
                    self.group.label, report.delivered, report.failed, report.pending, report.sent,
                )  # fmt: skip
                await asyncio.sleep(max(0.0, min(self.poke_interval, self.deadline - time.time())))
        finally:
            if hook is not None:
                hook.close()

    def _event(self, status: str, message: str, *, polls: int = 0, ingested: IngestResult | None = None,
               **counts: Any) -> TriggerEvent:  # fmt: skip
        ids = {"campaign_ids": list(self.group.campaign_ids)} if self.group.grouped else {}
        return TriggerEvent(
            {
                "status": status,
                "campaign_id": self.group.label,
                **ids,
                "message": message,
                "polls": polls,
                "ingested": (ingested or IngestResult()).to_dict(),
                **counts,
            }
        )


def _describe(outcome: DeliveryOutcome, share: float, trigger: SmsDeliveryTrigger) -> str:
    wanted = describe_condition(trigger.condition, trigger.min_delivered_share)
    if outcome is DeliveryOutcome.MET:
        return f"campaign {trigger.group.label} reached {wanted}"
    if outcome is DeliveryOutcome.UNREACHABLE:
        return (
            f"campaign {trigger.group.label} cannot reach {wanted}: every message is final and "
            f"{share:.2%} were delivered"
        )
    return f"campaign {trigger.group.label} did not reach {wanted} before the sensor's timeout"
