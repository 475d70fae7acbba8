"""``SmsCampaignLink``: the send task's "SMS campaign" button, opening its campaign in the view.

Airflow 3 resolves an operator's extra links on the worker when the task ends (whatever its
state) and keeps each in XCom, so the link is a plain URL: the view's page for the task
instance (``/yxt/task``), which finds the campaign the task planned by its dag, run, task and
map index. On Airflow 3.3 it opens inside Airflow's UI (``/plugin/sms-campaigns/...``, a route
whose frame follows a path); on earlier versions, the view's own page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from airflow.sdk import BaseOperatorLink

from yxt_provider.plugins.paths import CAMPAIGNS_URL_ROUTE, MOUNT_PREFIX

__all__ = ["SmsCampaignLink", "task_campaign_path"]


def _ui_frames_paths() -> bool:
    """Whether Airflow's UI has ``/plugin/<route>/<path>`` (3.3 and later; seen in its bundle)."""
    from airflow import __version__

    major, minor = (int(part) for part in __version__.split(".")[:2])
    return (major, minor) >= (3, 3)


def task_campaign_path(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    """The view's page of a task instance's campaign: inside Airflow's UI where it can frame it."""
    query = urlencode({"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": map_index})
    page = f"{MOUNT_PREFIX}/task?{query}"
    return f"/plugin/{CAMPAIGNS_URL_ROUTE}{page}" if _ui_frames_paths() else page


class SmsCampaignLink(BaseOperatorLink):
    """Opens the task instance's campaign in the "SMS campaigns" view of Airflow's UI."""

    name = "SMS campaign"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        """The view's page for ``ti_key`` (the task instance), under ``[api] base_url`` when it is set."""
        from airflow.configuration import conf

        base = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
        return base + task_campaign_path(ti_key.dag_id, ti_key.run_id, ti_key.task_id, ti_key.map_index)
