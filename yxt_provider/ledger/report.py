"""Delivery reports as DAG authors ask for them: their options, and everything report in one import.

The report itself (:class:`~yxt_provider.ledger.models.DeliveryReport`) and what result
codes mean live in :mod:`yxt_provider.ledger.models`; the queries that fill it and the CSV
export in :mod:`yxt_provider.ledger.read_models`. This module reads the report options a
DAG gives (``pending_timeout``, ``result_meanings``) and re-exports the rest, so operators
and sensors keep one import.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from yxt_provider.ledger.models import RESULT_MEANINGS, DeliveryReport, describe_result
from yxt_provider.ledger.read_models import (
    CSV_COLUMNS,
    GROUP_CSV_COLUMNS,
    export_campaign_csv,
    export_group_csv,
)

__all__ = [
    "CSV_COLUMNS",
    "GROUP_CSV_COLUMNS",
    "RESULT_MEANINGS",
    "DeliveryReport",
    "describe_result",
    "export_campaign_csv",
    "export_group_csv",
    "pending_timeout_of",
    "result_meanings",
]


def pending_timeout_of(value: float | timedelta | None) -> timedelta | None:
    """A report's ``pending_timeout`` as DAG authors give it: seconds, a timedelta, or ``None``.

    :param value: seconds, a timedelta, or ``None`` (no timeout).
    """
    return value if value is None or isinstance(value, timedelta) else timedelta(seconds=value)


def result_meanings(values: Mapping[Any, Any] | None) -> dict[int, str]:
    """Normalise a ``{code: meaning}`` mapping from a DAG (keys may be strings, as in JSON).

    :param values: the mapping as the DAG gives it, or ``None``.
    :raises ValueError: when a key is not an integer code.
    """
    normalised: dict[int, str] = {}
    for code, meaning in (values or {}).items():
        try:
            normalised[int(code)] = str(meaning)
        except (TypeError, ValueError):
            raise ValueError(
                f"result_meanings keys must be receipt result codes (integers), got {code!r}"
            ) from None
    return normalised
