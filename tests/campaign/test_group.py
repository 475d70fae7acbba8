"""Campaign groups: what a sensor or report may be given, its label, missing shards, the group's report."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from tests.ledger.conftest import make_batches, make_campaign
from yxt_provider.campaign.errors import CampaignIdError
from yxt_provider.campaign.group import (
    NO_CAMPAIGN_RECORDED,
    campaign_group_of,
    group_label,
    group_report,
    recorded,
)
from yxt_provider.ledger import Ledger


class LazySequence(Sequence[dict[str, object]]):
    """Like Airflow's LazyXComSequence: a Sequence, not a list."""

    def __init__(self, items: list[dict[str, object]]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> dict[str, object]:  # type: ignore[override]
        return self._items[index]

    def __iter__(self) -> Iterator[dict[str, object]]:
        return iter(self._items)


def test_one_id_or_summary_is_a_single_campaign() -> None:
    for value in ("d/r/send/-1", {"campaign_id": "d/r/send/-1", "sent": 3}):
        group = campaign_group_of(value)
        assert not group.grouped and group.campaign_ids == ("d/r/send/-1",) and group.label == "d/r/send/-1"


def test_a_sequence_of_summaries_is_a_group_labelled_by_its_send() -> None:
    summaries = LazySequence([{"campaign_id": f"d/r/send/{i}", "sent": i} for i in range(3)])
    group = campaign_group_of(summaries)
    assert group.grouped and group.campaign_ids == ("d/r/send/0", "d/r/send/1", "d/r/send/2")
    assert group.label == "d/r/send/*"
    assert group.shards[1].summary == {"campaign_id": "d/r/send/1", "sent": 1}
    # Ids and summaries mixed, repeats once; a group of one is still a group.
    again = campaign_group_of(["d/r/send/0", {"campaign_id": "d/r/send/0"}, "d/r/send/1"])
    assert again.campaign_ids == ("d/r/send/0", "d/r/send/1")
    assert campaign_group_of(["x/0"]).grouped and campaign_group_of(["x/0"]).label == "x/*"
    # A group's XCom (from a wait or report) names the group again.
    assert campaign_group_of({"campaign_id": "d/r/send/*", "campaign_ids": ["a/0", "a/1"]}).campaign_ids == (
        "a/0",
        "a/1",
    )


def test_labels_of_groups_that_are_not_one_send() -> None:
    assert group_label(["a/0", "b/1"]) == "a/0 and 1 more"
    assert group_label(["plain"]) == "plain"


def test_empty_or_bad_entries_name_the_parameter() -> None:
    with pytest.raises(CampaignIdError, match="campaign_id is an empty sequence"):
        campaign_group_of([])
    with pytest.raises(CampaignIdError, match=r"campaign_id\[1\]: .*got \{'campaign_id': None\}"):
        campaign_group_of(["a/0", {"campaign_id": None}])
    with pytest.raises(CampaignIdError, match="campaign_id must be"):
        campaign_group_of(None)


def test_map_indexes_without_a_summary_become_missing_shards() -> None:
    group = campaign_group_of([{"campaign_id": "s/0"}, {"campaign_id": "s/2"}])
    filled = group.with_map_indexes({0, 1, 2, 3})
    assert filled.campaign_ids == ("s/0", "s/1", "s/2", "s/3")
    assert filled.shards[1].summary is None
    assert group.with_map_indexes({0, 2}) == group
    unrelated = campaign_group_of(["a/0", "b/1"])
    assert unrelated.with_map_indexes({0, 1, 2}) == unrelated  # no common send: nothing to infer


def test_group_report_names_missing_shards_and_keeps_their_summary(ledger: Ledger) -> None:
    assert ledger.create_plan(make_campaign("s/0", map_index=0), make_batches("s/0", [3]))
    ledger.mark_sent("s/0", 0, gateway_task_id="A", duplicate=False)
    refused = {"campaign_id": "s/1", "status": "rejected", "error": "template unknown", "invalid": 4}
    group = campaign_group_of([{"campaign_id": "s/0"}, refused]).with_map_indexes({0, 1, 2})

    report = group_report(ledger, group)

    assert report.campaign_id == "s/*" and [s.campaign_id for s in report.shards] == ["s/0", "s/1", "s/2"]
    assert (report.total, report.sent, report.pending, report.invalid) == (3, 3, 3, 4)
    assert report.missing_shards == ("s/1", "s/2") and recorded(report) == ("s/0",)
    assert report.shards[1].error == "template unknown"
    assert report.shards[2].error == NO_CAMPAIGN_RECORDED
    assert f"s/1: template unknown; s/2: {NO_CAMPAIGN_RECORDED}" in (report.error or "")
    assert report.to_dict()["missing_shards"] == ["s/1", "s/2"]
    # One campaign: its own report, without shards.
    single = group_report(ledger, campaign_group_of("s/0"))
    assert single.shards == () and single == ledger.delivery_report("s/0")
