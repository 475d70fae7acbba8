"""Campaign planning: render content, group recipients by identical text, cut batches of ≤ 1000.

The plan is what the ledger records before anything is sent; a retry sends the recorded plan.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from yxt_provider.campaign.recipients import Recipient
from yxt_provider.campaign.segments import segments_for, utf16_units
from yxt_provider.campaign.serials import serial_for_batch
from yxt_provider.client.protocol import MAX_NUMBERS_PER_REQUEST
from yxt_provider.ledger.models import PlannedBatch

__all__ = [
    "MAX_CONTENT_UNITS",
    "CampaignPlan",
    "ContentError",
    "check_content",
    "content_hash",
    "plan_campaign",
    "plan_fingerprint",
    "without_numbers",
]

#: Longest message text, in UTF-16 code units (an emoji counts two): carriers cap long messages
#: at a few hundred characters; 500 is the common ceiling.
MAX_CONTENT_UNITS = 500


class ContentError(ValueError):
    """The message text cannot be sent (empty, too long, or holding control characters)."""


def content_hash(content: str) -> str:
    """Stable short hash of a message text."""
    return hashlib.sha256(content.encode("utf-8")).hexdigest()[:32]


def check_content(content: str) -> None:
    """Raise :class:`ContentError` when ``content`` cannot be sent as an SMS."""
    if not content or not content.strip():
        raise ContentError("message content is empty after rendering; check the content template")
    units = utf16_units(content)
    if units > MAX_CONTENT_UNITS:
        raise ContentError(
            f"message content is {units} characters long; the gateway takes at most {MAX_CONTENT_UNITS}. "
            "Shorten the text or the values substituted into it"
        )
    bad = sorted({f"U+{ord(ch):04X}" for ch in content if ord(ch) < 0x20 and ch not in "\n\r\t"})
    if bad:
        raise ContentError(f"message content holds control characters {bad} that SMS cannot carry")


@dataclass
class CampaignPlan:
    """A planned campaign: its batches and the totals the summary reports.

    :param batches: the batches, in send order.
    :param recipients: how many recipients the batches carry.
    :param segments: estimated billable messages.
    """

    batches: list[PlannedBatch] = field(default_factory=list)
    recipients: int = 0
    segments: int = 0


def plan_campaign(
    campaign_id: str,
    recipients: Mapping[str, Mapping[str, Any]],
    template_id: str,
    render: Callable[[Recipient], str] | None,
    uniform_content: str | None = None,
    batch_size: int = MAX_NUMBERS_PER_REQUEST,
    *,
    rows: Iterable[int] | None = None,
    ledger_key: str = "",
) -> CampaignPlan:
    """Plan the batches of a campaign.

    :param campaign_id: the campaign; serials derive from it and the batch index.
    :param recipients: clean, unique numbers → their template variables (``CleanRecipients.valid``).
    :param template_id: the gateway template every batch uses.
    :param render: renders one recipient's text (personalised campaigns), or ``None``.
    :param uniform_content: the one text of a uniform campaign (when ``render`` is ``None``).
    :param batch_size: numbers per request, at most 1000.
    :param rows: each recipient's row in the source, in ``recipients``' order
        (``CleanRecipients.valid_rows()``); kept with the messages for the per-row export.
    :param ledger_key: the ledger's identity, mixed into every serial (``Ledger.identity``).
    :raises ContentError: when a rendered text cannot be sent (nothing is planned then).
    """
    if not 1 <= batch_size <= MAX_NUMBERS_PER_REQUEST:
        raise ValueError(f"batch_size must be between 1 and {MAX_NUMBERS_PER_REQUEST}, got {batch_size}")
    groups: dict[str, list[str]]
    # Rows as compact machine ints: a million of them cost 4 MB, not 36.
    row_groups: dict[str, array[int]] = {}
    if render is None:
        if uniform_content is None:
            raise ValueError("plan_campaign needs either render or uniform_content")
        check_content(uniform_content)
        groups = {uniform_content: list(recipients)}
        if rows is not None:
            row_groups[uniform_content] = array("i", rows)
    else:
        groups = {}
        row_iter = iter(rows) if rows is not None else None
        for number, variables in recipients.items():
            text = render(Recipient(number, variables))
            if text not in groups:
                check_content(text)
                groups[text] = []
                row_groups[text] = array("i")
            groups[text].append(number)
            if row_iter is not None:
                row_groups[text].append(next(row_iter))

    return _cut_batches(
        campaign_id, groups, row_groups if rows is not None else None, template_id, batch_size, ledger_key
    )


def _cut_batches(
    campaign_id: str,
    groups: Mapping[str, Sequence[str]],
    row_groups: Mapping[str, array[int]] | None,
    template_id: str,
    batch_size: int,
    ledger_key: str,
) -> CampaignPlan:
    """Cut each text's numbers into batches of at most ``batch_size``, serials by batch index."""
    plan = CampaignPlan()
    for text, numbers in groups.items():
        if not numbers:
            continue
        digest = content_hash(text)
        per_recipient = segments_for(text)
        text_rows = row_groups.get(text) if row_groups is not None else None
        for start in range(0, len(numbers), batch_size):
            chunk = list(numbers[start : start + batch_size])
            index = len(plan.batches)
            plan.batches.append(
                PlannedBatch(
                    campaign_id=campaign_id,
                    batch_index=index,
                    serial_number=serial_for_batch(campaign_id, index, ledger_key),
                    template_id=template_id,
                    content=text,
                    content_hash=digest,
                    numbers=chunk,
                    rows=None if text_rows is None else text_rows[start : start + batch_size],
                )
            )
            plan.recipients += len(chunk)
            plan.segments += per_recipient * len(chunk)
    return plan


def without_numbers(
    plan: CampaignPlan, numbers: Container[str], *, batch_size: int, ledger_key: str = ""
) -> CampaignPlan:
    """The plan minus ``numbers`` (set aside after planning), its batches cut again.

    Nothing of it is recorded yet, so batch indexes and serials are simply re-assigned.

    :param plan: a plan made by :func:`plan_campaign`.
    :param numbers: numbers to leave out.
    :param batch_size: numbers per request, as for the plan.
    :param ledger_key: the ledger's identity, as for the plan.
    """
    if not plan.batches:
        return plan
    groups: dict[str, list[str]] = {}
    row_groups: dict[str, array[int]] | None = None if plan.batches[0].rows is None else {}
    for batch in plan.batches:
        kept = [i for i, number in enumerate(batch.numbers) if number not in numbers]
        groups.setdefault(batch.content, []).extend(batch.numbers[i] for i in kept)
        if row_groups is not None and batch.rows is not None:
            row_groups.setdefault(batch.content, array("i")).extend(batch.rows[i] for i in kept)
    first = plan.batches[0]
    return _cut_batches(first.campaign_id, groups, row_groups, first.template_id, batch_size, ledger_key)


def plan_fingerprint(template_id: str, plan: CampaignPlan) -> str:
    """Hash of everything a plan sends: lets a retry tell that the recipient source changed."""
    digest = hashlib.sha256(template_id.encode())
    for batch in plan.batches:
        digest.update(batch.content_hash.encode())
        digest.update(",".join(batch.numbers).encode())
    return digest.hexdigest()
