"""schedule / cancel / reschedule appointments, with conflict checking that cannot double-book.

A slot is (date, time, resource). Booking checks the slot and inserts the row in the
same ``BEGIN IMMEDIATE`` transaction, and a partial UNIQUE index on booked slots
backs it up across processes; a cancelled appointment frees its slot. On a conflict
or an invalid time the error carries the nearest free slots (``suggestions``).

Confirmation numbers are ``APT-`` followed by six digits (``APT-482731``).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

from voiceflow.processors.tools.context import ToolContext
from voiceflow.processors.tools.declare import tool
from voiceflow.processors.tools.outcome import ToolError
from voiceflow.processors.tools.parsing import (
    CONFIRMATION_PREFIX,
    check_not_past,
    normalize_confirmation,
    parse_date,
    parse_time,
)
from voiceflow.processors.tools.spoken import spoken_date, spoken_digits, spoken_list, spoken_time

SUGGESTION_DAYS = 14
_SLOT_TAKEN_SQL = (
    "SELECT 1 FROM appointments WHERE date = ? AND time = ? AND resource = ? AND status = 'booked'"
)


class _SlotTaken(Exception):
    pass


def _hm(at: dt.time) -> str:
    return at.strftime("%H:%M")


class AppointmentTools:
    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        self.config = ctx.config

    # -- slot rules (no database) ---------------------------------------------------------
    def check_slot(self, day: dt.date, at: dt.time | None) -> None:
        """Raise ToolError when ``day`` (and ``at``, when given) cannot be booked at all."""
        now = self.ctx.now()
        check_not_past(day, at, now)
        if (day - now.date()).days > self.config.booking_horizon_days:
            raise ToolError(
                "too_far_ahead",
                f"I can only book up to {self.config.booking_horizon_days} days ahead."
                " Which earlier day works?",
            )
        starts = self.config.slot_starts(day)
        if not starts:
            raise ToolError("closed_day", f"We don't take appointments on {day:%A}s.")
        if at is None:
            return
        if at not in starts:
            if starts[0] <= at < (dt.datetime.combine(day, starts[-1]) + self._slot()).time():
                raise ToolError(
                    "invalid_slot",
                    "Appointments start on the hour or half hour"
                    f" and last {self.config.slot_minutes} minutes.",
                )
            raise ToolError(
                "outside_hours",
                f"On {day:%A}s we book appointments from {spoken_time(starts[0])} "
                f"to {spoken_time((dt.datetime.combine(day, starts[-1]) + self._slot()).time())}.",
            )

    def _slot(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.config.slot_minutes)

    # -- suggestions ---------------------------------------------------------------------
    def _free_slots(
        self, conn: sqlite3.Connection, day: dt.date, at: dt.time | None, n: int = 3
    ) -> list[dt.datetime]:
        now = self.ctx.now()
        first = max(day, now.date())
        last = first + dt.timedelta(days=SUGGESTION_DAYS)
        booked = {
            (r[0], r[1])
            for r in conn.execute(
                "SELECT date, time FROM appointments WHERE status = 'booked' AND resource = ?"
                " AND date BETWEEN ? AND ?",
                (self.config.resource, first.isoformat(), last.isoformat()),
            )
        }
        found: list[dt.datetime] = []
        d = first
        while d <= last and len(found) < n:
            slots = [dt.datetime.combine(d, s, now.tzinfo) for s in self.config.slot_starts(d)]
            free = [s for s in slots if s > now and (d.isoformat(), _hm(s.time())) not in booked]
            if d == day and at is not None:
                target = dt.datetime.combine(d, at, now.tzinfo)
                free.sort(key=lambda s: (abs((s - target).total_seconds()), s))
            found.extend(free[: n - len(found)])
            d += dt.timedelta(days=1)
        return sorted(found)  # nearest first when chosen, read out in time order

    async def suggestions(self, day: dt.date, at: dt.time | None) -> list[dict[str, str]]:
        slots = await self.ctx.db.read(lambda conn: self._free_slots(conn, day, at))
        today = self.ctx.now().date()
        return [
            {
                "date": s.date().isoformat(),
                "time": _hm(s.time()),
                "spoken": f"{spoken_date(s.date(), today)} at {spoken_time(s.time())}",
            }
            for s in slots
        ]

    async def _refuse_with_suggestions(self, err: ToolError, day: dt.date, at: dt.time | None) -> ToolError:
        try:
            offers = await self.suggestions(day, at)
        except ToolError:
            offers = []
        if not offers:
            return err
        same_day = all(o["date"] == day.isoformat() for o in offers)
        listed = spoken_list([spoken_time(o["time"]) if same_day else o["spoken"] for o in offers])
        where = " that day" if same_day else ""
        return ToolError(
            err.code,
            f"{err.message} The nearest free times{where} are {listed}.",
            **{
                **err.details,
                "suggestions": offers,
            },
        )

    async def _checked_slot(
        self, date_text: str, time_text: str, prefix: str = ""
    ) -> tuple[dt.date, dt.time]:
        day = parse_date(date_text, f"{prefix}date")
        at = parse_time(time_text, f"{prefix}time")
        try:
            self.check_slot(day, at)
        except ToolError as err:
            if err.code in ("past_date", "too_far_ahead"):
                raise
            raise await self._refuse_with_suggestions(err, day, at) from None
        return day, at

    async def _slot_taken(self, day: dt.date, at: dt.time) -> ToolError:
        msg = f"Sorry, {spoken_date(day, self.ctx.now().date())} at {spoken_time(at)} is already taken."
        return await self._refuse_with_suggestions(ToolError("slot_taken", msg), day, at)

    # -- tools ------------------------------------------------------------------------------
    @tool
    async def schedule_appointment(self, date: str, time: str, name: str, purpose: str) -> dict[str, Any]:
        """Book an appointment slot and return its confirmation number (format APT-123456).

        Args:
            date: Day of the appointment, ISO format YYYY-MM-DD.
            time: Start time, 24-hour HH:MM; appointments start on the hour or half hour.
            name: Full name of the person the appointment is for.
            purpose: What the appointment is for, e.g. "a product demo".
        """
        if not name:
            raise ToolError("missing_argument", "Who should I put the appointment under?", argument="name")
        if not purpose:
            raise ToolError("missing_argument", "What is the appointment for?", argument="purpose")
        day, at = await self._checked_slot(date, time)
        stamp = self.ctx.now().isoformat(timespec="seconds")
        rng = self.ctx.rng
        resource = self.config.resource

        def book(conn: sqlite3.Connection) -> str:
            slot = (day.isoformat(), _hm(at), resource)
            taken = conn.execute(
                _SLOT_TAKEN_SQL,
                slot,
            ).fetchone()
            if taken:
                raise _SlotTaken
            row = conn.execute("SELECT id FROM customers WHERE name = ? COLLATE NOCASE", (name,)).fetchone()
            while True:
                number = f"{CONFIRMATION_PREFIX}{rng.randrange(100_000, 1_000_000)}"
                if not conn.execute(
                    "SELECT 1 FROM appointments WHERE confirmation_number = ?", (number,)
                ).fetchone():
                    break
            try:
                conn.execute(
                    "INSERT INTO appointments (confirmation_number, customer_id, name, purpose, date, time,"
                    " resource, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'booked', ?, ?)",
                    (number, row[0] if row else None, name, purpose, *slot, stamp, stamp),
                )
            except sqlite3.IntegrityError as exc:  # the UNIQUE slot index: another process won the slot
                raise _SlotTaken from exc
            return number

        try:
            number = await self.ctx.db.write(book)
        except _SlotTaken:
            raise await self._slot_taken(day, at) from None
        return self._describe(number, day, at, name, purpose, status="booked")

    @tool
    async def cancel_appointment(self, confirmation_number: str) -> dict[str, Any]:
        """Cancel a booked appointment, freeing its slot.

        Args:
            confirmation_number: The appointment's confirmation number, e.g. APT-482731.
        """
        number = normalize_confirmation(confirmation_number)
        stamp = self.ctx.now().isoformat(timespec="seconds")

        def cancel(conn: sqlite3.Connection) -> sqlite3.Row:
            row = self._find(conn, number)
            conn.execute(
                "UPDATE appointments SET status = 'cancelled', updated_at = ? WHERE id = ?",
                (stamp, row["id"]),
            )
            return row

        row = await self.ctx.db.write(cancel)
        day, at = dt.date.fromisoformat(row["date"]), parse_time(row["time"])
        return self._describe(number, day, at, row["name"], row["purpose"], status="cancelled")

    @tool
    async def reschedule_appointment(
        self, confirmation_number: str, new_date: str, new_time: str
    ) -> dict[str, Any]:
        """Move a booked appointment to a new date and time (it keeps its confirmation number).

        Args:
            confirmation_number: The appointment's confirmation number, e.g. APT-482731.
            new_date: The new day, ISO format YYYY-MM-DD.
            new_time: The new start time, 24-hour HH:MM.
        """
        number = normalize_confirmation(confirmation_number)
        day, at = await self._checked_slot(new_date, new_time, prefix="new_")
        stamp = self.ctx.now().isoformat(timespec="seconds")

        def move(conn: sqlite3.Connection) -> sqlite3.Row:
            row = self._find(conn, number)
            if row["date"] == day.isoformat() and row["time"] == _hm(at):
                raise ToolError("same_slot", "Your appointment is already at that time.")
            taken = conn.execute(
                _SLOT_TAKEN_SQL,
                (day.isoformat(), _hm(at), row["resource"]),
            ).fetchone()
            if taken:
                raise _SlotTaken
            try:
                conn.execute(
                    "UPDATE appointments SET date = ?, time = ?, updated_at = ? WHERE id = ?",
                    (day.isoformat(), _hm(at), stamp, row["id"]),
                )
            except sqlite3.IntegrityError as exc:
                raise _SlotTaken from exc
            return row

        try:
            row = await self.ctx.db.write(move)
        except _SlotTaken:
            raise await self._slot_taken(day, at) from None
        result = self._describe(number, day, at, row["name"], row["purpose"], status="booked")
        old_day = dt.date.fromisoformat(row["date"])
        result.update(
            old_date=row["date"],
            old_time=row["time"],
            old_spoken=f"{spoken_date(old_day, self.ctx.now().date())} at {spoken_time(row['time'])}",
        )
        return result

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _find(conn: sqlite3.Connection, number: str) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM appointments WHERE confirmation_number = ?", (number,)
        ).fetchone()
        if row is None:
            raise ToolError(
                "unknown_confirmation_number",
                f"I couldn't find an appointment with confirmation number {spoken_digits(number)}."
                " Could you check the number?",
                confirmation_number=number,
            )
        if row["status"] == "cancelled":
            raise ToolError(
                "already_cancelled",
                f"Appointment {spoken_digits(number)} was already cancelled.",
                confirmation_number=number,
            )
        return row

    def _describe(
        self, number: str, day: dt.date, at: dt.time, name: str, purpose: str, *, status: str
    ) -> dict[str, Any]:
        return {
            "confirmation_number": number,
            "status": status,
            "date": day.isoformat(),
            "time": _hm(at),
            "duration_minutes": self.config.slot_minutes,
            "name": name,
            "purpose": purpose,
            "spoken_date": spoken_date(day, self.ctx.now().date()),
            "spoken_time": spoken_time(at),
            "spoken_confirmation_number": spoken_digits(number),
        }
