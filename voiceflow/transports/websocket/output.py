"""The browser socket's output: paced linear16 audio plus JSON events for the page.

``WebSocketOutput`` is a ``PacedAudioOutput`` writing binary frames of PCM16
16 kHz mono (20 ms each, at real time) to a ``WebSocketWire``; a browser does
not echo marks, so played position follows the pacing clock. JSON events:

* ``{"type": "transcript", "role": "user", "text", "final"}`` for every
  ``Transcript`` that reaches the output (interim and final: after the
  Endpointer, the whole turn's text so far);
* ``{"type": "transcript", "role": "agent", "text", "final"}`` for agent text:
  ``TextToSpeak`` (final), ``LLMToken`` (interim, accumulated) and
  ``LLMResponseEnd`` (final). The TTS consumes these frames, so they rarely
  reach the sink: the output watches them wherever they are pushed in the run
  (an observer), each frame once by id;
* ``{"type": "interrupt"}`` on barge-in, ``{"type": "latency", "turn", "v2v_ms"}``
  when the first agent frame of a reply is written.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from voiceflow.calls import PIPELINE_RATE
from voiceflow.core.observers import PushEvent
from voiceflow.frames import Frame, Interrupt, LLMResponseEnd, LLMToken, Start, TextToSpeak, Transcript
from voiceflow.processors import on
from voiceflow.transports.playout import PacedAudioOutput

__all__ = ["WebSocketOutput", "WebSocketWire"]


class BrowserSocket(Protocol):
    async def send_text(self, data: str) -> None: ...

    async def send_bytes(self, data: bytes) -> None: ...


class WebSocketWire:
    """Binary PCM16 frames and JSON text events on one socket, one write at a time."""

    sample_rate = PIPELINE_RATE
    echoes_marks = False

    def __init__(self, socket: BrowserSocket) -> None:
        self.socket = socket
        self._closed = False
        self._lock = asyncio.Lock()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True

    async def send_audio(self, pcm16: bytes) -> None:
        async with self._lock:
            await self.socket.send_bytes(pcm16)

    async def send_mark(self, name: str) -> None:
        """The page does not echo marks: played position follows the pacing clock."""

    async def send_clear(self) -> None:
        """Cleared by the ``interrupt`` event the output sends right after."""

    async def send_event(self, event: dict[str, Any]) -> None:
        async with self._lock:
            await self.socket.send_text(json.dumps(event))


class _AgentText:
    """Watches agent text anywhere in the run (the TTS swallows it before the sink)."""

    def __init__(self, output: WebSocketOutput) -> None:
        self.output = output

    async def on_push(self, event: PushEvent) -> None:
        if not event.upstream:
            await self.output.agent_text(event.frame)


class WebSocketOutput(PacedAudioOutput):
    """Sink of a browser call's graph: paced PCM16 16 kHz plus transcript/latency events."""

    def __init__(self, wire: WebSocketWire, *, name: str | None = None, **options: Any) -> None:
        super().__init__(wire, name=name or "ws_out", **options)
        self._seen: deque[int] = deque(maxlen=512)
        self._agent_partial = ""
        self._relays: dict[type[Frame], Callable[[Any], Awaitable[None]]] = {
            TextToSpeak: self._say_text,
            LLMToken: self._say_token,
            LLMResponseEnd: self._say_end,
        }

    async def on_start(self, frame: Start) -> None:
        await super().on_start(frame)
        self.run.add_observer(_AgentText(self))

    @on(Transcript)
    async def transcript(self, frame: Transcript) -> None:
        await self._event({"type": "transcript", "role": "user", "text": frame.text, "final": frame.final})
        await self.push(frame)

    @on(TextToSpeak, LLMToken)
    async def agent_frame(self, frame: TextToSpeak | LLMToken) -> None:
        await self.agent_text(frame)
        await self.push(frame)

    @on(LLMResponseEnd)
    async def response_end(self, frame: LLMResponseEnd) -> None:
        await self.agent_text(frame)
        await super().response_end(frame)

    async def agent_text(self, frame: Frame) -> None:
        """Relay one agent text frame to the page, once (it may be seen both pushed and arriving)."""
        relay = self._relays.get(type(frame))
        if relay is None or frame.id in self._seen or frame.generation < self.generation:
            return
        self._seen.append(frame.id)
        await relay(frame)

    async def _say_text(self, frame: TextToSpeak) -> None:
        await self._agent_event(frame.text, final=True)

    async def _say_token(self, frame: LLMToken) -> None:
        self._agent_partial += frame.text
        await self._agent_event(self._agent_partial, final=False)

    async def _say_end(self, frame: LLMResponseEnd) -> None:
        if self._agent_partial:
            text, self._agent_partial = self._agent_partial, ""
            await self._agent_event(text, final=True)

    async def _agent_event(self, text: str, *, final: bool) -> None:
        await self._event({"type": "transcript", "role": "agent", "text": text.strip(), "final": final})

    async def on_interrupt(self, frame: Interrupt) -> None:
        self._agent_partial = ""
        await super().on_interrupt(frame)
