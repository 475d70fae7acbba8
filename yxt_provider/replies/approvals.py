"""Approve by text message: how a reply SMS is read as the answer to an open approval question.

Pure rules, no database, Airflow or I/O: the caller knows which questions a phone number has
open (a human-in-the-loop task sends each approver an SMS with :func:`instructions`) and hands
a reply's text with those questions to :func:`read_answer`.

Every question of one number carries a short letter code (:func:`next_code`), so ``A1`` and
``B1`` cannot be mixed up; a bare ``1`` or ``同意`` is enough while the number has exactly one
open question. The reading is strict on purpose: an approval read wrongly is worse than one
asked again, so a reply counts only when all of it is answer tokens (``同意，谢谢`` is not an
answer), and a reply that is not understood gets a :class:`NoMatch` with a short Chinese
``hint`` the caller may send back.

Rules beyond the plain spec, chosen for the approver's sake:

* The code comes first only (``A1``, ``a 1``, ``A-1``, ``A：同意``, ``A同意``); ``1A`` is not
  understood. Copying the SMS back works: ``A1 发布`` (number and text of the same option)
  and, for several choices, ``A1 发布，A3 推迟`` (the same code repeated before each choice).
* When one string could mean two options, the option's number wins over an option text (the
  SMS teaches numbers), a code's separator wins over an option text starting with it (``A -1``
  is ``A-1``), and an option's own text wins over an approve/reject word; a text that
  several options share after normalising reads as none of them (their numbers still work).
* A reply made of a known code plus a valid answer is read before the whole reply is tried as
  a bare answer (``A1`` is option 1 of question ``A`` even if some option is called ``A1``);
  a bare answer is read before an unknown code is reported (an option called ``C1`` is not
  code ``C``).
* A bare answer with several open questions is ambiguous even when only one of them has that
  option: the code is what shows the approver meant that question.
* Between several choices, punctuation separates too (``1。3``), besides the spaces, commas,
  ``、``, ``和`` and ``及`` of the spec; an option text holding any of them still reads whole
  (``A 和 B``), and the fewest-token reading wins (``x x`` is the option ``x x`` if one exists).
* The same option twice is one option (``1 1``, ``A1 同意``), not :data:`TOO_MANY`.
* ``multiple=True`` with a single option gets no "可多选" example: there is nothing to combine.
* Only the listed words count: ``好的`` and Chinese numerals (``一``) are not answers. No word
  is an unsubscribe keyword too (``N``, ``T``, ``TD``, ``R``, 退订, 取消): a reply of ``N`` opts
  the number out of campaigns and answers nothing.
* Two open questions sharing a code is the caller's bug and raises; codes outside
  :data:`CODE_ALPHABET` are refused when an :class:`OpenQuestion` is made.
* Hints never repeat the reply and mask any phone number an option text could carry.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from yxt_provider.client.numbers import mask_numbers_in_text

__all__ = [
    "AMBIGUOUS",
    "APPROVE_WORDS",
    "CODE_ALPHABET",
    "NO_OPEN_QUESTION",
    "REJECT_WORDS",
    "TOO_MANY",
    "UNKNOWN_ANSWER",
    "UNKNOWN_CODE",
    "Answer",
    "NoMatch",
    "OpenQuestion",
    "instructions",
    "next_code",
    "read_answer",
]

#: The letters codes are made of: I and O look like 1 and 0, and N and Y are answers (no, yes).
CODE_ALPHABET = "ABCDEFGHJKLMPQRSTUVWXZ"

#: The number has no open question.
NO_OPEN_QUESTION = "no_open_question"
#: A bare answer while the number has several open questions.
AMBIGUOUS = "ambiguous"
#: The reply starts with a code none of the open questions has.
UNKNOWN_CODE = "unknown_code"
#: Nothing (or not all) of the reply is an answer to the question.
UNKNOWN_ANSWER = "unknown_answer"
#: Several different options for a question that takes one.
TOO_MANY = "too_many"

#: Words read as the option ``Approve`` when a question has it (Airflow's ApprovalOperator).
APPROVE_WORDS: tuple[str, ...] = ("同意", "批准", "通过", "是", "好", "可以", "确认", "ok", "yes", "y")
#: Words read as the option ``Reject`` when a question has it. Not ``N``: it is an unsubscribe
#: keyword (``DEFAULT_OPT_OUT_KEYWORDS``), and a refusal must not opt an approver out of every campaign.
REJECT_WORDS: tuple[str, ...] = ("拒绝", "不同意", "否", "驳回", "不", "不行", "no")

# How the approve/reject options are shown in the SMS: the words approvers would type anyway.
_SHOWN_AS = {"approve": "同意", "reject": "拒绝"}

# Punctuation and brackets people put around an answer ("同意。", "【A1】"), ASCII and Chinese;
# after NFKC most full-width forms are ASCII already, the rest are listed as they are.
_SURROUNDING = " \t\n\r。！？!?.，,、；;：:【】[]()（）\"'“”‘’「」『』《》〈〉~～…"
_WHITESPACE = re.compile(r"\s+")
# Between a code and its answer: "A1", "a 1", "A-1", "A：1" (":" after NFKC), "A#1".
_CODE_SEPARATOR = re.compile(r"\s*[-:#]?\s*")
# Between the choices of one answer: "1 3", "1,3", "1、3", "1和3", "1及3"; and the punctuation
# that may surround an answer, so "A1 （一周）" still finds the option "（一周）" inside a reply.
_LIST_SEPARATORS = frozenset(" ,、和及" + _SURROUNDING)
_SPACES = re.compile(r"\s*")
_LETTERS = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class OpenQuestion:
    """A question a phone number can answer by SMS.

    :param key: the caller's id of the question (e.g. of the HITL task instance and approver).
    :param code: its letters, unique among the number's open questions (see :func:`next_code`).
    :param options: the options in order; the SMS numbers them 1..n.
    :param multiple: whether several options may be chosen.
    :raises ValueError: when the code has letters outside :data:`CODE_ALPHABET` or there is no option.
    """

    key: str
    code: str
    options: tuple[str, ...]
    multiple: bool = False

    def __post_init__(self) -> None:
        # A list from Airflow's HITL options would make the question unhashable: keep a tuple.
        object.__setattr__(self, "options", tuple(self.options))
        _check_code(self.code)
        if not self.options:
            raise ValueError(f"question {self.key!r} has no options")


@dataclass(frozen=True)
class Answer:
    """A reply read as the answer to one question.

    :param question_key: the ``key`` of the :class:`OpenQuestion` answered.
    :param options: the options chosen, as the question spells them, in its order, no repeats.
    :param by_code: the reply named the question by its code (not a bare answer); not part of
        the answer's equality: ``A1`` and ``1`` choose the same.
    """

    question_key: str
    options: tuple[str, ...]
    by_code: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class NoMatch:
    """A reply that answers nothing.

    :param reason: one of :data:`NO_OPEN_QUESTION`, :data:`AMBIGUOUS`, :data:`UNKNOWN_CODE`,
        :data:`UNKNOWN_ANSWER`, :data:`TOO_MANY`.
    :param hint: a short Chinese sentence for a reply SMS saying how to answer; never holds a
        phone number.
    """

    reason: str
    hint: str


def read_answer(text: str, open_questions: Sequence[OpenQuestion]) -> Answer | NoMatch:
    """Read a reply SMS as the answer to one of the replying number's open questions.

    The text is normalised (NFKC, so full-width ``Ａ１`` is ``A1``; case-folded; whitespace
    collapsed; punctuation and brackets around it dropped). An answer is the option's number,
    its own text, or, when the question has ``Approve``/``Reject``, one of :data:`APPROVE_WORDS`
    / :data:`REJECT_WORDS`, each matched whole (``不同意`` is reject). Several choices are
    separated by spaces, commas, ``、``, ``和``, ``及`` or punctuation.

    In this order: a reply starting with one of the questions' codes (longest first) followed
    by a valid answer to it is that answer; a reply that is wholly a valid answer is the answer
    to the only open question, or :data:`AMBIGUOUS` when there are several; a reply starting
    with other code letters followed by a valid answer is :data:`UNKNOWN_CODE`; anything else is
    :data:`UNKNOWN_ANSWER` (or :data:`TOO_MANY` when a single-choice question got several
    options).

    :param text: the reply's text.
    :param open_questions: the open questions of the number that replied, only those.
    :raises ValueError: when two of the questions have the same code.
    """
    questions = tuple(open_questions)
    if not questions:
        return NoMatch(NO_OPEN_QUESTION, "您目前没有待审批的事项，无需回复。")
    codes = [question.code.upper() for question in questions]
    if len(set(codes)) != len(codes):
        # next_code keeps them apart; reading on would hand an answer to a guessed question.
        raise ValueError(f"open questions share a code: {sorted(codes)}")
    reply = _normalise(text)

    addressed: OpenQuestion | None = None
    for question in sorted(questions, key=lambda q: -len(q.code)):
        code = question.code.casefold()
        if not reply.startswith(code):
            continue
        chosen = _first_reading(
            _parse(_strip(reply[start:]), question, code) for start in _after_code(reply, len(code))
        )
        if isinstance(chosen, _TooMany):
            return _too_many(question)
        if chosen is not None:
            return Answer(question.key, _options(question, chosen), by_code=True)
        addressed = addressed or question  # the hint then explains this question

    bare = [_parse(reply, question, None) for question in questions]
    if any(chosen is not None for chosen in bare):
        if len(questions) > 1:
            return NoMatch(
                AMBIGUOUS,
                f"您有多个待审批事项（{_listed(questions)}），请在回复前加上编号，如 {_first(questions)}1。",
            )
        (question,) = questions
        chosen = bare[0]
        if isinstance(chosen, _TooMany):
            return _too_many(question)
        assert chosen is not None
        return Answer(question.key, _options(question, chosen))

    unknown = _unknown_code(reply, questions)
    if unknown is not None:
        return NoMatch(
            UNKNOWN_CODE, f"没有编号为 {unknown} 的待审批事项，您的待审批编号：{_listed(questions)}。"
        )

    explained = addressed or (questions[0] if len(questions) == 1 else None)
    if explained is not None:
        return NoMatch(UNKNOWN_ANSWER, _masked(f"未能识别您的回复，请{_how_to(explained)}。"))
    return NoMatch(
        UNKNOWN_ANSWER,
        f"未能识别您的回复，请回复编号加选项序号，如 {_first(questions)}1（待审批编号：{_listed(questions)}）。",
    )


def next_code(in_use: Collection[str]) -> str:
    """The first code not in ``in_use``: ``A``, ``B``, … (:data:`CODE_ALPHABET`), then ``AA``, ``AB``, ….

    :param in_use: the codes of the number's open questions (compared case-insensitively).
    """
    taken = {code.upper() for code in in_use}
    for length in itertools.count(1):
        for letters in itertools.product(CODE_ALPHABET, repeat=length):
            code = "".join(letters)
            if code not in taken:
                return code
    raise AssertionError("unreachable: in_use is finite")  # pragma: no cover


def instructions(code: str, options: Sequence[str], *, multiple: bool = False) -> str:
    """The how-to-answer part of the SMS, short (SMS length costs money).

    ``instructions("A", ["Approve", "Reject"])`` is ``回复 A1 同意，A2 拒绝``;
    ``instructions("A", ["发布", "回滚", "推迟"])`` is ``回复 A1 发布，A2 回滚，A3 推迟``. Options
    are shown by their own text (whitespace and surrounding punctuation trimmed), ``Approve`` and
    ``Reject`` by the Chinese words approvers would type anyway.

    :param code: the question's code.
    :param options: the question's options in order.
    :param multiple: the question takes several options: adds ``（可多选，如 A1 3）``, combining
        option 1 with option 3 (2 when there are two); one option has nothing to combine and
        gets no example.
    :raises ValueError: for a code outside :data:`CODE_ALPHABET` or no options.
    """
    _check_code(code)
    if not options:
        raise ValueError("a question needs at least one option")
    text = "回复 " + "，".join(f"{code}{number} {_shown(option)}" for number, option in enumerate(options, 1))
    if multiple and len(options) > 1:
        text += f"（可多选，如 {code}1 {min(3, len(options))}）"
    return text


# --- reading -----------------------------------------------------------------------------------


class _TooMany:
    """Marks a parse with several options for a single-choice question."""


_TOO_MANY = _TooMany()


def _normalise(text: str) -> str:
    return _strip(_folded(text))


def _folded(text: str) -> str:
    # NFKC folds full-width forms; NFKC again after casefold() is the standard caseless match.
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return _WHITESPACE.sub(" ", folded).strip()


def _strip(text: str) -> str:
    return text.strip(_SURROUNDING)


@lru_cache(maxsize=1024)
def _tokens(options: tuple[str, ...]) -> Mapping[str, int]:
    """Normalised token → option index. Later writes win: words < option texts < numbers."""
    texts = [_normalise(option) for option in options]
    tokens: dict[str, int] = {}
    for label, words in (("approve", APPROVE_WORDS), ("reject", REJECT_WORDS)):
        if label in texts:
            tokens.update(dict.fromkeys(words, texts.index(label)))
    # Each text trimmed of its surrounding punctuation, as a whole reply is, and also untrimmed,
    # as it stands inside a reply ("B1 推迟（一周）" after the code, "㈀" folding to "(ᄀ)").
    forms: dict[str, set[int]] = {}
    for index, option in enumerate(options):
        for form in (texts[index], _folded(option)):
            if form:
                forms.setdefault(form, set()).add(index)
    for form, indexes in forms.items():
        if len(indexes) == 1:
            tokens[form] = min(indexes)
        else:
            tokens.pop(form, None)  # shared by several options: it names none of them
    tokens.update({str(index + 1): index for index in range(len(options))})
    return tokens


def _parse(text: str, question: OpenQuestion, code: str | None) -> tuple[int, ...] | _TooMany | None:
    """The option indexes ``text`` chooses for ``question``, :data:`_TOO_MANY`, or None.

    ``code`` (when the reply started with it) may be repeated before later choices.
    """
    if not text:
        return None
    tokens = _tokens(question.options)
    found = _segment(text, tokens, code, None)
    if found is None:
        return None
    chosen = tuple(sorted(set(found)))
    if question.multiple or len(chosen) == 1:
        return chosen
    # "x x" is the option "x x" rather than two options when one exists: read with one option only.
    readings = [reading for index in chosen if (reading := _segment(text, tokens, code, index)) is not None]
    if readings:
        return (min(readings, key=len)[0],)
    return _TOO_MANY


def _segment(
    text: str, tokens: Mapping[str, int], code: str | None, only: int | None
) -> tuple[int, ...] | None:
    """Split all of ``text`` into tokens joined by list separators, fewest tokens first.

    Dynamic programming from the end rather than a regex split, so an option text holding a
    space, a comma or 和 still reads as one token, and 不同意 never reads as 不 + 同意.
    """
    size = len(text)
    best: list[tuple[int, ...] | None] = [None] * (size + 1)
    for start in range(size - 1, -1, -1):
        starts = [start]
        if code is not None and start > 0 and text.startswith(code, start):
            # "A1 发布，A3 推迟": the code again before a later choice.
            starts.extend(_after_code(text, start + len(code)))
        for token_start in starts:
            for token, index in tokens.items():
                if (only is not None and index != only) or not text.startswith(token, token_start):
                    continue
                end = token_start + len(token)
                candidate: tuple[int, ...] | None = (index,) if end == size else None
                # After a token that is not the last: one or more separators, then the rest.
                position = end
                while position < size and text[position] in _LIST_SEPARATORS:
                    position += 1
                    rest = best[position] if position < size else None
                    if rest is not None and (candidate is None or len(rest) + 1 < len(candidate)):
                        candidate = (index, *rest)
                current = best[start]
                if candidate is not None and (current is None or len(candidate) < len(current)):
                    best[start] = candidate
    return best[0]


def _unknown_code(reply: str, questions: Sequence[OpenQuestion]) -> str | None:
    """The code-shaped letters a reply starts with, when a valid answer follows them."""
    letters = _LETTERS.match(reply)
    if letters is None:
        return None
    known = {question.code.upper() for question in questions}
    # Codes are short (next_code needs 3 letters only past 506 open questions); trying every
    # prefix of a long run of letters would read the rest of the reply once per letter.
    run = letters.group().upper()[: max(3, *(len(code) + 1 for code in known))]
    for length in range(len(run), 0, -1):
        prefix = run[:length]
        if any(letter not in CODE_ALPHABET for letter in prefix):
            continue  # "ok", "yes", "no": O, Y and N are never in a code
        if prefix in known:
            continue  # a known code with a wrong answer: explained as that question's answer
        for start in _after_code(reply, length):
            rest = _strip(reply[start:])
            if any(_parse(rest, question, None) is not None for question in questions):
                return prefix
    return None


def _after_code(text: str, position: int) -> tuple[int, ...]:
    """Where the answer may start after a code ending at ``position``.

    Past a separator ("-", ":", "#" and spaces) first, then past spaces only: an option may
    itself be called "-" or start with "#".
    """
    separator = _CODE_SEPARATOR.match(text, position)
    spaces = _SPACES.match(text, position)
    ends = (separator.end() if separator else position, spaces.end() if spaces else position)
    return tuple(dict.fromkeys(ends))


def _first_reading(
    readings: Iterable[tuple[int, ...] | _TooMany | None],
) -> tuple[int, ...] | _TooMany | None:
    """The first valid reading, else a too-many one, else None."""
    too_many: _TooMany | None = None
    for reading in readings:
        if isinstance(reading, _TooMany):
            too_many = reading
        elif reading is not None:
            return reading
    return too_many


def _options(question: OpenQuestion, chosen: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(question.options[index] for index in chosen)


# --- writing -----------------------------------------------------------------------------------


def _check_code(code: str) -> None:
    if not code or any(letter not in CODE_ALPHABET for letter in code.upper()):
        raise ValueError(f"a code is letters of {CODE_ALPHABET} (see next_code), not {code!r}")


def _shown(option: str) -> str:
    label = _SHOWN_AS.get(_normalise(option))
    return label or _strip(" ".join(option.split())) or option


def _how_to(question: OpenQuestion) -> str:
    return instructions(question.code, question.options, multiple=question.multiple)


def _too_many(question: OpenQuestion) -> NoMatch:
    return NoMatch(TOO_MANY, _masked(f"该事项只能选一项，请{_how_to(question)}。"))


def _listed(questions: Sequence[OpenQuestion]) -> str:
    return "、".join(sorted((q.code.upper() for q in questions), key=lambda code: (len(code), code)))


def _first(questions: Sequence[OpenQuestion]) -> str:
    return _listed(questions).split("、")[0]


def _masked(hint: str) -> str:
    # Option texts are the DAG author's: one could carry a phone number, which a hint must not.
    return mask_numbers_in_text(hint)
