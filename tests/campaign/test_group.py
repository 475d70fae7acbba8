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


def test_a_shard_that_failed_for_good_does_not_keep_the_wait_open(ledger: Ledger) -> None:
    from tests.ledger.conftest import phone, serial
    from yxt_provider.campaign.group import judged_report
    from yxt_provider.client.models import Receipt
    from yxt_provider.receipts.conditions import DeliveryOutcome, evaluate_condition

    # s/0 sent all 3; s/1 sent its first batch of 2, then its last try failed with 2 unsent.
    assert ledger.create_plan(make_campaign("s/0", map_index=0), make_batches("s/0", [3], campaign_no=1))
    assert ledger.create_plan(
        make_campaign("s/1", map_index=1), make_batches("s/1", [2, 2], campaign_no=2, start=3)
    )
    ledger.mark_sent("s/0", 0, gateway_task_id="A", duplicate=False)
    ledger.mark_sent("s/1", 0, gateway_task_id="B", duplicate=False)
    ledger.store_receipts(
        [Receipt(serial(1, 0), phone(k), 0) for k in range(3)] + [Receipt(serial(2, 0), phone(3), 0)]
    )
    failed = {"campaign_id": "s/1", "status": "incomplete", "error": "gateway unreachable"}
    group = campaign_group_of([{"campaign_id": "s/0", "status": "sent"}, failed])
    assert group.settled_unsent == ("s/1",)

    report = group_report(ledger, group)
    assert (report.not_sent, report.pending) == (2, 1)  # people are told what was never sent
    assert evaluate_condition(report, "all_final") is DeliveryOutcome.WAITING
    judged = judged_report(report, group.settled_unsent)
    assert judged.not_sent == 0 and evaluate_condition(judged, "all_final") is DeliveryOutcome.WAITING
    # Its sent messages are still waited for: once the last receipt is in, the wait is over.
    ledger.store_receipts([Receipt(serial(2, 0), phone(4), 0)])
    report = group_report(ledger, group)
    assert evaluate_condition(report, "all_final") is DeliveryOutcome.WAITING  # would wait until timeout
    assert evaluate_condition(judged_report(report, group.settled_unsent), "all_final") is DeliveryOutcome.MET
    # A shard that is still sending, or paused by its send window, is not settled.
    for status in ("sent", "paused", "waiting"):
        assert campaign_group_of([{"campaign_id": "s/1", "status": status}]).settled_unsent == ()
