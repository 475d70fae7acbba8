"""The reply side of the ledger: inbound replies stored once each, attributed, handed to consumers once.

Storing is idempotent: a reply is identified by its content and the id the gateway gives
it in its page (the one ``maxId`` counts), so a page delivered again after a crash adds
nothing and identical replies stay apart even on different pages. A gateway that gives no
id gets the fallback: the content and its occurrence among identical items of its page.
Each new reply is linked to the campaign of this ledger that last messaged its number
before the reply, within the attribution window.

Consumers (a DAG that acts on replies) take the replies they have not handled yet and mark
them handled in the same transaction as their own write (:func:`take_replies`), so a lost
wake-up event only delays work and a repeated one does nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from yxt_provider.ledger import dialects, expressions, schema
from yxt_provider.ledger.engine import write_transaction
from yxt_provider.ledger.models import ReplyStoreCounts, StoredReply
from yxt_provider.ledger.opt_out_keywords import DEFAULT_OPT_OUT_KEYWORDS, is_opt_out
from yxt_provider.ledger.opt_out_store import add_opt_outs

if TYPE_CHECKING:
    from yxt_provider.client.models import Reply

__all__ = ["DEFAULT_ATTRIBUTION_WINDOW", "ReplyBatch", "reply_key", "store_replies", "take_replies"]

#: How long after a campaign last messaged a number a reply from it is still attributed to that
#: campaign.
DEFAULT_ATTRIBUTION_WINDOW = timedelta(days=7)

_m = schema.messages.c
_b = schema.batches.c
_r = schema.replies.c
_h = schema.reply_handled.c
# A separator that cannot occur in a number, a timestamp or an access number.
_FIELD_SEPARATOR = "\x1f"


def reply_key(reply: Reply, occurrence: int) -> str:
    """The identity of a reply: its content with the gateway's id for it, else with its occurrence in its page.

    The id tells two identical replies (same number, text and second) apart even when they
    fall on different pages, where each is the first of its kind in its page; the content
    stays in the key because an id is unique only within one gateway account, and one
    ledger may serve several.

    :param reply: the reply as read from the gateway.
    :param occurrence: how many identical replies came before it in the page, plus one (used
        only when the reply has no id).
    """
    content = (reply.user_number, reply.reply_time.isoformat(), reply.call_mdn, reply.content)
    # Distinct leading fields: an id key and an occurrence key never meet.
    if reply.reply_id is not None:
        fields: tuple[str, ...] = ("gateway-id", reply.reply_id, *content)
    else:
        fields = (*content, str(occurrence))
    return hashlib.sha256(_FIELD_SEPARATOR.join(fields).encode("utf-8")).hexdigest()


def store_replies(
    engine: Engine,
    replies: Sequence[Reply],
    *,
    attribution_window: timedelta = DEFAULT_ATTRIBUTION_WINDOW,
    opt_out_keywords: Iterable[str] | None = DEFAULT_OPT_OUT_KEYWORDS,
    now: datetime | None = None,
) -> ReplyStoreCounts:
    """Store a page of replies in one transaction, each new one attributed to a campaign.

    A new reply that is an unsubscribe keyword puts its number on the opt-out list, with the
    reply as evidence, in the same transaction.

    :param engine: the ledger's engine.
    :param replies: the page, as the gateway returned it.
    :param attribution_window: how long after a campaign messaged a number a reply from it
        still counts as answering that campaign.
    :param opt_out_keywords: replies that opt out (trimmed, case-folded); ``None``: none does.
    :param now: the storing time (default: now, UTC).
    """
    stored_at = now or datetime.now(timezone.utc)
    seen: Counter[tuple[str, datetime, str, str]] = Counter()
    rows: list[dict[str, Any]] = []
    with write_transaction(engine) as conn:
        attribute = _attributor(conn, replies, attribution_window)
        for reply in replies:
            identity = (reply.user_number, reply.reply_time, reply.call_mdn, reply.content)
            seen[identity] += 1
            rows.append(
                {
                    "reply_key": reply_key(reply, seen[identity]),
                    "user_number": reply.user_number,
                    "content": reply.content,
                    "reply_time": reply.reply_time,
                    "call_mdn": reply.call_mdn,
                    "occurrence": seen[identity],
                    "campaign_id": attribute(reply.user_number, reply.reply_time),
                    "stored_at": stored_at,
                    "gateway_id": reply.reply_id,
                }
            )
        rows = _without_ids_already_stored(conn, rows)
        # Sorted by key: concurrent storers of one page insert in one order and cannot deadlock.
        in_key_order = sorted(rows, key=lambda row: row["reply_key"])
        new_keys = set(dialects.insert_ignore_many(conn, schema.replies, in_key_order))
        new = tuple(_stored(row) for row in rows if row["reply_key"] in new_keys)
        opting_out = [
            r for r in new if opt_out_keywords is not None and is_opt_out(r.content, opt_out_keywords)
        ]
        opted_out = sum(
            add_opt_outs(conn, [r.user_number], source="reply", reply_key=r.reply_key, now=stored_at)
            for r in opting_out
        )
    return ReplyStoreCounts(
        read=len(replies),
        stored=len(new),
        already_stored=len(replies) - len(new),
        attributed=sum(1 for reply in new if reply.campaign_id is not None),
        opted_out=opted_out,
        new=new,
    )


def _without_ids_already_stored(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` less the replies already stored under their content key, with the same gateway id.

    Ledgers written before replies were keyed on the gateway's id hold them under their
    content key, with the id beside it: a page read before an upgrade and delivered again
    after it must not store its replies a second time under the new key.
    """
    with_ids = [row for row in rows if row["gateway_id"] is not None]
    if not with_ids:
        return rows
    # user_number leads an index: the lookup reads only this page's numbers, not the table.
    stored = {
        _identity(found)
        for found in conn.execute(
            sa.select(_r.gateway_id, _r.user_number, _r.reply_time, _r.call_mdn, _r.content).where(
                _r.user_number.in_({row["user_number"] for row in with_ids}),
                _r.gateway_id.in_({row["gateway_id"] for row in with_ids}),
            )
        ).mappings()
    }
    return [row for row in rows if row["gateway_id"] is None or _identity(row) not in stored]


def _identity(values: Any) -> tuple[Any, ...]:
    """What makes two stored replies the same reply: the gateway's id and the content."""
    return tuple(values[name] for name in ("gateway_id", "user_number", "reply_time", "call_mdn", "content"))


def _stored(row: Any) -> StoredReply:
    """A stored reply from a row of ``yxt_replies`` (a mapping or a result row)."""
    values = row if isinstance(row, dict) else row._mapping
    return StoredReply(
        reply_key=values["reply_key"], user_number=values["user_number"], content=values["content"],
        reply_time=values["reply_time"], call_mdn=values["call_mdn"], campaign_id=values["campaign_id"],
        stored_at=values["stored_at"],
    )  # fmt: skip


def _attributor(
    conn: Connection, replies: Sequence[Reply], window: timedelta
) -> Callable[[str, datetime], str | None]:
    """A function naming the campaign each reply of the page answers, from one query for the page.

    A reply answers the campaign of this ledger that last sent to its number before the reply,
    within ``window``; one query fetches every such send to the page's numbers, instead of
    one query per reply.
    """
    if not replies:
        return lambda number, when: None
    earliest = min(reply.reply_time for reply in replies) - window
    latest = max(reply.reply_time for reply in replies)
    sent_at = expressions.message_sent_at
    sends: dict[str, list[tuple[datetime, str]]] = {}
    for phone, campaign_id, at in conn.execute(
        sa.select(_m.phone, _m.campaign_id, sent_at)
        .select_from(expressions.messages_with_batches)
        .where(
            _m.phone.in_(sorted({reply.user_number for reply in replies})),
            _b.state == "sent",
            sent_at > sa.literal(earliest, schema.UTCDateTime),
            sent_at <= sa.literal(latest, schema.UTCDateTime),
        )
    ):
        sends.setdefault(phone, []).append((at, campaign_id))

    def campaign_for(number: str, when: datetime) -> str | None:
        eligible = [(at, campaign) for at, campaign in sends.get(number, ()) if when - window < at <= when]
        return max(eligible)[1] if eligible else None

    return campaign_for


@dataclass
class ReplyBatch:
    """Replies handed to one consumer, and the transaction they are handled in.

    Write the consumer's own results through ``connection``: they commit together with
    the marks that say these replies are handled, or not at all.

    :param consumer: who handles them.
    :param replies: the replies not handled by this consumer yet, oldest first.
    :param connection: the open transaction (the ledger's database).
    """

    consumer: str
    replies: list[StoredReply]
    connection: Connection = field(repr=False)


@contextlib.contextmanager
def take_replies(engine: Engine, consumer: str, *, limit: int = 500) -> Iterator[ReplyBatch]:
    """Hand ``consumer`` the replies it has not handled, in a transaction that marks them handled.

    Leaving the block normally commits the consumer's writes and the marks together; an
    exception rolls both back, so the replies are handed out again next time. Consumers of
    one name take turns (a lock per name); consumers of different names each get every reply.

    :param engine: the ledger's engine.
    :param consumer: a stable name for what acts on replies (e.g. the DAG id).
    :param limit: replies at most per batch (take again for more).
    :raises ValueError: for an empty or over-long consumer name.
    """
    if not consumer or len(consumer) > schema.reply_handled.c.consumer.type.length:  # type: ignore[attr-defined]
        raise ValueError("consumer must be a name of 1 to 100 characters")
    handled = sa.exists().where(_h.consumer == consumer, _h.reply_key == _r.reply_key)
    with write_transaction(engine) as conn, dialects.named_lock(conn, f"yxt_replies:{consumer}"):
        rows = conn.execute(
            sa.select(schema.replies).where(~handled).order_by(_r.stored_at, _r.reply_key).limit(limit)
        ).all()
        batch = ReplyBatch(consumer=consumer, replies=[_stored(row) for row in rows], connection=conn)
        yield batch
        now = datetime.now(timezone.utc)
        dialects.insert_ignore_many(
            conn,
            schema.reply_handled,
            [
                {"consumer": consumer, "reply_key": reply.reply_key, "handled_at": now}
                for reply in batch.replies
            ],
        )
