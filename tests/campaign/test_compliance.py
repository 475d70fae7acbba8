"""Marketing text checks, frequency caps and the compliance policy, without a gateway."""

from __future__ import annotations

from datetime import timedelta

import pytest

from yxt_provider.campaign.compliance import CompliancePolicy, FrequencyCap, check_marketing_text
from yxt_provider.campaign.errors import CampaignRejected
from yxt_provider.campaign.recipients import Recipient, clean_recipients


@pytest.mark.parametrize(
    "text",
    [
        "【XX商城】双十二满200减30，回复TD退订",
        "【XX商城】新品上市。退订回T",
        "【XX银行】理财讲座本周六开讲，拒收请回复R",
        "【XX】会员日。回N退订",
    ],
)
def test_marketing_text_with_signature_and_a_way_to_refuse(text: str) -> None:
    check_marketing_text(text)


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("双十二满200减30，回复TD退订", "lacks a 【signature】"),
        ("【XX商城】双十二满200减30", "lacks a way to refuse further messages"),
        ("双十二满200减30", "lacks a 【signature】 .* and a way to refuse"),
    ],
)
def test_marketing_text_without_them_is_refused_with_the_fix(text: str, missing: str) -> None:
    with pytest.raises(CampaignRejected, match=missing) as caught:
        check_marketing_text(text)
    assert "MIIT Order 31" in str(caught.value) and "marketing=False" in str(caught.value)


def test_frequency_caps_parse() -> None:
    assert FrequencyCap.parse("3/day") == FrequencyCap(3, timedelta(days=1))
    assert FrequencyCap.parse("1/hour") == FrequencyCap(1, timedelta(hours=1))
    assert FrequencyCap.parse("5/7days") == FrequencyCap(5, timedelta(days=7))
    assert FrequencyCap.parse(" 10 / week ") == FrequencyCap(10, timedelta(days=7))
    cap = FrequencyCap(2, timedelta(hours=12))
    assert FrequencyCap.parse(cap) is cap
    assert cap.describe() == "2 messages per 12:00:00"


@pytest.mark.parametrize("spec", ["3", "three/day", "3/month", "0/day", "3/0days"])
def test_a_mistyped_cap_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match=r"frequency_cap|at least one message"):
        FrequencyCap.parse(spec)


def test_marketing_cannot_ignore_opt_outs() -> None:
    with pytest.raises(ValueError, match="marketing=True needs respect_opt_out=True"):
        CompliancePolicy(respect_opt_out=False, marketing=True)


def test_transactional_texts_are_not_checked() -> None:
    CompliancePolicy().check_texts(["您的验证码为4578"])
    with pytest.raises(CampaignRejected):
        CompliancePolicy(marketing=True).check_texts(["【XX】回复TD退订", "您的验证码为4578"])


def test_set_aside_keeps_rows_in_order_and_counts() -> None:
    clean = clean_recipients(Recipient(n) for n in ["13800000001", "bad", "13800000002", "13800000003"])
    assert clean.set_aside({"13800000003", "13900000000"}, "opted_out") == 1
    assert clean.set_aside({"13800000001"}, "capped") == 1
    assert list(clean.valid) == ["13800000002"] and list(clean.valid_rows()) == [3]
    assert [(e.row, e.reason) for e in clean.excluded] == [(1, "capped"), (2, "invalid"), (4, "opted_out")]
    assert (clean.opted_out, clean.capped, clean.invalid) == (1, 1, 1)
    with pytest.raises(ValueError, match="cannot set numbers aside as 'invalid'"):
        clean.set_aside({"13800000002"}, "invalid")
