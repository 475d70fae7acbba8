"""The ledger's tables, as SQLAlchemy Core ``Table`` objects on one ``MetaData``.

These definitions are always the *latest* shape; :mod:`yxt_provider.ledger.migrations`
decides when each table is created. Every table name starts with ``yxt_`` so the ledger
can share a database (even Airflow's own) without clashing.

Timestamps are stored as ``DateTime(timezone=True)`` through :class:`UTCDateTime`, which
writes UTC and always reads back aware UTC datetimes, also on SQLite and MySQL/MariaDB
whose column types keep no zone.

Keys stay within InnoDB's limit of 3072 bytes per index under utf8mb4 (4 bytes a
character): the widest, ``ix_yxt_messages_campaign_batch``, is 250 + 20 characters and two
integers, about 1.1 kB.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect

__all__ = [
    "ACCOUNT_KEY_LENGTH",
    "APPROVAL_OUTCOMES",
    "BATCH_STATES",
    "CAMPAIGN_STATUSES",
    "EXCLUSION_REASONS",
    "FINAL_MESSAGE_STATUSES",
    "MESSAGE_STATUSES",
    "QUESTION_STATES",
    "UTCDateTime",
    "account_pace",
    "approval_approvers",
    "approval_outcomes",
    "approval_questions",
    "batches",
    "campaigns",
    "excluded_recipients",
    "ledger_identity",
    "messages",
    "metadata",
    "opt_outs",
    "receipts",
    "replies",
    "reply_handled",
    "schema_version",
]

#: The states of an approval question: waiting for an answer, answered by SMS, or closed
#: (answered in Airflow's UI, timed out, or superseded by the task's next try).
QUESTION_STATES = ("open", "answered", "closed")
#: What handling an SMS reply to approvals came to (``yxt_approval_outcomes.outcome``).
APPROVAL_OUTCOMES = (
    "answered", "not_an_approver", "no_match", "ambiguous", "unknown_code", "too_many", "closed", "refused",
)  # fmt: skip

#: The statuses of a campaign row.
CAMPAIGN_STATUSES = ("planned", "sending", "sent", "failed")
#: The states of a batch row; ``skipped``: every number of a batch never attempted opted out
#: before its turn, so there is nothing to send.
BATCH_STATES = ("planned", "attempted", "sent", "failed", "skipped")
#: The statuses of a message (the views give the effective one); ``refused``: named in the send
#: answer's ``data.failList``, refused by the gateway inside a request it accepted.
MESSAGE_STATUSES = ("planned", "sent", "delivered", "failed", "refused")
#: Why an input row was set aside instead of planned.
EXCLUSION_REASONS = ("invalid", "duplicate", "opted_out", "capped")
#: A message in one of these has its final answer; a later receipt never changes it.
FINAL_MESSAGE_STATUSES = ("delivered", "failed", "refused")

# Long enough for "dag.run.task.map_index" style identities built by the campaign layer.
CAMPAIGN_ID_LENGTH = 250
# Mainland numbers are 11 digits; the slack tolerates what a gateway might echo back in receipts.
PHONE_LENGTH = 20
SERIAL_LENGTH = 20
#: A gateway account's key in ``yxt_account_pace``: a SHA-256 hex digest (never the secret).
ACCOUNT_KEY_LENGTH = 64


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    Naive datetimes are refused on write (a naive time in a ledger is a bug waiting to
    happen); aware ones are converted to UTC. On backends without zone support the
    zone is dropped after conversion and re-attached as UTC on read, so SQL comparisons
    between stored values and bound parameters stay correct.
    """

    # MySQL's DATETIME keeps whole seconds unless told otherwise; the other backends keep µs.
    impl = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        """The value to store: UTC, without its zone where the backend keeps none (``None`` stays ``None``).

        :raises TypeError: for a value that is not a datetime.
        :raises ValueError: for a naive datetime.
        """
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("ledger timestamps must be timezone-aware (got a naive datetime)")
        as_utc = value.astimezone(timezone.utc)
        if dialect.name == "postgresql":
            return as_utc
        return as_utc.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """The value read back, always an aware UTC datetime (``None`` stays ``None``)."""
        if value is None:
            return None
        if not isinstance(value, datetime):
            # SQLite hands back strings when a value was written by raw SQL.
            value = datetime.fromisoformat(str(value))
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


#: The ``MetaData`` every ledger table belongs to.
metadata = sa.MetaData()

#: ``yxt_schema_version``: one row, the schema version.
schema_version = sa.Table(
    "yxt_schema_version",
    metadata,
    # Always 1: the table holds exactly one row, and the fixed key makes writing it idempotent.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

#: ``yxt_campaigns``: one row per campaign (its task, template, status, error).
campaigns = sa.Table(
    "yxt_campaigns",
    metadata,
    sa.Column("campaign_id", sa.String(CAMPAIGN_ID_LENGTH), primary_key=True),
    sa.Column("dag_id", sa.String(250), nullable=False),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("task_id", sa.String(250), nullable=False),
    sa.Column("map_index", sa.Integer, nullable=False),
    sa.Column("template_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("planned", sa.Integer, nullable=False),
    sa.Column("invalid", sa.Integer, nullable=False),
    sa.Column("duplicate", sa.Integer, nullable=False),
    # Recipients skipped by compliance: on the opt-out list (at planning, or before their batch's
    # first attempt), or over the frequency cap. Each also has its row in yxt_excluded_recipients.
    sa.Column("opted_out", sa.Integer, nullable=False, server_default="0"),
    sa.Column("capped", sa.Integer, nullable=False, server_default="0"),
    sa.Column("batches", sa.Integer, nullable=False),
    sa.Column("segments", sa.Integer, nullable=False),
    sa.Column("source_fingerprint", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    # The campaigns view pages newest first, over every DAG or one.
    sa.Index("ix_yxt_campaigns_created", "created_at"),
    sa.Index("ix_yxt_campaigns_dag_created", "dag_id", "created_at"),
)

#: ``yxt_batches``: one row per batch of a campaign (serial, text, state, attempts).
batches = sa.Table(
    "yxt_batches",
    metadata,
    sa.Column("campaign_id", sa.String(CAMPAIGN_ID_LENGTH), primary_key=True),
    sa.Column("batch_index", sa.Integer, primary_key=True, autoincrement=False),
    # VARCHAR(20), not CHAR(20): on PostgreSQL a bpchar column compared with a text value
    # (what a JSON page of receipts yields) is cast, which disables its index.
    # Unique across campaigns: the gateway deduplicates by serial, so two batches sharing
    # one would silently drop the second.
    sa.Column("serial_number", sa.String(SERIAL_LENGTH), nullable=False, unique=True),
    sa.Column("template_id", sa.String(64), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(128), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("gateway_task_id", sa.String(128), nullable=True),
    sa.Column("duplicate", sa.Boolean, nullable=False),
    sa.Column("attempted_at", UTCDateTime, nullable=True),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.Column("error_code", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
)

#: ``yxt_messages``: one row per planned recipient (number, batch, position, receipt).
messages = sa.Table(
    "yxt_messages",
    metadata,
    # (serial, phone) is what a receipt names, so it is the key receipts are matched on.
    sa.Column("serial_number", sa.String(SERIAL_LENGTH), primary_key=True),
    sa.Column("phone", sa.String(PHONE_LENGTH), primary_key=True),
    sa.Column("campaign_id", sa.String(CAMPAIGN_ID_LENGTH), nullable=False),
    sa.Column("batch_index", sa.Integer, nullable=False),
    # Ordinal within the batch: batch_numbers() returns numbers in planned order, so a
    # re-send rebuilds exactly the same userNumber list as the first attempt.
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("result_code", sa.Integer, nullable=True),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.Column("receipt_at", UTCDateTime, nullable=True),
    # The recipient's row in the source the campaign was planned from (1-based), so an export
    # can list every input row in order; NULL for campaigns planned before schema version 2.
    sa.Column("input_row", sa.Integer, nullable=True),
    # Deliberately no index on status: a receipt changes a message's status, and with
    # status indexed every receipt rewrites index entries (on PostgreSQL it also rules out
    # HOT updates, so all indexes get a new entry). Measured on 1M messages, dropping a
    # (campaign_id, status) index doubled store_receipts throughput on PostgreSQL. Reports
    # count by status over this index instead, which is fast enough for a report.
    # Covers Ledger.batch_numbers (numbers of one batch in planned order) without touching
    # the table or sorting: that read is on the send path, once per batch.
    sa.Index("ix_yxt_messages_campaign_batch", "campaign_id", "batch_index", "position", "phone"),
    # Who messaged this number lately: a reply is attributed to the campaign that did. Not
    # touched by receipts (they change status only), so it costs no HOT update.
    sa.Index("ix_yxt_messages_phone", "phone"),
    # The row lives in the primary-key B-tree: a receipt's lookup and update touch one tree.
    sqlite_with_rowid=False,
)
# Half of each heap page left free lets PostgreSQL update a message in place (HOT, no new
# index entries). A page of receipts updates whole heap pages of messages in one
# transaction, so the space must hold many new row versions at once: measured on 100k
# messages, 85% fill kept 18% of updates in place, 50% kept 87% and halved the server
# time per page. The price is a messages table about twice as large.
# Set right after CREATE TABLE rather than with Table(postgresql_with=...): that option
# exists only from SQLAlchemy 2.1, and the ledger supports 2.0 (Airflow 3.1 installs it).
sa.event.listen(
    messages,
    "after_create",
    sa.DDL("ALTER TABLE %(fullname)s SET (fillfactor = 50)").execute_if(dialect="postgresql"),
)

#: ``yxt_receipts``: every receipt read from the gateway, ours or not.
receipts = sa.Table(
    "yxt_receipts",
    metadata,
    # Raw receipts, kept even when no ledger message matches: the receipt queue is shared by
    # every sender on the account and is read only once, so what we read must never be lost.
    sa.Column("serial_number", sa.String(32), primary_key=True),
    sa.Column("phone", sa.String(PHONE_LENGTH), primary_key=True),
    sa.Column("result", sa.Integer, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("matched", sa.Boolean, nullable=False),
    sqlite_with_rowid=False,
)

#: ``yxt_ledger_identity``: one row, the random key that makes this ledger's serials its own.
ledger_identity = sa.Table(
    "yxt_ledger_identity",
    metadata,
    # One row (id = 1): a random key made when the ledger is created. It is part of every
    # serial, so two ledgers on one gateway account (staging and production running the same
    # DAG) never derive the same serial, while retries within one ledger still reuse theirs.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ledger_key", sa.String(32), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

#: ``yxt_excluded_recipients``: input rows set aside (invalid, duplicate), with their row number.
excluded_recipients = sa.Table(
    "yxt_excluded_recipients",
    metadata,
    # Input rows a campaign set aside instead of planning: per row, why, so the export and a
    # regulator's question can be answered per recipient.
    sa.Column("campaign_id", sa.String(CAMPAIGN_ID_LENGTH), primary_key=True),
    sa.Column("input_row", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("reason", sa.String(16), nullable=False),
    # The entry as given (the user's own data, exported to the user; never logged).
    sa.Column("value", sa.Text, nullable=False),
    # For a row that repeats a number: the row where the number first appeared.
    sa.Column("duplicate_of_row", sa.Integer, nullable=True),
)

#: ``yxt_replies``: inbound replies, identified by their content and gateway id (or occurrence).
replies = sa.Table(
    "yxt_replies",
    metadata,
    # A reply is its content (number, time, text, access number) with the id the gateway
    # gives it in its page, hashed; for a gateway that gives none, with its occurrence among
    # identical items of one page. A page delivered again adds nothing.
    sa.Column("reply_key", sa.String(64), primary_key=True),
    sa.Column("user_number", sa.String(PHONE_LENGTH), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("reply_time", UTCDateTime, nullable=False),
    sa.Column("call_mdn", sa.String(32), nullable=False),
    sa.Column("occurrence", sa.Integer, nullable=False),
    # The campaign of this ledger that last messaged the number before the reply, within the
    # attribution window; NULL when none did.
    sa.Column("campaign_id", sa.String(CAMPAIGN_ID_LENGTH), nullable=True),
    sa.Column("stored_at", UTCDateTime, nullable=False),
    # The id the gateway gave the reply in its page, when it gives one (then the key is made of it).
    sa.Column("gateway_id", sa.String(64), nullable=True),
    sa.Index("ix_yxt_replies_campaign", "campaign_id"),
    sa.Index("ix_yxt_replies_number_time", "user_number", "reply_time"),
)

#: ``yxt_reply_handled``: which consumer has handled which reply.
reply_handled = sa.Table(
    "yxt_reply_handled",
    metadata,
    # Which consumer has handled which reply: written in the consumer's own transaction
    # (Ledger.take_replies), so a lost or repeated wake-up event neither skips nor repeats work.
    sa.Column("consumer", sa.String(100), primary_key=True),
    sa.Column("reply_key", sa.String(64), primary_key=True),
    sa.Column("handled_at", UTCDateTime, nullable=False),
)

#: ``yxt_opt_outs``: numbers that refused further messages, with when, how, and the reply that did it.
opt_outs = sa.Table(
    "yxt_opt_outs",
    metadata,
    # Numbers that refused further messages: campaigns skip them unless told otherwise
    # (respect_opt_out=False, for transactional messages). Kept with the evidence.
    sa.Column("phone", sa.String(PHONE_LENGTH), primary_key=True),
    sa.Column("opted_out_at", UTCDateTime, nullable=False),
    # "reply" (an unsubscribe keyword was answered), "manual" or "import".
    sa.Column("source", sa.String(16), nullable=False),
    # The reply that caused it (yxt_replies.reply_key), for source "reply".
    sa.Column("reply_key", sa.String(64), nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    # "Any opt-out since this campaign was planned?": one index probe per batch on the send path.
    sa.Index("ix_yxt_opt_outs_opted_out_at", "opted_out_at"),
    # Opt-outs per campaign (the campaigns view): the replies of a campaign, then their opt-outs.
    sa.Index("ix_yxt_opt_outs_reply", "reply_key"),
)

#: ``yxt_account_pace``: one row per gateway account, the send pace every task on it shares.
account_pace = sa.Table(
    "yxt_account_pace",
    metadata,
    # A hash of the gateway host, app key and sp_code: the gateway limits requests per account,
    # so every task sending through that account reserves its slots on this one row.
    sa.Column("account_key", sa.String(ACCOUNT_KEY_LENGTH), primary_key=True),
    # Times are seconds since the Unix epoch on the DATABASE's clock (one clock for every worker,
    # however skewed their own are). Double precision: MySQL's FLOAT would round them to minutes.
    # The next free send moment: each reservation takes max(next_slot, now) and moves it 1/rate on.
    sa.Column("next_slot", sa.Double, nullable=False),
    # The shared pace in requests per second (multiplicative decrease on code 11, additive increase).
    sa.Column("rate", sa.Double, nullable=False),
    # The ceiling of the last connection that reserved a slot (its max_requests_per_second).
    sa.Column("max_rate", sa.Double, nullable=False),
    # Code 11 answers reported by every task, and the moment the rate was last cut for one.
    sa.Column("throttles", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_throttle_at", sa.Double, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

#: ``yxt_approval_questions``: one row per try of a human-in-the-loop task that approvers may answer by SMS.
approval_questions = sa.Table(
    "yxt_approval_questions",
    metadata,
    # The task instance's id (Airflow's HITL detail is keyed by it) and try: a cleared task asks
    # again, with a question of its own.
    sa.Column("question_key", sa.String(64), primary_key=True),
    sa.Column("ti_id", sa.String(36), nullable=False),
    sa.Column("dag_id", sa.String(250), nullable=False),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("task_id", sa.String(250), nullable=False),
    sa.Column("map_index", sa.Integer, nullable=False),
    sa.Column("try_number", sa.Integer, nullable=False),
    # The short code in the text ("A"); unique among the open questions of each approver.
    sa.Column("code", sa.String(8), nullable=False),
    # The HITL request's options (JSON list), in the order the text numbers them.
    sa.Column("options", sa.Text, nullable=False),
    sa.Column("multiple", sa.Boolean, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("asked_at", UTCDateTime, nullable=False),
    sa.Column("closed_at", UTCDateTime, nullable=True),
    # Answered by SMS: the options chosen (JSON list) and the reply that chose them.
    sa.Column("answer", sa.Text, nullable=True),
    sa.Column("reply_key", sa.String(64), nullable=True),
    sa.Index("ix_yxt_approval_questions_state", "state"),
)

#: ``yxt_approval_approvers``: who may answer each question (only these numbers can).
approval_approvers = sa.Table(
    "yxt_approval_approvers",
    metadata,
    sa.Column("question_key", sa.String(64), primary_key=True),
    sa.Column("phone", sa.String(PHONE_LENGTH), primary_key=True),
    # A reply is matched by its number: its open questions in one index probe.
    sa.Index("ix_yxt_approval_approvers_phone", "phone"),
)

#: ``yxt_approval_outcomes``: what each reply that concerned an approval came to, with why.
approval_outcomes = sa.Table(
    "yxt_approval_outcomes",
    metadata,
    # One outcome per reply: the responder handles each reply once (Ledger.take_replies).
    sa.Column("reply_key", sa.String(64), primary_key=True),
    sa.Column("question_key", sa.String(64), nullable=True),
    sa.Column("outcome", sa.String(24), nullable=False),
    # Why, in words (never a phone number).
    sa.Column("detail", sa.Text, nullable=True),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
)
