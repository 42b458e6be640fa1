"""FailoverLLM: one LLMEngine in front of a chain (Anthropic → Gemini → OpenAI), a breaker per engine.

- An engine that fails before its first event (refused, 5xx, timeout, dropped) is
  skipped and the turn is retried, whole, on the next one: the caller heard nothing yet.
- An engine that fails after text went out is not asked again for this turn; the next
  engine is given the conversation plus what was already said as the assistant's
  words and an instruction to continue from exactly there, so the reply goes on
  without repeating itself. "Already said" is the text this wrapper handed on (the
  TTS speaks all of it unless the caller barges in, which cancels the turn anyway).
- A failure after a complete tool call ends the round with ``Done("tool_calls")``: the
  agent runs the calls it has, and never sees a call twice.
- The last engine is asked whatever its breaker says (a chain never refuses a turn outright);
  when it fails too, ``LLMError`` is raised and the agent hands the turn to the offline policy.
- ``available`` is False while every breaker is open: the agent then hands turns to the offline
  policy without asking; the first breaker to half-open brings the LLM back (its trial decides).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Sequence

from voiceflow.core.clock import Clock
from voiceflow.services.breaker import BreakerState
from voiceflow.services.failover.chain import Chain
from voiceflow.services.llm.engine import (
    ChatMessage,
    Done,
    LLMEngine,
    LLMEvent,
    TextDelta,
    ToolCallRequest,
    ToolChoice,
)
from voiceflow.services.llm.errors import LLMError
from voiceflow.services.llm.tools import ToolSpec

log = logging.getLogger("voiceflow.llm.failover")

CONTINUE_NOTE = (
    "Your previous reply was cut off after the words in the last assistant message, which the "
    "caller already heard. Continue that reply from exactly where it stopped: do not repeat any of "
    "it, do not apologise, start with the next word."
)


class FailoverLLM:
    name = "failover"

    def __init__(
        self,
        engines: Sequence[LLMEngine],
        *,
        failure_threshold: int = 1,
        cooldown: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        self.chain = Chain(
            "llm", engines, failure_threshold=failure_threshold, cooldown=cooldown, clock=clock
        )
        self.engines = self.chain.engines
        self.breakers = self.chain.breakers
        #: which engines answered the last turn, in order
        self.last_engines: list[str] = []

    async def start(self, clock: Clock) -> None:
        """Adopt the clock and start every engine once (a processor starts it for every call)."""
        await self.chain.start(clock)

    async def aclose(self) -> None:
        await self.chain.aclose()

    def available(self) -> bool:
        """May a turn be asked of an LLM at all? False only while every breaker is open."""
        return any(b.state is not BreakerState.OPEN for b in self.breakers)

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] | None = None,
        tool_choice: ToolChoice | None = None,
        system_override: str | None = None,
    ) -> AsyncGenerator[LLMEvent, None]:
        said = ""
        called = False
        errors: list[str] = []
        self.last_engines = []
        last = self.engines[-1]
        for engine, breaker in zip(self.engines, self.breakers, strict=True):
            # the last engine is always asked: a chain never refuses a turn outright
            if not breaker.allow() and engine is not last:
                errors.append(f"{engine.name}: skipped (breaker open, last: {breaker.last_error})")
                continue
            history = list(messages)
            if said:
                history += [ChatMessage("assistant", said), ChatMessage("system", CONTINUE_NOTE)]
            self.last_engines.append(engine.name)
            verdict = False
            stream = engine.stream(
                history, tools=tools, tool_choice=tool_choice, system_override=system_override
            )
            try:
                async for event in stream:
                    if isinstance(event, TextDelta):
                        said += event.text
                    elif isinstance(event, ToolCallRequest):
                        called = True
                    yield event
                verdict = True
                breaker.record_success()
                return
            except LLMError as exc:
                if _being_cancelled():
                    raise  # a barge-in cancelled the turn: the SDK's error is no verdict on the engine
                verdict = True
                breaker.record_failure(str(exc))
                errors.append(f"{engine.name}: {exc}")
                log.warning("llm %s failed (%s); %s", engine.name, exc, "continuing" if said else "retrying")
                if called:
                    yield Done(finish_reason="tool_calls")
                    return
            finally:
                await stream.aclose()
                if not verdict:
                    breaker.release()  # interrupted (barge-in): no verdict on the engine
        raise LLMError("every LLM engine failed: " + "; ".join(errors), provider=self.name)


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
