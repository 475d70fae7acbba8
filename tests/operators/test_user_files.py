"""Users' own files and arguments: GBK, a BOM, Chinese headers, full-width digits, checks at parse time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.airflow import DagFiles, task_states, xcom_value
from tests.fixtures.tasks import TaskLogs
from tests.operators.dag_sources import send_dag
from yxt_provider.campaign.recipients import clean_recipients, iter_recipients
from yxt_provider.campaign.sources import iter_file_recipients
from yxt_provider.client.numbers import normalize_number
from yxt_provider.operators.sms import SendSmsOperator
from yxt_provider.sandbox import SandboxServer

ANY_TEXT = "1000000000001"
ROWS = "手机号码,姓名\n１３８００１３８０００,张三\n139-0013-9000,李四\n"


def test_full_width_digits_and_signs_are_normalised() -> None:
    assert normalize_number("１３８００１３８０００") == "13800138000"
    assert normalize_number("＋８６ １３９－００１３－９０００") == "13900139000"
    assert normalize_number("（１３８）００１３８０００") == "13800138000"


@pytest.mark.parametrize("header", ["手机号码", "手机", "联系电话", "电话", "手机号"])
def test_chinese_phone_headers_are_recognised(header: str) -> None:
    clean = clean_recipients(iter_recipients([{header: "13800138000", "姓名": "张三"}]))
    assert list(clean.valid) == ["13800138000"] and clean.valid["13800138000"] == {"姓名": "张三"}


def test_gbk_needs_the_encoding_and_the_error_says_so(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(ROWS.encode("gbk"))
    with pytest.raises(ValueError, match=r"is not UTF-8 text .*recipients_encoding='gbk'"):
        list(iter_file_recipients(path))
    clean = clean_recipients(iter_file_recipients(path, encoding="gbk"))
    assert list(clean.valid) == ["13800138000", "13900139000"]
    assert clean.valid["13800138000"] == {"姓名": "张三"}


def test_a_utf8_bom_is_not_part_of_the_first_header(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ROWS.encode("utf-8"))
    assert [r.number for r in iter_file_recipients(path)] == ["１３８００１３８０００", "139-0013-9000"]


def test_gbk_file_through_the_operator(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, tmp_path: Path, task_logs: TaskLogs
) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(ROWS.encode("gbk"))
    failed = dag_files.run(
        send_dag("send_gbk_wrong", f"recipients_file={str(path)!r}, content='hi', template_id='{ANY_TEXT}'"),
        "send_gbk_wrong",
    )
    assert task_states(failed) == {"send": "failed"}
    assert "recipients_encoding='gbk'" in task_logs.text()
    run = dag_files.run(
        send_dag(
            "send_gbk",
            f"recipients_file={str(path)!r}, recipients_encoding='gbk', content='{{{{ 姓名 }}}}您好', "
            f"template_id='{ANY_TEXT}'",
        ),
        "send_gbk",
    )
    assert task_states(run) == {"send": "success"} and xcom_value(run, "send")["sent"] == 2
    texts = {n: r.content for r in sandbox.accepted() for n in r.numbers}
    assert texts == {"13800138000": "张三您好", "13900139000": "李四您好"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs one of recipients, recipients_file or recipients_sql"),
        ({"recipients": ["13800138000"], "recipients_file": "a.csv"}, "takes one recipient source, got recipients and recipients_file"),
        ({"recipients_sql": "SELECT 1"}, "recipients_sql needs recipients_conn_id"),
        ({"recipients": ["13800138000"], "batch_size": 1001}, "batch_size must be between 1 and 1000, got 1001"),
        ({"recipients": ["13800138000"], "max_in_flight": 0}, "max_in_flight must be at least 1"),
    ],
)  # fmt: skip
def test_impossible_arguments_fail_when_the_dag_is_parsed(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SendSmsOperator(task_id="send", content="hi", template_id=ANY_TEXT, **kwargs)  # type: ignore[arg-type]
