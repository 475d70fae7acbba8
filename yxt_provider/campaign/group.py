"""Campaign groups: the shards of one mapped send, waited for and reported as one campaign.

A send mapped over shards (``SendSmsOperator.partial(...).expand(...)``) records one
campaign per map index (``<id>/<map index>``, see :mod:`yxt_provider.campaign.identity`), and
its ``send.output`` is, downstream, a sequence of the shards' summaries. This module turns
what a sensor or report is given (an id, a summary, or a sequence of them) into a
:class:`CampaignGroup`, and reads the group's one report from the ledger
(:func:`group_report`).

Shards that recorded no campaign (refused before planning, or failed without handing on a
summary) are *missing*: they are named in the report as shards with status ``not planned``
and, when their send said why, its error. They have no messages, so a wait over the group
waits only for the recorded shards and never hangs on a missing one.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from yxt_provider.campaign.errors import CampaignIdError
from yxt_provider.campaign.identity import campaign_id_of
from yxt_provider.ledger.models import NOT_PLANNED, DeliveryReport

__all__ = [
    "GAVE_UP_STATUSES",
    "NO_CAMPAIGN_RECORDED",
    "CampaignGroup",
    "Shard",
    "campaign_group_of",
    "group_label",
    "group_report",
    "judged_report",
    "recorded",
]

# A shard's campaign id: the mapped send's id, "/", the map index (campaign/identity.py).
_SHARD_ID = re.compile(r"^(?P<prefix>.+)/(?P<index>[0-9]+)$")
#: The error of a missing shard whose send handed on nothing to say why.
NO_CAMPAIGN_RECORDED = "recorded no campaign in the ledger"
#: Statuses of a send summary whose try failed (``campaign/summary.py``): ``rejected``,
#: ``stopped``, ``incomplete``, ``unreachable``. Not ``paused``/``waiting``: those defer and resume.
GAVE_UP_STATUSES = frozenset({"rejected", "stopped", "incomplete", "unreachable"})


class _ReportSource(Protocol):
    """Anything that reads delivery reports of several campaigns at once (a :class:`~yxt_provider.ledger.Ledger`)."""

    def delivery_reports(
        self,
        campaign_ids: Sequence[str],
        *,
        pending_timeout: timedelta | None = None,
        now: datetime | None = None,
    ) -> dict[str, DeliveryReport]: ...


@dataclass(frozen=True)
class Shard:
    """One campaign of a group, with the send summary it came from, if any.

    :param campaign_id: the shard's campaign id.
    :param summary: the send task's summary for it (``None`` when only the id was given, or
        when the shard handed on no summary at all).
    """

    campaign_id: str
    summary: Mapping[str, Any] | None = None

    @property
    def error(self) -> str | None:
        """What the shard's send said went wrong, if it handed on a summary saying so."""
        error = (self.summary or {}).get("error")
        return str(error) if error else None

    @property
    def gave_up(self) -> bool:
        """True when the shard's send handed on a summary of a try that failed (see :data:`GAVE_UP_STATUSES`).

        A wait runs once its upstream sends are done (all retries spent), so the summary it
        sees is the last try's: what that try left unsent stays unsent.
        """
        return str((self.summary or {}).get("status")) in GAVE_UP_STATUSES


@dataclass(frozen=True)
class CampaignGroup:
    """What a sensor or report waits for or reports on: one campaign, or the shards of a mapped send.

    :param shards: the campaigns, in the order given (repeats removed).
    :param grouped: True when a sequence was given (the mapped case), even of one shard:
        the report then has a per-shard table. False for one id or one summary.
    """

    shards: tuple[Shard, ...]
    grouped: bool = False

    @property
    def campaign_ids(self) -> tuple[str, ...]:
        """The shards' campaign ids."""
        return tuple(shard.campaign_id for shard in self.shards)

    @property
    def settled_unsent(self) -> tuple[str, ...]:
        """Campaign ids of shards whose send failed for good: a wait counts their unsent messages as settled."""
        return tuple(shard.campaign_id for shard in self.shards if shard.gave_up)

    @property
    def label(self) -> str:
        """How logs and reports name it: the campaign id, or the group's (:func:`group_label`)."""
        return group_label(self.campaign_ids) if self.grouped else self.shards[0].campaign_id

    def with_map_indexes(self, indexes: Collection[int]) -> CampaignGroup:
        """The group with a missing shard for each map index of the send that handed on no summary.

        A shard that failed before pushing its summary leaves no trace in ``send.output``;
        the Airflow layer knows the send's map indexes and names them here, so the report
        can say which shards are missing. Only for groups whose ids all have the form
        ``<id>/<map index>`` with one ``<id>``; other groups are returned unchanged.

        :param indexes: the map indexes the mapped send task has.
        """
        if not self.grouped:
            return self
        prefix = _common_prefix(self.campaign_ids)
        if prefix is None:
            return self
        known = {int(_SHARD_ID.match(cid).group("index")) for cid in self.campaign_ids}  # type: ignore[union-attr]
        extra = tuple(Shard(f"{prefix}/{index}") for index in sorted(set(indexes) - known))
        if not extra:
            return self
        shards = sorted((*self.shards, *extra), key=lambda s: int(s.campaign_id.rsplit("/", 1)[1]))
        return replace(self, shards=tuple(shards))


def campaign_group_of(value: Any, *, parameter: str = "campaign_id") -> CampaignGroup:
    """Read what a sensor or report was given: an id, a summary, a group's report, or a sequence of ids and summaries.

    - ``"c-1"`` or ``{"campaign_id": "c-1", ...}`` (one send's summary): one campaign.
    - a list, tuple or Airflow's lazy XCom sequence (``send.output`` of a mapped send) of ids
      or summaries: a group, one shard each.
    - a dict with ``campaign_ids`` (the XCom of a group's wait or report): that group again.

    :param value: what the DAG passed.
    :param parameter: the argument's name, for the error message.
    :raises CampaignIdError: for an empty sequence, or an entry without a campaign id.
    """
    if isinstance(value, Mapping) and isinstance(value.get("campaign_ids"), Sequence):
        value = list(value["campaign_ids"])
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (Sequence, Collection)):
        return CampaignGroup((_shard_of(value, parameter),))
    shards: dict[str, Shard] = {}
    for index, entry in enumerate(value):
        try:
            shard = _shard_of(entry, parameter)
        except CampaignIdError as exc:
            raise CampaignIdError(f"{parameter}[{index}]: {exc}") from None
        shards.setdefault(shard.campaign_id, shard)
    if not shards:
        raise CampaignIdError(
            f"{parameter} is an empty sequence: no campaign to wait for or report on (a mapped send "
            "with no shard, or every shard failed before handing on its summary)"
        )
    return CampaignGroup(tuple(shards.values()), grouped=True)


def _shard_of(value: Any, parameter: str) -> Shard:
    try:
        campaign_id = campaign_id_of(value)
    except CampaignIdError:
        raise CampaignIdError(
            f"{parameter} must be a campaign id, the send task's summary (send.output), or a sequence of them "
            f"(send.output of a mapped send), got {_described(value)}"
        ) from None
    return Shard(campaign_id, value if isinstance(value, Mapping) else None)


def _described(value: Any) -> str:
    """``value`` for an error message: its repr with phone numbers masked (a recipient row may end up here)."""
    from yxt_provider.client.numbers import mask_numbers_in_text

    return mask_numbers_in_text(repr(value)[:200])


def group_label(campaign_ids: Sequence[str]) -> str:
    """The name of a group: ``<id>/*`` when its ids are the shards of one mapped send, else the first id and a count.

    ``/*`` cannot end a real campaign id, so the label is never mistaken for a shard's.

    :param campaign_ids: the shards' campaign ids (at least one).
    """
    prefix = _common_prefix(campaign_ids)
    if prefix is not None:
        return f"{prefix}/*"
    if len(campaign_ids) == 1:
        return campaign_ids[0]
    return f"{campaign_ids[0]} and {len(campaign_ids) - 1} more"


def _common_prefix(campaign_ids: Sequence[str]) -> str | None:
    prefixes = {match.group("prefix") if (match := _SHARD_ID.match(cid)) else None for cid in campaign_ids}
    if len(prefixes) != 1:
        return None
    return next(iter(prefixes))


def group_report(
    ledger: _ReportSource,
    group: CampaignGroup,
    *,
    pending_timeout: timedelta | None = None,
    now: datetime | None = None,
) -> DeliveryReport:
    """The group's report from the ledger: one campaign's own report, or the shards' combined.

    The shards are read together (:meth:`~yxt_provider.ledger.Ledger.delivery_reports`: the
    same statements for any number of shards, one snapshot, one timeout cutoff). A missing
    shard (not in the ledger) keeps status ``not planned`` and gets its send's error, or
    :data:`NO_CAMPAIGN_RECORDED`; the input rows its summary counted as invalid or duplicate
    are kept, as the single report does for a send refused before planning.

    :param ledger: the ledger.
    :param group: what to report on.
    :param pending_timeout: count messages sent longer ago than this without a receipt as
        ``pending_past_timeout``.
    :param now: the reference time for ``pending_timeout``.
    """
    reports = ledger.delivery_reports(group.campaign_ids, pending_timeout=pending_timeout, now=now)
    shards = [_with_summary(reports[shard.campaign_id], shard) for shard in group.shards]
    if not group.grouped:
        return shards[0]
    return DeliveryReport.combine(group.label, shards)


def _with_summary(report: DeliveryReport, shard: Shard) -> DeliveryReport:
    if report.status != NOT_PLANNED:
        return report
    summary = shard.summary or {}
    return replace(
        report,
        invalid=int(summary.get("invalid") or 0),
        duplicate=int(summary.get("duplicate") or 0),
        error=shard.error or NO_CAMPAIGN_RECORDED,
    )


def judged_report(report: DeliveryReport, settled_unsent: Collection[str]) -> DeliveryReport:
    """The report a wait judges: messages of campaigns in ``settled_unsent`` that were never sent count as settled.

    A shard whose send failed for good (its retries spent) keeps ``not_sent`` above zero for
    ever; without this, ``all_final`` could never be met and ``delivered_share`` never found
    unreachable, and the wait would last until its timeout. Its sent messages are still
    waited for. The report shown to people keeps the real ``not_sent``.

    :param report: a report from :func:`group_report` (one campaign, or a group's).
    :param settled_unsent: campaign ids whose unsent messages nobody will send
        (:attr:`CampaignGroup.settled_unsent`).
    """
    if not settled_unsent:
        return report
    parts = report.shards or (report,)
    unsent = sum(part.not_sent for part in parts if part.campaign_id in settled_unsent)
    return replace(report, not_sent=report.not_sent - unsent) if unsent else report


def recorded(report: DeliveryReport) -> tuple[str, ...]:
    """The campaign ids of a (group's) report that the ledger has a record of.

    :param report: a report from :func:`group_report`.
    """
    shards = report.shards or (report,)
    return tuple(shard.campaign_id for shard in shards if shard.status != NOT_PLANNED)
