"""Voice-friendly renderings: dates, times, money, ids read out digit by digit.

Written for a TTS engine reading plain text: "Tuesday, December 2nd", "3:30 PM",
"1 0 0 1" (digits spaced so they are read one by one, as callers say them back).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, time


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def spoken_date(day: date, today: date | None = None) -> str:
    """'Tuesday, December 2nd' ('today' / 'tomorrow' in front when that is what it is)."""
    text = f"{day:%A}, {day:%B} {ordinal(day.day)}"
    if today is not None:
        if day == today:
            return f"today, {text}"
        if (day - today).days == 1:
            return f"tomorrow, {text}"
    return text


def spoken_time(at: time | str) -> str:
    """'3 PM', '3:30 PM', 'noon', 'midnight'."""
    if isinstance(at, str):
        hour, minute = (int(x) for x in at.split(":")[:2])
        at = time(hour, minute)
    if at.minute == 0 and at.hour == 12:
        return "noon"
    if at.minute == 0 and at.hour == 0:
        return "midnight"
    hour12 = at.hour % 12 or 12
    half = "AM" if at.hour < 12 else "PM"
    return f"{hour12} {half}" if at.minute == 0 else f"{hour12}:{at.minute:02d} {half}"


def spoken_digits(text: str) -> str:
    """'1001' → '1 0 0 1'; 'APT-482731' → 'A P T 4 8 2 7 3 1' (letters and digits one by one)."""
    return " ".join(ch for ch in text if ch.isalnum())


def spoken_money(cents: int) -> str:
    dollars, rest = divmod(int(cents), 100)
    unit = "dollar" if dollars == 1 else "dollars"
    return f"{dollars} {unit}" if rest == 0 else f"{dollars} {unit} and {rest} cents"


def spoken_wait(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return "about a minute" if minutes == 1 else f"about {minutes} minutes"


def spoken_list(items: Sequence[str], conjunction: str = "or") -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"
