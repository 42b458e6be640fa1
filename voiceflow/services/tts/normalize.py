"""Numbers, dates and phone numbers into words, for engines that take plain text.

Used by the SSML renderer's ``say-as``: digits are read one by one, dates the
way an American agent says them ("December fifth, twenty twenty-six"),
telephone numbers digit by digit in their groups.
"""

from __future__ import annotations

import re

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
MONTHS = ("January February March April May June July August September October November December").split()
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def number_words(n: int) -> str:
    """Cardinal: 1002 → "one thousand two"."""
    if n < 0:
        return "minus " + number_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {number_words(rest)}" if rest else "")
    for value, word in _SCALES:
        if n >= value:
            high, rest = divmod(n, value)
            return f"{number_words(high)} {word}" + (f" {number_words(rest)}" if rest else "")
    raise AssertionError("unreachable")


def ordinal_words(n: int) -> str:
    """Ordinal: 5 → "fifth", 21 → "twenty-first", 30 → "thirtieth"."""
    words = number_words(n)
    head, sep, last = words.rpartition("-") if "-" in words.split(" ")[-1] else words.rpartition(" ")
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def year_words(year: int) -> str:
    """2026 → "twenty twenty-six", 2005 → "two thousand five", 1900 → "nineteen hundred"."""
    if not 1000 <= year <= 9999:
        return number_words(year)
    high, low = divmod(year, 100)
    if year % 1000 < 10 and high % 10 == 0:  # 2000..2009
        return number_words(year)
    if low == 0:
        return f"{number_words(high)} hundred"
    if low < 10:
        return f"{number_words(high)} oh {_ONES[low]}"
    return f"{number_words(high)} {number_words(low)}"


def digits_words(text: str) -> str:
    """Each digit as a word: "1002" → "one zero zero two" (other characters dropped)."""
    digits = [_ONES[int(c)] for c in text if c.isdigit()]
    if not digits:
        raise ValueError(f"no digits in {text!r}")
    return " ".join(digits)


def telephone_words(text: str) -> str:
    """Digit by digit, a comma between groups: "800-555-1234" → "eight zero zero, five five five, ..."."""
    groups = re.findall(r"\d+", text)
    if not groups:
        raise ValueError(f"no digits in telephone number {text!r}")
    spoken = ", ".join(digits_words(g) for g in groups)
    return ("plus " if text.strip().startswith("+") else "") + spoken


_DATE_FORMATS = {"ymd", "mdy", "dmy", "md", "dm", "ym", "my"}


def date_words(text: str, fmt: str | None = None) -> str:
    """A date in words. ISO "2026-12-05" → "December fifth, twenty twenty-six".

    ``fmt`` is the SSML ``say-as`` format (``ymd``, ``mdy``, ``dmy``, ``md``, ``dm``,
    ``ym``, ``my``); without it ISO (year first) or US month/day order is assumed.
    """
    parts = re.split(r"[-/.\s]+", text.strip())
    if not all(p.isdigit() for p in parts) or not parts or parts == [""]:
        raise ValueError(f"not a numeric date: {text!r}")
    if fmt is None:
        fmt = "ymd" if len(parts[0]) == 4 else ("mdy" if len(parts) == 3 else "md")
    fmt = fmt.lower()
    if fmt not in _DATE_FORMATS or len(fmt) != len(parts):
        raise ValueError(f"date {text!r} does not match format {fmt!r}")
    fields = dict(zip(fmt, (int(p) for p in parts), strict=True))
    month, day, year = fields.get("m"), fields.get("d"), fields.get("y")
    if month is None or not 1 <= month <= 12:
        raise ValueError(f"bad month in date {text!r}")
    if day is not None and not 1 <= day <= _DAYS_IN_MONTH[month - 1]:
        raise ValueError(f"bad day in date {text!r}")
    spoken = MONTHS[month - 1]
    if day is not None:
        spoken += f" {ordinal_words(day)}"
    if year is not None:
        spoken += f", {year_words(year)}" if day is not None else f" {year_words(year)}"
    return spoken


def time_words(text: str) -> str:
    """ "15:30" → "three thirty PM", "9:05" → "nine oh five AM", "12:00" → "twelve PM"."""
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text)
    if m is None:
        raise ValueError(f"not a time: {text!r}")
    hour, minute = int(m.group(1)), int(m.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(f"not a time: {text!r}")
    suffix = "AM" if hour < 12 else "PM"
    h12 = hour % 12 or 12
    if minute == 0:
        return f"{number_words(h12)} {suffix}"
    mins = f"oh {_ONES[minute]}" if minute < 10 else number_words(minute)
    return f"{number_words(h12)} {mins} {suffix}"


def characters_words(text: str) -> str:
    """Spell out: "AB12" → "A B one two"."""
    out = [(_ONES[int(c)] if c.isdigit() else c.upper()) for c in text if not c.isspace()]
    if not out:
        raise ValueError("nothing to spell")
    return " ".join(out)
