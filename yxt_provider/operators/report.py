"""``SmsDeliveryReportOperator``: a campaign's delivery report as a log table, an XCom dict and a CSV."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from yxt_provider.hooks.ledger import LedgerUserMixin
from yxt_provider.ledger.report import pending_timeout_of
from yxt_provider.ledger.report import result_meanings as result_meanings_of

if TYPE_CHECKING:
    from airflow.sdk import Context

    from yxt_provider.ledger import DeliveryReport

__all__ = ["SmsDeliveryReportOperator"]

# Upstream states that make the run a failure (a report after them must not hide it).
_FAILED_STATES = frozenset({"failed", "upstream_failed"})


class SmsDeliveryReportOperator(LedgerUserMixin, BaseOperator):
    """Report where every input row and message of a campaign stands, also after a failed send.

    Reads the ledger (optionally draining waiting receipts into it first, so receipts that
    arrived after a sensor gave up are counted). Logs the report as a table and returns it
    (XCom) as a small dict of counts — never a phone number. With ``csv_path`` it also
    writes one row per input row (full numbers: it is your data file; its rows are never
    logged) to a local path or any ``ObjectStoragePath`` URL (``s3://...``, ``file://...``).

    Made for ``trigger_rule="all_done"`` after the send: ``SendSmsOperator`` hands on its
    summary also when it fails, so the report says what was sent, what was not and why, even
    when the send was refused before anything was planned (a wrong template, an empty file).
    A report that ran because an upstream task failed then fails itself, after reporting, so
    the DAG run is not marked a success (``fail_when_upstream_failed``).

    Given the shards of a mapped send (``campaign_id=send.output`` after
    ``SendSmsOperator.partial(...).expand(...)``), it reports them as one campaign group: the
    totals are the shards' combined counts, the log has a per-shard table, the XCom dict a
    ``shards`` list and the CSV a leading ``campaign_id`` column. Shards that recorded no
    campaign (refused before planning, or failed without handing on a summary) are listed in
    ``missing_shards``, with status ``not planned`` and why.

    :param campaign_id: the campaign (templated): an id, the send task's summary
        (``send.output``), or a sequence of ids or summaries (``send.output`` of a mapped
        send): a campaign group. An empty sequence fails the task.
    :param ledger_conn_id: the ledger's SQL connection (templated); default the embedded SQLite file.
    :param yxt_conn_id: when set, drain the receipt queue into the ledger before reporting (templated).
    :param pending_timeout: seconds (or a timedelta): messages sent longer ago without a receipt
        are counted as ``pending_past_timeout``.
    :param csv_path: where to export the per-row CSV (templated); ``None`` for no export.
    :param max_pages: receipt pages to read at most when draining first.
    :param result_meanings: what failure result codes mean for this account
        (``{2: "空号"}``); printed beside the codes and included in the XCom dict and CSV.
    :param fail_when_upstream_failed: after reporting, fail when a direct upstream task failed
        (or was upstream-failed), so the run shows the failure the report describes.
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
        fail_when_upstream_failed: bool = True,
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
        self.fail_when_upstream_failed = fail_when_upstream_failed

    def execute(self, context: Context) -> dict[str, Any]:
        """Drain (optional), report, export (optional); return the report dict."""
        report = self._report(context)
        self.log.info("\n%s", report.as_table(self.result_meanings))
        result = report.to_dict(self.result_meanings)
        if self.csv_path:
            rows = self._export(report, self.csv_path)
            result["csv_path"] = str(self.csv_path)
            self.log.info("Wrote %d recipient rows to %s", rows, self.csv_path)
        failed = self._failed_upstream(context) if self.fail_when_upstream_failed else []
        if failed:
            if self.do_xcom_push:
                context["ti"].xcom_push("return_value", result)
            raise AirflowFailException(
                f"The delivery report is above (and in XCom); failing because upstream {', '.join(failed)} "
                "failed. Set fail_when_upstream_failed=False to let the report succeed regardless"
            )
        return result

    def _report(self, context: Context | None = None) -> DeliveryReport:
        from yxt_provider.campaign.group import group_report, recorded
        from yxt_provider.hooks.yxt import YxtHook
        from yxt_provider.operators.groups import campaign_group_in, no_campaign_recorded
        from yxt_provider.receipts.ingest import drain_receipts

        group = campaign_group_in(self.campaign_id, self, context)
        # Read once to see what the ledger has; a send refused before any plan (wrong
        # template, empty source, bad connection) leaves only its summary to report.
        report = group_report(self.ledger, group, pending_timeout=self.pending_timeout)
        if not recorded(report):
            if not any(shard.error for shard in group.shards):
                if not group.grouped:
                    self.ledger_hook.require_campaign(group.label)  # fails, saying where it looked
                raise no_campaign_recorded(group, self.ledger_conn_id)
            return report
        if self.yxt_conn_id:
            hook = YxtHook(self.yxt_conn_id)
            try:
                ingest = drain_receipts(hook, self.ledger, max_pages=self.max_pages)
            finally:
                hook.close()
            self.log.info("Ingested %d receipts first (%d settled messages)", ingest.read, ingest.matched)
            report = group_report(self.ledger, group, pending_timeout=self.pending_timeout)
        return report

    def _failed_upstream(self, context: Context) -> list[str]:
        upstream = sorted(self.upstream_task_ids)
        if not upstream:
            return []
        ti = context["ti"]
        states = ti.get_task_states(dag_id=ti.dag_id, task_ids=upstream, run_ids=[ti.run_id])
        return [
            f"{task} ({state})"
            for task, state in sorted(states.get(ti.run_id, {}).items())
            if str(getattr(state, "value", state)) in _FAILED_STATES
        ]

    def _export(self, report: DeliveryReport, target: Any) -> int:
        from yxt_provider.ledger import export_campaign_csv, export_group_csv

        if isinstance(target, str) and "://" in target:
            from airflow.sdk import ObjectStoragePath

            target = ObjectStoragePath(target)

        def write(out: Any) -> int:
            if report.shards:
                ids = [shard.campaign_id for shard in report.shards]
                return export_group_csv(self.ledger, ids, out, self.result_meanings)
            return export_campaign_csv(self.ledger, report.campaign_id, out, self.result_meanings)

        if hasattr(target, "open") and not isinstance(target, str):
            # ObjectStoragePath (or pathlib.Path): write through its own file API.
            if hasattr(target, "parent"):
                target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("w", encoding="utf-8", newline="") as handle:
                return write(handle)
        return write(target)
