"""The telephony tables (one SQLite file, ``VOICEFLOW_CAMPAIGN_DB``): campaigns, contacts, the
Do-Not-Call list, one row per call attempt (the call record), the callbacks seen, transfers."""

from __future__ import annotations

from voiceflow.db import Migration

__all__ = ["TELEPHONY_MIGRATION"]

TELEPHONY_SQL = """
CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    from_number TEXT NOT NULL,
    opening TEXT NOT NULL,
    voicemail TEXT NOT NULL,
    max_concurrency INTEGER NOT NULL DEFAULT 5 CHECK (max_concurrency >= 1),
    calls_per_second REAL NOT NULL DEFAULT 1.0 CHECK (calls_per_second > 0),
    max_attempts INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    retry_backoff_s REAL NOT NULL DEFAULT 1800 CHECK (retry_backoff_s >= 0),
    window_start INTEGER NOT NULL DEFAULT 9,
    window_end INTEGER NOT NULL DEFAULT 21,
    quiet_days TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'draft',
    created_at TEXT NOT NULL
);
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    phone TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    timezone TEXT,
    fields TEXT NOT NULL DEFAULT '{}',
    source_line INTEGER,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL DEFAULT 0,
    deferrals INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    UNIQUE (campaign_id, phone)
);
CREATE INDEX contacts_due ON contacts (campaign_id, status, next_at);
CREATE TABLE dnc (
    phone TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    added_at TEXT NOT NULL
);
CREATE TABLE call_records (
    id INTEGER PRIMARY KEY,
    call_sid TEXT UNIQUE,
    campaign_id INTEGER,
    contact_id INTEGER,
    attempt INTEGER,
    direction TEXT NOT NULL DEFAULT 'outbound',
    to_number TEXT NOT NULL,
    from_number TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'queued',
    answered_by TEXT,
    amd_source TEXT,
    amd_ms INTEGER,
    duration_s INTEGER,
    outcome TEXT,
    error TEXT,
    dialed_at REAL,
    answered_at REAL,
    ended_at REAL
);
CREATE INDEX call_records_campaign ON call_records (campaign_id, contact_id);
CREATE TABLE call_events (
    id INTEGER PRIMARY KEY,
    call_sid TEXT NOT NULL,
    kind TEXT NOT NULL,
    sequence TEXT NOT NULL,
    status TEXT,
    received_at REAL NOT NULL,
    UNIQUE (call_sid, kind, sequence)
);
CREATE TABLE line_transfers (
    id INTEGER PRIMARY KEY,
    call_sid TEXT NOT NULL,
    department TEXT NOT NULL,
    number TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    caller TEXT,
    queue_position INTEGER,
    status TEXT NOT NULL DEFAULT 'dialing',
    created_at TEXT NOT NULL
);
"""

TELEPHONY_MIGRATION = Migration(120, "telephony", TELEPHONY_SQL)
