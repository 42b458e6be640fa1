"""Which graph serves the call: the Realtime branch, or (after a failure) the cascaded one.

``ModeRouter`` sits right after the transport's input. While ``realtime`` it sends the
caller's frames to the Realtime processor; ``fall_back`` switches every later frame to
the cascaded branch (VAD → STT → … → TTS) on the same call and transport, runs the
``handoffs`` (the pipeline's hooks that give that branch the conversation so far, e.g.
``DialoguePolicy.take_over``), then injects frames (a bridge line to speak) at the head
of that branch, in order with the audio.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from voiceflow.core.nodes import Router
from voiceflow.frames import Frame

__all__ = ["ModeRouter"]

REALTIME = "realtime"
CASCADE = "cascade"


class ModeRouter(Router):
    def __init__(self, *, name: str | None = None) -> None:
        super().__init__([(REALTIME, self._is_realtime)], default=CASCADE, name=name or "mode")
        self.realtime = True
        self.reason: str | None = None
        #: awaited once, at the switch, before any frame reaches the cascaded branch
        self.handoffs: list[Callable[[], Awaitable[None]]] = []
        self._switching = False

    def _is_realtime(self, frame: Frame) -> bool:
        return self.realtime

    async def fall_back(self, reason: str, *frames: Frame) -> None:
        """From now on the cascaded branch serves the call; ``frames`` go to it first."""
        if not self.realtime or self._switching:
            return
        self._switching = True  # frames meanwhile still go to the (failed, silent) realtime branch
        for handoff in self.handoffs:
            await handoff()
        self.realtime = False
        self.reason = reason
        target = self.branches[CASCADE]
        for frame in frames:
            if not target.queue.offer(frame):
                await target.queue.put(frame)
