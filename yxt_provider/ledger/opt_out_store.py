"""The opt-out list: numbers that refused further messages, with the evidence, and who sent to whom lately.

A reply whose text, trimmed and case-folded, is an unsubscribe keyword (``TD``, ``退订``, …)
puts its number on the list, with the reply as evidence (done by
:mod:`~yxt_provider.ledger.reply_store` as it stores the reply). Numbers can be added and
removed by hand, or imported in bulk. Campaigns read the list when they plan and again
before each batch's first attempt; frequency caps read the recent messages per number.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Iterator, KeysView, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from yxt_provider.ledger import dialects, expressions, schema
from yxt_provider.ledger.engine import reading, write_transaction

__all__ = [
    "OPT_OUT_SOURCES",
    "PLANNING_CLOCK_MARGIN",
    "LateOptOuts",
    "add_opt_outs",
    "listed_since",
    "opted_out",
    "opted_out_in_batch",
    "recent_message_counts",
    "remove_opt_outs",
]

OPT_OUT_SOURCES = ("reply", "manual", "import")
#: How far apart the clocks of the process storing an opt-out and the one planning a campaign
#: may be (and how long planning may take) for the send path's shortcut to stay exact.
PLANNING_CLOCK_MARGIN = timedelta(minutes=10)
# Numbers per IN (...) list: well under every backend's parameter limit.
_CHUNK = 500

_o = schema.opt_outs.c
_m = schema.messages.c
_b = schema.batches.c
_c = schema.campaigns.c


def add_opt_outs(
    conn_or_engine: Connection | Engine,
    numbers: Iterable[str],
    *,
    source: str,
    reply_key: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> int:
    """Put numbers on the list (kept as they are when already on it); returns how many are new.

    :param conn_or_engine: the ledger's engine, or a connection inside the caller's transaction.
    :param numbers: normalised 11-digit numbers.
    :param source: ``reply``, ``manual`` or ``import``.
    :param reply_key: the reply that caused it (source ``reply``).
    :param note: why, in the operator's words.
    :param now: when (default now, UTC).
    """
    if source not in OPT_OUT_SOURCES:
        raise ValueError(f"opt-out source must be one of {OPT_OUT_SOURCES}, got {source!r}")
    at = now or datetime.now(timezone.utc)
    rows = [
        {"phone": number, "opted_out_at": at, "source": source, "reply_key": reply_key, "note": note}
        for number in dict.fromkeys(numbers)
    ]
    if isinstance(conn_or_engine, Connection):
        return _insert(conn_or_engine, rows)
    with write_transaction(conn_or_engine) as conn:
        return _insert(conn, rows)


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> int:
    return sum(len(dialects.insert_ignore_many(conn, schema.opt_outs, chunk)) for chunk in _chunks(rows))


def remove_opt_outs(engine: Engine, numbers: Iterable[str]) -> int:
    """Take numbers off the list (they may be sent to again); returns how many were on it.

    :param engine: the ledger's engine.
    :param numbers: normalised numbers.
    """
    removed = 0
    with write_transaction(engine) as conn:
        for chunk in _chunks(list(dict.fromkeys(numbers))):
            removed += conn.execute(sa.delete(schema.opt_outs).where(_o.phone.in_(chunk))).rowcount
    return removed


def opted_out(conn_or_engine: Connection | Engine, numbers: Collection[str]) -> set[str]:
    """Which of ``numbers`` are on the opt-out list.

    :param conn_or_engine: the ledger's engine, or a connection to read on.
    :param numbers: normalised numbers (a set or a dict's keys, for a large audience).
    """
    with reading(conn_or_engine) as conn:
        listed = conn.execute(sa.select(sa.func.count()).select_from(schema.opt_outs)).scalar_one()
        if not listed:
            return set()
        if listed <= len(numbers):
            # A list shorter than the audience: one scan of it beats a query per 500 numbers.
            wanted = numbers if isinstance(numbers, (AbstractSet, KeysView)) else set(numbers)
            return {phone for phone in conn.execute(sa.select(_o.phone)).scalars() if phone in wanted}
        found: set[str] = set()
        for chunk in _chunks(list(numbers)):
            found.update(conn.execute(sa.select(_o.phone).where(_o.phone.in_(chunk))).scalars())
        return found


def listed_since(conn: Connection, since: datetime) -> list[str] | None:
    """The numbers that joined the list at or after ``since``; ``None`` when there are many.

    Few numbers opt out while one campaign sends: this is one index range scan, and a batch is
    then checked against that short list rather than joined with the whole one.

    :param conn: a connection inside the caller's transaction.
    :param since: the moment (aware).
    """
    rows = conn.execute(
        sa.select(_o.phone).where(_o.opted_out_at >= sa.literal(since, schema.UTCDateTime)).limit(_CHUNK + 1)
    ).scalars()
    recent = list(rows)
    return None if len(recent) > _CHUNK else recent


class LateOptOuts:
    """Numbers that opted out after a campaign was planned, found for each batch without a join per batch.

    A send pass asks before every batch's first attempt, and the list rarely changes in
    between: per campaign, the batches holding late opt-outs are worked out once and kept
    until the list's fingerprint (how many joined since the plan, and the latest time) changes.
    One instance per :class:`~yxt_provider.ledger.store.Ledger`; safe across its send threads.
    """

    def __init__(self) -> None:
        self._known: dict[str, tuple[tuple[Any, ...], dict[int, set[str]] | None]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def fingerprint(since: sa.BindParameter[Any]) -> list[sa.ColumnElement[Any]]:
        """Columns to add to the statement that locks the batch: the list's fingerprint since ``since``.

        :param since: a bound parameter for the plan's time, less the clock margin (the
            statement is built once and executed for every batch).
        """
        recent = sa.select(_o.opted_out_at).where(_o.opted_out_at >= since).subquery()
        return [
            sa.select(sa.func.count()).select_from(recent).scalar_subquery().label("late_opt_outs"),
            sa.select(sa.func.max(recent.c.opted_out_at)).scalar_subquery().label("latest_opt_out"),
        ]

    def in_batch(
        self, conn: Connection, batch_key: tuple[str, int], since: datetime, fingerprint: tuple[Any, ...]
    ) -> list[tuple[str, int]]:
        """The batch's numbers listed since ``since``, with their input rows (see :func:`opted_out_in_batch`).

        :param conn: the connection of the transaction marking the attempt.
        :param batch_key: the campaign and the batch index.
        :param since: the plan's time, less the clock margin.
        :param fingerprint: the values of :meth:`fingerprint`'s columns, read in this transaction.
        """
        campaign_id, batch_index = batch_key
        if not fingerprint[0]:
            return []
        with self._lock:
            known = self._known.get(campaign_id)
        if known is None or known[0] != fingerprint:
            known = (fingerprint, _batches_holding(conn, campaign_id, since))
            with self._lock:
                self._known[campaign_id] = known
        by_batch = known[1]
        if by_batch is None:  # too many to keep: ask per batch
            return opted_out_in_batch(conn, campaign_id, batch_index)
        phones = by_batch.get(batch_index)
        return opted_out_in_batch(conn, campaign_id, batch_index, among=sorted(phones)) if phones else []


def _batches_holding(conn: Connection, campaign_id: str, since: datetime) -> dict[int, set[str]] | None:
    """Batch index → the campaign's numbers listed since ``since``; ``None`` when too many were listed."""
    recent = listed_since(conn, since)
    if recent is None:
        return None
    by_batch: dict[int, set[str]] = {}
    if recent:
        rows = conn.execute(
            sa.select(_m.batch_index, _m.phone).where(_m.campaign_id == campaign_id, _m.phone.in_(recent))
        )
        for batch_index, phone in rows:
            by_batch.setdefault(batch_index, set()).add(phone)
    return by_batch


def opted_out_in_batch(
    conn: Connection, campaign_id: str, batch_index: int, *, among: Sequence[str] | None = None
) -> list[tuple[str, int]]:
    """The numbers of one batch that are on the opt-out list, with their input rows.

    :param conn: a connection inside the caller's transaction (the one marking the attempt).
    :param campaign_id: the campaign.
    :param batch_index: the batch.
    :param among: only these listed numbers matter (see :func:`listed_since`); ``None``: all.

    Messages planned before schema version 2 have no input row; they get a negative stand-in
    unique within the campaign (``-(batch_index * 1000 + position + 1)``), so each still has
    its excluded row.
    """
    query = sa.select(_m.phone, _m.input_row, _m.position).where(
        _m.campaign_id == campaign_id, _m.batch_index == batch_index
    )
    if among is None:
        query = query.join(schema.opt_outs, _o.phone == _m.phone)
    else:
        query = query.where(_m.phone.in_(among))
    return [
        (phone, row if row is not None else -(batch_index * 1000 + position + 1))
        for phone, row, position in conn.execute(query.order_by(_m.position)).tuples()
    ]


def recent_message_counts(engine: Engine, numbers: Iterable[str], since: datetime) -> dict[str, int]:
    """Messages each number got or is still due from this ledger since ``since``, over every campaign.

    Counted: messages the gateway accepted at or after ``since`` (not those it refused at
    send), and messages of campaigns
    planned at or after ``since`` whose batch is not sent yet (they may still go out, and two
    campaigns planned the same morning must not both slip under a cap).

    :param engine: the ledger's engine.
    :param numbers: normalised numbers.
    :param since: the start of the counting window (aware).
    """
    counts: dict[str, int] = {}
    since_value = sa.literal(since, schema.UTCDateTime)
    counted = sa.or_(
        # A number refused at send (failList) got nothing: it does not count.
        sa.and_(_b.state == "sent", _m.status != "refused", expressions.message_sent_at >= since_value),
        sa.and_(_b.state.in_(("planned", "attempted", "failed")), _c.created_at >= since_value),
    )
    source = expressions.messages_with_batches.join(schema.campaigns, _c.campaign_id == _m.campaign_id)
    with engine.connect() as conn:
        for chunk in _chunks(list(numbers)):
            rows = conn.execute(
                sa.select(_m.phone, sa.func.count())
                .select_from(source)
                .where(_m.phone.in_(chunk), counted)
                .group_by(_m.phone)
            )
            counts.update((number, int(count)) for number, count in rows)
    return counts


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
