"""The delivery ledger's API: :class:`Ledger`, the one class callers use.

It holds no SQL of its own: the send side (campaigns, batches, messages) is
:mod:`~yxt_provider.ledger.send_store`, the receipt side
:mod:`~yxt_provider.ledger.receipt_store`, the reply side
:mod:`~yxt_provider.ledger.reply_store`, the reports
:mod:`~yxt_provider.ledger.read_models`, and everything a backend does differently
:mod:`~yxt_provider.ledger.dialects`. A new table (opt-outs next) adds its schema, a
migration step, one store module, one read model, and the methods here that expose them.

Every write is one short transaction, so a process killed at any instant leaves the ledger
at a state some earlier call committed. Nothing here logs a phone number.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from yxt_provider.client.numbers import normalize_numbers
from yxt_provider.ledger import (
    opt_out_store,
    pace_store,
    read_models,
    receipt_store,
    reply_store,
    send_store,
)
from yxt_provider.ledger.engine import create_ledger_engine
from yxt_provider.ledger.errors import LedgerError, UnknownBatchError, UnknownCampaignError
from yxt_provider.ledger.migrations import ensure_schema
from yxt_provider.ledger.models import (
    AccountPace,
    AttemptStart,
    BatchRecord,
    CampaignRecord,
    DeliveryReport,
    ExcludedRecipient,
    PaceChange,
    PlannedBatch,
    ReceiptIngestCounts,
    ReplyStoreCounts,
)
from yxt_provider.ledger.opt_out_keywords import DEFAULT_OPT_OUT_KEYWORDS
from yxt_provider.ledger.reply_store import DEFAULT_ATTRIBUTION_WINDOW, ReplyBatch

if TYPE_CHECKING:
    from yxt_provider.client.models import Receipt, Reply

__all__ = ["Ledger", "LedgerError", "UnknownBatchError", "UnknownCampaignError"]


class Ledger:
    """The delivery ledger over one SQL database (SQLite, PostgreSQL or MariaDB/MySQL).

    Pure Python and SQLAlchemy Core: usable from operators, triggers, scripts and tests.
    Every method is one transaction; the object itself holds no state besides the engine,
    so one instance can be shared by threads.

    :param engine: an engine from :func:`~yxt_provider.ledger.engine.create_ledger_engine`
        (other engines work, but SQLite then lacks the concurrency settings).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._plan_times: dict[str, datetime] = {}
        # The plan left out everyone listed before it; LateOptOuts finds the later ones cheaply.
        self._late_opt_outs = opt_out_store.LateOptOuts()

    @classmethod
    def from_url(cls, url: str) -> Ledger:
        """Create the engine for ``url`` and make sure the schema is current.

        :param url: a SQLAlchemy database URL.
        """
        ledger = cls(create_ledger_engine(url))
        ledger.ensure_schema()
        return ledger

    def ensure_schema(self) -> None:
        """Create or upgrade the ledger tables (idempotent, safe to race)."""
        ensure_schema(self.engine)

    def dispose(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()

    @cached_property
    def identity(self) -> str:
        """The ledger's random key, made with it and part of every serial it plans.

        Two ledgers on one gateway account (staging and production) so never derive the same
        serial for the same campaign id, while every retry within one ledger derives the same.
        """
        return send_store.ledger_key(self.engine)

    # ------------------------------------------------------------------ send side

    def get_campaign(self, campaign_id: str) -> CampaignRecord | None:
        """The campaign row, or ``None`` when no plan was written for it.

        :param campaign_id: the campaign.
        """
        return send_store.get_campaign(self.engine, campaign_id)

    def create_plan(
        self,
        campaign: CampaignRecord,
        batches: Iterable[PlannedBatch],
        excluded: Iterable[ExcludedRecipient] = (),
    ) -> bool:
        """Write a campaign with all its batches and messages (status ``planned``) in one transaction.

        ``batches`` is consumed lazily and messages are inserted in chunks of
        ``send_store.PLAN_CHUNK_ROWS``, so memory stays bounded for million-recipient plans.
        The campaign's ``planned`` and ``batches`` columns are set from what was actually
        written. Numbers are stored with their position in the batch, so
        :meth:`batch_numbers` returns them in the planned order.

        :param campaign: the campaign row (``created_at``/``updated_at`` default to now).
        :param batches: the batches in any order, each with its numbers.
        :param excluded: the input rows set aside (invalid, duplicate), for the per-row export.
        :returns: True when written; False (writing nothing) when the campaign already
            exists — also when another process wrote it concurrently.
        :raises ValueError: when a batch names another campaign or a status is unknown.
        """
        return send_store.create_plan(self.engine, campaign, batches, excluded)

    def iter_batches(self, campaign_id: str) -> list[BatchRecord]:
        """Every batch of the campaign, ordered by ``batch_index`` (without numbers).

        :param campaign_id: the campaign.
        """
        return send_store.iter_batches(self.engine, campaign_id)

    def get_batch(self, campaign_id: str, batch_index: int) -> BatchRecord | None:
        """One batch, or ``None``.

        :param campaign_id: the campaign.
        :param batch_index: the batch.
        """
        return send_store.get_batch(self.engine, campaign_id, batch_index)

    def batch_numbers(self, campaign_id: str, batch_index: int) -> list[str]:
        """The batch's numbers in the order they were planned (the ``position`` column).

        :param campaign_id: the campaign.
        :param batch_index: the batch.
        """
        return send_store.batch_numbers(self.engine, campaign_id, batch_index)

    def mark_attempted(
        self, campaign_id: str, batch_index: int, *, drop_opted_out: bool = False
    ) -> AttemptStart:
        """Record that a send attempt of the batch starts: ``planned``/``failed`` → ``attempted``.

        ``sent`` keeps its state; ``attempts`` grows by one, ``attempted_at`` is now, and the
        last error is cleared: from here until an answer is recorded, the outcome is
        *unknown*, which is what a crash mid-request leaves behind. Call it *before* the
        request is sent.

        :param campaign_id: the campaign.
        :param batch_index: the batch.
        :param drop_opted_out: when the batch was never attempted, first take out the numbers
            that joined the opt-out list since the plan was written (same transaction): they
            become excluded rows (``opted_out``); a batch left empty becomes ``skipped`` and is
            not attempted. The caller then reads the numbers back (``batch_numbers``).
        :returns: the batch as it was just before (read in the same transaction), so the
            caller knows whether an earlier attempt may have been accepted, whoever made it;
            and what was dropped.
        :raises UnknownBatchError: when the batch is not in the ledger.
        """
        since = (
            self._planned_at(campaign_id) - opt_out_store.PLANNING_CLOCK_MARGIN if drop_opted_out else None
        )
        return send_store.mark_attempted(
            self.engine,
            campaign_id,
            batch_index,
            drop_opted_out_since=since,
            late_opt_outs=self._late_opt_outs,
        )

    def _planned_at(self, campaign_id: str) -> datetime:
        """When the campaign's plan was written (it never changes: read once per ledger object)."""
        if campaign_id not in self._plan_times:
            campaign = self.get_campaign(campaign_id)
            if campaign is None or campaign.created_at is None:
                raise UnknownCampaignError(f"no campaign {campaign_id!r} in the ledger")
            self._plan_times[campaign_id] = campaign.created_at
        return self._plan_times[campaign_id]

    def mark_sent(
        self,
        campaign_id: str,
        batch_index: int,
        *,
        gateway_task_id: str | None,
        duplicate: bool,
        refused: Sequence[str] = (),
    ) -> None:
        """Record that the gateway accepted the batch.

        Only the batch row changes: its messages count as ``sent`` through the batch (see
        :mod:`yxt_provider.ledger.expressions`), which keeps this at one row per 1000 recipients on
        the send path. Calling it again for a sent batch changes nothing (the first
        acceptance stays on record).

        :param campaign_id: the campaign.
        :param batch_index: the batch.
        :param gateway_task_id: the gateway's ``taskId`` (``None`` when accepted as a duplicate).
        :param duplicate: True when accepted as code 15 (the batch was sent by an earlier attempt).
        :param refused: numbers of the batch the gateway refused inside the accepted request
            (``data.failList``): their messages become ``refused``, final, with no receipt to
            wait for. Written in the same transaction as the batch.
        :raises UnknownBatchError: when the batch is not in the ledger.
        """
        send_store.mark_sent(
            self.engine,
            campaign_id,
            batch_index,
            gateway_task_id=gateway_task_id,
            duplicate=duplicate,
            refused=refused,
        )

    def mark_batch_error(self, campaign_id: str, batch_index: int, *, code: int | None, error: str) -> None:
        """Record why the last attempt of a batch failed; the state is unchanged.

        Do not put phone numbers in ``error`` (mask them first).

        :param campaign_id: the campaign.
        :param batch_index: the batch.
        :param code: the gateway result code, ``None`` for transport errors.
        :param error: a short description.
        :raises UnknownBatchError: when the batch is not in the ledger.
        """
        send_store.mark_batch_error(self.engine, campaign_id, batch_index, code=code, error=error)

    def set_campaign_status(self, campaign_id: str, status: str, *, error: str | None = None) -> None:
        """Set the campaign status (and its error text; ``None`` clears it).

        :param campaign_id: the campaign.
        :param status: ``planned``, ``sending``, ``sent`` or ``failed``.
        :param error: why it failed, masked.
        :raises ValueError: for an unknown status.
        :raises UnknownCampaignError: when the campaign is not in the ledger.
        """
        send_store.set_campaign_status(self.engine, campaign_id, status, error=error)

    # ------------------------------------------------------------------ reply side

    def store_replies(
        self,
        replies: Sequence[Reply],
        *,
        attribution_window: timedelta = DEFAULT_ATTRIBUTION_WINDOW,
        opt_out_keywords: Iterable[str] | None = DEFAULT_OPT_OUT_KEYWORDS,
    ) -> ReplyStoreCounts:
        """Store a page of inbound replies (one transaction), each new one linked to its campaign.

        Idempotent: a page delivered again stores nothing twice; two identical replies in one
        page are two replies. Store a page *before* confirming it to the gateway.

        :param replies: the page's replies, as the gateway returned them.
        :param attribution_window: how long after a campaign messaged a number a reply from it
            still answers that campaign (default seven days).
        :param opt_out_keywords: replies that put their number on the opt-out list (trimmed,
            case-folded; default ``TD``, ``T``, ``N``, ``R``, ``退订``, ``取消``); ``None``: none.
        """
        return reply_store.store_replies(
            self.engine, replies, attribution_window=attribution_window, opt_out_keywords=opt_out_keywords
        )

    # ------------------------------------------------------------------ opt-outs

    def add_opt_outs(self, numbers: Iterable[str], *, source: str = "manual", note: str | None = None) -> int:
        """Put numbers on the opt-out list (kept as they are when already on it); returns how many are new.

        :param numbers: mobile numbers (``+86`` and separators are fine).
        :param source: ``manual`` or ``import`` (replies add themselves, as ``reply``).
        :param note: why, in your words (kept as evidence).
        :raises InvalidNumberError: naming the first invalid number, masked; nothing is added then.
        """
        return opt_out_store.add_opt_outs(self.engine, normalize_numbers(numbers), source=source, note=note)

    def remove_opt_outs(self, numbers: Iterable[str]) -> int:
        """Take numbers off the opt-out list (campaigns may send to them again); returns how many were on it.

        Only for a number whose owner asked to receive messages again: the list is the
        evidence that a refusal was honoured.

        :param numbers: mobile numbers (``+86`` and separators are fine).
        :raises InvalidNumberError: naming the first invalid number, masked; nothing is removed then.
        """
        return opt_out_store.remove_opt_outs(self.engine, normalize_numbers(numbers))

    def opted_out(self, numbers: Collection[str]) -> set[str]:
        """Which of ``numbers`` are on the opt-out list.

        :param numbers: normalised numbers (a set or a dict's keys, for a large audience).
        """
        return opt_out_store.opted_out(self.engine, numbers)

    def recent_message_counts(self, numbers: Iterable[str], since: datetime) -> dict[str, int]:
        """Messages each number got or is still due since ``since``, across every campaign (frequency caps).

        Counts messages accepted since ``since`` and those of campaigns planned since then
        whose batch is not sent yet.

        :param numbers: normalised numbers.
        :param since: the start of the window (aware).
        """
        return opt_out_store.recent_message_counts(self.engine, numbers, since)

    def take_replies(self, consumer: str, *, limit: int = 500) -> AbstractContextManager[ReplyBatch]:
        """Replies ``consumer`` has not handled yet, in a transaction that marks them handled.

        ``with ledger.take_replies("appointments") as batch:`` — act on ``batch.replies``, write
        your own results through ``batch.connection``; leaving the block commits both, an
        exception rolls both back. See :func:`~yxt_provider.ledger.reply_store.take_replies`.

        :param consumer: a stable name for what handles replies (e.g. the DAG id).
        :param limit: replies at most per batch.
        """
        return reply_store.take_replies(self.engine, consumer, limit=limit)

    # ------------------------------------------------------------------ receipt side

    def store_receipts(self, receipts: Sequence[Receipt]) -> ReceiptIngestCounts:
        """Store a page of receipts read from the gateway, and apply them to their messages.

        Idempotent: a receipt already stored (same serial and phone) is skipped, so a page
        read twice, or by two processes, is counted once. For each receipt stored *by this
        call* that names a ledger message, the message becomes ``delivered`` (result 0) or
        ``failed`` with ``result_code`` and ``receipt_at`` — unless it is already final.
        Receipts naming no ledger message are kept too (the queue is shared by every
        sender on the account and is read only once). One transaction per call.

        :param receipts: the receipts (a page of any size).
        :returns: what was read, newly stored, matched and unmatched.
        """
        return receipt_store.store_receipts(self.engine, receipts)

    # ------------------------------------------------------------------ the account's send pace

    def change_account_pace(
        self,
        account_key: str,
        update: pace_store.PaceUpdate,
        *,
        initial_rate: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> PaceChange:
        """Change the send pace every task of a gateway account shares, in one short transaction.

        The row is locked, read with the database's clock, passed to ``update`` and written back;
        the first call for an account creates it. See :mod:`~yxt_provider.ledger.pace_store`.

        :param account_key: the account (see :func:`yxt_provider.campaign.account_pace.account_key`).
        :param update: the new row, from the locked row and the database's "now" (epoch seconds).
        :param initial_rate: the rate (and ceiling) of the row when this call creates it.
        :param clock: the caller's monotonic clock, read just after the row (``PaceChange.read_at``).
        """
        return pace_store.change_pace(
            self.engine, account_key, update, initial_rate=initial_rate, clock=clock
        )

    def account_pace(self, account_key: str) -> AccountPace | None:
        """The account's shared send pace, or ``None`` before any task reserved a slot.

        :param account_key: the account.
        """
        return pace_store.get_pace(self.engine, account_key)

    def database_now(self) -> float:
        """The ledger database's clock, in seconds since the Unix epoch (the clock the pace runs on)."""
        return pace_store.database_now(self.engine)

    # ------------------------------------------------------------------ reports

    def campaign_counts(self, campaign_id: str) -> dict[str, int]:
        """Batches by state and messages by status, every state present (zeros included).

        Keys: ``batches_<state>`` for each batch state, ``batches_total``,
        ``messages_<status>`` for each message status, ``messages_total``.

        :param campaign_id: the campaign.
        """
        return read_models.campaign_counts(self.engine, campaign_id)

    def delivery_report(
        self,
        campaign_id: str,
        *,
        pending_timeout: timedelta | None = None,
        now: datetime | None = None,
    ) -> DeliveryReport:
        """Counts of the campaign's messages by outcome.

        :param campaign_id: the campaign.
        :param pending_timeout: count as ``pending_past_timeout`` the messages sent longer
            ago than this with no receipt yet (0 when ``None``).
        :param now: the reference time for the timeout (default: now, UTC).
        """
        return read_models.delivery_report(self.engine, campaign_id, pending_timeout=pending_timeout, now=now)

    def delivery_reports(
        self,
        campaign_ids: Sequence[str],
        *,
        pending_timeout: timedelta | None = None,
        now: datetime | None = None,
    ) -> dict[str, DeliveryReport]:
        """Each campaign's report, read together (one snapshot, a few statements for any number of campaigns).

        For the shards of a campaign group; combine them with :meth:`DeliveryReport.combine`.
        A campaign not in the ledger gets a ``not planned`` report with zero counts.

        :param campaign_ids: the campaigns.
        :param pending_timeout: count as ``pending_past_timeout`` the messages sent longer
            ago than this with no receipt yet (0 when ``None``).
        :param now: the reference time for the timeout (default: now, UTC), one for all.
        :returns: campaign id → report, in the order given.
        """
        return read_models.delivery_reports(
            self.engine, campaign_ids, pending_timeout=pending_timeout, now=now
        )
