"""The ledger's SQL views: the documented contract for teams that report on the ledger with SQL.

The raw tables may change with migrations; the views keep their meaning. They are built
from the same expressions as the provider's own reports (:mod:`yxt_provider.ledger.expressions`),
so a query on a view and the delivery report never disagree. Every migration drops and
re-creates them (:func:`replace_views`), so they always match the code that wrote the data.

``yxt_message_status``
    One row per planned message, with its effective status (``planned``, ``sent``,
    ``delivered``, ``failed``, ``refused``) and send time. ``yxt_messages.status`` alone says ``planned``
    for sent messages, because sending updates only the batch row.
``yxt_campaign_summary``
    One row per campaign: who sent it, when, its status and error, its messages counted by
    outcome (``refused``: refused by the gateway inside an accepted request, not in ``sent``),
    and the replies attributed to it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from yxt_provider.ledger import expressions, schema

__all__ = ["VIEWS", "campaign_summary", "message_status", "replace_views"]

_m = schema.messages.c
_b = schema.batches.c
_c = schema.campaigns.c

message_status: sa.Select[Any] = sa.select(
    _m.campaign_id,
    _m.batch_index,
    _m.position,
    _m.input_row,
    _m.serial_number,
    _m.phone,
    expressions.message_status,
    _m.result_code,
    expressions.message_sent_at,
    _m.receipt_at,
).select_from(expressions.messages_with_batches)
"""``yxt_message_status``: every message with its effective status and send time."""


def _count(status: str) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(sa.case((expressions.message_status == status, 1), else_=0)), 0)


campaign_summary: sa.Select[Any] = (
    sa.select(
        _c.campaign_id,
        _c.dag_id,
        _c.run_id,
        _c.task_id,
        _c.map_index,
        _c.template_id,
        _c.status,
        _c.error,
        _c.created_at,
        _c.updated_at,
        _c.planned,
        _c.invalid,
        _c.duplicate,
        _c.opted_out,
        _c.capped,
        _c.batches,
        _c.segments,
        (_count("sent") + _count("delivered") + _count("failed")).label("sent"),
        _count("delivered").label("delivered"),
        _count("failed").label("failed"),
        _count("sent").label("pending"),
        _count("planned").label("not_sent"),
        _count("refused").label("refused"),
        sa.select(sa.func.count())
        .where(schema.replies.c.campaign_id == _c.campaign_id)
        .scalar_subquery()
        .label("replies"),
    )
    .select_from(
        schema.campaigns.outerjoin(expressions.messages_with_batches, _m.campaign_id == _c.campaign_id)
    )
    .group_by(*(column for column in schema.campaigns.c))
)
"""``yxt_campaign_summary``: every campaign with its messages counted by outcome."""

VIEWS: dict[str, sa.Select[Any]] = {
    "yxt_message_status": message_status,
    "yxt_campaign_summary": campaign_summary,
}
"""View name → its definition."""


def replace_views(conn: Connection) -> None:
    """Drop and re-create every view, so each matches the current definitions.

    :param conn: a connection inside the migration transaction.
    """
    for name in VIEWS:
        conn.exec_driver_sql(f"DROP VIEW IF EXISTS {name}")
    for name, select in VIEWS.items():
        # Literal binds: a view stores SQL text, with no parameters to bind later.
        body = select.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        conn.exec_driver_sql(f"CREATE VIEW {name} AS {body}")
