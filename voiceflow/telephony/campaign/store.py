"""Campaigns and their contacts in SQLite (tables in ``voiceflow.telephony.schema``).

A contact moves ``pending`` → ``dialing`` → ``done`` | ``failed`` | ``dnc`` | ``fax``
| ``skipped``, or back to ``pending`` with a later ``next_at`` (a retry, or a
deferral to the calling window). Every attempt is a row of ``call_records``.
A contact left ``dialing`` by a crash is pending again when its campaign starts.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from voiceflow.db import Database
from voiceflow.telephony.campaign.contacts import ImportReport
from voiceflow.telephony.campaign.hours import CallingWindow
from voiceflow.telephony.numbers import InvalidNumber, to_e164

__all__ = ["Campaign", "CampaignSpec", "CampaignStore", "Contact", "UnknownCampaign"]

STATUSES = ("draft", "running", "paused", "finished")


class UnknownCampaign(LookupError):
    pass


@dataclass(frozen=True)
class CampaignSpec:
    name: str
    from_number: str
    opening: str = "Hi {name}, this is Acme Home calling. Do you have a moment?"
    voicemail: str = "Hello {name}, this is Acme Home. Please call us back when you can. Thank you, goodbye."
    max_concurrency: int = 5
    calls_per_second: float = 1.0
    max_attempts: int = 3
    retry_backoff_s: float = 1800.0
    window_start: int = 9
    window_end: int = 21
    quiet_days: str = ""

    def problems(self) -> list[str]:
        out = []
        if not self.name.strip():
            out.append("name must not be empty")
        try:
            to_e164(self.from_number)
        except InvalidNumber as exc:
            out.append(f"from_number: {exc}")
        if self.max_concurrency < 1:
            out.append("max_concurrency must be at least 1")
        if self.calls_per_second <= 0:
            out.append("calls_per_second must be above 0")
        if self.max_attempts < 1:
            out.append("max_attempts must be at least 1")
        if self.retry_backoff_s < 0:
            out.append("retry_backoff_s must not be negative")
        if not self.opening.strip() or not self.voicemail.strip():
            out.append("opening and voicemail must not be empty")
        try:
            CallingWindow.of(self.window_start, self.window_end, self.quiet_days)
        except ValueError as exc:
            out.append(str(exc))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CampaignSpec:
        """From JSON (admin API); ``ValueError`` for unknown keys or wrong types."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown campaign fields {unknown}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class Campaign(CampaignSpec):
    id: int = 0
    status: str = "draft"

    @property
    def window(self) -> CallingWindow:
        return CallingWindow.of(self.window_start, self.window_end, self.quiet_days)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Contact:
    id: int
    campaign_id: int
    phone: str
    name: str
    timezone: str | None
    fields: dict[str, Any]
    status: str
    attempts: int
    next_at: float
    deferrals: int
    outcome: str | None


def _campaign(row: sqlite3.Row) -> Campaign:
    data = dict(row)
    data.pop("created_at", None)
    return Campaign(**data)


def _contact(row: sqlite3.Row) -> Contact:
    data = dict(row)
    data.pop("source_line", None)
    data["fields"] = json.loads(data["fields"] or "{}")
    return Contact(**data)


class CampaignStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- campaigns -------------------------------------------------------------------------------
    async def create(self, spec: CampaignSpec) -> Campaign:
        problems = spec.problems()
        if problems:
            raise ValueError("; ".join(problems))
        values = asdict(spec) | {"from_number": to_e164(spec.from_number)}
        stamp = datetime.now(UTC).isoformat(timespec="seconds")

        def insert(c: sqlite3.Connection) -> int:
            if c.execute("SELECT 1 FROM campaigns WHERE name = ?", (spec.name,)).fetchone():
                raise ValueError(f"a campaign named {spec.name!r} already exists")
            cols = ", ".join(values)
            marks = ", ".join("?" for _ in values)
            cur = c.execute(
                f"INSERT INTO campaigns ({cols}, created_at) VALUES ({marks}, ?)", (*values.values(), stamp)
            )
            return int(cur.lastrowid or 0)

        return await self.get(await self.db.write(insert))

    async def get(self, ref: int | str) -> Campaign:
        key = "id" if isinstance(ref, int) or str(ref).isdigit() else "name"
        value = int(ref) if key == "id" else ref
        row = await self.db.read(
            lambda c: c.execute(f"SELECT * FROM campaigns WHERE {key} = ?", (value,)).fetchone()
        )
        if row is None:
            raise UnknownCampaign(f"no campaign {ref!r}")
        return _campaign(row)

    async def all(self) -> list[Campaign]:
        rows = await self.db.read(lambda c: c.execute("SELECT * FROM campaigns ORDER BY id").fetchall())
        return [_campaign(r) for r in rows]

    async def set_status(self, campaign_id: int, status: str) -> None:
        assert status in STATUSES
        await self.db.write(
            lambda c: c.execute("UPDATE campaigns SET status = ? WHERE id = ?", (status, campaign_id))
        )

    # -- contacts --------------------------------------------------------------------------------
    async def import_contacts(self, campaign_id: int, report: ImportReport) -> ImportReport:
        """Store the report's rows (a number already in the campaign is reported, not duplicated)."""
        await self.get(campaign_id)

        def insert(c: sqlite3.Connection) -> list[str]:
            dupes = []
            for r in report.rows:
                cur = c.execute(
                    "INSERT OR IGNORE INTO contacts (campaign_id, phone, name, timezone, fields, source_line)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (campaign_id, r.phone, r.name, r.timezone, r.fields_json, r.line),
                )
                if cur.rowcount == 0:
                    dupes.append(f"line {r.line}: {r.phone} is already in this campaign")
            return dupes

        dupes = await self.db.write(insert)
        report.problems.extend(dupes)
        report.imported = len(report.rows) - len(dupes)
        return report

    async def contacts(self, campaign_id: int) -> list[Contact]:
        rows = await self.db.read(
            lambda c: c.execute(
                "SELECT * FROM contacts WHERE campaign_id = ? ORDER BY id", (campaign_id,)
            ).fetchall()
        )
        return [_contact(r) for r in rows]

    async def next_due(self, campaign_id: int, now: float) -> Contact | None:
        row = await self.db.read(
            lambda c: c.execute(
                "SELECT * FROM contacts WHERE campaign_id = ? AND status = 'pending' AND next_at <= ?"
                " ORDER BY next_at, id LIMIT 1",
                (campaign_id, now),
            ).fetchone()
        )
        return None if row is None else _contact(row)

    async def earliest_pending(self, campaign_id: int) -> float | None:
        row = await self.db.read(
            lambda c: c.execute(
                "SELECT MIN(next_at) FROM contacts WHERE campaign_id = ? AND status = 'pending'",
                (campaign_id,),
            ).fetchone()
        )
        return None if row is None or row[0] is None else float(row[0])

    async def claim(self, contact_id: int) -> int:
        """Mark the contact as being dialed; returns this attempt's number."""

        def claim(c: sqlite3.Connection) -> int:
            c.execute(
                "UPDATE contacts SET status = 'dialing', attempts = attempts + 1 WHERE id = ?", (contact_id,)
            )
            return int(c.execute("SELECT attempts FROM contacts WHERE id = ?", (contact_id,)).fetchone()[0])

        return await self.db.write(claim)

    async def settle(
        self,
        contact_id: int,
        status: str,
        outcome: str | None,
        *,
        next_at: float | None = None,
        refund: bool = False,
    ) -> None:
        """Record where the contact stands after an attempt (``next_at``: when to try again)."""
        await self.db.write(
            lambda c: c.execute(
                "UPDATE contacts SET status = ?, outcome = ?, next_at = COALESCE(?, next_at),"
                " attempts = attempts - ? WHERE id = ?",
                (status, outcome, next_at, 1 if refund else 0, contact_id),
            )
        )

    async def defer(self, contact_id: int, until: float) -> None:
        await self.db.write(
            lambda c: c.execute(
                "UPDATE contacts SET next_at = ?, deferrals = deferrals + 1 WHERE id = ?", (until, contact_id)
            )
        )

    async def recover(self, campaign_id: int) -> int:
        """Contacts a crash left ``dialing`` are pending again (their attempt stays recorded)."""
        cur = await self.db.write(
            lambda c: c.execute(
                "UPDATE contacts SET status = 'pending' WHERE campaign_id = ? AND status = 'dialing'",
                (campaign_id,),
            )
        )
        return int(cur.rowcount)

    async def status_counts(self, campaign_id: int) -> dict[str, int]:
        rows = await self.db.read(
            lambda c: c.execute(
                "SELECT status, COUNT(*) FROM contacts WHERE campaign_id = ? GROUP BY status", (campaign_id,)
            ).fetchall()
        )
        return {r[0]: int(r[1]) for r in rows}
