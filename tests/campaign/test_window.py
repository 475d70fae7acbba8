"""Send windows: parsing, crossing midnight, weekdays, several spans, seconds, zones."""

from __future__ import annotations

from datetime import time

import pendulum
import pytest

from yxt_provider.campaign.window import MARKETING_WINDOW, DailySpan, SendWindow

BEIJING = "Asia/Shanghai"


def at(text: str, tz: str = BEIJING) -> pendulum.DateTime:
    moment = pendulum.parse(text, tz=tz)
    assert isinstance(moment, pendulum.DateTime)
    return moment


def test_a_daytime_window() -> None:
    window = SendWindow.parse("08:00-21:00")
    assert window.is_open(at("2026-12-02 08:00"))
    assert window.is_open(at("2026-12-02 20:59:59"))
    assert not window.is_open(at("2026-12-02 21:00"))
    assert not window.is_open(at("2026-12-02 07:59:59"))
    assert window.closes_at(at("2026-12-02 12:00")) == at("2026-12-02 21:00")
    assert window.closes_at(at("2026-12-02 22:00")) is None
    assert window.next_opening(at("2026-12-02 22:00")) == at("2026-12-03 08:00")
    assert window.next_opening(at("2026-12-02 06:00")) == at("2026-12-02 08:00")
    now = at("2026-12-02 09:30")
    assert window.next_opening(now) == now  # open: now


def test_times_are_wall_clock_in_the_window_zone_whatever_the_moment_zone() -> None:
    window = SendWindow.parse("08:00-21:00")
    # 00:30 UTC is 08:30 in Beijing.
    assert window.is_open(pendulum.datetime(2026, 12, 2, 0, 30, tz="UTC"))
    assert not window.is_open(pendulum.datetime(2026, 12, 2, 13, 30, tz="UTC"))  # 21:30 Beijing
    assert window.next_opening(pendulum.datetime(2026, 12, 2, 14, tz="UTC")) == pendulum.datetime(
        2026, 12, 3, 0, tz="UTC"
    )


def test_a_window_that_crosses_midnight_belongs_to_the_day_it_opens() -> None:
    window = SendWindow.parse("fri 22:00-06:00")  # Friday night into Saturday
    assert window.is_open(at("2026-12-04 23:00"))  # Friday
    assert window.is_open(at("2026-12-05 05:59"))  # Saturday morning, still Friday's span
    assert not window.is_open(at("2026-12-05 22:30"))  # Saturday night: no span opens
    assert window.closes_at(at("2026-12-04 23:00")) == at("2026-12-05 06:00")
    assert window.next_opening(at("2026-12-05 07:00")) == at("2026-12-11 22:00")


def test_weekday_windows() -> None:
    window = SendWindow.parse("mon-fri 09:00-18:00")
    saturday = at("2026-12-05 10:00")
    assert not window.is_open(saturday)
    assert window.next_opening(saturday) == at("2026-12-07 09:00")  # Monday
    assert window.next_opening(at("2026-12-04 18:00")) == at("2026-12-07 09:00")  # Friday's close
    assert SendWindow.parse("sat,sun 10:00-16:00").is_open(saturday)
    wrapped = SendWindow.parse("fri-mon 10:00-11:00")  # a range across the week's end
    assert {d for d in range(7) if d in wrapped.spans[0].days} == {4, 5, 6, 0}


def test_several_spans_and_a_lunch_break() -> None:
    window = SendWindow.parse("09:00-12:00; 14:00-18:00")
    assert window.is_open(at("2026-12-02 11:00")) and not window.is_open(at("2026-12-02 13:00"))
    assert window.closes_at(at("2026-12-02 11:00")) == at("2026-12-02 12:00")
    assert window.next_opening(at("2026-12-02 12:00")) == at("2026-12-02 14:00")
    assert SendWindow.parse(["09:00-12:00", "14:00-18:00"]) == window
    # Spans that touch or overlap close as one.
    joined = SendWindow.parse("09:00-12:00; 12:00-13:00; 12:30-15:00")
    assert joined.closes_at(at("2026-12-02 10:00")) == at("2026-12-02 15:00")


def test_seconds_and_all_day() -> None:
    window = SendWindow.parse("10:00:05-10:00:10")
    assert window.spans == (DailySpan(time(10, 0, 5), time(10, 0, 10)),)
    assert window.is_open(at("2026-12-02 10:00:05")) and not window.is_open(at("2026-12-02 10:00:10"))
    always = SendWindow.parse("00:00-24:00")
    assert all(always.is_open(at(f"2026-12-0{d} {h:02d}:17")) for d in (1, 6) for h in range(24))
    until_midnight = SendWindow.parse("18:00-24:00")
    assert until_midnight.closes_at(at("2026-12-02 19:00")) == at("2026-12-03 00:00")


def test_daylight_saving_is_pendulum_s_business() -> None:
    # New York springs forward on 2026-03-08 at 02:00: a 01:00-03:00 window lasts one hour.
    window = SendWindow.parse("01:00-03:00", "America/New_York")
    opens = window.next_opening(pendulum.datetime(2026, 3, 8, 0, 0, tz="America/New_York"))
    assert opens == pendulum.datetime(2026, 3, 8, 1, 0, tz="America/New_York")
    closes = window.closes_at(opens)
    assert closes is not None and (closes - opens).in_hours() == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("8-21", "is not a window: write 'HH:MM-HH:MM'"),
        ("08:00-25:00", "25:00 is not a time of day"),
        ("08:60-21:00", "08:60 is not a time of day"),
        ("09:00-09:00", "opens and closes at the same time; for all day write '00:00-24:00'"),
        ("mon-fri", "is not a window"),
        ("lun 09:00-10:00", "days are mon, tue, wed, thu, fri, sat, sun"),
        ("", "needs at least one span"),
    ],
)
def test_a_mistyped_window_says_how_to_write_it(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SendWindow.parse(spec)


def test_an_unknown_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="'Beijing' is not a time zone name"):
        SendWindow.parse("08:00-21:00", "Beijing")


def test_descriptions() -> None:
    assert MARKETING_WINDOW.describe() == "08:00-21:00 Asia/Shanghai"
    assert SendWindow.parse("mon-fri 09:00-12:00; sat 10:00:30-11:00").describe() == (
        "mon,tue,wed,thu,fri 09:00-12:00; sat 10:00:30-11:00 Asia/Shanghai"
    )
