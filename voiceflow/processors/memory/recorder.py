"""A pass-through processor that writes the conversation into memory as it flows.

Place it where it sees the caller's final transcripts, the NLU's intents and
the agent's output (``TextToSpeak`` from the dialogue policy, or the LLM's
tokens). Frames are forwarded first and recorded after, so recording never
delays speech. With an ``LLMAgent`` (which keeps its own ConversationMemory),
give the recorder only the persistent memory.

The caller is identified from the ``Start`` metadata (``caller``, ``from`` or
``phone``; ``call_id`` or ``call_sid``) unless given to the constructor; the
``greeting`` attribute then holds the ``GreetingContext`` for the dialogue.

With a ``speculation`` a turn that is still speculative (``voiceflow.processors.speculation``)
is not recorded yet: from its final transcript on, what would be recorded waits, and is
recorded once the turn is confirmed or forgotten if the caller went on (the whole turn is
then recorded once, from its merged transcript).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from voiceflow.core.processor import Processor, on
from voiceflow.frames import End, Intent, LLMResponseEnd, LLMToken, Start, TextToSpeak, Transcript
from voiceflow.processors.memory.conversation import ConversationMemory
from voiceflow.processors.memory.persistent import GreetingContext, PersistentUserMemory
from voiceflow.processors.memory.summarizer import CONVERSATIONAL_INTENTS
from voiceflow.processors.speculation import Speculation, committed

PHONE_KEYS = ("caller", "from", "phone", "caller_phone")
CALL_ID_KEYS = ("call_id", "call_sid", "session_id")


class MemoryRecorder(Processor):
    """Records user transcripts, intents and what the agent said into conversation/persistent memory."""

    def __init__(
        self,
        *,
        name: str | None = None,
        conversation: ConversationMemory | None = None,
        persistent: PersistentUserMemory | None = None,
        phone: str | None = None,
        call_id: str | None = None,
        assistant_source: Literal["text_to_speak", "llm"] = "text_to_speak",
        speculation: Speculation | None = None,
    ) -> None:
        super().__init__(name=name)
        self.speculation = speculation
        #: records waiting for a speculative turn's verdict (None: recording as frames come)
        self._deferred: list[tuple[Callable[[Any], Awaitable[None]], Any]] | None = None
        self._deferred_ticket: asyncio.Future[bool] | None = None
        self._record_lock = asyncio.Lock()
        self.conversation = conversation
        self.persistent = persistent
        self.phone = phone
        self.call_id = call_id
        self.assistant_source = assistant_source
        self.greeting: GreetingContext | None = None
        #: the caller's latest task intent (stored as the call's topic at the end)
        self.topic: str | None = None
        self._caller: str | None = None  # E.164 once the call started with a valid number
        self._user: tuple[str, str | None] | None = None  # transcript waiting for its intent
        self._early_intent: Intent | None = None
        self._assistant: list[str] = []

    # -- call start and end ----------------------------------------------------------------------
    async def on_start(self, frame: Start) -> None:
        meta = frame.metadata
        phone = self.phone or next((str(meta[k]) for k in PHONE_KEYS if meta.get(k)), None)
        self.call_id = self.call_id or next((str(meta[k]) for k in CALL_ID_KEYS if meta.get(k)), None)
        self.call_id = self.call_id or f"call-{uuid.uuid4().hex[:12]}"
        if self.persistent is None:
            return
        self.greeting = self.persistent.anonymous_greeting()
        if phone is None:
            return
        try:
            self.greeting = await self.persistent.start_call(phone, self.call_id)
            self._caller = self.greeting.phone
        except Exception as exc:
            await self.report_error(f"caller memory unavailable for {phone!r}: {exc}", exception=exc)

    async def on_end(self, frame: End) -> None:
        ticket = self._deferred_ticket
        await self._settle(ticket is not None and ticket.done() and ticket.result())
        await self._flush_user()
        await self._flush_assistant()
        if self.persistent is not None and self._caller is not None and self.call_id is not None:
            try:
                await self.persistent.end_call(self._caller, self.call_id, topic=self.topic)
            except Exception as exc:
                await self.report_error(f"could not close the call in memory: {exc}", exception=exc)

    # -- what flows ----------------------------------------------------------------------------------
    @on(Transcript)
    async def transcript(self, frame: Transcript) -> None:
        await self.push(frame)
        if not frame.final or not frame.text.strip():
            return
        ticket = None if self.speculation is None else self.speculation.ticket()
        if (previous := self._deferred_ticket) is not None and previous.done():
            await self._settle(previous.result())  # its verdict came before its task ran
        async with self._record_lock:
            if ticket is not None and self._deferred is None:
                self._deferred, self._deferred_ticket = [], ticket
                self.create_task(self._await_verdict(ticket), turn=False)
        await self._record(self._user_said, frame)

    async def _user_said(self, frame: Transcript) -> None:
        await self._flush_user()
        await self._flush_assistant()
        intent = self._early_intent
        self._early_intent = None
        matches = intent is not None and (not intent.text or intent.text.strip() == frame.text.strip())
        self._user = (frame.text, intent.intent if intent and matches else None)
        if intent is not None and matches:
            self._track_topic(intent.intent)
        if self.conversation is not None:
            self.conversation.add_user(
                frame.text,
                intent=intent.intent if intent and matches else None,
                entities=intent.entities if intent and matches else None,
            )
        if self._user[1] is not None:
            await self._flush_user()

    @on(Intent)
    async def intent(self, frame: Intent) -> None:
        await self.push(frame)
        await self._record(self._intent, frame)

    async def _intent(self, frame: Intent) -> None:
        self._track_topic(frame.intent)
        if self.conversation is not None:
            self.conversation.note_intent(frame.intent, frame.entities, frame.text)
        if self._user is not None and (not frame.text or frame.text.strip() == self._user[0].strip()):
            self._user = (self._user[0], frame.intent)
            await self._flush_user()
        else:
            self._early_intent = frame

    @on(TextToSpeak)
    async def speak(self, frame: TextToSpeak) -> None:
        await self.push(frame)
        if self.assistant_source == "text_to_speak":
            await self._record(self._add_assistant, frame.text)

    @on(LLMToken)
    async def token(self, frame: LLMToken) -> None:
        await self.push(frame)
        if self.assistant_source == "llm":
            await self._record(self._add_token, frame.text)

    @on(LLMResponseEnd)
    async def response_end(self, frame: LLMResponseEnd) -> None:
        await self.push(frame)
        if self.assistant_source == "llm":
            await self._record(lambda _: self._flush_assistant(), None)

    # -- speculative turns -----------------------------------------------------------------------------
    async def _record(self, fn: Callable[[Any], Awaitable[None]], arg: Any) -> None:
        async with self._record_lock:
            if self._deferred is not None:
                self._deferred.append((fn, arg))
                return
            await fn(arg)

    async def _await_verdict(self, ticket: asyncio.Future[bool]) -> None:
        confirmed = await committed(ticket)
        if self._deferred_ticket is ticket:
            await self._settle(confirmed)

    async def _settle(self, confirmed: bool) -> None:
        """Record what waited for the speculative turn (confirmed) or forget it (discarded)."""
        async with self._record_lock:
            deferred, self._deferred, self._deferred_ticket = self._deferred, None, None
            for fn, arg in deferred if confirmed and deferred else ():
                await fn(arg)

    # -- recording -----------------------------------------------------------------------------------
    def _track_topic(self, intent: str) -> None:
        if intent not in CONVERSATIONAL_INTENTS:
            self.topic = intent

    async def _add_token(self, text: str) -> None:
        await self._add_assistant(text, joiner="")

    async def _add_assistant(self, text: str, joiner: str = " ") -> None:
        if not text:
            return
        await self._flush_user()
        if self._assistant and joiner:
            self._assistant.append(joiner)
        self._assistant.append(text)

    async def _flush_user(self) -> None:
        pending, self._user = self._user, None
        if pending is not None:
            await self._persist("user", pending[0], pending[1])

    async def _flush_assistant(self) -> None:
        text = "".join(self._assistant).strip()
        self._assistant.clear()
        if not text:
            return
        if self.conversation is not None:
            self.conversation.add_assistant(text)
            if self.conversation.needs_summary:
                self.create_task(self.conversation.summarize_if_needed(), turn=False)
        await self._persist("assistant", text, None)

    async def _persist(self, role: str, text: str, intent: str | None) -> None:
        if self.persistent is None or self._caller is None or self.call_id is None:
            return
        try:
            await self.persistent.record_turn(self._caller, self.call_id, role, text, intent)
        except Exception as exc:
            await self.report_error(f"could not record a {role} turn: {exc}", exception=exc)
