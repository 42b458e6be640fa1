"""OfflineStandIn: the offline dialogue policy behind an LLM agent, for when no LLM can answer.

Placed right after the ``LLMAgent`` of a cloud call. Intents pass it by (the agent answers
them), and keys while the agent has the call; a turn the agent hands on as ``OfflineTurn``
(every LLM engine failed, or every LLM breaker is open) is decided here by the same
``DialoguePolicy`` the offline pipeline runs, with this call's tools, knowledge base and caller.
What it says is added to the agent's conversation memory, so a returning LLM knows what was said.
"""

from __future__ import annotations

from typing import Any

from voiceflow.core.processor import on
from voiceflow.frames import DTMF, Intent, OfflineTurn
from voiceflow.processors.dialogue.processor import DialoguePolicy
from voiceflow.processors.dialogue.state import DialogueState, Say
from voiceflow.processors.memory.conversation import ConversationMemory


class OfflineStandIn(DialoguePolicy):
    """Consumes ``OfflineTurn`` (and lets ``Intent`` / ``DTMF`` by); produces what ``DialoguePolicy`` does."""

    def __init__(self, *args: Any, memory: ConversationMemory | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("greet_on_start", False)  # the agent's call: it does not greet twice
        super().__init__(*args, **kwargs)
        self.memory = memory
        #: turns this policy served
        self.served = 0
        self._serving = False

    async def intent(self, frame: Intent) -> None:
        """The agent answers intents: passed on untouched (the voice reads the caller's emotion)."""
        self._serving = False  # the agent has the call again, unless it hands this turn on
        await self.push(frame)

    async def keypad(self, frame: DTMF) -> None:
        """Keys answer the question this policy asked (a rating, an order number) while it serves."""
        if self._serving:
            await DialoguePolicy.keypad(self, frame)
        else:
            await self.push(frame)

    @on(OfflineTurn)
    async def offline_turn(self, frame: OfflineTurn) -> None:
        self.served += 1
        self._serving = True
        await DialoguePolicy.intent(self, frame.intent)

    async def _run_say(self, action: Say, state: DialogueState) -> list[Any]:
        if self.memory is not None:
            self.memory.add_assistant(action.text)
        return await super()._run_say(action, state)
