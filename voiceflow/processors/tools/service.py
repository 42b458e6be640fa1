"""Service desk tools: transfer_to_human, get_business_hours, collect_feedback, end_call."""

from __future__ import annotations

import math
import sqlite3
from datetime import timedelta
from typing import Annotated, Any

from voiceflow.processors.tools.business import DepartmentKey, describe_week, hours_rows, open_status
from voiceflow.processors.tools.context import ToolContext
from voiceflow.processors.tools.declare import Schema, tool
from voiceflow.processors.tools.outcome import ToolError
from voiceflow.processors.tools.spoken import spoken_date, spoken_time, spoken_wait

#: the feedback scale (the declaration's minimum/maximum, and the dialogue's early check)
RATING_BOUNDS = {"minimum": 1, "maximum": 5}


class ServiceTools:
    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        self.config = ctx.config

    @tool
    async def transfer_to_human(self, department: DepartmentKey, reason: str = "") -> dict[str, Any]:
        """Put the caller in the queue for a human agent; returns their queue position and estimated wait.

        Args:
            department: Which team to transfer to.
            reason: Short summary of why the caller needs a person, passed on to the agent.
        """
        dept = self.config.departments[department]
        now = self.ctx.now()
        is_open, _, opens = open_status(dept.hours, now)
        if not is_open:
            when = f" We're back {self._spoken_opening(opens)}." if opens else ""
            raise ToolError(
                "department_closed",
                f"Our {dept.spoken_name} team is closed right now.{when}",
                department=department,
                opens_at=opens.isoformat() if opens else None,
            )
        since = (now - timedelta(minutes=self.config.queue_window_minutes)).isoformat(timespec="seconds")
        stamp = now.isoformat(timespec="seconds")

        def enqueue(c: sqlite3.Connection) -> tuple[int, int, int]:
            waiting = c.execute(
                "SELECT COUNT(*) FROM transfers"
                " WHERE department = ? AND status = 'queued' AND created_at >= ?",
                (department, since),
            ).fetchone()[0]
            position = waiting + 1
            wait_s = int(math.ceil(position / dept.agents) * dept.minutes_per_caller * 60)
            cur = c.execute(
                "INSERT INTO transfers"
                " (department, reason, status, queue_position, estimated_wait_s, created_at)"
                " VALUES (?, ?, 'queued', ?, ?, ?)",
                (department, reason, position, wait_s, stamp),
            )
            return int(cur.lastrowid or 0), position, wait_s

        transfer_id, position, wait_s = await self.ctx.db.write(enqueue)
        return {
            "transfer_id": transfer_id,
            "department": department,
            "department_name": dept.spoken_name,
            "queue_position": position,
            "estimated_wait_seconds": wait_s,
            "spoken_wait": spoken_wait(wait_s),
        }

    @tool(reads_only=True)
    async def get_business_hours(self, department: DepartmentKey | None = None) -> dict[str, Any]:
        """Opening hours of a department and whether it is open right now (business local time).

        Args:
            department: Which team; customer service when omitted.
        """
        key = department or self.config.default_department
        dept = self.config.departments[key]
        now = self.ctx.now()
        is_open, closes, opens = open_status(dept.hours, now)
        return {
            "department": key,
            "department_name": dept.spoken_name,
            "timezone": self.config.timezone,
            "now": now.isoformat(timespec="minutes"),
            "open_now": is_open,
            "closes_at": closes.strftime("%H:%M") if closes else None,
            "opens_at": opens.isoformat(timespec="minutes") if opens else None,
            "spoken_closes_at": spoken_time(closes.time()) if closes else None,
            "spoken_opens_at": self._spoken_opening(opens) if opens else None,
            "hours": hours_rows(dept.hours),
            "spoken_hours": describe_week(dept.hours),
        }

    @tool
    async def collect_feedback(
        self, rating: Annotated[int, Schema(**RATING_BOUNDS)], comment: str = ""
    ) -> dict[str, Any]:
        """Record the caller's rating of the service (1 = poor, 5 = excellent) and an optional comment.

        Args:
            rating: Whole number from 1 to 5.
            comment: What the caller said about the service, in their words.
        """
        stamp = self.ctx.now().isoformat(timespec="seconds")

        def insert(c: sqlite3.Connection) -> int:
            cur = c.execute(
                "INSERT INTO feedback (rating, comment, created_at) VALUES (?, ?, ?)",
                (rating, comment, stamp),
            )
            return int(cur.lastrowid or 0)

        feedback_id = await self.ctx.db.write(insert)
        return {"feedback_id": feedback_id, "rating": rating, "comment": comment}

    @tool
    async def end_call(self, reason: str | None = None) -> dict[str, Any]:
        """End the phone call after saying goodbye (the transport hangs up).

        Args:
            reason: Why the call ends, e.g. "caller said goodbye".
        """
        return {"action": "hangup", "reason": reason or "conversation finished"}

    def _spoken_opening(self, opens: Any) -> str:
        today = self.ctx.now().date()
        day = opens.date()
        when = spoken_time(opens.time())
        if day == today:
            return f"today at {when}"
        if (day - today).days == 1:
            return f"tomorrow at {when}"
        return f"on {spoken_date(day)} at {when}"
