"""LLMAgent: free conversation and function calling, with the tool-call feedback loop.

For each final transcript (or intent, see ``respond_to``) the agent streams the
reply as ``LLMToken`` frames. When the model calls functions the agent runs them
through the ``ToolCallTracker`` (``ToolCall`` / ``ToolResult`` frames go
downstream), feeds the results back as tool messages and asks again, at most
``max_tool_rounds`` times; the round after the cap is sent without tools, which
forces a spoken answer.

Barge-in: the core cancels this processor's in-flight handler on Interrupt. The
handler then marks its open calls cancelled in the tracker and answers them in
the context with a ``cancelled`` tool message, so the history never holds an
assistant tool call without its response. Engine failures become a spoken
fallback plus an ``Error`` upstream; the call goes on. With ``llm_available`` (e.g.
``FailoverLLM.available``) an answered-by-intent turn that no LLM could serve (every engine
failed, or every breaker is open) is handed on as ``OfflineTurn`` to the offline dialogue
policy downstream (``OfflineStandIn``) instead: the caller's request is still handled.
With ``max_retries`` a retryable
failure (rate limit, 5xx, timeout, dropped stream) that came before any token of the round
is retried after a backoff (the provider's ``retry_after`` when it gave one): nothing was
said and no tool of that round ran, so the retry repeats nothing the caller heard or the
tools did. Each round's time to first token is logged and pushed as ``Metrics``
(``llm_ttft_ms``, and ``provider_metrics`` for the provider counters and latency).

A ``turn_prompt`` (``grounding.TurnPrompt``, e.g. ``KnowledgeGrounding``) may give a turn
its own system prompt, sent as the engine's ``system_override`` on every round of that
turn; the memory keeps the standing prompt. The engine is started in ``setup`` (on the
run clock) and never closed here: it is shared by calls and belongs to its owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from voiceflow.core.processor import Processor, on
from voiceflow.frames import (
    Intent,
    Interrupt,
    LLMResponseEnd,
    LLMToken,
    Metrics,
    OfflineTurn,
    ToolCall,
    ToolResult,
    Transcript,
    UserStartedSpeaking,
)
from voiceflow.processors.llm.grounding import TurnPrompt
from voiceflow.processors.memory.conversation import ConversationMemory
from voiceflow.processors.memory.turn import Turn
from voiceflow.processors.speculation import Speculation
from voiceflow.processors.tools.calls import ToolCallTracker
from voiceflow.processors.tools.executor import result_frame
from voiceflow.processors.tools.outcome import ToolOutcome
from voiceflow.processors.tools.registry import ToolRegistry
from voiceflow.services.llm.engine import Done, LLMEngine, TextDelta, ToolCallRequest
from voiceflow.services.llm.errors import LLMError
from voiceflow.services.llm.tools import ToolSpec
from voiceflow.services.provider_metrics import provider_metrics

log = logging.getLogger("voiceflow.llm")

DEFAULT_FALLBACK = "Sorry, I'm having trouble answering right now. Could you say that again in a moment?"
TIMEOUT_MESSAGE = "Sorry, that is taking too long. Please try again in a moment."


@dataclass
class _Round:
    """What one streamed request produced."""

    text: str = ""
    calls: list[ToolCallRequest] = field(default_factory=list)
    done: Done | None = None


class LLMAgent(Processor):
    """Consumes final ``Transcript`` (and ``Intent``); produces tokens, tool calls and results."""

    produces = (LLMToken, LLMResponseEnd, ToolCall, ToolResult, Metrics, OfflineTurn)

    def __init__(
        self,
        engine: LLMEngine,
        *,
        memory: ConversationMemory | None = None,
        system_prompt: str = "",
        registry: ToolRegistry | None = None,
        tracker: ToolCallTracker | None = None,
        max_tool_rounds: int = 3,
        tool_timeout: float = 10.0,
        fallback_text: str = DEFAULT_FALLBACK,
        respond_to: Literal["transcript", "intent"] = "transcript",
        turn_prompt: TurnPrompt | None = None,
        max_retries: int = 0,
        retry_backoff_s: float = 0.25,
        max_retry_wait_s: float = 2.0,
        llm_available: Callable[[], bool] | None = None,
        speculation: Speculation | None = None,
        name: str | None = None,
    ) -> None:
        """``respond_to="intent"`` answers Intent frames (so the NLU's reading is in the prompt)
        and ignores transcripts; otherwise intents only enrich the turn's record.
        ``turn_prompt`` gives a turn its own system prompt (see ``grounding``).
        ``llm_available`` given: turns no LLM can serve go to the offline policy (``OfflineTurn``).
        With ``speculation`` a turn still undecided runs look-up tools at once and tools with
        side effects only once confirmed (``voiceflow.processors.speculation``).
        """
        super().__init__(name=name)
        self.speculation = speculation
        #: the latest caller turn in memory and what it hangs on (None: decided)
        self._turn: Turn | None = None
        self._ticket: asyncio.Future[bool] | None = None
        self.engine = engine
        self.memory = memory or ConversationMemory(system_prompt)
        if system_prompt and not self.memory.system_prompt:
            self.memory.system_prompt = system_prompt
        self.tracker = tracker or (ToolCallTracker(registry) if registry is not None else None)
        self.registry = registry or (self.tracker.registry if self.tracker is not None else None)
        self.max_tool_rounds = max_tool_rounds
        self.tool_timeout = tool_timeout
        self.fallback_text = fallback_text
        self.respond_to = respond_to
        self.turn_prompt = turn_prompt
        self.max_retries = max_retries
        self.retry_backoff_s = retry_backoff_s
        self.max_retry_wait_s = max_retry_wait_s
        self.llm_available = llm_available
        #: the intent being answered (what an ``OfflineTurn`` hands on)
        self._intent: Intent | None = None
        #: turns handed to the offline policy
        self.handed_over = 0
        self.responses = 0
        self._call_serial = itertools.count(1)
        self.last_ttft_ms: float | None = None
        #: turns dropped because they were continued or cut before they arrived
        self.superseded_turns = 0

    async def setup(self) -> None:
        await self.engine.start(self.run.clock)

    # -- inputs -------------------------------------------------------------------------------
    @on(Transcript)
    async def transcript(self, frame: Transcript) -> None:
        await self.push(frame)
        if self.respond_to != "transcript" or not frame.final or not frame.text.strip():
            return
        if self.superseded(frame):
            self.superseded_turns += 1
            return
        self._begin_turn(self.memory.add_user(frame.text.strip()))
        await self.respond()

    @on(Intent)
    async def intent(self, frame: Intent) -> None:
        await self.push(frame)
        if self.respond_to != "intent":
            self.memory.note_intent(frame.intent, frame.entities, frame.text)
            return
        if not frame.text.strip():
            return
        if self.superseded(frame):
            self.superseded_turns += 1
            return
        turn = self.memory.add_user(frame.text.strip(), intent=frame.intent, entities=frame.entities)
        self._begin_turn(turn)
        self._intent = frame
        try:
            if self.llm_available is not None and not self.llm_available():
                await self._hand_over("")  # every LLM breaker open: not even asked
                return
            await self.respond()
        finally:
            self._intent = None

    def _begin_turn(self, turn: Turn) -> None:
        self._turn = turn
        self._ticket = None if self.speculation is None else self.speculation.effects_ticket()

    @on(UserStartedSpeaking)
    async def turn_started(self, frame: UserStartedSpeaking) -> None:
        """A continued turn replaces the last one: the first part leaves no trace in the context."""
        await self.push(frame)
        turn, self._turn = self._turn, None
        if frame.continues and turn is not None:
            self.memory.forget(turn)

    async def on_interrupt(self, frame: Interrupt) -> None:
        if self.tracker is not None:
            self.tracker.cancel_older_than(frame.generation)

    def truncate_last_assistant(self, heard: str | int) -> str | None:
        """Cut the recorded reply to what the caller heard (text, or played characters)."""
        return self.memory.truncate_last_assistant(heard)

    # -- the loop -------------------------------------------------------------------------------
    def _declarations(self) -> list[ToolSpec]:
        return self.registry.declarations() if self.registry is not None else []

    async def _system_for_turn(self) -> str | None:
        """This turn's own system prompt (``turn_prompt``), or None for the standing one."""
        turn = self.memory.current
        if self.turn_prompt is None or turn is None:
            return None
        try:
            return await self.turn_prompt(turn, self.memory.system_prompt)
        except Exception as exc:  # a failed lookup costs the grounding, not the answer
            await self.report_error(f"turn prompt failed: {exc}", exception=exc)
            return None

    async def respond(self) -> None:
        """Answer the current turn: stream, run tools, feed back, at most ``max_tool_rounds`` rounds."""
        generation = self.generation
        declarations = self._declarations()
        said: list[str] = []  # every token pushed this turn (recorded if we are cut off)
        recorded = 0  # how much of ``said`` is already in memory
        rounds = 0
        try:
            system = await self._system_for_turn()
            for rounds in range(self.max_tool_rounds + 1):
                tools_on = bool(declarations) and rounds < self.max_tool_rounds
                result = await self._round_with_retries(declarations if tools_on else None, said, system)
                if result.done is not None and rounds == 0:
                    self.last_ttft_ms = result.done.ttft_ms
                    log.info(
                        "%s: %s time to first token %s ms", self.name, self.engine.name, result.done.ttft_ms
                    )
                    await self._metrics({"llm_ttft_ms": result.done.ttft_ms})
                if not (tools_on and result.calls):
                    if not result.text.strip():  # nothing to say (or calls after the cap): never silent
                        said.append(self.fallback_text)
                        await self.push(LLMToken(text=self.fallback_text))
                        result.text += self.fallback_text
                    self.memory.add_assistant(result.text)
                    recorded = len(said)
                    break
                self._make_ids_unique(result.calls)
                self.memory.add_tool_calls(result.calls, content=result.text or None)
                recorded = len(said)
                await self._run_tools(result.calls, generation)
            await self.push(LLMResponseEnd())
            await self._metrics({"llm_tool_rounds": float(rounds)})
        except asyncio.CancelledError:
            self._record_cut_off("".join(said[recorded:]))
            raise
        except Exception as exc:
            await self._fail(exc, "".join(said[recorded:]))
        finally:
            self.responses += 1
        if self.memory.needs_summary:
            self.create_task(self.memory.summarize_if_needed(), turn=False)

    async def _round_with_retries(
        self, tools: Sequence[ToolSpec] | None, said: list[str], system: str | None
    ) -> _Round:
        """One round; a retryable failure before its first token is tried again after a backoff."""
        provider = getattr(self.engine, "name", "llm")
        for attempt in itertools.count():
            before = len(said)
            try:
                result = await self._stream_round(tools, said, system)
            except LLMError as exc:
                await self.push(provider_metrics("llm", provider, error=type(exc).__name__))
                if not exc.retryable or len(said) > before or attempt >= self.max_retries:
                    raise
                backoff = self.retry_backoff_s * 2**attempt
                wait = min(self.max_retry_wait_s, exc.retry_after if exc.retry_after is not None else backoff)
                await self.report_error(f"LLM failed: {exc}; retrying in {wait:.2f} s", exception=exc)
                await self.run.clock.sleep(wait)
                continue
            ttft = result.done.ttft_ms if result.done is not None else None
            await self.push(provider_metrics("llm", provider, latency_ms=ttft))
            return result
        raise AssertionError("unreachable")

    async def _stream_round(
        self, tools: Sequence[ToolSpec] | None, said: list[str], system: str | None
    ) -> _Round:
        result = _Round()
        stream = self.engine.stream(
            # with an override the standing prompt keeps its slot (messages[0]) for it to replace
            self.memory.messages(prompt_slot=system is not None),
            tools=tools,
            tool_choice="auto" if tools else "none",
            system_override=system,
        )
        async with contextlib.aclosing(stream) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    if event.text:
                        result.text += event.text
                        said.append(event.text)
                        await self.push(LLMToken(text=event.text))
                elif isinstance(event, ToolCallRequest):
                    result.calls.append(event)
                elif isinstance(event, Done):
                    result.done = event
        return result

    def _make_ids_unique(self, calls: list[ToolCallRequest]) -> None:
        """Give a fresh id to a call whose id was already used (some local servers number calls
        ``call_0``, ``call_1``... in every response); the tracker would otherwise replay the old result.
        """
        seen: set[str] = set()
        for call in calls:
            taken = call.id in seen or (self.tracker is not None and self.tracker.get(call.id) is not None)
            taken = taken or self.memory.has_tool_call(call.id)
            if taken or not call.id:
                call.id = f"{call.id or 'call'}_{self.name}_{next(self._call_serial)}"
            seen.add(call.id)

    async def _run_tools(self, calls: list[ToolCallRequest], generation: int) -> None:
        tracker = self.tracker
        assert tracker is not None
        for call in calls:
            tracker.request(call.id, call.name, _arguments_for(call), generation=generation)
            await self.push(ToolCall(call_id=call.id, tool=call.name, arguments=dict(call.arguments)))
        async with asyncio.TaskGroup() as group:
            for call in calls:
                group.create_task(self._run_one(tracker, call, generation))

    async def _run_one(self, tracker: ToolCallTracker, call: ToolCallRequest, generation: int) -> None:
        try:
            outcome = await self.run.clock.wait_for(
                tracker.execute(
                    call.id, call.name, _arguments_for(call), generation=generation, ticket=self._ticket
                ),
                self.tool_timeout,
            )
        except TimeoutError:
            outcome = ToolOutcome.failure("timeout", TIMEOUT_MESSAGE, tool=call.name)
        self.memory.add_tool_result(call.id, call.name, outcome.to_content())
        await self.push(result_frame(call.id, call.name, outcome, tracker.state(call.id)))

    # -- endings ----------------------------------------------------------------------------------
    def _record_cut_off(self, unrecorded: str) -> None:
        """Interrupted: open calls cancelled everywhere, and what was streamed kept as said."""
        for call in self.memory.unanswered_tool_calls():
            if self.tracker is not None:
                self.tracker.cancel(call.id)
        self.memory.cancel_unanswered_tool_calls()
        if unrecorded.strip():
            self.memory.add_assistant(unrecorded)
        if self.memory.current is not None:
            self.memory.current.interrupted = True

    async def _fail(self, exc: Exception, unrecorded: str) -> None:
        for call in self.memory.unanswered_tool_calls():
            if self.tracker is not None:
                self.tracker.cancel(call.id)
        self.memory.cancel_unanswered_tool_calls(reason="the request failed")
        await self.report_error(f"LLM failed: {exc}", exception=exc)
        if self.llm_available is not None and self._intent is not None and isinstance(exc, LLMError):
            await self._hand_over(unrecorded)
            return
        spoken = (unrecorded + " " + self.fallback_text).strip()
        await self.push(LLMToken(text=(" " if unrecorded.strip() else "") + self.fallback_text))
        self.memory.add_assistant(spoken)
        await self.push(LLMResponseEnd())

    async def _hand_over(self, unrecorded: str) -> None:
        """The offline policy serves this turn: what was already said stays said and recorded."""
        assert self._intent is not None
        if unrecorded.strip():
            self.memory.add_assistant(unrecorded)
        self.handed_over += 1
        log.warning("%s: no LLM could answer; the offline policy serves the turn", self.name)
        await self.push(LLMResponseEnd())  # flushes a partly spoken reply
        await self.push(OfflineTurn(intent=self._intent))

    async def _metrics(self, values: dict[str, float | None]) -> None:
        clean = {k: float(v) for k, v in values.items() if v is not None}
        if clean:
            await self.push(Metrics(values=clean, processor=self.name))


def _arguments_for(call: ToolCallRequest) -> dict[str, Any] | str:
    """The parsed arguments, or the raw text when it was malformed (the registry reports it)."""
    return call.raw_arguments if call.parse_error is not None else call.arguments
