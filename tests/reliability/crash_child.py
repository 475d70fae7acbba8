"""What runs in the forked task process of a crash loop: one try of a send, a receipt drain or a reply drain.

The jobs are the product's own entry points without Airflow (``CampaignRun.send``, what
``SendSmsOperator`` runs; ``drain_receipts``; ``drain_replies``), against the sandbox over
HTTP and a SQLite ledger file. The module is imported once by the fork server, so each
forked try starts with every import done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from jinja2 import Environment

from tests.reliability.crash_hooks import ArmedCrash, arm
from yxt_provider.campaign.content import MessageContent
from yxt_provider.campaign.identity import TaskIdentity
from yxt_provider.campaign.recipients import iter_recipients
from yxt_provider.campaign.run import CampaignRun
from yxt_provider.campaign.sender import SendSettings
from yxt_provider.client import RetrySettings, YxtClient
from yxt_provider.ledger import Ledger
from yxt_provider.receipts import drain_receipts
from yxt_provider.replies.ingest import drain_replies
from yxt_provider.sandbox.config import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_SP_CODE

__all__ = ["ANY_TEXT", "BATCH_SIZE", "TASK", "Job", "run_job"]

#: The sandbox's catch-all template.
ANY_TEXT = "1000000000001"
#: Numbers per batch of the send job.
BATCH_SIZE = 20
#: The task every try of the send job belongs to (so every try derives the same serials).
TASK = TaskIdentity(dag_id="crash_loop", run_id="manual__crash", task_id="send")
# Fast retries: a killed try must not leave its successor waiting out long back-offs.
_RETRY = RetrySettings(max_attempts=4, initial_wait=0.01, max_wait=0.05, jitter=0.0)


@dataclass(frozen=True)
class Job:
    """One try of a job.

    :param kind: ``send``, ``receipts`` or ``replies``.
    :param ledger_url: the SQLite ledger every try of the run shares.
    :param base_url: the sandbox.
    :param campaign_id: the send job's campaign.
    :param numbers: the send job's audience.
    """

    kind: str
    ledger_url: str
    base_url: str
    campaign_id: str = "crash-loop"
    numbers: tuple[str, ...] = ()


def client_for(base_url: str) -> YxtClient:
    """A client for the sandbox's default account, retrying fast."""
    return YxtClient(base_url, DEFAULT_SP_CODE, DEFAULT_APP_KEY, DEFAULT_APP_SECRET, retry=_RETRY)


def send_campaign(job: Job, ledger: Ledger, client: YxtClient) -> None:
    """One try of the send job: plan (or resume) and send, two requests in flight."""
    run = CampaignRun(
        ledger,
        TASK,
        campaign_id=job.campaign_id,
        template_id=ANY_TEXT,
        content=MessageContent("crash loop", Environment(), {}),
        recipients=lambda: iter_recipients(list(job.numbers)),
        batch_size=BATCH_SIZE,
    )
    run.send(client, SendSettings(max_in_flight=2, progress_interval=3600))


def run_job(job: Job, crash: ArmedCrash | None) -> None:
    """The child's entry point: arm ``crash`` (if any), then run one try of ``job`` to its end.

    An exception ends the process with exit code 1 (the loop then retries); reaching the
    crash point ends it with SIGKILL.
    """
    # The loop judges by exit codes and the witness; hundreds of tries' warnings are noise.
    logging.disable(logging.WARNING)
    if crash is not None:
        arm(crash)
    ledger = Ledger.from_url(job.ledger_url)
    with client_for(job.base_url) as client:
        if job.kind == "send":
            send_campaign(job, ledger, client)
        elif job.kind == "receipts":
            drain_receipts(client, ledger, max_pages=None, max_seconds=None)
        elif job.kind == "replies":
            drain_replies(client, ledger, max_pages=None, max_seconds=None)
        else:
            raise ValueError(f"unknown job {job.kind!r}")
    ledger.dispose()
