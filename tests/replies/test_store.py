"""Storing replies in the ledger: idempotent, identical replies kept apart, attributed, handed out once."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from tests.replies.conftest import ACCESS_NUMBER, beijing, sent_campaign
from yxt_provider.client.models import Reply, parse_gateway_time
from yxt_provider.ledger import Ledger, export_campaign_csv, schema


def reply(
    number: str,
    text: str,
    when: str = "2026-12-02 09:30:00",
    mdn: str = ACCESS_NUMBER,
    reply_id: str | None = None,
) -> Reply:
    return Reply(
        call_mdn=mdn, content=text, reply_time=parse_gateway_time(when), user_number=number, reply_id=reply_id
    )


def stored_rows(ledger: Ledger) -> list[sa.Row]:
    with ledger.engine.connect() as conn:
        return conn.execute(sa.select(schema.replies).order_by(schema.replies.c.reply_time)).all()


def test_a_page_delivered_again_adds_nothing_and_identical_replies_stay_two(ledger: Ledger) -> None:
    page = [reply("13800000001", "1"), reply("13800000001", "1"), reply("13800000002", "TD")]
    first = ledger.store_replies(page)
    assert (first.read, first.stored, first.already_stored) == (3, 3, 0)
    again = ledger.store_replies(page)  # the confirm failed: the gateway hands the page out again
    assert (again.stored, again.already_stored) == (0, 3)
    # The same page plus one more identical reply that arrived meanwhile: only that one is new.
    grown = ledger.store_replies([*page, reply("13800000001", "1")])
    assert (grown.stored, grown.already_stored) == (1, 3)
    rows = stored_rows(ledger)
    assert len(rows) == 4
    assert sorted(r.occurrence for r in rows if r.user_number == "13800000001") == [1, 2, 3]


def test_identical_replies_on_different_pages_stay_two_when_the_gateway_gives_ids(ledger: Ledger) -> None:
    # Same number, text and second, one per page: by content each is "the first of its page".
    first_page = [reply("13800000001", "1", reply_id="7")]
    second_page = [reply("13800000001", "1", reply_id="8")]
    assert ledger.store_replies(first_page).stored == 1
    assert ledger.store_replies(first_page).already_stored == 1  # delivered again: nothing new
    assert ledger.store_replies(second_page).stored == 1
    assert sorted(row.gateway_id for row in stored_rows(ledger)) == ["7", "8"]


def test_the_same_gateway_id_from_two_accounts_keeps_both_replies(ledger: Ledger) -> None:
    # Ids are unique per gateway account; one ledger can serve two accounts (or a gateway
    # that restarted its ids): different replies under one id are still two replies.
    assert ledger.store_replies([reply("13800000001", "1", reply_id="7")]).stored == 1
    assert ledger.store_replies([reply("13800000002", "TD", reply_id="7")]).stored == 1
    assert len(stored_rows(ledger)) == 2


def test_a_reply_stored_under_its_content_key_before_ids_were_keys_is_not_stored_again(
    ledger: Ledger,
) -> None:
    # What a ledger written before replies were keyed on the gateway's id holds: the content
    # key, the id beside it. The page was not confirmed, so the gateway hands it out again.
    assert ledger.store_replies([reply("13800000001", "1")]).stored == 1
    with ledger.engine.begin() as conn:
        conn.execute(sa.update(schema.replies).values(gateway_id="7"))
    again = ledger.store_replies(
        [reply("13800000001", "1", reply_id="7"), reply("13800000001", "1", reply_id="8")]
    )
    assert (again.stored, again.already_stored) == (1, 1)
    assert sorted(row.gateway_id for row in stored_rows(ledger)) == ["7", "8"]


def test_reply_times_are_beijing_time_stored_as_utc(ledger: Ledger) -> None:
    ledger.store_replies([reply("13800000001", "1", when="2026-12-02 00:30:00")])
    (row,) = stored_rows(ledger)
    # Half past midnight in Beijing is the evening before in UTC: the date moves back a day.
    assert row.reply_time == datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)
    assert row.reply_time.tzinfo is not None


def test_attribution_to_the_last_campaign_before_the_reply_within_the_window(ledger: Ledger) -> None:
    number = "13800000009"
    sent_campaign(ledger, "monday", [number, "13800000010"], beijing("2026-12-01 09:00:00"), tag=1)
    sent_campaign(ledger, "tuesday", [number], beijing("2026-12-02 09:00:00"), tag=2)
    counts = ledger.store_replies(
        [
            reply(number, "before either", "2026-11-30 12:00:00"),
            reply(number, "after monday", "2026-12-01 10:00:00"),
            reply(number, "after tuesday", "2026-12-02 10:00:00"),
            reply(number, "too late", "2026-12-20 10:00:00"),
            reply("13800000010", "1", "2026-12-03 10:00:00"),
            reply("13900000000", "stranger", "2026-12-02 10:00:00"),
        ]
    )
    assert (counts.stored, counts.attributed) == (6, 3)
    by_text = {r.content: r.campaign_id for r in stored_rows(ledger)}
    assert by_text == {
        "before either": None,
        "after monday": "monday",
        "after tuesday": "tuesday",
        "too late": None,
        "1": "monday",
        "stranger": None,
    }
    narrow = ledger.store_replies(
        [reply("13800000010", "again", "2026-12-03 10:00:00")], attribution_window=timedelta(hours=12)
    )
    assert narrow.attributed == 0
    report = ledger.delivery_report("monday")
    assert report.replies == 2 and report.to_dict()["replies"] == 2
    assert "replies received" in report.as_table()
    with ledger.engine.connect() as conn:
        summary = conn.execute(
            sa.text("SELECT replies FROM yxt_campaign_summary WHERE campaign_id = 'monday'")
        )
        assert summary.scalar_one() == 2
    out = io.StringIO()
    export_campaign_csv(ledger, "monday", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert {(row["phone"], row["replies"]) for row in rows} == {(number, "1"), ("13800000010", "1")}


def test_a_consumer_handles_each_reply_once_and_rolls_back_with_its_work(ledger: Ledger) -> None:
    ledger.store_replies([reply("13800000001", "1"), reply("13800000002", "问一下")])
    with pytest.raises(RuntimeError), ledger.take_replies("crm") as batch:
        assert len(batch.replies) == 2
        raise RuntimeError("the consumer's own write failed")
    with ledger.take_replies("crm") as batch:  # rolled back: handed out again
        assert {r.content for r in batch.replies} == {"1", "问一下"}
    with ledger.take_replies("crm") as batch:  # a repeated wake-up: nothing left
        assert batch.replies == []
    with ledger.take_replies("appointments") as batch:  # another consumer gets every reply
        assert len(batch.replies) == 2
    ledger.store_replies([reply("13800000003", "TD")])
    with ledger.take_replies("crm") as batch:
        assert [r.content for r in batch.replies] == ["TD"]
        assert "13800000003" not in repr(batch.replies)  # reprs mask the number and hide the text
        assert "TD" not in repr(batch.replies)


def test_consumer_names_are_checked(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="consumer"), ledger.take_replies(""):
        pass
