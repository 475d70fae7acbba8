"""Store, then confirm, against the sandbox: nothing lost and nothing doubled, whichever call fails."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.replies.conftest import ACCESS_NUMBER
from yxt_provider.client import RetrySettings
from yxt_provider.client.errors import YxtProtocolError, YxtTransportError
from yxt_provider.ledger import Ledger, schema
from yxt_provider.replies.ingest import drain_replies
from yxt_provider.sandbox import Fault, SandboxServer


def stored(ledger: Ledger) -> list[tuple[str, str]]:
    with ledger.engine.connect() as conn:
        rows = conn.execute(sa.select(schema.replies.c.user_number, schema.replies.c.content)).all()
    return sorted((row.user_number, row.content) for row in rows)


def inject(gateway: SandboxServer, count: int, text: str = "1") -> list[tuple[str, str]]:
    for i in range(count):
        gateway.inject_reply(ACCESS_NUMBER, text, user_number=f"138{i:08d}")
    return sorted((f"138{i:08d}", text) for i in range(count))


def test_more_replies_than_one_page(gateway: SandboxServer, ledger: Ledger) -> None:
    gateway.configure(reply_page_size=7)
    expected = inject(gateway, 30)
    with gateway.client() as client:
        result = drain_replies(client, ledger)
    assert (result.read, result.stored, result.pages, result.stopped) == (30, 30, 5, "exhausted")
    assert stored(ledger) == expected
    assert gateway.counters()["replies"]["pending"] == 0  # every page confirmed


def test_identical_replies_split_across_pages_are_all_stored(gateway: SandboxServer, ledger: Ledger) -> None:
    gateway.configure(reply_page_size=2)
    for _ in range(5):  # the same number, text and second, five times
        gateway.inject_reply(ACCESS_NUMBER, "1", user_number="13800000001", reply_time="2026-12-02 09:30:00")
    with gateway.client() as client:
        result = drain_replies(client, ledger)
    assert (result.read, result.stored, result.pages) == (5, 5, 3)
    assert stored(ledger) == [("13800000001", "1")] * 5


@pytest.mark.parametrize("kind", ["http_500", "drop"])
def test_confirm_failing_before_it_takes_effect_then_a_rerun(
    gateway: SandboxServer, ledger: Ledger, kind: str
) -> None:
    expected = inject(gateway, 5)
    gateway.configure(faults=[Fault("confirm", kind, times=1)])
    with gateway.client(retry=RetrySettings(max_attempts=1)) as client:
        with pytest.raises((YxtProtocolError, YxtTransportError)):
            drain_replies(client, ledger)
        assert stored(ledger) == expected  # stored before the confirm was tried
        assert gateway.counters()["replies"]["pending"] == 5  # not confirmed: delivered again
        again = drain_replies(client, ledger)
    assert (again.read, again.stored, again.already_stored) == (5, 0, 5)
    assert stored(ledger) == expected
    assert gateway.counters()["replies"]["pending"] == 0


@pytest.mark.parametrize("kind", ["accept_then_500", "accept_then_drop"])
def test_a_confirm_whose_answer_is_lost(gateway: SandboxServer, ledger: Ledger, kind: str) -> None:
    expected = inject(gateway, 4)
    gateway.configure(faults=[Fault("confirm", kind, times=1)])
    with gateway.client(retry=RetrySettings(max_attempts=1)) as client:
        with pytest.raises((YxtProtocolError, YxtTransportError)):
            drain_replies(client, ledger)
        assert gateway.counters()["replies"]["pending"] == 0  # the confirm did take effect
        more = inject(gateway, 2, text="TD")
        again = drain_replies(client, ledger)
    assert (again.read, again.stored) == (2, 2)
    assert stored(ledger) == sorted(expected + more)


def test_a_query_cut_off_mid_answer_is_retried(gateway: SandboxServer, ledger: Ledger) -> None:
    expected = inject(gateway, 3)
    gateway.configure(faults=[Fault("query", "accept_then_cut", times=1)])
    with gateway.client(retry=RetrySettings(max_attempts=3, initial_wait=0.01, jitter=0)) as client:
        result = drain_replies(client, ledger)
    assert result.stored == 3 and stored(ledger) == expected
    assert gateway.counters()["requests"]["query"].get("accept_then_cut") == 1


def test_bounds_and_kept_replies(gateway: SandboxServer, ledger: Ledger) -> None:
    gateway.configure(reply_page_size=2)
    inject(gateway, 10)
    with gateway.client() as client:
        first = drain_replies(client, ledger, max_pages=2, keep_new=3)
        rest = drain_replies(client, ledger)
    assert (first.pages, first.stopped, first.stored, len(first.new)) == (2, "max_pages", 4, 3)
    assert "138" not in repr(first) and "138" not in str(first.to_dict())
    assert (rest.stored, rest.stopped) == (6, "exhausted")
