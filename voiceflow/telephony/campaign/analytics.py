"""A campaign's figures, from its contacts and its call records (the report and the live progress)."""

from __future__ import annotations

import sqlite3
from typing import Any

from voiceflow.db import Database

__all__ = ["campaign_report"]

SETTLED = ("done", "failed", "dnc", "fax", "skipped")


async def campaign_report(db: Database, campaign_id: int) -> dict[str, Any]:
    """Counts by contact status, attempts by call status and by answered-by, connect rate, average
    duration of answered calls, outcomes (voicemails, conversations, appointments, transfers,
    opt-outs, faxes) and progress (settled contacts / contacts)."""

    def read(c: sqlite3.Connection) -> dict[str, Any]:
        def pairs(sql: str) -> dict[str, int]:
            return {str(k): int(v) for k, v in c.execute(sql, (campaign_id,)).fetchall()}

        contacts = pairs("SELECT status, COUNT(*) FROM contacts WHERE campaign_id = ? GROUP BY status")
        calls = pairs("SELECT status, COUNT(*) FROM call_records WHERE campaign_id = ? GROUP BY status")
        answered_by = pairs(
            "SELECT answered_by, COUNT(*) FROM call_records"
            " WHERE campaign_id = ? AND answered_by IS NOT NULL GROUP BY answered_by"
        )
        outcomes = pairs(
            "SELECT outcome, COUNT(*) FROM call_records"
            " WHERE campaign_id = ? AND outcome IS NOT NULL GROUP BY outcome"
        )
        avg, answered = c.execute(
            "SELECT AVG(duration_s), COUNT(*) FROM call_records"
            " WHERE campaign_id = ? AND status = 'completed' AND answered_at IS NOT NULL",
            (campaign_id,),
        ).fetchone()
        deferrals = c.execute(
            "SELECT COALESCE(SUM(deferrals), 0) FROM contacts WHERE campaign_id = ?", (campaign_id,)
        ).fetchone()[0]
        return {
            "contacts": contacts,
            "calls": calls,
            "answered_by": answered_by,
            "outcomes": outcomes,
            "answered": int(answered),
            "avg_duration_s": round(float(avg), 1) if avg is not None else None,
            "deferrals": int(deferrals),
        }

    data = await db.read(read)
    total_contacts = sum(data["contacts"].values())
    attempts = sum(data["calls"].values())
    settled = sum(n for s, n in data["contacts"].items() if s in SETTLED)
    data["attempts"] = attempts
    data["connect_rate"] = round(data["answered"] / attempts, 3) if attempts else None
    data["progress"] = {"settled": settled, "total": total_contacts}
    return data
