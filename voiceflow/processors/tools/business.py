"""The business the tools serve: timezone, departments and their hours, appointment slots.

All wall-clock reasoning happens in the business's timezone (zoneinfo), with an
injectable ``now`` so tests fix the moment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from voiceflow.processors.tools.spoken import spoken_list, spoken_time

DepartmentKey = Literal["customer_service", "billing", "technical_support", "sales"]
WeeklyHours = dict[int, tuple[time, time]]  # weekday (Monday=0) → (open, close)
DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _weekdays(open_: time, close: time, *, saturday: tuple[time, time] | None = None) -> WeeklyHours:
    hours = {d: (open_, close) for d in range(5)}
    if saturday:
        hours[5] = saturday
    return hours


@dataclass(frozen=True, slots=True)
class Department:
    key: str
    spoken_name: str
    hours: WeeklyHours
    agents: int = 3
    minutes_per_caller: float = 4.0


# Kept in step with kb/hours.txt, which the knowledge base answers from.
DEFAULT_DEPARTMENTS: dict[str, Department] = {
    "customer_service": Department(
        "customer_service",
        "customer service",
        _weekdays(time(8), time(20), saturday=(time(9), time(17))),
        agents=4,
        minutes_per_caller=4.0,
    ),
    "billing": Department(
        "billing", "billing", _weekdays(time(9), time(17)), agents=2, minutes_per_caller=6.0
    ),
    "technical_support": Department(
        "technical_support",
        "technical support",
        _weekdays(time(8), time(18), saturday=(time(9), time(13))),
        agents=3,
        minutes_per_caller=8.0,
    ),
    "sales": Department(
        "sales", "sales", _weekdays(time(9), time(19), saturday=(time(10), time(16))), agents=2
    ),
}


@dataclass(frozen=True)
class BusinessConfig:
    timezone: str = "America/New_York"
    departments: dict[str, Department] = field(default_factory=lambda: dict(DEFAULT_DEPARTMENTS))
    default_department: str = "customer_service"
    appointment_hours: WeeklyHours = field(
        default_factory=lambda: _weekdays(time(9), time(17), saturday=(time(10), time(14)))
    )
    slot_minutes: int = 30
    booking_horizon_days: int = 90
    resource: str = "main"
    #: transfers older than this no longer count as waiting in the queue
    queue_window_minutes: int = 30

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def clock(self, now: Callable[[], datetime] | None = None) -> Callable[[], datetime]:
        """A ``now()`` that always answers an aware datetime in the business timezone."""
        tz = self.tz

        def business_now() -> datetime:
            moment = now() if now is not None else datetime.now(tz)
            return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)

        return business_now

    def slot_starts(self, day: date) -> list[time]:
        """Every appointment start on ``day`` (the last one ends by closing time)."""
        hours = self.appointment_hours.get(day.weekday())
        if hours is None:
            return []
        start = datetime.combine(day, hours[0])
        end = datetime.combine(day, hours[1]) - timedelta(minutes=self.slot_minutes)
        starts = []
        while start <= end:
            starts.append(start.time())
            start += timedelta(minutes=self.slot_minutes)
        return starts


def describe_week(hours: WeeklyHours) -> str:
    """'Monday to Friday 9 AM to 5 PM, and Saturday 10 AM to 2 PM' (closed days left out)."""
    groups: list[tuple[int, int, tuple[time, time]]] = []
    for d in range(7):
        h = hours.get(d)
        if h is None:
            continue
        if groups and groups[-1][1] == d - 1 and groups[-1][2] == h:
            groups[-1] = (groups[-1][0], d, h)
        else:
            groups.append((d, d, h))
    parts = []
    for first, last, (open_, close) in groups:
        if last - first >= 2:
            days = f"{DAY_NAMES[first]} to {DAY_NAMES[last]}"
        elif last != first:
            days = f"{DAY_NAMES[first]} and {DAY_NAMES[last]}"
        else:
            days = DAY_NAMES[first]
        parts.append(f"{days} {spoken_time(open_)} to {spoken_time(close)}")
    return spoken_list(parts, "and") if parts else "closed all week"


def hours_rows(hours: WeeklyHours) -> list[dict[str, str]]:
    return [
        {"day": DAY_NAMES[d], "open": hours[d][0].strftime("%H:%M"), "close": hours[d][1].strftime("%H:%M")}
        for d in range(7)
        if d in hours
    ]


def open_status(hours: WeeklyHours, now: datetime) -> tuple[bool, datetime | None, datetime | None]:
    """(open now, closes at (when open), next opening (when closed)) for a weekly schedule."""
    today = hours.get(now.weekday())
    if today is not None:
        opens, closes = (datetime.combine(now.date(), t, now.tzinfo) for t in today)
        if opens <= now < closes:
            return True, closes, None
        if now < opens:
            return False, None, opens
    for ahead in range(1, 8):
        day = now.date() + timedelta(days=ahead)
        h = hours.get(day.weekday())
        if h is not None:
            return False, None, datetime.combine(day, h[0], now.tzinfo)
    return False, None, None
