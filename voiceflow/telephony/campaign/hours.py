"""TCPA calling hours: only between 9 AM and 9 PM in the callee's local time, never on quiet days.

A number whose area spans several zones (phonenumbers gives all of them) may be
called only when every one of them is inside the window, which is the reading
that can never ring someone early or late. A contact outside the window is
deferred to the next moment the window opens for it, never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["CallingWindow", "parse_quiet_days"]

DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def parse_quiet_days(spec: str) -> tuple[frozenset[int], frozenset[date]]:
    """``"sun, 2026-12-25"`` → (weekdays, dates); ``ValueError`` naming a bad entry."""
    weekdays: set[int] = set()
    dates: set[date] = set()
    for part in (p.strip().lower() for p in spec.split(",")):
        if not part:
            continue
        if part[:3] in DAYS and part.isalpha():
            weekdays.add(DAYS[part[:3]])
            continue
        try:
            dates.add(date.fromisoformat(part))
        except ValueError:
            raise ValueError(f"quiet day {part!r} is neither a weekday name nor a YYYY-MM-DD date") from None
    return frozenset(weekdays), frozenset(dates)


@dataclass(frozen=True)
class CallingWindow:
    start_hour: int = 9
    end_hour: int = 21
    quiet_weekdays: frozenset[int] = field(default_factory=frozenset)
    quiet_dates: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not 0 <= self.start_hour < self.end_hour <= 24:
            raise ValueError(
                f"calling window {self.start_hour}-{self.end_hour} is not a range of hours in a day"
            )

    @classmethod
    def of(cls, start_hour: int, end_hour: int, quiet_days: str = "") -> CallingWindow:
        weekdays, dates = parse_quiet_days(quiet_days)
        return cls(start_hour, end_hour, weekdays, dates)

    def _open_local(self, local: datetime) -> bool:
        if local.weekday() in self.quiet_weekdays or local.date() in self.quiet_dates:
            return False
        return time(self.start_hour) <= local.time() < _end(self.end_hour)

    def allowed(self, now: datetime, zones: Sequence[str]) -> bool:
        """Whether a number in ``zones`` may ring at ``now`` (aware datetime)."""
        return bool(zones) and all(self._open_local(now.astimezone(ZoneInfo(z))) for z in zones)

    def next_open(self, now: datetime, zones: Sequence[str]) -> datetime:
        """The first moment at or after ``now`` when every zone is inside the window."""
        candidate = now
        for _ in range(64):  # a few weeks of quiet days at most
            if self.allowed(candidate, zones):
                return candidate
            candidate = max(
                self._next_start(candidate, ZoneInfo(z))
                for z in zones
                if not self._open_local(candidate.astimezone(ZoneInfo(z)))
            )
        raise ValueError(f"no calling window within weeks for zones {list(zones)}")

    def _next_start(self, now: datetime, zone: ZoneInfo) -> datetime:
        local = now.astimezone(zone)
        day = local.date()
        if local.time() >= time(self.start_hour):
            day += timedelta(days=1)
        while day.weekday() in self.quiet_weekdays or day in self.quiet_dates:
            day += timedelta(days=1)
        return datetime.combine(day, time(self.start_hour), zone)


def _end(hour: int) -> time:
    return time.max if hour == 24 else time(hour)
