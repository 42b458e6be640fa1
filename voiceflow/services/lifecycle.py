"""The lifecycle every engine (STT, TTS, LLM, Realtime) declares.

``start`` loads models, opens pools or checks credentials once per process, before the
first call; it receives the clock so timing (cool-downs, latency) follows the run's
clock (virtual in tests). ``aclose`` releases what ``start`` took. Both are idempotent.
Engines are shared by many calls: per-call state lives in the sessions/streams they open.
"""

from __future__ import annotations

from typing import Protocol

from voiceflow.core.clock import Clock


class Service(Protocol):
    name: str

    async def start(self, clock: Clock) -> None:
        """Acquire shared resources (idempotent)."""
        ...

    async def aclose(self) -> None:
        """Release them (idempotent)."""
        ...
