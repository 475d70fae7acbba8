"""Marketing rules checked before anything is sent: a 【signature】, a way to refuse, frequency caps.

MIIT Order 31 (2015, 《通信短信息服务管理规定》) requires consent for commercial SMS, an easy
way to refuse in every commercial message, and stopping once someone refuses. The provider
cannot know about consent (that is the sender's record); what it can check in the text, it
checks here, before the plan is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from yxt_provider.campaign.errors import CampaignRejected

if TYPE_CHECKING:  # the operator parses caps when a DAG file loads: no SQLAlchemy then
    from yxt_provider.campaign.recipients import CleanRecipients
    from yxt_provider.ledger.store import Ledger

__all__ = ["CompliancePolicy", "FrequencyCap", "check_marketing_text"]

_SIGNATURE = re.compile(r"【[^【】]{1,20}】")
# "回复TD退订", "回T退订", "退订回N", "拒收请回复R": an instruction to reply with a refusal word.
_UNSUBSCRIBE = re.compile(r"(回复?|发送?)\s*(TD|T|N|R|退订|取消)|退订|拒收", re.IGNORECASE)
_PERIODS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}
_CAP = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(hour|day|week)s?\s*$")


def check_marketing_text(text: str) -> None:
    """Refuse a marketing text without a 【signature】 or without a way to refuse (such as 回复TD退订).

    :param text: the message as it will be sent.
    :raises CampaignRejected: naming what is missing and how to add it.
    """
    missing = []
    if not _SIGNATURE.search(text):
        missing.append("a 【signature】 (the sender's name in 【】, e.g. 【XX商城】)")
    if not _UNSUBSCRIBE.search(text):
        missing.append("a way to refuse further messages (e.g. 回复TD退订)")
    if missing:
        raise CampaignRejected(
            f"marketing=True: the message lacks {' and '.join(missing)}; MIIT Order 31 requires both in "
            "commercial SMS. Add them to the content (and to the gateway template), or send with "
            "marketing=False if this is a transactional message"
        )


@dataclass(frozen=True)
class FrequencyCap:
    """At most ``max_messages`` messages to one number within ``period``, across every campaign of the ledger.

    :param max_messages: messages a number may get in the period (this campaign's included).
    :param period: the sliding window the messages are counted in.
    """

    max_messages: int
    period: timedelta

    def __post_init__(self) -> None:
        if self.max_messages < 1 or self.period <= timedelta(0):
            raise ValueError("a frequency cap needs at least one message in a positive period")

    @classmethod
    def parse(cls, spec: str | FrequencyCap) -> FrequencyCap:
        """Read ``"3/day"``, ``"1/hour"``, ``"5/7days"`` or ``"10/week"``.

        :param spec: the cap, or a ``FrequencyCap`` (returned as it is).
        :raises ValueError: saying how to write it.
        """
        if isinstance(spec, FrequencyCap):
            return spec
        match = _CAP.match(str(spec).lower())
        if match is None:
            raise ValueError(
                f"frequency_cap {spec!r} is not a cap: write '<messages>/<period>', e.g. '3/day', '1/hour', '5/7days'"
            )
        count, multiple, unit = int(match[1]), int(match[2] or 1), match[3]
        return cls(max_messages=count, period=_PERIODS[unit] * multiple)

    def describe(self) -> str:
        """The cap in words, e.g. ``3 messages per 1 day``."""
        return f"{self.max_messages} messages per {self.period}"


@dataclass(frozen=True)
class CompliancePolicy:
    """What a campaign holds itself to when its plan is written.

    :param respect_opt_out: skip numbers on the ledger's opt-out list (at planning, and again
        before each batch's first attempt).
    :param frequency_cap: skip numbers that already got this many messages in the period.
    :param marketing: the texts must carry a 【signature】 and a way to refuse (MIIT Order 31).
    """

    respect_opt_out: bool = True
    frequency_cap: FrequencyCap | None = None
    marketing: bool = False

    def __post_init__(self) -> None:
        if self.marketing and not self.respect_opt_out:
            raise ValueError(
                "marketing=True needs respect_opt_out=True: MIIT Order 31 forbids commercial messages "
                "to people who refused them"
            )

    def check_texts(self, texts: Iterable[str]) -> None:
        """Refuse, for a marketing campaign, any text without a signature or a way to refuse.

        :param texts: every distinct text the plan sends.
        :raises CampaignRejected: naming what is missing.
        """
        if self.marketing:
            for text in texts:
                check_marketing_text(text)

    def set_aside(self, ledger: Ledger, clean: CleanRecipients, now: datetime) -> set[str]:
        """Move opted-out and capped numbers out of ``clean`` (counted, with their rows); returns them all.

        :param ledger: the ledger holding the opt-out list and every campaign's messages.
        :param clean: the cleaned recipients, before planning.
        :param now: the moment the cap's period ends (aware).
        """
        aside: set[str] = set()
        if self.respect_opt_out and clean.valid:
            refused = ledger.opted_out(clean.valid.keys())
            clean.set_aside(refused, "opted_out")
            aside |= refused
        if self.frequency_cap is not None and clean.valid:
            counts = ledger.recent_message_counts(clean.valid, now - self.frequency_cap.period)
            capped = {number for number, count in counts.items() if count >= self.frequency_cap.max_messages}
            clean.set_aside(capped, "capped")
            aside |= capped
        return aside
