"""The delivery ledger: SQL tables (SQLAlchemy Core) for campaigns, batches, messages and receipts.

Pure Python, no Airflow import: usable from operators, triggers, scripts and tests alike.
Backends, each tested: SQLite (one machine), PostgreSQL, MariaDB (tested on 10.11; 10.5 or
later, for ``INSERT ... RETURNING``). Oracle MySQL 8 should work (it takes the paths for
backends without RETURNING, which the tests run on the others) but no MySQL server is tested.

Modules by job: :mod:`.store` (the :class:`Ledger` API), :mod:`.send_store` and
:mod:`.receipt_store` (writes, per table), :mod:`.pace_store` (the send pace a gateway
account shares), :mod:`.read_models` (reports and counts), :mod:`.dialects` (everything
that differs per backend), :mod:`.expressions` (the status expressions), :mod:`.schema` and
:mod:`.migrations` (tables and their versions), :mod:`.models` (the records and the
delivery report), :mod:`.engine` (engines and transactions).

The names below load on first use: importing a light module (the models) costs no engine.
"""

from typing import TYPE_CHECKING

from yxt_provider._lazy import lazy_exports

if TYPE_CHECKING:
    from yxt_provider.ledger.engine import create_ledger_engine
    from yxt_provider.ledger.errors import LedgerError, UnknownBatchError, UnknownCampaignError
    from yxt_provider.ledger.migrations import LATEST_VERSION, LedgerSchemaError, ensure_schema
    from yxt_provider.ledger.models import (
        AccountPace,
        AttemptStart,
        BatchRecord,
        CampaignRecord,
        DeliveryReport,
        PaceChange,
        PlannedBatch,
        ReceiptIngestCounts,
        ReplyStoreCounts,
        StoredReply,
        describe_result,
    )
    from yxt_provider.ledger.opt_out_keywords import DEFAULT_OPT_OUT_KEYWORDS, is_opt_out
    from yxt_provider.ledger.read_models import export_campaign_csv, export_group_csv
    from yxt_provider.ledger.reply_store import ReplyBatch
    from yxt_provider.ledger.report import pending_timeout_of, result_meanings
    from yxt_provider.ledger.store import Ledger

__all__ = [
    "DEFAULT_OPT_OUT_KEYWORDS",
    "LATEST_VERSION",
    "AccountPace",
    "AttemptStart",
    "BatchRecord",
    "CampaignRecord",
    "DeliveryReport",
    "Ledger",
    "LedgerError",
    "LedgerSchemaError",
    "PaceChange",
    "PlannedBatch",
    "ReceiptIngestCounts",
    "ReplyBatch",
    "ReplyStoreCounts",
    "StoredReply",
    "UnknownBatchError",
    "UnknownCampaignError",
    "create_ledger_engine",
    "describe_result",
    "ensure_schema",
    "export_campaign_csv",
    "export_group_csv",
    "is_opt_out",
    "pending_timeout_of",
    "result_meanings",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "create_ledger_engine": "engine",
        "LedgerError": "errors",
        "UnknownBatchError": "errors",
        "UnknownCampaignError": "errors",
        "LATEST_VERSION": "migrations",
        "LedgerSchemaError": "migrations",
        "ensure_schema": "migrations",
        "AccountPace": "models",
        "AttemptStart": "models",
        "BatchRecord": "models",
        "CampaignRecord": "models",
        "DeliveryReport": "models",
        "PaceChange": "models",
        "PlannedBatch": "models",
        "ReceiptIngestCounts": "models",
        "ReplyStoreCounts": "models",
        "StoredReply": "models",
        "DEFAULT_OPT_OUT_KEYWORDS": "opt_out_keywords",
        "is_opt_out": "opt_out_keywords",
        "ReplyBatch": "reply_store",
        "describe_result": "models",
        "export_campaign_csv": "read_models",
        "export_group_csv": "read_models",
        "pending_timeout_of": "report",
        "result_meanings": "report",
        "Ledger": "store",
    },
    globals(),
)
