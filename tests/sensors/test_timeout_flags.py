"""``on_timeout`` and Airflow's ``soft_fail`` / ``never_fail`` cannot say different things."""

from __future__ import annotations

import pytest

from yxt_provider.sensors.delivery import SmsDeliverySensor, timeout_outcome


@pytest.mark.parametrize(
    ("on_timeout", "soft_fail", "never_fail", "expected"),
    [
        (None, False, False, "fail"),
        (None, True, False, "skip"),
        (None, False, True, "skip"),
        ("skip", False, False, "skip"),
        ("skip", True, False, "skip"),
        ("succeed", False, False, "succeed"),
        ("fail", False, False, "fail"),
    ],
)
def test_outcome_follows_both(
    on_timeout: str | None, soft_fail: bool, never_fail: bool, expected: str
) -> None:
    assert timeout_outcome(on_timeout, soft_fail=soft_fail, never_fail=never_fail) == expected


@pytest.mark.parametrize("on_timeout", ["fail", "succeed"])
@pytest.mark.parametrize("flag", ["soft_fail", "never_fail"])
def test_contradictions_are_refused_at_parse_time(on_timeout: str, flag: str) -> None:
    with pytest.raises(ValueError, match=f"{flag}=True skips the task.*on_timeout='{on_timeout}'"):
        SmsDeliverySensor(task_id="wait", campaign_id="c", on_timeout=on_timeout, **{flag: True})


def test_skip_is_soft_fail() -> None:
    assert SmsDeliverySensor(task_id="a", campaign_id="c", on_timeout="skip").soft_fail is True
    implied = SmsDeliverySensor(task_id="b", campaign_id="c", soft_fail=True)
    assert implied.on_timeout == "skip"
    plain = SmsDeliverySensor(task_id="c", campaign_id="c")
    assert (plain.on_timeout, plain.soft_fail) == ("fail", False)


def test_unknown_outcome() -> None:
    with pytest.raises(ValueError, match="on_timeout must be one of fail, succeed, skip"):
        SmsDeliverySensor(task_id="wait", campaign_id="c", on_timeout="later")
