"""Quiet hours: the daily window a campaign may send in, in a zone (Asia/Shanghai unless said otherwise).

``SendWindow.parse("08:00-21:00")``, ``"mon-fri 09:00-18:00"``, ``"22:00-06:00"`` (a window
that crosses midnight belongs to the day it opens on). The zone arithmetic is pendulum's, so
a window means wall-clock time in its zone whatever the worker's clock zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import pendulum

__all__ = ["DEFAULT_TIMEZONE", "MARKETING_WINDOW", "SendWindow"]

DEFAULT_TIMEZONE = "Asia/Shanghai"
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC = re.compile(
    r"^\s*(?:(?P<days>[a-z]{3}(?:\s*-\s*[a-z]{3})?(?:\s*,\s*[a-z]{3}(?:\s*-\s*[a-z]{3})?)*)\s+)?"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$"
)


def _clock(text: str, spec: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours == 24 and minutes == 0:  # "until midnight": the next day's 00:00
        return time(0, 0)
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"send_window {spec!r}: {text} is not a time of day (HH:MM)")
    return time(hours, minutes)


def _days(text: str | None, spec: str) -> frozenset[int]:
    if not text:
        return frozenset(range(7))
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
class SendWindow:
    """When a campaign may send: from ``start`` to ``end`` on ``days``, in ``timezone``.

    :param start: opening time of day.
    :param end: closing time of day; earlier than ``start`` means the window crosses midnight.
    :param days: weekdays the window opens on (0 = Monday); all by default.
    :param timezone: the zone the times are wall-clock times in.
    """

    start: time
    end: time
    days: frozenset[int] = frozenset(range(7))
    timezone: str = DEFAULT_TIMEZONE

    @classmethod
    def parse(cls, spec: str | SendWindow, timezone: str = DEFAULT_TIMEZONE) -> SendWindow:
        """Read ``"08:00-21:00"``, ``"mon-fri 09:00-18:00"`` or ``"sat,sun 10:00-16:00"``.

        :param spec: the window, or a ``SendWindow`` (returned as it is).
        :param timezone: the zone of the times (an IANA name).
        :raises ValueError: saying what is wrong and how to write it.
        """
        if isinstance(spec, SendWindow):
            return spec
        match = _SPEC.match(str(spec).lower())
        if match is None:
            raise ValueError(
                f"send_window {spec!r} is not a window: write 'HH:MM-HH:MM', optionally after days, "
                "e.g. '08:00-21:00' or 'mon-fri 09:00-18:00'"
            )
        start, end = _clock(match["start"], str(spec)), _clock(match["end"], str(spec))
        if start == end:
            raise ValueError(f"send_window {spec!r} opens and closes at the same time")
        try:
            pendulum.timezone(timezone)
        except Exception:
            raise ValueError(
                f"send_window timezone {timezone!r} is not a time zone name (e.g. Asia/Shanghai)"
            ) from None
        return cls(start=start, end=end, days=_days(match["days"], str(spec)), timezone=timezone)

    def _openings(self, around: datetime) -> list[tuple[datetime, datetime]]:
        """The windows opening from the day before ``around`` to a week after, as (open, close)."""
        local = pendulum.instance(around).in_timezone(self.timezone)
        spans: list[tuple[datetime, datetime]] = []
        for offset in range(-1, 9):
            day = local.add(days=offset).date()
            if day.weekday() not in self.days:
                continue
            opens = pendulum.datetime(
                day.year, day.month, day.day, self.start.hour, self.start.minute, tz=self.timezone
            )
            closing_day = day if self.end > self.start else day + timedelta(days=1)  # crosses midnight
            closes = pendulum.datetime(
                closing_day.year,
                closing_day.month,
                closing_day.day,
                self.end.hour,
                self.end.minute,
                tz=self.timezone,
            )
            spans.append((opens, closes))
        return spans

    def is_open(self, moment: datetime) -> bool:
        """True when ``moment`` (aware) falls in a window."""
        return any(opens <= moment < closes for opens, closes in self._openings(moment))

    def closes_at(self, moment: datetime) -> datetime | None:
        """When the window ``moment`` falls in closes; ``None`` when it is closed at ``moment``."""
        return next((closes for opens, closes in self._openings(moment) if opens <= moment < closes), None)

    def next_opening(self, moment: datetime) -> datetime:
        """The first moment at or after ``moment`` the window is open (``moment`` itself when open)."""
        if self.is_open(moment):
            return moment
        return min(opens for opens, _ in self._openings(moment) if opens > moment)

    def describe(self) -> str:
        """The window in words, e.g. ``08:00-21:00 Asia/Shanghai, mon-fri``."""
        days = "" if len(self.days) == 7 else ", " + ",".join(_DAYS[day] for day in sorted(self.days))
        return f"{self.start.strftime('%H:%M')}-{self.end.strftime('%H:%M')} {self.timezone}{days}"


MARKETING_WINDOW = SendWindow(start=time(8, 0), end=time(21, 0))
"""The default window of marketing campaigns: 08:00 to 21:00, Beijing time, every day."""
