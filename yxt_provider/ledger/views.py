"""A message's effective status and send time, derived from its batch.

``mark_sent`` changes one batch row, not the 1000 message rows under it: a message whose
row still says ``planned`` counts as ``sent`` once its batch is sent, and its send time is
the batch's. This keeps the send path at one small write per batch; every reader of
message status goes through these expressions so none can disagree.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from yxt_provider.ledger import schema

__all__ = ["message_sent_at", "message_status", "messages_with_batches"]

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
