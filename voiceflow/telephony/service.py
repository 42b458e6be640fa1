"""``Telephony``: place calls, follow them through Twilio's callbacks, hang up, transfer.

One object per server process, made from ``TelephonySettings`` (plus the auth
token and public host of ``ServerSettings``). It owns the REST client, the
SQLite call records and the registry of live calls; the HTTP routes
(``voiceflow.server.telephony_routes``) hand it the verified callbacks, the
call's graph asks it to hang up or transfer, the campaign dialer asks it to dial.

A callback is answered with an HTTP status and a message: 404 for a call we do
not know, 400 for one that lacks what Twilio always sends, 200 ``duplicate``
for one already seen (Twilio retries; a replayed request changes nothing).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from voiceflow.config import Config, ConfigError
from voiceflow.core.clock import Clock
from voiceflow.db import Database
from voiceflow.telephony.live import CallEnd, LiveCall, LiveCalls, OutboundScript
from voiceflow.telephony.rest import TwilioCallError, TwilioRest
from voiceflow.telephony.schema import TELEPHONY_MIGRATION
from voiceflow.telephony.transfer import (
    TransferError,
    dial_twiml,
    parse_transfer_numbers,
    unanswered_twiml,
    whisper_twiml,
)
from voiceflow.telephony.wallclock import WallClock
from voiceflow.transports.twilio.twiml import connect_stream_twiml

__all__ = ["ANSWERED_BY", "TERMINAL", "CallbackReply", "Telephony", "TelephonyOptions"]

log = logging.getLogger("voiceflow.telephony")

TERMINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
STATUSES = TERMINAL | {"queued", "initiated", "ringing", "in-progress"}
ANSWERED_BY = frozenset(
    {
        "human",
        "machine_start",
        "machine_end_beep",
        "machine_end_silence",
        "machine_end_other",
        "fax",
        "unknown",
    }
)
#: how long a callback for an unknown SID waits for a ``create`` still in flight
EARLY_CALLBACK_WAIT = 5.0


@dataclass(frozen=True, slots=True)
class CallbackReply:
    status: int
    message: str
    twiml: str | None = None


@dataclass(frozen=True, slots=True)
class TelephonyOptions:
    account_sid: str
    auth_token: str
    caller_id: str | None
    callback_url: str  # http(s) base of our webhooks
    media_host: str  # host[:port] of wss://HOST/twilio/media
    api_url: str = "https://api.twilio.com"
    amd: str = "twilio"
    transfer_numbers: Mapping[str, str] | None = None
    transfer_timeout: int = 20

    @classmethod
    def from_config(cls, config: Config) -> TelephonyOptions | None:
        """None when telephony is not configured (no ``TWILIO_ACCOUNT_SID``); ``ConfigError`` when half is."""
        tel, server = config.telephony, config.server
        if tel.account_sid is None:
            return None
        problems = []
        if server.twilio_auth_token is None:
            problems.append("TWILIO_AUTH_TOKEN is required with TWILIO_ACCOUNT_SID")
        base = tel.callback_url or (f"https://{server.public_host}" if server.public_host else None)
        if base is None:
            problems.append(
                "VOICEFLOW_CALLBACK_URL or VOICEFLOW_PUBLIC_HOST is required with TWILIO_ACCOUNT_SID"
            )
        try:
            numbers = parse_transfer_numbers(tel.transfer_numbers)
        except TransferError as exc:
            problems.append(str(exc))
            numbers = {}
        if problems:
            raise ConfigError(problems)
        assert base is not None and server.twilio_auth_token is not None
        return cls(
            account_sid=tel.account_sid,
            auth_token=server.twilio_auth_token,
            caller_id=tel.caller_id,
            callback_url=base.rstrip("/"),
            media_host=server.public_host or urlsplit(base).netloc,
            api_url=tel.api_url,
            amd=tel.amd,
            transfer_numbers=numbers,
            transfer_timeout=tel.transfer_timeout,
        )


class Telephony:
    def __init__(self, options: TelephonyOptions, db: Database, *, clock: Clock | None = None) -> None:
        self.options = options
        self.db = db
        self.clock: Clock = clock or WallClock()
        self.rest = TwilioRest(options.account_sid, options.auth_token, api_url=options.api_url)
        self.live = LiveCalls()
        #: the server's one-time Media Streams token for a call we place (set by the app once prepared)
        self.stream_token: Callable[[], str] | None = None
        self.transfer_numbers = dict(options.transfer_numbers or {})

    @classmethod
    async def open(cls, options: TelephonyOptions, db_path: str, *, clock: Clock | None = None) -> Telephony:
        db = await Database.open(db_path, extra=[TELEPHONY_MIGRATION])
        return cls(options, db, clock=clock)

    async def aclose(self) -> None:
        await self.rest.aclose()
        await self.db.close()

    def rebase(self, callback_url: str, media_host: str | None = None) -> None:
        """Point callbacks (and the media stream) at ``callback_url``: for a server bound to port 0,
        whose address is known only once it listens."""
        host = media_host or urlsplit(callback_url).netloc
        self.options = replace(self.options, callback_url=callback_url.rstrip("/"), media_host=host)

    @property
    def local_amd(self) -> bool:
        return self.options.amd == "local"

    def url(self, path: str) -> str:
        return f"{self.options.callback_url}{path}"

    # -- placing and ending calls ------------------------------------------------------------
    async def call(
        self,
        to: str,
        script: OutboundScript,
        *,
        from_: str | None = None,
        campaign_id: int | None = None,
        contact_id: int | None = None,
        attempt: int | None = None,
    ) -> LiveCall:
        """Dial ``to``; the call record exists before the request, so a REST error is recorded too
        (``TwilioCallError`` propagates after it is)."""
        caller_id = from_ or self.options.caller_id
        if not caller_id:
            raise TwilioCallError("no caller ID: set VOICEFLOW_CALLER_ID or the campaign's from number")
        params = {"direction": "outbound"}
        if campaign_id is not None:
            params["campaign"] = str(campaign_id)
        if self.stream_token is not None:
            params["token"] = self.stream_token()
        twiml = connect_stream_twiml(self.options.media_host, caller=None, call_sid=None, parameters=params)
        now = self.clock.now()

        def insert(c: sqlite3.Connection) -> int:
            cur = c.execute(
                "INSERT INTO call_records"
                " (campaign_id, contact_id, attempt, to_number, from_number, dialed_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (campaign_id, contact_id, attempt, to, caller_id, now),
            )
            return int(cur.lastrowid or 0)

        row = await self.db.write(insert)
        self.live.dialing += 1
        try:
            handle = await self.rest.dial(
                to,
                caller_id,
                twiml,
                status_callback=self.url("/twilio/status"),
                amd_callback=None if self.local_amd else self.url("/twilio/amd"),
            )
        except TwilioCallError as exc:
            error = str(exc)
            await self.db.write(
                lambda c: c.execute(
                    "UPDATE call_records SET status = 'failed', error = ?, ended_at = ? WHERE id = ?",
                    (error, self.clock.now(), row),
                )
            )
            await self.live.dial_finished()
            raise
        live = LiveCall(handle.sid, to, script, campaign_id=campaign_id, contact_id=contact_id)
        await self.db.write(
            lambda c: c.execute("UPDATE call_records SET call_sid = ? WHERE id = ?", (handle.sid, row))
        )
        await self.live.add(live)
        await self.live.dial_finished()
        return live

    async def hang_up(self, sid: str) -> bool:
        """End a live call through REST; False (logged) when Twilio says it is already over."""
        try:
            await self.rest.hang_up(sid)
        except TwilioCallError as exc:
            if exc.code in (21220, 20404):
                return False
            log.warning("hanging up %s: %s", sid, exc)
            return False
        return True

    async def set_outcome(self, sid: str, outcome: str) -> None:
        await self.db.write(
            lambda c: c.execute("UPDATE call_records SET outcome = ? WHERE call_sid = ?", (outcome, sid))
        )
        live = self.live.get(sid)
        if live is not None:
            live.outcome = outcome

    async def record_amd(self, sid: str, answered_by: str, source: str, after_ms: int | None) -> None:
        await self.db.write(
            lambda c: c.execute(
                "UPDATE call_records SET answered_by = ?, amd_source = ?, amd_ms = ? WHERE call_sid = ?",
                (answered_by, source, after_ms, sid),
            )
        )

    # -- callbacks (already signature-checked by the route) ----------------------------------
    async def on_status(self, params: Mapping[str, str]) -> CallbackReply:
        sid, status = params.get("CallSid", ""), params.get("CallStatus", "")
        if not sid or status not in STATUSES:
            return CallbackReply(
                400, f"status callback needs CallSid and a known CallStatus, got {status!r:.40}"
            )
        live = await self.live.wait_for(sid, EARLY_CALLBACK_WAIT)
        if live is None and not await self._known(sid):
            return CallbackReply(404, f"unknown call {sid:.40}")
        sequence = params.get("SequenceNumber") or status
        if not await self._first_time(sid, "status", sequence, status):
            return CallbackReply(200, "duplicate ignored")
        duration = _int(params.get("CallDuration"))
        now = self.clock.now()

        def update(c: sqlite3.Connection) -> None:
            c.execute(
                "UPDATE call_records SET status = ?,"
                " answered_at = CASE WHEN ? = 'in-progress' THEN ? ELSE answered_at END,"
                " duration_s = COALESCE(?, duration_s),"
                " ended_at = CASE WHEN ? THEN ? ELSE ended_at END,"
                " answered_by = COALESCE(answered_by, ?)"
                " WHERE call_sid = ?",
                (status, status, now, duration, status in TERMINAL, now, params.get("AnsweredBy"), sid),
            )

        await self.db.write(update)
        if status in TERMINAL and live is not None:
            self.live.pop(sid)
            if not live.decided.is_set():
                live.decide(params.get("AnsweredBy") or "unknown", "status")
            if not live.ended.done():
                live.ended.set_result(CallEnd(status, duration or 0, live.answered_by, live.outcome))
        return CallbackReply(200, "ok")

    async def on_amd(self, params: Mapping[str, str]) -> CallbackReply:
        sid, answered_by = params.get("CallSid", ""), params.get("AnsweredBy", "")
        if not sid or answered_by not in ANSWERED_BY:
            return CallbackReply(
                400, f"AMD callback needs CallSid and a known AnsweredBy, got {answered_by!r:.40}"
            )
        live = await self.live.wait_for(sid, EARLY_CALLBACK_WAIT)
        if live is None and not await self._known(sid):
            return CallbackReply(404, f"unknown call {sid:.40}")
        if not await self._first_time(sid, "amd", "amd", answered_by):
            return CallbackReply(200, "duplicate ignored")
        if live is not None and not self.local_amd and live.decide(answered_by, "twilio"):
            await self.record_amd(sid, answered_by, "twilio", _int(params.get("MachineDetectionDuration")))
        return CallbackReply(200, "ok")

    async def _known(self, sid: str) -> bool:
        row = await self.db.read(
            lambda c: c.execute("SELECT 1 FROM call_records WHERE call_sid = ?", (sid,)).fetchone()
        )
        return row is not None

    async def _first_time(self, sid: str, kind: str, sequence: str, status: str) -> bool:
        now = self.clock.now()

        def insert(c: sqlite3.Connection) -> bool:
            cur = c.execute(
                "INSERT OR IGNORE INTO call_events (call_sid, kind, sequence, status, received_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (sid, kind, sequence, status, now),
            )
            return cur.rowcount == 1

        return await self.db.write(insert)

    # -- transfers ------------------------------------------------------------------------------
    async def transfer(
        self,
        sid: str,
        department: str,
        *,
        reason: str = "",
        caller: str | None = None,
        queue_position: int | None = None,
    ) -> int:
        """Move the live call to the department's number (``<Dial>`` through a call update)."""
        number = self.transfer_numbers.get(department) or self.transfer_numbers.get("customer_service")
        if number is None:
            raise TransferError(f"no transfer number for {department!r} (VOICEFLOW_TRANSFER_NUMBERS)")
        stamp = datetime.fromtimestamp(self.clock.now(), UTC).isoformat(timespec="seconds")

        def insert(c: sqlite3.Connection) -> int:
            cur = c.execute(
                "INSERT INTO line_transfers"
                " (call_sid, department, number, reason, caller, queue_position, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (sid, department, number, reason, caller, queue_position, stamp),
            )
            return int(cur.lastrowid or 0)

        transfer_id = await self.db.write(insert)
        twiml = dial_twiml(
            number,
            caller_id=self.options.caller_id,
            timeout=self.options.transfer_timeout,
            action=self.url(f"/twilio/transfer/{transfer_id}"),
            whisper_url=self.url(f"/twilio/transfer/{transfer_id}/whisper"),
        )
        try:
            await self.rest.redirect(sid, twiml)
        except TwilioCallError:
            await self._transfer_status(transfer_id, "failed")
            raise
        await self.set_outcome(sid, "transferred")
        return transfer_id

    async def transfer_row(self, transfer_id: int) -> sqlite3.Row | None:
        return await self.db.read(
            lambda c: c.execute("SELECT * FROM line_transfers WHERE id = ?", (transfer_id,)).fetchone()
        )

    async def on_whisper(self, transfer_id: int) -> CallbackReply:
        row = await self.transfer_row(transfer_id)
        if row is None:
            return CallbackReply(404, f"unknown transfer {transfer_id}")
        twiml = whisper_twiml(
            caller=row["caller"],
            department=row["department"],
            reason=row["reason"],
            queue_position=row["queue_position"],
        )
        return CallbackReply(200, "ok", twiml)

    async def on_transfer_action(self, transfer_id: int, params: Mapping[str, str]) -> CallbackReply:
        row = await self.transfer_row(transfer_id)
        if row is None or row["call_sid"] != params.get("CallSid"):
            return CallbackReply(
                404, f"unknown transfer {transfer_id} for call {params.get('CallSid', '')!r:.40}"
            )
        dial_status = params.get("DialCallStatus", "")
        if dial_status == "completed" or dial_status == "answered":
            await self._transfer_status(transfer_id, "connected")
            return CallbackReply(
                200, "ok", '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>'
            )
        await self._transfer_status(
            transfer_id, "no_answer" if dial_status == "no-answer" else dial_status or "failed"
        )
        await self.set_outcome(row["call_sid"], "transfer_unanswered")
        return CallbackReply(200, "ok", unanswered_twiml(row["department"]))

    async def _transfer_status(self, transfer_id: int, status: str) -> None:
        await self.db.write(
            lambda c: c.execute("UPDATE line_transfers SET status = ? WHERE id = ?", (status, transfer_id))
        )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None
