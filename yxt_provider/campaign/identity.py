"""Campaign identity: which task instance sends a campaign, and the campaign's id.

One task instance (dag, run, task, map index) sends one campaign. Its retries share the
campaign id, so they resume the recorded plan; other runs and other map indexes get ids of
their own. The id is the ledger key and the seed of the batch serials, so the rules here
are what make a retry a resume rather than a second send.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yxt_provider.campaign.errors import CampaignIdError, CampaignRejected
from yxt_provider.ledger.models import CampaignRecord

__all__ = ["TaskIdentity", "campaign_id_of", "default_campaign_id"]


def default_campaign_id(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    """The campaign id of one task instance: retries share it, other runs and map indexes do not.

    :param dag_id: the DAG.
    :param run_id: the DAG run.
    :param task_id: the task.
    :param map_index: the mapped task's index, -1 when not mapped.
    """
    return f"{dag_id}/{run_id}/{task_id}/{map_index}"


@dataclass(frozen=True)
class TaskIdentity:
    """The task instance that sends a campaign.

    :param dag_id: the DAG.
    :param run_id: the DAG run.
    :param task_id: the task.
    :param map_index: the mapped task's index, -1 when not mapped.
    """

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1

    @classmethod
    def of(cls, task_instance: Any) -> TaskIdentity:
        """Read the identity off a task instance (anything with ``dag_id``, ``run_id``, ``task_id``, ``map_index``).

        :param task_instance: e.g. ``context["ti"]``.
        """
        index = getattr(task_instance, "map_index", None)
        return cls(
            dag_id=task_instance.dag_id,
            run_id=task_instance.run_id,
            task_id=task_instance.task_id,
            map_index=-1 if index is None else int(index),
        )

    def campaign_id(self, requested: str | None = None) -> str:
        """The id of the campaign this task instance sends.

        :param requested: the author's ``campaign_id``, if any. Mapped shards of one task share
            it, so each shard's id gets ``/<map index>`` appended: every shard stays a campaign
            of its own.
        """
        if not requested:
            return default_campaign_id(self.dag_id, self.run_id, self.task_id, self.map_index)
        return requested if self.map_index < 0 else f"{requested}/{self.map_index}"

    def check_planned_by(self, campaign: CampaignRecord) -> None:
        """Refuse to resume a campaign another task planned: its plan holds that task's recipients.

        :param campaign: the campaign recorded under this task's campaign id.
        :raises CampaignRejected: when another task (or map index) planned it.
        """
        planned_by = (campaign.dag_id, campaign.task_id, campaign.map_index)
        if planned_by != (self.dag_id, self.task_id, self.map_index):
            raise CampaignRejected(
                f"campaign_id {campaign.campaign_id!r} was planned by another task "
                f"(dag {planned_by[0]!r}, task {planned_by[1]!r}, map index {planned_by[2]}); "
                "sending its plan from here would skip this task's recipients. Give each task its own campaign_id"
            )


def campaign_id_of(value: Any) -> str:
    """The campaign id in ``value``: an id, or a send task's summary dict (``send.output``).

    :param value: a campaign id or ``SendSmsOperator``'s summary.
    :raises CampaignIdError: when ``value`` holds no campaign id.
    """
    if isinstance(value, Mapping):  # the send task's whole summary
        value = value.get("campaign_id")
    if not isinstance(value, str) or not value.strip():
        raise CampaignIdError(
            f"campaign_id must be a campaign id or the send task's summary (send.output), got {value!r}"
        )
    return value.strip()
