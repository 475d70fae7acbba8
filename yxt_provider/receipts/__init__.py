"""Delivery receipts: drain the gateway's read-once receipt queue into the ledger, and judge progress.

No Airflow import here: the operators, the sensor and the trigger are thin shells over it.
"""

from yxt_provider.receipts.conditions import (
    CONDITIONS,
    DeliveryOutcome,
    evaluate_condition,
    validate_condition,
)
from yxt_provider.receipts.ingest import IngestResult, adrain_receipts, drain_receipts

__all__ = [
    "CONDITIONS",
    "DeliveryOutcome",
    "IngestResult",
    "adrain_receipts",
    "drain_receipts",
    "evaluate_condition",
    "validate_condition",
]
