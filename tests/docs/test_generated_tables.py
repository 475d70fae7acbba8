"""The generated tables take their rows from the code, and refuse notes for rows that do not exist."""

from __future__ import annotations

import pytest
from yxt_sphinx.api import all_public_modules, reexports
from yxt_sphinx.connection import default_mismatch, extra_rows, standard_field_rows
from yxt_sphinx.ledger import columns_of, table_docs
from yxt_sphinx.notes import NoteError, index_notes, parse_notes
from yxt_sphinx.result_codes import STOPS_CAMPAIGN, other_error_rows, result_code_rows
from yxt_sphinx.xrefs import defining_name


def test_one_row_per_result_code_with_the_classes_own_words() -> None:
    from yxt_provider.campaign.sender import FATAL_ERRORS
    from yxt_provider.client.errors import ERRORS_BY_CODE

    rows = result_code_rows()
    assert [row.code for row in rows] == sorted(ERRORS_BY_CODE)
    for row in rows:
        cls = ERRORS_BY_CODE[row.code]  # type: ignore[index]
        assert (row.cls, row.meaning, row.hint) == (cls, cls.meaning, cls.hint)
        assert (row.retries == "no") == (not cls.retryable)
        assert (row.campaign == STOPS_CAMPAIGN) == issubclass(cls, FATAL_ERRORS)


def test_a_retry_rule_given_per_instance_is_worded_by_its_docstring() -> None:
    protocol = next(row for row in other_error_rows() if row.key == "YxtProtocolError")
    assert "5xx" in protocol.retries


def test_notes_must_name_a_row_and_a_column() -> None:
    notes = parse_notes(["11 campaign: slows down", "   and creeps back.", "", "15 retries: no"])
    assert [(n.key, n.column, n.text) for n in notes] == [
        ("11", "campaign", "slows down and creeps back."),
        ("15", "retries", "no"),
    ]
    assert set(index_notes(notes, ["11", "15"], ["campaign", "retries"])) == {
        ("11", "campaign"),
        ("15", "retries"),
    }
    with pytest.raises(NoteError, match="'12' is not a row"):
        index_notes(parse_notes(["12 campaign: x"]), ["11"], ["campaign"])
    with pytest.raises(NoteError, match="'hint' is not a column"):
        index_notes(parse_notes(["11 hint: x"]), ["11"], ["campaign"])
    with pytest.raises(NoteError, match="a second note"):
        index_notes(parse_notes(["11 campaign: x", "11 campaign: y"]), ["11"], ["campaign"])
    with pytest.raises(NoteError, match="expected 'KEY COLUMN: text'"):
        parse_notes(["just text"])


def test_connection_rows_follow_the_form() -> None:
    from yxt_provider.get_provider_info import YXT_CONN_FIELDS

    assert [row.name for row in extra_rows()] == list(YXT_CONN_FIELDS)
    labels = {row.name: row.label for row in standard_field_rows()}
    assert labels["host"] == "Send base URL" and labels["schema"] == "(hidden)" and labels["port"] == "Port"
    max_in_flight = next(row for row in extra_rows() if row.name == "max_in_flight")
    assert default_mismatch(max_in_flight, "`4`") is None
    assert "form schema 4" in (default_mismatch(max_in_flight, "`8`") or "")


def test_ledger_columns_come_from_the_views_and_tables() -> None:
    from yxt_provider.ledger import views

    status = dict(columns_of("yxt_message_status"))
    assert list(status) == [column.name for column in views.message_status.selected_columns]
    assert status["sent_at"] == "timestamp (UTC)" and status["batch_index"] == "integer"
    assert "replies" in dict(columns_of("yxt_campaign_summary"))
    assert all(doc for _, _, doc in table_docs())
    with pytest.raises(KeyError):
        columns_of("yxt_nothing")


def test_public_modules_and_reexports() -> None:
    import yxt_provider.client

    modules = all_public_modules("yxt_provider")
    assert "yxt_provider.client.errors" in modules and "yxt_provider.sandbox" in modules
    assert not any(part.startswith("_") for name in modules for part in name.split("."))
    exported = reexports(yxt_provider.client)
    assert exported["YxtClient"] == "yxt_provider.client.client"
    assert exported["MAX_NUMBERS_PER_REQUEST"] == "yxt_provider.client.protocol"


def test_references_resolve_as_python_finds_the_name() -> None:
    assert defining_name("yxt_provider.client.YxtClient") == "yxt_provider.client.client.YxtClient"
    assert (
        defining_name("SandboxConfig", "yxt_provider.sandbox.server")
        == "yxt_provider.sandbox.config.SandboxConfig"
    )
    assert (
        defining_name("SandboxState.inject_reply", "yxt_provider.sandbox.server")
        == "yxt_provider.sandbox.state.SandboxState.inject_reply"
    )
    assert defining_name("NoSuchThing", "yxt_provider.sandbox.server") is None
