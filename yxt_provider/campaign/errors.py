"""What can stop a campaign, by what the caller should do about it.

- :class:`CampaignRejected`: the campaign cannot go ahead as asked (no valid recipient, a
  text that cannot be sent, an unknown template, a campaign id taken by another task). No
  retry can fix it, and nothing was sent.
- :class:`CampaignStoppedError`: the gateway refused in a way no retry can fix (balance,
  credentials, template, IP) after some batches may have gone out; what was sent stays sent.
- :class:`CampaignIncompleteError`: transient failures left batches unsent; a retry resumes.

The Airflow shells turn the first two into ``AirflowFailException`` (no retry is spent on
them) and let the third fail the try, so Airflow's retries resume the campaign.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from yxt_provider.campaign.sender import SendOutcome
    from yxt_provider.campaign.summary import CampaignSummary
    from yxt_provider.client.errors import YxtTransportError

__all__ = [
    "CampaignIdError",
    "CampaignIncompleteError",
    "CampaignRejected",
    "CampaignStoppedError",
    "GatewayUnreachableError",
]


class CampaignRejected(ValueError):
    """The campaign cannot be planned or sent as asked; fix the input, retrying will not help.

    :ivar summary: what the try did, for the caller to hand on (set by the campaign run).
    """

    summary: CampaignSummary | None = None


class CampaignIdError(CampaignRejected):
    """A value given as a campaign id holds none (for instance the summary of a send that failed)."""


class CampaignStoppedError(Exception):
    """A non-retryable gateway error stopped the campaign; what was sent stays sent.

    :param message: what happened, with counts and how to resume.
    :param cause: the gateway error.
    :param outcome: counts at the moment it stopped.
    """

    summary: CampaignSummary | None = None

    def __init__(self, message: str, cause: BaseException, outcome: SendOutcome) -> None:
        super().__init__(message)
        self.cause = cause
        self.outcome = outcome


class CampaignIncompleteError(Exception):
    """Some batches could not be sent for transient reasons; a retry resumes with them.

    :param message: what happened, with counts and the cause.
    :param outcome: counts at the end of the pass.
    :param cause: the last error that left a batch unsent (``None`` when not known).
    """

    summary: CampaignSummary | None = None

    def __init__(self, message: str, outcome: SendOutcome, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.cause = cause


class GatewayUnreachableError(CampaignIncompleteError):
    """The gateway gave no answer to several requests in a row; the try ended early, all resumable.

    :param message: the cause (host, port, what failed) and the counts.
    :param outcome: counts when the try ended.
    :param cause: the last transport failure.
    """

    cause: YxtTransportError

    def __init__(self, message: str, outcome: SendOutcome, cause: YxtTransportError) -> None:
        super().__init__(message, outcome, cause)
