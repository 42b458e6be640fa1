"""Dates and times as callers say them, resolved to ISO dates and ``HH:MM``.

Relative dates ("tomorrow", "next Tuesday", "the 5th") are resolved against an
injected ``today`` (the business's local date), so a call at 23:30 in New York
books the same day the shop means, and tests are reproducible.

Rules, chosen for booking calls:
- a weekday ("Friday", "on Friday", "this Friday", "next Friday") is its next
  occurrence strictly after today ("this Friday" said on a Friday is today);
- "the 5th" is the next 5th on or after today; "December 5th" / "12/05" without a
  year is the next such date on or after today;
- a bare hour ("at 3") is read in business hours: 1-7 -> PM, 8-11 -> AM.
A value that looks like a date or time but cannot be one ("the 45th", "25:00")
is reported as invalid instead of guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from voiceflow.processors.nlu.spoken import NUMBER_WORDS_RE, number_value

MONTHS: dict[str, int] = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
}
_MONTH_ABBR = {name[:3]: num for name, num in MONTHS.items()} | {"sept": 9}
WEEKDAYS: dict[str, int] = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
_WEEKDAY_ABBR = {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4}

_MONTH_ALT = "|".join(sorted([*MONTHS, *_MONTH_ABBR], key=len, reverse=True))
_WEEKDAY_ALT = "|".join(sorted([*WEEKDAYS, *_WEEKDAY_ABBR], key=len, reverse=True))
_DAY = rf"(?:\d{{1,2}}(?:st|nd|rd|th)?|{NUMBER_WORDS_RE})"

_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_SLASH = re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?\b")
_MONTH_DAY = re.compile(rf"\b({_MONTH_ALT})\.?\s+(?:the\s+)?({_DAY})\b(?:,?\s+(\d{{4}}))?")
_DAY_OF_MONTH = re.compile(rf"\b(?:the\s+)?({_DAY})\s+of\s+({_MONTH_ALT})\b(?:,?\s+(\d{{4}}))?")
_THE_DAY = re.compile(
    r"\bthe\s+(\d{1,2}(?:st|nd|rd|th)|(?:(?:twenty|thirty)[\s-]+)?(?:first|second|third|"
    r"fourth|fifth|sixth|seventh|eighth|ninth)|tenth|eleventh|twelfth|thirteenth|fourteenth|"
    r"fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|thirtieth|\d{2}(?:st|nd|rd|th))\b"
)
_RELATIVE = re.compile(r"\b(day after tomorrow|tomorrow|today|tonight|this (?:morning|afternoon|evening))\b")
_IN_N = re.compile(rf"\bin\s+(\d+|a|an|{NUMBER_WORDS_RE})\s+(days?|weeks?)\b")
_WEEKDAY = re.compile(rf"\b(?:(next|this|coming|on)\s+)?({_WEEKDAY_ALT})\b")


@dataclass(frozen=True, slots=True)
class Parsed:
    """One resolved value (``None`` when absent) and the raw text of an invalid one."""

    value: str | None = None
    invalid: str | None = None


def _month_of(word: str) -> int:
    word = word.lower().rstrip(".")
    return MONTHS.get(word) or _MONTH_ABBR[word[:4] if word == "sept" else word[:3]]


def _next_on_or_after(today: date, month: int, day: int, year: int | None) -> date | None:
    """The date ``month/day`` (this year or the next one when passed); None if it never exists."""
    if year is not None:
        try:
            return date(year, month, day)
        except ValueError:
            return None
    for y in (today.year, today.year + 1, today.year + 2, today.year + 3, today.year + 4):
        try:
            candidate = date(y, month, day)
        except ValueError:
            continue  # 29 February: try the next leap year
        if candidate >= today:
            return candidate
    return None


def _year(raw: str | None) -> int | None:
    if raw is None:
        return None
    y = int(raw)
    return 2000 + y if y < 100 else y


def resolve_date(text: str, today: date) -> Parsed:
    """Find the first date expression in lowercase ``text``; resolve it against ``today``."""
    s = text.lower()
    if m := _ISO.search(s):
        try:
            return Parsed(date(int(m[1]), int(m[2]), int(m[3])).isoformat())
        except ValueError:
            return Parsed(invalid=m[0])
    if m := _SLASH.search(s):
        month, day, year = int(m[1]), int(m[2]), _year(m[3])
        if month > 12 and day <= 12:
            return Parsed()  # "24/7" is not a date
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return Parsed(invalid=m[0])
        found = _next_on_or_after(today, month, day, year)
        return Parsed(found.isoformat()) if found else Parsed(invalid=m[0])
    for pattern, month_group, day_group in ((_MONTH_DAY, 1, 2), (_DAY_OF_MONTH, 2, 1)):
        if m := pattern.search(s):
            day_num = number_value(m[day_group])
            month = _month_of(m[month_group])
            if day_num is None or not 1 <= day_num <= 31:
                return Parsed(invalid=m[0])
            found = _next_on_or_after(today, month, day_num, _year(m[3]))
            return Parsed(found.isoformat()) if found else Parsed(invalid=m[0])
    if m := _RELATIVE.search(s):
        word = m[1]
        offset = 2 if word.startswith("day after") else 1 if word == "tomorrow" else 0
        return Parsed((today + timedelta(days=offset)).isoformat())
    if m := _IN_N.search(s):
        amount = 1 if m[1] in ("a", "an") else number_value(m[1])
        if amount is not None:
            days = amount * (7 if m[2].startswith("week") else 1)
            return Parsed((today + timedelta(days=days)).isoformat())
    if m := _WEEKDAY.search(s):
        word = m[2]
        target = WEEKDAYS.get(word, _WEEKDAY_ABBR.get(word))
        if target is not None:
            ahead = (target - today.weekday()) % 7
            if ahead == 0 and m[1] != "this":
                ahead = 7
            return Parsed((today + timedelta(days=ahead)).isoformat())
    if m := _THE_DAY.search(s):
        day_num = number_value(m[1])
        if day_num is None or not 1 <= day_num <= 31:
            return Parsed(invalid=m[0])
        return Parsed(_next_day_of_month(today, day_num).isoformat())
    return Parsed()


def _next_day_of_month(today: date, day: int) -> date:
    year, month = today.year, today.month
    for _ in range(13):
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate is not None and candidate >= today:
            return candidate
        month += 1
        if month > 12:
            year, month = year + 1, 1
    raise AssertionError("unreachable: every day 1-31 occurs within 13 months")


# -- times -------------------------------------------------------------------------------------------

_HOUR = rf"(\d{{1,2}}|{NUMBER_WORDS_RE})"
_MERIDIEM = r"(a\.?\s?m\.?|p\.?\s?m\.?)"
_NAMED = re.compile(r"\b(noon|midday|midnight)\b")
_PAST_TO = re.compile(
    rf"\b(half|quarter|(?:\d{{1,2}}|{NUMBER_WORDS_RE})(?:\s+minutes?)?)\s+(past|after|to|till|before)\s+{_HOUR}"
    rf"(?:\s*{_MERIDIEM})?"
)
_CLOCK = re.compile(rf"\b(\d{{1,2}}):(\d{{2}})(?:\s*{_MERIDIEM})?")
_HOUR_MERIDIEM = re.compile(rf"\b{_HOUR}(?:[\s:](\d{{2}}|{NUMBER_WORDS_RE}))?\s*(?:{_MERIDIEM}|o'?\s?clock)")
_AT_HOUR = re.compile(
    rf"\b(?:at|around|by)\s+{_HOUR}(?:\s+(\d{{2}}|{NUMBER_WORDS_RE}))?\b(?!\s*(?:/|-|%|days?))"
)
_PERIOD = re.compile(r"\b(morning|afternoon|evening|tonight)\b")


def _hour_in_day(hour: int, meridiem: str | None, text: str) -> int | None:
    """Apply AM/PM (explicit, from the period of day, or the business-hours guess)."""
    if meridiem:
        if not 1 <= hour <= 12:
            return None
        pm = meridiem.replace(".", "").replace(" ", "").startswith("p")
        return (hour % 12) + (12 if pm else 0)
    if hour > 12:
        return hour if hour <= 23 else None
    period = _PERIOD.search(text)
    if period:
        return hour % 12 + (0 if period[1] == "morning" else 12)
    if hour == 0:
        return 0
    return hour + 12 if 1 <= hour <= 7 else hour


def _fmt(hour: int | None, minute: int | None, raw: str) -> Parsed:
    if hour is None or minute is None or not (0 <= hour <= 23 and 0 <= minute <= 59):
        return Parsed(invalid=raw.strip())
    return Parsed(f"{hour:02d}:{minute:02d}")


def resolve_time(text: str) -> Parsed:
    """Find the first time of day in lowercase ``text`` and return it as ``HH:MM``."""
    s = text.lower()
    if m := _NAMED.search(s):
        return Parsed("00:00" if m[1] == "midnight" else "12:00")
    if m := _PAST_TO.search(s):
        amount = {"half": 30, "quarter": 15}.get(m[1]) or number_value(m[1].split()[0])
        hour = number_value(m[3])
        if amount is None or hour is None or not 1 <= hour <= 12 or amount >= 60:
            return Parsed(invalid=m[0])
        minutes = hour * 60 + (amount if m[2] in ("past", "after") else -amount)
        h24 = _hour_in_day(minutes // 60 if minutes // 60 else 12, m[4], s)
        return _fmt(h24, minutes % 60, m[0])
    if m := _CLOCK.search(s):
        hour, minute = int(m[1]), int(m[2])
        return _fmt(_hour_in_day(hour, m[3], s), minute, m[0])
    if m := _HOUR_MERIDIEM.search(s):
        said_hour = number_value(m[1])
        said_minute = number_value(m[2]) if m[2] else 0
        h24 = _hour_in_day(said_hour, m[3], s) if said_hour is not None else None
        return _fmt(h24, said_minute, m[0])
    if m := _AT_HOUR.search(s):
        said_hour = number_value(m[1])
        said_minute = number_value(m[2]) if m[2] else 0
        if said_hour is None or said_hour > 24:
            return Parsed()  # "at 1002" is not a time
        return _fmt(_hour_in_day(said_hour, None, s), said_minute, m[0])
    return Parsed()
