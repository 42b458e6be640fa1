"""DialoguePolicy: the offline brain of a call (Intent / DTMF in; TextToSpeak, ToolCall, ToolResult out).

It runs the decisions of ``DialoguePolicyLogic``: speaks replies (one ``TextToSpeak`` each),
calls tools through the ``ToolCallTracker`` and pushes both the ``ToolCall`` and its
``ToolResult`` downstream so observers and transports see what was done. On goodbye it
speaks a farewell, then pushes ``ToolCall(tool="end_call")`` + its result: the transport's
cue to hang up.

The dialogue state is copied at the start of a turn and committed when the turn is fully
handled, so a turn cut short by an Interrupt leaves the previous state intact.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from voiceflow.core.processor import Processor, on
from voiceflow.db import Database
from voiceflow.frames import DTMF, Intent, Start, TextToSpeak, ToolCall, ToolResult, UserStartedSpeaking
from voiceflow.processors.dialogue.closings import closes
from voiceflow.processors.dialogue.handoff import Handoff
from voiceflow.processors.dialogue.policy import DialoguePolicyLogic, KnowledgeHit, SlotRules
from voiceflow.processors.dialogue.state import Action, CallTool, DialogueState, Lookup, Say, Turn
from voiceflow.processors.speculation import Speculation
from voiceflow.processors.tools.business import BusinessConfig
from voiceflow.processors.tools.calls import ToolCallTracker
from voiceflow.processors.tools.context import ToolContext
from voiceflow.processors.tools.executor import result_frame
from voiceflow.processors.tools.registry import ToolRegistry
from voiceflow.processors.tools.toolkit import CallCenterTools

log = logging.getLogger("voiceflow.dialogue")

#: phone → caller profile (an object or mapping with ``name`` and optionally ``last_topic``), or None
CallerLookup = Callable[[str], Awaitable[Any]]


class KnowledgeSource(Protocol):
    """What the dialogue needs from RAG (``voiceflow.processors.rag.KnowledgeBase`` fits)."""

    async def search(self, query: str, k: int = 3) -> Sequence[KnowledgeHit]: ...


KnowledgeSearch = Callable[[str], Awaitable[Sequence[KnowledgeHit]]]


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


class DialoguePolicy(Processor):
    """Consumes ``Intent`` and ``DTMF``; produces ``TextToSpeak``, ``ToolCall``, ``ToolResult``.

    Args:
        tools: the tracker (preferred: shared call-id state) or a registry to wrap in one.
        knowledge: RAG source with ``async search(query, k)``, or an async ``query -> hits`` callable.
        slot_rules: checks dates/times while slots are filled (``AppointmentTools``).
        caller_lookup: async ``phone -> profile`` for the caller named in ``Start.metadata``.
        knowledge_min_score: minimum score of a kb hit to answer a knowledge question.
        fallback_min_score: minimum score to answer an out-of-scope request from the kb.
        greet_on_start: speak a greeting when the run starts.
        forward_input: also pass Intent / DTMF frames downstream.
        speculation: the call's speculative turns: a turn still undecided runs its look-ups
            at once but its tools with side effects only once it can no longer be continued
            (``processors.speculation``).
        reopen_secs: after the farewell, a caller turn with words (not thanks, a goodbye or a
            backchannel) within this many seconds reopens the dialogue: the goodbye was a
            mishearing or the caller has more. The hang-up is called off with an ``end_call``
            ``ToolResult`` of status ``cancelled`` (``HangUpAfterGoodbye``).
    """

    produces = (TextToSpeak, ToolCall, ToolResult)

    def __init__(
        self,
        tools: ToolCallTracker | ToolRegistry,
        *,
        knowledge: KnowledgeSource | KnowledgeSearch | None = None,
        slot_rules: SlotRules | None = None,
        caller_lookup: CallerLookup | None = None,
        knowledge_min_score: float = 0.35,
        fallback_min_score: float = 0.5,
        greet_on_start: bool = False,
        forward_input: bool = False,
        max_steps: int = 8,
        speculation: Speculation | None = None,
        reopen_secs: float = 6.0,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.speculation = speculation
        #: what the side effects of the turn being handled wait on (None: act now)
        self._ticket: asyncio.Future[bool] | None = None
        self.reopen_secs = reopen_secs
        #: when the farewell's end_call went through (None: the dialogue is open)
        self._ended_at: float | None = None
        #: dialogues reopened by the caller going on after a farewell
        self.reopened = 0
        #: intents dropped because their turn was continued or cut before they arrived
        self.superseded_turns = 0
        self.tracker = tools if isinstance(tools, ToolCallTracker) else ToolCallTracker(tools)
        self._search = self._knowledge_search(knowledge)
        self.logic = DialoguePolicyLogic(
            slot_rules=slot_rules,
            knowledge=self._search is not None,
            min_score=knowledge_min_score,
            fallback_min_score=fallback_min_score,
        )
        self.caller_lookup = caller_lookup
        self.greet_on_start = greet_on_start
        self.forward_input = forward_input
        self.max_steps = max_steps
        self.state = DialogueState()
        #: the state before the last spoken turn, restored if the caller turns out to be continuing it
        self._before_turn: DialogueState | None = None
        self._call_ids = itertools.count(1)
        self._runners: dict[type, Callable[[Any, DialogueState], Awaitable[list[Action]]]] = {
            Say: self._run_say,
            CallTool: self._run_tool,
            Lookup: self._run_lookup,
        }

    @classmethod
    def for_database(
        cls,
        db: Database,
        *,
        now: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
        config: BusinessConfig | None = None,
        **kwargs: Any,
    ) -> DialoguePolicy:
        """A policy over the nine tools on ``db``, with slot rules and a caller lookup in ``customers``.

        ``now`` is the wall clock of the business (inject a fixed one in tests); other
        keyword arguments go to the constructor.
        """
        tools = CallCenterTools(ToolContext(db, config or BusinessConfig(), now, rng or random.Random()))

        async def customer_by_phone(phone: str) -> Any:
            outcome = await tools.registry.call("look_up_account", {"identifier": phone})
            return outcome.result

        kwargs.setdefault("slot_rules", tools.appointments)
        kwargs.setdefault("caller_lookup", customer_by_phone)
        return cls(ToolCallTracker(tools.registry), **kwargs)

    @staticmethod
    def _knowledge_search(knowledge: KnowledgeSource | KnowledgeSearch | None) -> KnowledgeSearch | None:
        if knowledge is None:
            return None
        search = getattr(knowledge, "search", None)
        if search is not None:

            async def by_method(query: str) -> Sequence[KnowledgeHit]:
                return list(await search(query, 3))

            return by_method
        return knowledge  # type: ignore[return-value]

    # -- lifecycle -----------------------------------------------------------------------------------
    async def on_start(self, frame: Start) -> None:
        meta = frame.metadata
        state = self.state
        state.caller_name = meta.get("caller_name") or state.caller_name
        state.caller_phone = meta.get("caller_phone") or meta.get("from") or state.caller_phone
        state.last_topic = meta.get("last_topic") or state.last_topic
        if state.caller_phone and self.caller_lookup is not None and not state.caller_name:
            try:
                profile = await self.caller_lookup(state.caller_phone)
            except Exception as exc:
                log.warning("caller lookup failed: %s", exc)
                profile = None
            if profile is not None:
                state.caller_name = _field(profile, "name") or None
                state.last_topic = state.last_topic or _field(profile, "last_topic")
        if self.greet_on_start:
            self.create_task(self._greet(), turn=False)

    def take_over(self, handoff: Handoff) -> None:
        """Continue a call another graph served so far (see ``handoff``); call before the first turn."""
        self.logic.take_over(self.state, handoff)

    async def _greet(self) -> None:
        await self._handle(Turn(intent="greeting"))

    # -- input ------------------------------------------------------------------------------------------
    @on(Intent)
    async def intent(self, frame: Intent) -> None:
        if self.forward_input:
            await self.push(frame)
        if self.superseded(frame):
            self.superseded_turns += 1
            return
        turn = Turn(
            intent=frame.intent,
            entities=dict(frame.entities),
            emotion=frame.emotion,
            text=frame.text,
            understood=frame.confident,
        )
        self._before_turn = self.state
        self._ticket = None if self.speculation is None else self.speculation.effects_ticket()
        await self._handle(turn)

    @on(UserStartedSpeaking)
    async def turn_started(self, frame: UserStartedSpeaking) -> None:
        """A continued turn replaces the last one: its decisions (not its tool calls) are undone."""
        await self.push(frame)
        if frame.continues and self._before_turn is not None:
            self.state, self._before_turn = self._before_turn, None

    @on(DTMF)
    async def keypad(self, frame: DTMF) -> None:
        if self.forward_input:
            await self.push(frame)
        for key in frame.digit:
            if key not in "0123456789*#":
                await self.report_error(f"ignored keypad key {key!r}")
                continue
            turn = self.logic.keypad(self.state, key)
            self._ticket = None
            if turn is not None:
                await self._handle(turn)

    # -- running decisions -----------------------------------------------------------------------------
    async def _handle(self, turn: Turn) -> None:
        if self.state.ended and not await self._reopen(turn):
            return
        state = self.state.copy()
        pending: deque[Action] = deque(self.logic.decide(state, turn))
        steps = 0
        while pending and steps < self.max_steps:
            action = pending.popleft()
            steps += 1
            pending.extend(await self._runners[type(action)](action, state))
        if state.ended and not self.state.ended:
            self._ended_at = self.now()
        self.state = state

    async def _reopen(self, turn: Turn) -> bool:
        """After the farewell: does this turn take the call up again (see ``reopen_secs``)?"""
        ended_at = self._ended_at
        if ended_at is None or self.now() - ended_at > self.reopen_secs or closes(turn):
            return False
        self.state = self.state.copy()
        self.state.ended, self._ended_at = False, None
        self.reopened += 1
        call_id = f"{self.name}-{next(self._call_ids)}"
        await self.push(ToolCall(call_id=call_id, tool="end_call", arguments={"reason": "called off"}))
        await self.push(
            ToolResult(call_id=call_id, tool="end_call", status="cancelled", result={"action": "reopened"})
        )
        return True

    async def _run_say(self, action: Say, state: DialogueState) -> list[Action]:
        await self.push(TextToSpeak(text=action.text))
        return []

    async def _run_tool(self, action: CallTool, state: DialogueState) -> list[Action]:
        call_id = f"{self.name}-{next(self._call_ids)}"
        await self.push(ToolCall(call_id=call_id, tool=action.name, arguments=dict(action.arguments)))
        outcome = await self.tracker.execute(
            call_id, action.name, action.arguments, generation=self.generation, ticket=self._ticket
        )
        await self.push(result_frame(call_id, action.name, outcome, self.tracker.state(call_id)))
        return self.logic.after_tool(state, action, outcome)

    async def _run_lookup(self, action: Lookup, state: DialogueState) -> list[Action]:
        assert self._search is not None
        try:
            hits = list(await self._search(action.query))
        except Exception as exc:
            await self.report_error(f"knowledge search failed: {exc}", exception=exc)
            hits = []
        hits.sort(key=lambda h: -float(h.score))
        return self.logic.after_lookup(state, action, hits)
