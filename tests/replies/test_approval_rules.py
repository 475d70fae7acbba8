"""Approve by text message: the pure rules reading a reply SMS as the answer to an open question."""

from __future__ import annotations

import re
import time
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fixtures.leaks import find_leaks
from yxt_provider.replies.approvals import (
    AMBIGUOUS,
    APPROVE_WORDS,
    CODE_ALPHABET,
    NO_OPEN_QUESTION,
    REJECT_WORDS,
    TOO_MANY,
    UNKNOWN_ANSWER,
    UNKNOWN_CODE,
    Answer,
    NoMatch,
    OpenQuestion,
    instructions,
    next_code,
    read_answer,
)

APPROVAL = OpenQuestion("deploy-approval", "A", ("Approve", "Reject"))
RELEASE = OpenQuestion("release-choice", "B", ("发布", "回滚", "推迟"))
CHECKS = OpenQuestion("checks", "C", ("单元测试", "集成测试", "压测"), multiple=True)
REASONS = {NO_OPEN_QUESTION, AMBIGUOUS, UNKNOWN_CODE, UNKNOWN_ANSWER, TOO_MANY}


def chose(question: OpenQuestion, *options: str) -> Answer:
    return Answer(question.key, options)


def reason(result: Answer | NoMatch) -> str:
    assert isinstance(result, NoMatch), result
    return result.reason


# --- Approve / Reject ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["1", "同意", "批准", "通过", "是", "好", "可以", "确认", "ok", "yes", "y"])
def test_numbers_and_words_approve(text: str) -> None:
    assert read_answer(text, [APPROVAL]) == chose(APPROVAL, "Approve")


@pytest.mark.parametrize("text", ["2", "拒绝", "不同意", "否", "驳回", "不", "不行", "no"])
def test_numbers_and_words_reject(text: str) -> None:
    assert read_answer(text, [APPROVAL]) == chose(APPROVAL, "Reject")


def test_the_word_lists_are_the_specified_ones() -> None:
    assert set(APPROVE_WORDS) == {"同意", "批准", "通过", "是", "好", "可以", "确认", "ok", "yes", "y"}
    assert set(REJECT_WORDS) == {"拒绝", "不同意", "否", "驳回", "不", "不行", "no"}


def test_no_answer_word_is_an_unsubscribe_keyword() -> None:
    # "N" unsubscribes (the replies machinery puts the number on the opt-out list): it must not
    # also reject, or refusing a request would opt the approver out of every campaign.
    from yxt_provider.ledger.opt_out_keywords import DEFAULT_OPT_OUT_KEYWORDS

    keywords = {word.casefold() for word in DEFAULT_OPT_OUT_KEYWORDS}
    assert not keywords & {w.casefold() for w in (*APPROVE_WORDS, *REJECT_WORDS)}
    assert reason(read_answer("N", [APPROVAL])) == UNKNOWN_ANSWER


@pytest.mark.parametrize("text", ["不同意", "不 同意", "不同意。", "A不同意"])
def test_words_match_whole_never_a_substring(text: str) -> None:
    # 不同意 contains 同意; 不 同意 is two different options.
    result = read_answer(text, [APPROVAL])
    if text == "不 同意":
        assert reason(result) == TOO_MANY
    else:
        assert result == chose(APPROVAL, "Reject")


@pytest.mark.parametrize("text", ["同意了", "同意吗", "不好", "okay", "yess", "好的呀"])
def test_words_inside_longer_words_are_not_answers(text: str) -> None:
    assert reason(read_answer(text, [APPROVAL])) == UNKNOWN_ANSWER


@pytest.mark.parametrize(
    "text", ["APPROVE", "approve", "Approve", "OK", "Ok", "YES", "Y", "REJECT", "No", "NO"]
)
def test_case_does_not_matter(text: str) -> None:
    expected = "Approve" if text.casefold() in {"approve", "ok", "yes", "y"} else "Reject"
    assert read_answer(text, [APPROVAL]) == chose(APPROVAL, expected)


def test_approve_words_only_where_the_question_has_approve() -> None:
    assert reason(read_answer("同意", [RELEASE])) == UNKNOWN_ANSWER
    lower_case = OpenQuestion("q", "A", ("reject", "approve"))
    assert read_answer("同意", [lower_case]) == chose(lower_case, "approve")
    assert read_answer("1", [lower_case]) == chose(lower_case, "reject")


# --- normalising -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["１", "Ａ１", "ａ１", "Ａ　１", "　同意　", "ＯＫ", "Ａ－１", "Ａ：１", "①"]
)
def test_full_width_digits_letters_and_spaces(text: str) -> None:
    assert read_answer(text, [APPROVAL]) == chose(APPROVAL, "Approve")


@pytest.mark.parametrize(
    "text",
    [
        "同意。",
        "同意！",
        "同意!!",
        "【A1】",
        "[A1]",
        "(1)",
        "（同意）",
        "“同意”",
        '"ok"',
        "A1.",
        "  A1 ，",
        "A1？",
    ],
)
def test_punctuation_and_brackets_around_are_ignored(text: str) -> None:
    assert read_answer(text, [APPROVAL]) == chose(APPROVAL, "Approve")


@pytest.mark.parametrize(
    "text", ["谢谢", "收到", "?", "？", "。", "", "   ", "好的", "同意，谢谢", "1 谢谢", "A1谢谢"]
)
def test_chit_chat_is_not_an_answer(text: str) -> None:
    result = read_answer(text, [APPROVAL])
    assert reason(result) == UNKNOWN_ANSWER
    assert isinstance(result, NoMatch) and result.hint == "未能识别您的回复，请回复 A1 同意，A2 拒绝。"


# --- codes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "question", "options"),
    [
        ("A1", APPROVAL, ("Approve",)),
        ("a 2", APPROVAL, ("Reject",)),
        ("A-1", APPROVAL, ("Approve",)),
        ("A:2", APPROVAL, ("Reject",)),
        ("A：1", APPROVAL, ("Approve",)),
        ("A#2", APPROVAL, ("Reject",)),
        ("A 同意", APPROVAL, ("Approve",)),
        ("A同意", APPROVAL, ("Approve",)),
        ("Aok", APPROVAL, ("Approve",)),
        ("A不同意", APPROVAL, ("Reject",)),
        ("B1", RELEASE, ("发布",)),
        ("B3", RELEASE, ("推迟",)),
        ("b 回滚", RELEASE, ("回滚",)),
        ("B推迟", RELEASE, ("推迟",)),
        ("B1 发布", RELEASE, ("发布",)),  # the SMS's own words copied back
        ("C 1 3", CHECKS, ("单元测试", "压测")),
        ("【B2】", RELEASE, ("回滚",)),
    ],
)
def test_each_of_several_open_questions_is_answered_by_its_code(
    text: str, question: OpenQuestion, options: tuple[str, ...]
) -> None:
    assert read_answer(text, [APPROVAL, RELEASE, CHECKS]) == chose(question, *options)


@pytest.mark.parametrize("text", ["1", "同意", "ok", "no", "y", "发布", "yes"])
def test_a_bare_answer_with_several_open_questions_is_ambiguous(text: str) -> None:
    # 发布 is only one question's option, but without the code nothing shows it was meant for it.
    result = read_answer(text, [RELEASE, APPROVAL])
    assert result == NoMatch(AMBIGUOUS, "您有多个待审批事项（A、B），请在回复前加上编号，如 A1。")


def test_the_longest_code_is_tried_first() -> None:
    short = OpenQuestion("short", "A", ("x", "y"))
    long = OpenQuestion("long", "AB", ("x", "y"))
    assert read_answer("AB1", [short, long]) == chose(long, "x")
    assert read_answer("A2", [short, long]) == chose(short, "y")
    assert read_answer("A B2", [short, long]).reason == UNKNOWN_ANSWER  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "code"), [("C1", "C"), ("c 同意", "C"), ("D-2", "D"), ("AB1", "AB"), ("Bok", "B")]
)
def test_an_unknown_code(text: str, code: str) -> None:
    result = read_answer(text, [APPROVAL])
    assert result == NoMatch(UNKNOWN_CODE, f"没有编号为 {code} 的待审批事项，您的待审批编号：A。")


def test_answer_words_are_not_read_as_codes() -> None:
    for text in ("ok", "yes", "no", "y"):
        assert isinstance(read_answer(text, [APPROVAL]), Answer), text
        assert reason(read_answer(text, [APPROVAL, RELEASE])) == AMBIGUOUS, text


def test_a_known_code_with_a_wrong_answer_explains_that_question() -> None:
    result = read_answer("B ok", [APPROVAL, RELEASE])  # ok is an answer to A, not to B
    assert result == NoMatch(UNKNOWN_ANSWER, "未能识别您的回复，请回复 B1 发布，B2 回滚，B3 推迟。")
    assert reason(read_answer("B9", [APPROVAL, RELEASE])) == UNKNOWN_ANSWER


def test_the_code_goes_first_only() -> None:
    result = read_answer("1A", [APPROVAL, RELEASE])
    assert result == NoMatch(
        UNKNOWN_ANSWER, "未能识别您的回复，请回复编号加选项序号，如 A1（待审批编号：A、B）。"
    )
    assert reason(read_answer("同意 A", [APPROVAL])) == UNKNOWN_ANSWER


def test_a_bare_answer_with_one_open_question() -> None:
    assert read_answer("2", [RELEASE]) == chose(RELEASE, "回滚")
    assert read_answer("推迟", [RELEASE]) == chose(RELEASE, "推迟")


def test_no_open_question() -> None:
    assert read_answer("A1", []) == NoMatch(NO_OPEN_QUESTION, "您目前没有待审批的事项，无需回复。")


def test_two_questions_with_one_code_are_refused() -> None:
    with pytest.raises(ValueError, match="share a code"):
        read_answer("A1", [APPROVAL, OpenQuestion("other", "a", ("x",))])


# --- option texts -------------------------------------------------------------------------------


def test_generic_options_by_their_text_case_insensitive_and_with_spaces() -> None:
    plans = OpenQuestion("plans", "A", ("Plan B", "Deploy Now", "ｖ２"))
    assert read_answer("plan b", [plans]) == chose(plans, "Plan B")
    assert read_answer("A  DEPLOY   now", [plans]) == chose(plans, "Deploy Now")
    assert read_answer("v2", [plans]) == chose(plans, "ｖ２")
    assert reason(read_answer("plan", [plans])) == UNKNOWN_ANSWER


def test_a_number_wins_over_an_option_called_like_another_number() -> None:
    days = OpenQuestion("days", "A", ("3", "5", "7"))
    assert read_answer("2", [days]) == chose(days, "5")
    assert read_answer("7", [days]) == chose(days, "7")  # no option 7: the text


def test_a_code_separator_wins_over_an_option_text_starting_with_it() -> None:
    question = OpenQuestion("q", "A", ("Approve", "-1", "#tag"))
    assert read_answer("A -1", [question]) == chose(question, "Approve")
    assert read_answer("A2", [question]) == chose(question, "-1")
    assert read_answer("A #tag", [question]) == chose(question, "#tag")  # "tag" is no option


def test_an_option_text_wins_over_an_approve_reject_word() -> None:
    question = OpenQuestion("q", "A", ("Approve", "Reject", "No"))
    assert read_answer("no", [question]) == chose(question, "No")
    assert read_answer("不行", [question]) == chose(question, "Reject")


def test_a_text_several_options_share_names_none() -> None:
    question = OpenQuestion("q", "A", ("OK", "ok", "later"))
    assert reason(read_answer("ok", [question])) == UNKNOWN_ANSWER
    assert read_answer("2", [question]) == chose(question, "ok")


def test_a_known_code_is_read_before_an_option_called_like_a_coded_answer() -> None:
    question = OpenQuestion("q", "A", ("x", "y", "A1"))
    assert read_answer("A1", [question]) == chose(question, "x")
    assert read_answer("A a1", [question]) == chose(question, "A1")
    named = OpenQuestion("models", "A", ("C1", "C2"))
    assert read_answer("c2", [named]) == chose(named, "C2")  # a bare option text, not code C


# --- several choices ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "1 3",
        "1,3",
        "1，3",
        "1、3",
        "1。3",
        "1和3",
        "1 及 3",
        "3 1",
        "1 3 3",
        "C1 3",
        "C 1、3",
        "c1 单元测试，c3 压测",
    ],
)
def test_multiple_choice(text: str) -> None:
    assert read_answer(text, [CHECKS]) == chose(CHECKS, "单元测试", "压测")


def test_multiple_choice_takes_one_or_all() -> None:
    assert read_answer("C2", [CHECKS]) == chose(CHECKS, "集成测试")
    assert read_answer("1 2 3", [CHECKS]) == chose(CHECKS, "单元测试", "集成测试", "压测")
    assert reason(read_answer("1 4", [CHECKS])) == UNKNOWN_ANSWER
    assert reason(read_answer("1 3", [CHECKS, RELEASE])) == AMBIGUOUS


def test_an_option_text_holding_a_separator_stays_one_option() -> None:
    question = OpenQuestion("q", "A", ("和解", "A 和 B", "A"), multiple=True)
    assert read_answer("和解", [question]) == chose(question, "和解")
    assert read_answer("A a 和 b", [question]) == chose(question, "A 和 B")
    assert read_answer("1 和解", [question]) == chose(question, "和解")
    bracketed = OpenQuestion("q", "B", ("（一周）", "推迟（一个月）"))
    assert read_answer("B1 （一周）", [bracketed]) == chose(bracketed, "（一周）")
    assert read_answer("推迟（一个月）", [bracketed]) == chose(bracketed, "推迟（一个月）")


@pytest.mark.parametrize("text", ["1 2", "1,2", "同意 拒绝", "A1 2", "A 同意和拒绝"])
def test_several_options_for_a_single_choice_question(text: str) -> None:
    result = read_answer(text, [APPROVAL])
    assert result == NoMatch(TOO_MANY, "该事项只能选一项，请回复 A1 同意，A2 拒绝。")


@pytest.mark.parametrize("text", ["1 1", "同意 1", "A1 同意", "ok、yes"])
def test_the_same_option_twice_is_one_option(text: str) -> None:
    assert read_answer(text, [APPROVAL]) == chose(APPROVAL, "Approve")


def test_an_option_text_made_of_another_options_words_reads_as_itself() -> None:
    question = OpenQuestion("q", "A", ("x", "x x"))
    assert read_answer("x x", [question]) == chose(question, "x x")


# --- codes for questions --------------------------------------------------------------------------


def test_the_code_alphabet() -> None:
    assert len(CODE_ALPHABET) == 22
    assert set(CODE_ALPHABET) == set("ABCDEFGHIJKLMNOPQRSTUVWXYZ") - set("IONY")


def test_next_code() -> None:
    assert next_code([]) == "A"
    assert next_code({"A", "C"}) == "B"
    assert next_code(["a"]) == "B"  # compared case-insensitively
    assert next_code(list("ABCDEFGH")) == "J"  # not I
    assert next_code(list("ABCDEFGHJKLM")) == "P"  # not N, O
    assert next_code([c for c in CODE_ALPHABET if c != "Z"]) == "Z"  # Y skipped on the way
    assert next_code(list(CODE_ALPHABET)) == "AA"
    assert next_code([*CODE_ALPHABET, "AA", "AB"]) == "AC"
    assert next_code([*CODE_ALPHABET, *(f"A{c}" for c in CODE_ALPHABET)]) == "BA"


def test_codes_from_next_code_are_distinct_and_read_back() -> None:
    questions: list[OpenQuestion] = []
    for number in range(30):
        code = next_code([q.code for q in questions])
        assert not set(code) & set("IONY")
        questions.append(OpenQuestion(f"q{number}", code, ("Approve", "Reject")))
    for question in questions:
        assert read_answer(f"{question.code}2", questions) == chose(question, "Reject")


@pytest.mark.parametrize("code", ["", "N", "Y", "I", "O", "A1", "Ａ", "A-"])
def test_a_question_needs_a_code_of_the_alphabet(code: str) -> None:
    with pytest.raises(ValueError, match="code"):
        OpenQuestion("q", code, ("x",))
    with pytest.raises(ValueError, match="code"):
        instructions(code, ["x"])


def test_a_question_needs_options_and_keeps_them_as_a_tuple() -> None:
    with pytest.raises(ValueError, match="no options"):
        OpenQuestion("q", "A", ())
    question = OpenQuestion("q", "A", ["x", "y"])  # type: ignore[arg-type]
    assert question.options == ("x", "y")
    assert hash(question)


# --- the SMS text ---------------------------------------------------------------------------------


def test_instructions() -> None:
    assert instructions("A", ["Approve", "Reject"]) == "回复 A1 同意，A2 拒绝"
    assert instructions("B", ["发布", "回滚", "推迟"]) == "回复 B1 发布，B2 回滚，B3 推迟"
    assert (
        instructions("A", ["发布", "回滚", "推迟"], multiple=True)
        == "回复 A1 发布，A2 回滚，A3 推迟（可多选，如 A1 3）"
    )
    assert instructions("AB", ["x", "y"], multiple=True) == "回复 AB1 x，AB2 y（可多选，如 AB1 2）"
    assert instructions("A", [" Plan  B！"], multiple=True) == "回复 A1 Plan B"
    with pytest.raises(ValueError, match="option"):
        instructions("A", [])


def test_hints_never_hold_a_phone_number() -> None:
    number = "13800138000"
    question = OpenQuestion("q", "A", (f"致电{number}", "不用"))
    results = [read_answer(text, [question]) for text in ("谢谢", "1 2", f"回电 {number}")]
    hints = [result.hint for result in results if isinstance(result, NoMatch)]
    assert len(hints) == 3
    assert find_leaks(hints, [number]) == []


# --- properties -----------------------------------------------------------------------------------


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


# Option texts as DAG authors write them: letters, digits, CJK, punctuation, spaces. Combining
# marks and format/control characters are left out: "A " + "\u0301x" is not "A " + the option.
_CHARS = st.characters(categories=["Lu", "Ll", "Lo", "Nd", "Po", "Ps", "Pe", "Pd", "Zs", "Sm", "So"])
_OPTION = st.one_of(
    st.sampled_from(["Approve", "Reject", "发布", "回滚", "推迟", "Plan B", "和解", "A 和 B", "v1.2", "x x"]),
    st.text(_CHARS, min_size=1, max_size=8),
)
_ANSWER_WORDS = {_normal(word) for word in (*APPROVE_WORDS, *REJECT_WORDS)}


def _core(text: str) -> str:
    """What read_answer compares of an option: normalised, whitespace collapsed, punctuation trimmed."""
    return re.sub(r"\s+", " ", _normal(text)).strip(
        " \t\n\r。！？!?.，,、；;：:【】[]()（）\"'“”‘’「」『』《》〈〉~～…"
    )


def _usable(options: list[str]) -> bool:
    cores = [_core(option) for option in options]
    return (
        all(cores)
        and len(set(cores)) == len(cores)
        and not any(core.isdigit() or core in _ANSWER_WORDS for core in cores)
    )


@settings(max_examples=300, deadline=None)
@given(
    options=st.lists(_OPTION, min_size=1, max_size=6).filter(_usable),
    code=st.sampled_from(["A", "B", "Z", "AB", "ZZ"]),
    multiple=st.booleans(),
)
def test_what_the_instructions_show_reads_back_as_that_option(
    options: list[str], code: str, multiple: bool
) -> None:
    question = OpenQuestion("q", code, tuple(options), multiple=multiple)
    shown = instructions(code, options, multiple=multiple)
    assert shown.startswith("回复 ")
    pairs = shown.removeprefix("回复 ").split("（可多选")[0].split("，")
    if len(pairs) == len(options):  # an option holding "，" splits further; its number still counts
        for number, (option, pair) in enumerate(zip(options, pairs, strict=True), 1):
            token, _, text = pair.partition(" ")
            assert token == f"{code}{number}"
            if not text.startswith(("-", ":", "#", "：", "－", "＃")):  # "A -1" is A-1: see below
                assert read_answer(f"{code} {text}", [question]) == Answer("q", (option,)), pair
            assert read_answer(pair, [question]) == Answer("q", (option,)), pair  # copied whole
    for number, option in enumerate(options, 1):
        assert read_answer(f"{code}{number}", [question]) == Answer("q", (option,))
        assert read_answer(f"{code}{number}。", [question, APPROVAL if code != "A" else RELEASE]) == Answer(
            "q", (option,)
        )


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=30), several=st.booleans())
def test_any_text_reads_as_an_answer_or_a_reason_with_a_hint(text: str, several: bool) -> None:
    questions = [APPROVAL, RELEASE, CHECKS] if several else [CHECKS]
    result = read_answer(text, questions)
    if isinstance(result, Answer):
        question = next(q for q in questions if q.key == result.question_key)
        assert result.options and set(result.options) <= set(question.options)
        assert list(result.options) == [o for o in question.options if o in result.options]
    else:
        assert result.reason in REASONS and result.reason != NO_OPEN_QUESTION
        assert result.hint.endswith("。") and "138" not in result.hint


def test_a_long_reply_is_read_quickly() -> None:
    # Trying every prefix of a long run of letters as a code once took minutes for this reply.
    started = time.perf_counter()
    assert reason(read_answer("x" * 5000, [APPROVAL, CHECKS])) == UNKNOWN_ANSWER
    assert read_answer("1 " * 2000, [CHECKS]) == chose(CHECKS, "单元测试")
    assert time.perf_counter() - started < 5


def test_an_answer_says_whether_it_named_its_question_by_code() -> None:
    coded, bare = read_answer("A1", [APPROVAL]), read_answer("1", [APPROVAL])
    assert isinstance(coded, Answer) and isinstance(bare, Answer)
    assert (coded.by_code, bare.by_code) == (True, False)
    assert coded == bare  # the same choice, however it was written
