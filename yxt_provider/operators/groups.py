"""What a sensor or report was given as ``campaign_id``, as a campaign group, with the task context's help.

The decisions are in :mod:`yxt_provider.campaign.group`; this module adds what only Airflow
knows: the map indexes of a mapped upstream send, so that a shard which failed without
handing on its summary (absent from ``send.output``) is still named as missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from yxt_provider.campaign.errors import CampaignIdError
from yxt_provider.campaign.group import CampaignGroup, campaign_group_of

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["campaign_group_in", "mapped_upstream_indexes", "no_campaign_recorded"]


def campaign_group_in(value: Any, task: Any, context: Context | None) -> CampaignGroup:
    """The campaign group in ``value`` (see :func:`~yxt_provider.campaign.group.campaign_group_of`); the task fails when there is none.

    :param value: the task's rendered ``campaign_id``.
    :param task: the sensor or operator (its direct upstream tasks are looked at).
    :param context: the task context; ``None`` to skip looking for shards without a summary.
    :raises ~airflow.sdk.exceptions.AirflowFailException: for an empty sequence or a value without a campaign id.
    """
    try:
        group = campaign_group_of(value)
    except CampaignIdError as exc:
        raise AirflowFailException(str(exc)) from None
    if group.grouped and context is not None:
        group = group.with_map_indexes(mapped_upstream_indexes(task, context))
    return group


def mapped_upstream_indexes(task: Any, context: Context) -> set[int]:
    """The map indexes of the task's one mapped direct upstream task (the sharded send); empty when there is not exactly one.

    Airflow names a mapped task instance's state ``<task_id>_<map index>``.

    :param task: the sensor or operator.
    :param context: its task context.
    """
    upstream = sorted(getattr(task, "upstream_task_ids", ()) or ())
    if not upstream:
        return set()
    ti = context["ti"]
    states = ti.get_task_states(dag_id=ti.dag_id, task_ids=upstream, run_ids=[ti.run_id]).get(ti.run_id, {})
    mapped: dict[str, set[int]] = {}
    for task_id in upstream:
        if task_id in states:  # not mapped
            continue
        indexes = {
            int(key[len(task_id) + 1 :])
            for key in states
            if key.startswith(f"{task_id}_") and key[len(task_id) + 1 :].isdigit()
        }
        if indexes:
            mapped[task_id] = indexes
    return next(iter(mapped.values())) if len(mapped) == 1 else set()


def no_campaign_recorded(group: CampaignGroup, ledger_conn_id: str | None) -> AirflowFailException:
    """The failure of a sensor or report none of whose group's campaigns is in the ledger.

    :param group: the group it was given.
    :param ledger_conn_id: the ledger it looked in (``None``: the embedded SQLite file).
    """
    return AirflowFailException(
        f"none of the {len(group.shards)} campaigns of group {group.label} is in the ledger; check "
        f"campaign_id and that ledger_conn_id ({ledger_conn_id or 'embedded SQLite'}) is the "
        "ledger the send task used"
    )
