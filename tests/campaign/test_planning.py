"""Campaign planning pieces: serials, segments, cleaning, batching."""

from __future__ import annotations

import pytest

from yxt_provider.campaign.planning import ContentError, check_content, plan_campaign
from yxt_provider.campaign.recipients import Recipient, clean_recipients, csv_text_recipients, iter_recipients
from yxt_provider.campaign.segments import segments_for, utf16_units
from yxt_provider.campaign.serials import serial_for_batch


def test_serials_are_deterministic_20_digits_and_distinct() -> None:
    a0, a1 = serial_for_batch("camp-a", 0), serial_for_batch("camp-a", 1)
    assert a0 == serial_for_batch("camp-a", 0)
    assert len(a0) == 20 and a0.isdigit() and a0 != a1 and a0[:14] == a1[:14]
    assert serial_for_batch("camp-b", 0) != a0
    with pytest.raises(ValueError, match="shard"):
        serial_for_batch("camp-a", 1_000_000)


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("a", 1),
        ("字" * 70, 1),
        ("字" * 71, 2),
        ("字" * 134, 2),
        ("字" * 135, 3),
        ("😀" * 35, 1),
        ("😀" * 36, 2),
    ],
)
def test_segments_follow_the_70_67_rule_in_utf16_units(text: str, segments: int) -> None:
    assert segments_for(text) == segments


def test_utf16_units_count_emoji_twice() -> None:
    assert utf16_units("a😀") == 3


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("", "empty"), ("  ", "empty"), ("x" * 501, "at most 500"), ("a\x00b", "control characters")],
)
def test_unsendable_content(content: str, fragment: str) -> None:
    with pytest.raises(ContentError, match=fragment):
        check_content(content)


def test_cleaning_counts_invalid_and_duplicates_and_masks_samples() -> None:
    raw = iter_recipients("13800138000, +86 138-0013-8000; 123456789012\n13900139000,abc")
    clean = clean_recipients(raw)
    assert list(clean.valid) == ["13800138000", "13900139000"]
    assert (clean.invalid, clean.duplicate) == (2, 1)
    assert all("123456789012" not in s for s in clean.invalid_samples)


def test_mappings_and_csv_carry_variables() -> None:
    rows = list(csv_text_recipients("手机号,name\n13800138000,张三\n"))
    assert rows == [Recipient("13800138000", {"name": "张三"})]
    with pytest.raises(ValueError, match="number_field"):
        list(iter_recipients([{"tel": "13800138000"}]))
    assert "13800138000" not in repr(rows[0])


def test_uniform_plan_cuts_batches_of_at_most_1000() -> None:
    recipients = {f"138{i:08d}": {} for i in range(2500)}
    plan = plan_campaign("c", recipients, "t", None, uniform_content="hi")
    assert [len(b.numbers) for b in plan.batches] == [1000, 1000, 500]
    assert [b.batch_index for b in plan.batches] == [0, 1, 2]
    assert plan.recipients == 2500 and plan.segments == 2500


def test_personalised_plan_groups_by_rendered_text() -> None:
    recipients = {f"138{i:08d}": {"g": i % 2} for i in range(1500)}
    plan = plan_campaign("c", recipients, "t", lambda r: f"group {r.variables['g']}")
    assert sorted((b.content, len(b.numbers)) for b in plan.batches) == [("group 0", 750), ("group 1", 750)]
