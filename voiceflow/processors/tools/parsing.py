"""Parsing and checking tool arguments; each failure is a ToolError with a sentence to speak.

Shared by the tools and the dialogue policy (which checks a date before asking
for the time, instead of after the caller has confirmed everything).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time

from voiceflow.processors.tools.outcome import ToolError

CONFIRMATION_PREFIX = "APT-"
CONFIRMATION_DIGITS = 6
_TIME_RE = re.compile(r"^\s*(\d{1,2})(?:[:.h](\d{2}))?(?::\d{2})?\s*(a\.?m\.?|p\.?m\.?)?\s*$", re.IGNORECASE)


def parse_date(text: str, argument: str = "date") -> date:
    """An ISO date ('2025-12-02')."""
    if not re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", text or ""):
        raise ToolError(
            "invalid_date",
            "Sorry, I didn't catch a valid date. Which day would you like?",
            argument=argument,
            expected="YYYY-MM-DD",
        )
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ToolError(
            "invalid_date", "Sorry, that date doesn't exist. Which day would you like?", argument=argument
        ) from None


def parse_time(text: str, argument: str = "time") -> time:
    """'15:00', '9:30', '3 pm', '3:30PM', '15:00:00'."""
    m = _TIME_RE.match(text or "")
    hour = minute = -1
    if m:
        hour, minute = int(m.group(1)), int(m.group(2) or 0)
        meridiem = (m.group(3) or "").lower().replace(".", "")
        if meridiem:
            if not 1 <= hour <= 12:
                hour = -1
            elif meridiem == "pm" and hour != 12:
                hour += 12
            elif meridiem == "am" and hour == 12:
                hour = 0
        elif m.group(2) is None:
            hour = -1  # a bare number is ambiguous ("3" = 3 AM or 3 PM?)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ToolError(
            "invalid_time",
            "Sorry, I didn't catch a valid time. What time would you like, for example 2:30 PM?",
            argument=argument,
            expected="HH:MM",
        )
    return time(hour, minute)


def normalize_confirmation(text: str) -> str:
    """'apt 482731', 'APT-482731', '482731' → 'APT-482731'."""
    digits = re.sub(r"\D", "", text or "")
    if len(digits) != CONFIRMATION_DIGITS:
        raise ToolError(
            "invalid_confirmation_number",
            "Confirmation numbers are A P T followed by six digits. Could you read it to me again?",
            argument="confirmation_number",
        )
    return CONFIRMATION_PREFIX + digits


def normalize_order_id(text: str) -> int:
    digits = re.sub(r"\D", "", text or "")
    if not 1 <= len(digits) <= 9:
        raise ToolError(
            "invalid_order_id",
            "Order numbers are four digits, like 1 0 0 1. What's your order number?",
            argument="order_id",
        )
    return int(digits)


def check_not_past(day: date, at: time | None, now: datetime) -> None:
    if day < now.date():
        raise ToolError("past_date", "That date has already passed. Which upcoming day would you like?")
    if at is not None and datetime.combine(day, at, now.tzinfo) <= now:
        raise ToolError("past_time", "That time has already passed today. What later time would work?")
