"""``SmsDeliveryReportOperator``: a campaign's delivery report as a log table, an XCom dict and a CSV."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from yxt_provider.hooks.ledger import LedgerUserMixin
from yxt_provider.ledger.report import pending_timeout_of
from yxt_provider.ledger.report import result_meanings as result_meanings_of

if TYPE_CHECKING:
    from airflow.sdk import Context


__all__ = ["SmsDeliveryReportOperator"]


class SmsDeliveryReportOperator(LedgerUserMixin, BaseOperator):
    """Report where every message of a campaign stands: delivered, failed by result code, pending.

    Reads the ledger (optionally draining waiting receipts into it first, so receipts that
    arrived after a sensor gave up are counted). Logs the report as a table and returns it
    (XCom) as a small dict of counts — never a phone number. With ``csv_path`` it also
    writes one row per recipient (full numbers: it is your data file; its rows are never
    logged) to a local path or any ``ObjectStoragePath`` URL (``s3://...``, ``file://...``).

    :param campaign_id: the campaign (templated); a ``SendSmsOperator`` summary dict works too.
    :param ledger_conn_id: the ledger's SQL connection (templated); default the embedded SQLite file.
    :param yxt_conn_id: when set, drain the receipt queue into the ledger before reporting (templated).
    :param pending_timeout: seconds (or a timedelta): messages sent longer ago without a receipt
        are counted as ``pending_past_timeout``.
    :param csv_path: where to export the per-recipient CSV (templated); ``None`` for no export.
    :param max_pages: receipt pages to read at most when draining first.
    :param result_meanings: what failure result codes mean for this account
        (``{2: "空号"}``); printed beside the codes and included in the XCom dict.
    """

    template_fields: Sequence[str] = ("campaign_id", "csv_path", "ledger_conn_id", "yxt_conn_id")
    ui_color = "#f4efe3"

    def __init__(
        self,
        *,
        campaign_id: Any,
        ledger_conn_id: str | None = None,
        yxt_conn_id: str | None = None,
        pending_timeout: float | timedelta | None = None,
        csv_path: Any = None,
        max_pages: int = 100,
        result_meanings: Mapping[Any, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.result_meanings = result_meanings_of(result_meanings)
        self.campaign_id = campaign_id
        self.ledger_conn_id = ledger_conn_id
        self.yxt_conn_id = yxt_conn_id
        self.pending_timeout = pending_timeout_of(pending_timeout)
        self.csv_path = csv_path
        self.max_pages = max_pages

    def execute(self, context: Context) -> dict[str, Any]:
        """Drain (optional), report, export (optional); return the report dict."""
        from yxt_provider.hooks.yxt import YxtHook
        from yxt_provider.receipts.ingest import drain_receipts

        campaign_id = self.ledger_hook.require_campaign(self.campaign_id)
        if self.yxt_conn_id:
            hook = YxtHook(self.yxt_conn_id)
            try:
                ingest = drain_receipts(hook, self.ledger, max_pages=self.max_pages)
            finally:
                hook.close()
            self.log.info("Ingested %d receipts first (%d settled messages)", ingest.read, ingest.matched)
        report = self.ledger.delivery_report(campaign_id, pending_timeout=self.pending_timeout)
        self.log.info("\n%s", report.as_table(self.result_meanings))
        result = report.to_dict(self.result_meanings)
        if self.csv_path:
            rows = self._export(campaign_id, self.csv_path)
            result["csv_path"] = str(self.csv_path)
            self.log.info("Wrote %d recipient rows to %s", rows, self.csv_path)
        return result

    def _export(self, campaign_id: str, target: Any) -> int:
        from yxt_provider.ledger import export_campaign_csv

        if isinstance(target, str) and "://" in target:
            from airflow.sdk import ObjectStoragePath

            target = ObjectStoragePath(target)
        if hasattr(target, "open") and not isinstance(target, str):
            # ObjectStoragePath (or pathlib.Path): write through its own file API.
            if hasattr(target, "parent"):
                target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("w", encoding="utf-8", newline="") as handle:
                return export_campaign_csv(self.ledger, campaign_id, handle)
        return export_campaign_csv(self.ledger, campaign_id, target)
