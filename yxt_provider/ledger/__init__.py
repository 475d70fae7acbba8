"""The delivery ledger: SQL tables (SQLAlchemy Core) for campaigns, batches, messages and receipts.

Pure Python, no Airflow import: usable from operators, triggers, scripts and tests alike.
SQLite (one machine), PostgreSQL and MySQL are supported.
"""

from yxt_provider.ledger.engine import create_ledger_engine
from yxt_provider.ledger.migrations import LATEST_VERSION, LedgerSchemaError, ensure_schema
from yxt_provider.ledger.models import BatchRecord, CampaignRecord, PlannedBatch, ReceiptIngestCounts
from yxt_provider.ledger.report import DeliveryReport, export_campaign_csv
from yxt_provider.ledger.store import Ledger, LedgerError, UnknownBatchError, UnknownCampaignError

__all__ = [
    "LATEST_VERSION",
    "BatchRecord",
    "CampaignRecord",
    "DeliveryReport",
    "Ledger",
    "LedgerError",
    "LedgerSchemaError",
    "PlannedBatch",
    "ReceiptIngestCounts",
    "UnknownBatchError",
    "UnknownCampaignError",
    "create_ledger_engine",
    "ensure_schema",
    "export_campaign_csv",
]
