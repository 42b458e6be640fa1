"""Running a campaign: who to dial next, when, how many at once, and what each attempt means.

The loop takes the next due contact, waits for a free slot (``max_concurrency``)
and its turn (``calls_per_second``), and only then applies the rules, so time
spent waiting can never let a call through that should not happen:

1. the number is on the Do-Not-Call list → ``dnc``, never dialed;
2. the callee's zones (the contact's, else the number's) are outside the
   calling window → deferred to when it opens (``deferrals`` + 1);
3. otherwise dial (``Telephony.call``) and follow the call to its end.

Busy, no answer and failed attempts are retried after ``retry_backoff_s`` *
2^(attempt-1) until ``max_attempts``; an invalid number is not retried; an
authentication error pauses the campaign without using up the attempt. Every
attempt is a ``call_records`` row. Time comes from the runner's clock (Unix
seconds): ``WallClock`` in production, a ``VirtualClock`` in tests, so a day of
calling hours runs in seconds. ``blocked_on`` and ``in_flight`` let a test
driver advance virtual time only when the runner waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from voiceflow.core.clock import Clock
from voiceflow.observability.metrics import CAMPAIGN_CALLS
from voiceflow.telephony.amd import is_machine
from voiceflow.telephony.campaign.store import Campaign, CampaignStore, Contact
from voiceflow.telephony.dnc import DoNotCall
from voiceflow.telephony.live import CallEnd, OutboundScript
from voiceflow.telephony.numbers import zones_of
from voiceflow.telephony.rest import TwilioCallError
from voiceflow.telephony.service import Telephony

__all__ = ["CampaignRunner", "DialEvent"]

log = logging.getLogger("voiceflow.telephony.campaign")

RETRY = frozenset({"busy", "no-answer", "failed", "canceled"})
#: a call that has not ended after this many real seconds is given up on (a lost callback)
MAX_CALL_S = 1800.0


@dataclass(frozen=True, slots=True)
class DialEvent:
    """One decision of the loop (tests and the progress bar read them)."""

    at: float
    contact_id: int
    phone: str
    action: str  # dialed | dnc | deferred | skipped
    attempt: int = 0
    detail: str = ""


@dataclass
class _Progress:
    events: list[DialEvent] = field(default_factory=list)
    max_in_flight: int = 0


class CampaignRunner:
    def __init__(
        self, campaign: Campaign, store: CampaignStore, telephony: Telephony, *, clock: Clock
    ) -> None:
        self.campaign = campaign
        self.store = store
        self.telephony = telephony
        self.dnc = DoNotCall(store.db)
        self.clock = clock
        self.window = campaign.window
        self.slots = asyncio.Semaphore(campaign.max_concurrency)
        self.interval = 1.0 / campaign.calls_per_second
        self.in_flight = 0
        self.blocked_on: str | None = None  # "pace" | "due" | "paused" | None
        self.progress = _Progress()
        self.error: str | None = None
        self._last_dial: float | None = None
        self._wake = asyncio.Event()
        self._running = asyncio.Event()
        self._running.set()
        self._stop = False
        self._tasks: set[asyncio.Task[None]] = set()

    # -- control ---------------------------------------------------------------------------------
    def pause(self) -> None:
        self._running.clear()
        self._wake.set()

    def resume(self) -> None:
        self._running.set()
        self._wake.set()

    def stop(self) -> None:
        self._stop = True
        self.resume()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    # -- the loop ------------------------------------------------------------------------------
    async def run(self) -> None:
        """Dial until every contact is settled (or ``stop``); in-flight calls are awaited before returning."""
        cid = self.campaign.id
        await self.store.recover(cid)
        await self.store.set_status(cid, "running")
        try:
            while not self._stop:
                if self.paused:
                    await self.store.set_status(cid, "paused")
                    self.blocked_on = "paused"
                    await self._running.wait()
                    self.blocked_on = None
                    if self._stop:
                        break
                    await self.store.set_status(cid, "running")
                contact = await self.store.next_due(cid, self.clock.now())
                if contact is None:
                    if await self._finished():
                        break
                    await self._wait_for_work()
                    continue
                await self._consider(contact)
        finally:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
        done = not self._stop and not self.paused
        await self.store.set_status(cid, "finished" if done else "paused")

    async def _finished(self) -> bool:
        return self.in_flight == 0 and await self.store.earliest_pending(self.campaign.id) is None

    async def _wait_for_work(self) -> None:
        """Sleep until the earliest pending contact is due, or an attempt ends (it may add a retry)."""
        earliest = await self.store.earliest_pending(self.campaign.id)
        self._wake.clear()
        wake = asyncio.ensure_future(self._wake.wait())
        timer = (
            asyncio.ensure_future(self.clock.sleep(max(0.0, earliest - self.clock.now())))
            if earliest is not None
            else None
        )
        self.blocked_on = "due"
        try:
            await asyncio.wait({wake} | ({timer} if timer else set()), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.blocked_on = None
            for t in (wake, timer):
                if t is not None:
                    t.cancel()
            await asyncio.gather(wake, *([timer] if timer else []), return_exceptions=True)

    async def _consider(self, contact: Contact) -> None:
        await self.slots.acquire()
        try:
            await self._pace()
            action = await self._rules(contact)
        except BaseException:
            self.slots.release()
            raise
        if action is not None:
            self.slots.release()
            return
        attempt = await self.store.claim(contact.id)
        self._last_dial = self.clock.now()
        self._log(contact, "dialed", attempt)
        self.in_flight += 1
        self.progress.max_in_flight = max(self.progress.max_in_flight, self.in_flight)
        task = asyncio.create_task(self._attempt(contact, attempt), name=f"campaign:{contact.phone}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _pace(self) -> None:
        if self._last_dial is None:
            return
        wait = self._last_dial + self.interval - self.clock.now()
        if wait > 0:
            self.blocked_on = "pace"
            try:
                await self.clock.sleep(wait)
            finally:
                self.blocked_on = None

    async def _rules(self, contact: Contact) -> str | None:
        """Compliance at dial time; returns what was done instead of dialing, or None to dial."""
        if await self.dnc.contains(contact.phone):
            await self.store.settle(contact.id, "dnc", "on the do-not-call list")
            self._log(contact, "dnc")
            return "dnc"
        zones = (contact.timezone,) if contact.timezone else zones_of(contact.phone)
        if not zones:
            await self.store.settle(contact.id, "skipped", "no time zone for this number")
            self._log(contact, "skipped", detail="no time zone")
            return "skipped"
        now = datetime.fromtimestamp(self.clock.now(), UTC)
        if not self.window.allowed(now, zones):
            opens = self.window.next_open(now, zones)
            await self.store.defer(contact.id, opens.timestamp())
            self._log(contact, "deferred", detail=opens.isoformat())
            return "deferred"
        return None

    async def _attempt(self, contact: Contact, attempt: int) -> None:
        script = OutboundScript(
            self.campaign.opening, self.campaign.voicemail, name=contact.name, fields=contact.fields
        )
        try:
            try:
                live = await self.telephony.call(
                    contact.phone,
                    script,
                    from_=self.campaign.from_number,
                    campaign_id=self.campaign.id,
                    contact_id=contact.id,
                    attempt=attempt,
                )
            except TwilioCallError as exc:
                await self._rest_error(contact, attempt, exc)
                return
            try:
                end = await asyncio.wait_for(asyncio.shield(live.ended), MAX_CALL_S)
            except TimeoutError:
                self.telephony.live.pop(live.sid)
                end = CallEnd("failed", 0, live.answered_by, "no final status from Twilio")
            await self._settle(contact, attempt, end, live.outcome)
        except Exception:
            log.exception("campaign %s: attempt on %s failed", self.campaign.name, contact.phone)
            await self.store.settle(contact.id, "pending", "attempt crashed")
        finally:
            self.in_flight -= 1
            self.slots.release()
            self._wake.set()

    async def _settle(self, contact: Contact, attempt: int, end: CallEnd, outcome: str | None) -> None:
        CAMPAIGN_CALLS.labels(self.campaign.name, end.status).inc()
        outcome = outcome or end.outcome
        if end.status in RETRY:
            await self._retry_or_fail(contact, attempt, end.status)
        elif outcome == "fax" or end.answered_by == "fax":
            await self.store.settle(contact.id, "fax", "fax")
        elif outcome == "opted_out":
            await self.store.settle(contact.id, "dnc", "opted_out")
        elif outcome is None and end.answered_by and is_machine(end.answered_by):
            await self.store.settle(contact.id, "done", "machine")
        else:
            await self.store.settle(contact.id, "done", outcome or "answered")

    async def _retry_or_fail(self, contact: Contact, attempt: int, status: str) -> None:
        if attempt >= self.campaign.max_attempts:
            await self.store.settle(contact.id, "failed", status)
            return
        delay = self.campaign.retry_backoff_s * 2 ** (attempt - 1)
        await self.store.settle(contact.id, "pending", status, next_at=self.clock.now() + delay)

    async def _rest_error(self, contact: Contact, attempt: int, exc: TwilioCallError) -> None:
        CAMPAIGN_CALLS.labels(self.campaign.name, "rest_error").inc()
        if exc.code == 20003:  # our credentials: nothing can be dialed; keep the attempt
            self.error = str(exc)
            await self.store.settle(contact.id, "pending", None, refund=True)
            self.pause()
        elif exc.code in (21211, 21214, 21217, 21215):  # the number itself cannot be called
            await self.store.settle(contact.id, "failed", f"invalid number: {exc}")
        else:
            await self._retry_or_fail(contact, attempt, "failed")

    def _log(self, contact: Contact, action: str, attempt: int = 0, detail: str = "") -> None:
        self.progress.events.append(
            DialEvent(self.clock.now(), contact.id, contact.phone, action, attempt, detail)
        )
