"""Quiet hours: when a campaign may send, as daily spans in a zone (Asia/Shanghai unless said otherwise).

``SendWindow.parse("08:00-21:00")``, ``"mon-fri 09:00-18:00"``, ``"22:00-06:00"`` (a span
that crosses midnight belongs to the day it opens on), and several spans at once:
``"09:00-12:00; 14:00-18:00"`` or a list of such strings. Times may carry seconds
(``"09:00:30"``). The zone arithmetic is pendulum's, so a window means wall-clock time in its
zone whatever the worker's clock zone, across daylight-saving changes too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import pendulum

__all__ = ["DEFAULT_TIMEZONE", "MARKETING_WINDOW", "DailySpan", "SendWindow"]

DEFAULT_TIMEZONE = "Asia/Shanghai"
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EVERY_DAY = frozenset(range(7))
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?"
_SPAN = re.compile(
    r"^\s*(?:(?P<days>[a-z]{3}(?:\s*-\s*[a-z]{3})?(?:\s*,\s*[a-z]{3}(?:\s*-\s*[a-z]{3})?)*)\s+)?"
    rf"(?P<start>{_CLOCK})\s*-\s*(?P<end>{_CLOCK})\s*$"
)
# A window never needs to look further than this for its next opening (a week, plus a day
# for a span that opened yesterday and crosses midnight).
_LOOK_AROUND = range(-1, 9)


def _clock(text: str, spec: str) -> time:
    hours, minutes, *rest = (int(part) for part in text.split(":"))
    seconds = rest[0] if rest else 0
    if (hours, minutes, seconds) == (24, 0, 0):  # "until midnight": the next day's 00:00
        return time(0, 0)
    if not (0 <= hours < 24 and 0 <= minutes < 60 and 0 <= seconds < 60):
        raise ValueError(f"send_window {spec!r}: {text} is not a time of day (HH:MM or HH:MM:SS)")
    return time(hours, minutes, seconds)


def _days(text: str | None, spec: str) -> frozenset[int]:
    if not text:
        return _EVERY_DAY
    days: set[int] = set()
    for part in text.split(","):
        first, _, last = (piece.strip() for piece in part.partition("-"))
        if first not in _DAYS or (last and last not in _DAYS):
            raise ValueError(
                f"send_window {spec!r}: days are mon, tue, wed, thu, fri, sat, sun (e.g. mon-fri)"
            )
        start, stop = _DAYS.index(first), _DAYS.index(last or first)
        days.update(range(start, stop + 1) if start <= stop else [*range(start, 7), *range(0, stop + 1)])
    return frozenset(days)


@dataclass(frozen=True)
class DailySpan:
    """One daily span of a window: from ``start`` to ``end`` on ``days``.

    :param start: opening time of day.
    :param end: closing time of day; not after ``start`` means the span crosses midnight
        (equal to it: the span lasts 24 hours).
    :param days: weekdays the span opens on (0 = Monday); every day by default.
    """

    start: time
    end: time
    days: frozenset[int] = _EVERY_DAY

    @classmethod
    def parse(cls, spec: str) -> DailySpan:
        """Read ``"08:00-21:00"``, ``"mon-fri 09:00-18:00"`` or ``"sat,sun 10:00:30-16:00"``.

        :raises ValueError: saying what is wrong and how to write it.
        """
        match = _SPAN.match(spec.lower())
        if match is None:
            raise ValueError(
                f"send_window {spec!r} is not a window: write 'HH:MM-HH:MM', optionally after days, "
                "e.g. '08:00-21:00' or 'mon-fri 09:00-18:00'; several spans with ';'"
            )
        start, end = _clock(match["start"], spec), _clock(match["end"], spec)
        # An end written 24:00 after a 00:00 start is the whole day; other equal times are a slip.
        if start == end and not match["end"].startswith("24"):
            raise ValueError(
                f"send_window {spec!r} opens and closes at the same time; for all day write '00:00-24:00'"
            )
        return cls(start=start, end=end, days=_days(match["days"], spec))

    def describe(self) -> str:
        """The span in words, e.g. ``mon-fri 09:00-18:00`` (seconds only when set)."""

        def clock(moment: time) -> str:
            return moment.strftime("%H:%M:%S" if moment.second else "%H:%M")

        days = "" if self.days == _EVERY_DAY else ",".join(_DAYS[day] for day in sorted(self.days)) + " "
        return f"{days}{clock(self.start)}-{clock(self.end)}"


@dataclass(frozen=True)
class SendWindow:
    """When a campaign may send: any of ``spans``, as wall-clock times in ``timezone``.

    :param spans: the daily spans (a moment in any of them is inside the window).
    :param timezone: the zone the times are wall-clock times in (an IANA name).
    """

    spans: tuple[DailySpan, ...]
    timezone: str = DEFAULT_TIMEZONE

    def __post_init__(self) -> None:
        if not self.spans:
            raise ValueError("a send window needs at least one span, e.g. '08:00-21:00'")
        try:
            pendulum.timezone(self.timezone)
        except Exception:
            raise ValueError(
                f"send_window timezone {self.timezone!r} is not a time zone name (e.g. Asia/Shanghai)"
            ) from None

    @classmethod
    def parse(cls, spec: str | Sequence[str] | SendWindow, timezone: str = DEFAULT_TIMEZONE) -> SendWindow:
        """Read a window: ``"08:00-21:00"``, ``"mon-fri 09:00-12:00; mon-fri 14:00-18:00"``, or a list.

        :param spec: the window as text (spans separated by ``;``), a list of spans, or a
            ``SendWindow`` (returned as it is).
        :param timezone: the zone of the times.
        :raises ValueError: saying what is wrong and how to write it.
        """
        if isinstance(spec, SendWindow):
            return spec
        parts = spec.split(";") if isinstance(spec, str) else list(spec)
        return cls(
            spans=tuple(DailySpan.parse(str(part)) for part in parts if str(part).strip()), timezone=timezone
        )

    def _spans_around(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Every span opening from the day before ``moment`` to a week after, as (open, close)."""
        local = pendulum.instance(moment).in_timezone(self.timezone)
        for offset in _LOOK_AROUND:
            day = local.add(days=offset).date()
            for span in self.spans:
                if day.weekday() not in span.days:
                    continue
                closing_day = day if span.end > span.start else day + timedelta(days=1)
                yield self._at(day, span.start), self._at(closing_day, span.end)

    def _at(self, day: pendulum.Date, clock: time) -> datetime:
        return pendulum.datetime(
            day.year, day.month, day.day, clock.hour, clock.minute, clock.second, tz=self.timezone
        )

    def is_open(self, moment: datetime) -> bool:
        """True when ``moment`` (aware) falls in a span."""
        return any(opens <= moment < closes for opens, closes in self._spans_around(moment))

    def closes_at(self, moment: datetime) -> datetime | None:
        """When the window ``moment`` falls in closes (spans that touch or overlap count as one).

        ``None`` when the window is closed at ``moment``.
        """
        spans = sorted(self._spans_around(moment))
        closes: datetime | None = None
        for opens, span_closes in spans:
            if closes is None:
                if opens <= moment < span_closes:
                    closes = span_closes
            elif opens <= closes:
                closes = max(closes, span_closes)
        return closes

    def next_opening(self, moment: datetime) -> datetime:
        """The first moment at or after ``moment`` the window is open (``moment`` itself when open)."""
        if self.is_open(moment):
            return moment
        return min(opens for opens, _ in self._spans_around(moment) if opens > moment)

    def describe(self) -> str:
        """The window in words, e.g. ``08:00-21:00 Asia/Shanghai`` or ``mon-fri 09:00-18:00 Asia/Shanghai``."""
        return f"{'; '.join(span.describe() for span in self.spans)} {self.timezone}"


MARKETING_WINDOW = SendWindow(spans=(DailySpan(start=time(8, 0), end=time(21, 0)),))
"""The default window of marketing campaigns: 08:00 to 21:00, Beijing time, every day."""
