"""``SmsCampaignLink``: the send task's "SMS campaign" button, opening its campaign in the view.

Airflow 3 resolves an operator's extra links on the worker when the task ends (whatever its
state) and keeps each in XCom, so the link is a plain URL: the view's page for the task
instance (``/yxt/task``), inside Airflow's UI (``/plugin/sms-campaigns/...``), which finds
the campaign the task planned by its dag, run, task and map index.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from airflow.sdk import BaseOperatorLink

__all__ = ["CAMPAIGNS_URL_ROUTE", "SmsCampaignLink", "task_campaign_path"]

#: The view's route in Airflow's UI (``/plugin/<route>``).
CAMPAIGNS_URL_ROUTE = "sms-campaigns"
# Kept in step with yxt_provider.plugins.app.MOUNT_PREFIX, which this module must not import (it
# loads FastAPI; operator modules stay light at DAG parse time).
_MOUNT_PREFIX = "/yxt"


def task_campaign_path(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    """The view's page of a task instance's campaign, as a path of Airflow's UI."""
    query = urlencode({"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": map_index})
    return f"/plugin/{CAMPAIGNS_URL_ROUTE}{_MOUNT_PREFIX}/task?{query}"


class SmsCampaignLink(BaseOperatorLink):
    """Opens the task instance's campaign in the "SMS campaigns" view of Airflow's UI."""

    name = "SMS campaign"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        """The view's page for ``ti_key`` (the task instance), under ``[api] base_url`` when it is set."""
        from airflow.configuration import conf

        base = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
        return base + task_campaign_path(ti_key.dag_id, ti_key.run_id, ti_key.task_id, ti_key.map_index)
