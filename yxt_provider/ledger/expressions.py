"""What a message's status is, as SQL expressions: the one definition of each.

``mark_sent`` changes one batch row, not the 1000 message rows under it: a message whose
row still says ``planned`` counts as ``sent`` once its batch is sent, and its send time is
the batch's. This keeps the send path at one small write per batch; every reader of
message status goes through :data:`message_status` and :data:`message_sent_at` so none can
disagree.

A receipt settles a message: :func:`receipt_status` is the status it gives, and a message
takes a receipt only while :func:`not_final` holds (the final statuses are
``schema.FINAL_MESSAGE_STATUSES``). Every receipt-storing statement, on every backend, is
built from these two.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from yxt_provider.ledger import schema
from yxt_provider.ledger.models import DELIVERED_RESULT

__all__ = ["message_sent_at", "message_status", "messages_with_batches", "not_final", "receipt_status"]

_m = schema.messages.c
_b = schema.batches.c

message_status: sa.ColumnElement[Any] = sa.case(
    (sa.and_(_m.status == "planned", _b.state == "sent"), sa.literal("sent")), else_=_m.status
).label("status")
"""The status a reader should see: ``planned`` messages of a sent batch are ``sent``."""

message_sent_at: sa.ColumnElement[Any] = sa.func.coalesce(_m.sent_at, _b.sent_at).label("sent_at")
"""When the message was accepted: its own time if recorded, else its batch's."""

messages_with_batches = schema.messages.join(
    schema.batches, sa.and_(_m.campaign_id == _b.campaign_id, _m.batch_index == _b.batch_index)
)
"""``messages JOIN batches`` on the batch key, the FROM clause for the two expressions above."""


def receipt_status(result: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The status a receipt gives its message: ``delivered`` for result 0 (``DELIVERED_RESULT``), else ``failed``.

    :param result: the receipt's result code (a column, or a bound parameter).
    """
    return sa.case((result == _constant(DELIVERED_RESULT), _constant("delivered")), else_=_constant("failed"))


def not_final(status: sa.ColumnElement[Any] = _m.status) -> sa.ColumnElement[bool]:
    """True while a message has no final answer yet, so a receipt may still settle it.

    :param status: the status column to test (the messages table's by default).
    """
    return status.not_in([_constant(final) for final in schema.FINAL_MESSAGE_STATUSES])


def _constant(value: str | int) -> sa.ColumnElement[Any]:
    # Written into the SQL text rather than bound: the planner sees the real values, and
    # with psycopg 3 (server-side parameters) a constant costs no parameter per statement.
    return sa.literal(value, literal_execute=True)
