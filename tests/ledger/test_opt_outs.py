"""The opt-out list on every backend: evidence, manual changes, batches emptied before their first attempt, caps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from tests.ledger.conftest import make_batches, make_campaign, phone
from yxt_provider.client.models import Reply
from yxt_provider.client.numbers import InvalidNumberError
from yxt_provider.ledger import Ledger, create_ledger_engine, ensure_schema, migrations, schema
from yxt_provider.ledger.opt_out_keywords import check_opt_out_keywords, is_opt_out

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=timezone.utc)


def reply(number: str, text: str, minute: int = 0) -> Reply:
    return Reply(
        call_mdn="10690000", content=text, reply_time=NOW + timedelta(minutes=minute), user_number=number
    )


def opt_out_rows(ledger: Ledger) -> dict[str, dict[str, object]]:
    with ledger.engine.connect() as conn:
        return {row.phone: row._asdict() for row in conn.execute(sa.select(schema.opt_outs))}


def test_keywords_match_trimmed_and_case_folded() -> None:
    assert all(is_opt_out(text) for text in ["TD", " td ", "Td", "退订", " 取消\n", "t", "N", "r"])
    assert not any(is_opt_out(text) for text in ["TD谢谢", "好的", "1", "退订吧", ""])
    assert is_opt_out("STOP", ["stop"]) and not is_opt_out("TD", ["stop"])
    with pytest.raises(ValueError, match="not one string"):
        check_opt_out_keywords("TD")
    with pytest.raises(ValueError, match="empty keyword"):
        check_opt_out_keywords(["TD", " "])


def test_an_unsubscribe_reply_opts_out_with_the_reply_as_evidence(ledger: Ledger) -> None:
    counts = ledger.store_replies(
        [reply(phone(1), " td "), reply(phone(2), "好的，谢谢"), reply(phone(3), "退订", 1)]
    )
    assert (counts.stored, counts.opted_out) == (3, 2)
    rows = opt_out_rows(ledger)
    assert set(rows) == {phone(1), phone(3)}
    keys = {r.user_number: r.reply_key for r in counts.new}
    assert rows[phone(1)]["source"] == "reply" and rows[phone(1)]["reply_key"] == keys[phone(1)]
    # The same page again (a confirm that failed): nothing new, the evidence unchanged.
    again = ledger.store_replies([reply(phone(1), " td ")])
    assert (again.stored, again.opted_out) == (0, 0) and opt_out_rows(ledger)[phone(1)] == rows[phone(1)]
    # A later refusal from a number already on the list adds no second row.
    later = ledger.store_replies([reply(phone(1), "TD", 5)])
    assert (later.stored, later.opted_out) == (1, 0)


def test_keywords_can_be_changed_or_switched_off(ledger: Ledger) -> None:
    assert ledger.store_replies([reply(phone(1), "STOP")], opt_out_keywords=["stop"]).opted_out == 1
    assert ledger.store_replies([reply(phone(2), "TD")], opt_out_keywords=None).opted_out == 0
    assert ledger.opted_out({phone(1), phone(2)}) == {phone(1)}


def test_manual_add_remove_and_lookups(ledger: Ledger) -> None:
    assert ledger.add_opt_outs(["+86 138-0000-0001", phone(2)], note="called the desk") == 2
    assert ledger.add_opt_outs([phone(2), phone(3)], source="import") == 1
    rows = opt_out_rows(ledger)
    assert (rows[phone(1)]["source"], rows[phone(1)]["note"]) == ("manual", "called the desk")
    assert rows[phone(3)]["source"] == "import"
    # Both lookup paths: a list shorter than the audience is scanned, a longer one queried.
    audience = {phone(i) for i in range(10)}
    assert ledger.opted_out(audience) == {phone(1), phone(2), phone(3)}
    assert ledger.opted_out([phone(2)]) == {phone(2)}
    assert ledger.remove_opt_outs([phone(2), phone(9)]) == 1
    assert ledger.opted_out(audience) == {phone(1), phone(3)}
    with pytest.raises(InvalidNumberError, match=r"'123\*\*\*89'|is not a mainland") as caught:
        ledger.add_opt_outs([phone(5), "12345678"])
    assert "12345678" not in str(caught.value)
    assert ledger.opted_out({phone(5)}) == set()  # nothing added when one number is bad
    with pytest.raises(ValueError, match="opt-out source must be one of"):
        ledger.add_opt_outs([phone(6)], source="guess")


def test_a_batch_never_attempted_loses_its_opted_out_numbers(ledger: Ledger) -> None:
    assert ledger.create_plan(make_campaign("c1", planned=9, batches=3), make_batches("c1", [3, 3, 3]))
    ledger.mark_attempted("c1", 0)  # batch 0 is under way: it keeps everyone
    ledger.add_opt_outs([phone(1), phone(4), phone(6), phone(7), phone(8)])

    first = ledger.mark_attempted("c1", 0, drop_opted_out=True)
    assert (first.dropped, first.skipped, first.before.attempts) == (0, False, 1)
    assert ledger.batch_numbers("c1", 0) == [phone(0), phone(1), phone(2)]

    second = ledger.mark_attempted("c1", 1, drop_opted_out=True)
    assert (second.dropped, second.skipped) == (1, False)
    assert ledger.batch_numbers("c1", 1) == [phone(3), phone(5)]
    assert ledger.get_batch("c1", 1) is not None and ledger.get_batch("c1", 1).size == 2  # type: ignore[union-attr]

    third = ledger.mark_attempted("c1", 2, drop_opted_out=True)
    assert (third.dropped, third.skipped) == (3, True)
    batch = ledger.get_batch("c1", 2)
    assert batch is not None and (batch.state, batch.size, batch.attempts) == ("skipped", 0, 0)

    campaign = ledger.get_campaign("c1")
    assert campaign is not None and (campaign.planned, campaign.opted_out) == (5, 4)
    with ledger.engine.connect() as conn:
        excluded = conn.execute(
            sa.select(schema.excluded_recipients.c.value, schema.excluded_recipients.c.reason).where(
                schema.excluded_recipients.c.campaign_id == "c1"
            )
        ).all()
    assert sorted(excluded) == [(phone(n), "opted_out") for n in (4, 6, 7, 8)]
    report = ledger.delivery_report("c1")
    assert (report.total, report.opted_out, report.input_rows) == (5, 4, 9)
    assert "skipped" not in str(report.not_sent_reasons)


def test_without_drop_opted_out_nothing_changes(ledger: Ledger) -> None:
    assert ledger.create_plan(make_campaign("c2", planned=2, batches=1), make_batches("c2", [2]))
    ledger.add_opt_outs([phone(0)])
    assert ledger.mark_attempted("c2", 0).dropped == 0
    assert ledger.batch_numbers("c2", 0) == [phone(0), phone(1)]


def test_recent_message_counts_see_sent_and_still_due_messages(ledger: Ledger) -> None:
    assert ledger.create_plan(make_campaign("old", planned=2, batches=1), make_batches("old", [2]))
    ledger.mark_attempted("old", 0)
    ledger.mark_sent("old", 0, gateway_task_id="T", duplicate=False)
    assert ledger.create_plan(
        make_campaign("due", planned=2, batches=1), make_batches("due", [2], campaign_no=2, start=1)
    )
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    counts = ledger.recent_message_counts([phone(0), phone(1), phone(2), phone(3)], since)
    assert counts == {phone(0): 1, phone(1): 2, phone(2): 1}
    assert ledger.recent_message_counts([phone(1)], datetime.now(timezone.utc) + timedelta(minutes=1)) == {}


def test_a_version_3_ledger_upgrades_to_the_latest_version(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_ledger_engine(ledger_url)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(migrations, "STEPS", migrations.STEPS[:3])
            patch.setattr(migrations, "LATEST_VERSION", 3)
            patch.setattr(migrations, "replace_views", lambda conn: None)
            assert ensure_schema(engine) == 3
        columns = [c.name for c in schema.campaigns.columns if c.name not in ("opted_out", "capped")]
        values = {**make_campaign("legacy").__dict__, "created_at": NOW, "updated_at": NOW}
        with engine.begin() as conn:
            conn.execute(sa.insert(schema.campaigns).values({name: values[name] for name in columns}))
        assert ensure_schema(engine) == migrations.LATEST_VERSION
        ledger = Ledger(engine)
        campaign = ledger.get_campaign("legacy")
        assert campaign is not None and (campaign.opted_out, campaign.capped) == (0, 0)
        assert ledger.add_opt_outs([phone(1)]) == 1
    finally:
        engine.dispose()
