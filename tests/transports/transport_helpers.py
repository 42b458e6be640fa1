"""Shared by the transport and server tests: a real server running the echo pipeline, and audio helpers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import httpx
import numpy as np

from pipelines.echo import EchoAgent, EnergyTurnDetector
from voiceflow.calls import CallContext
from voiceflow.commands.serve import RunningServer, serve_in_background
from voiceflow.frames import BotStartedSpeaking, BotStoppedSpeaking, Frame, Metrics, PlayoutReport
from voiceflow.graphs import Graph
from voiceflow.processors import Processor, on
from voiceflow.processors.audio.bargein import BargeIn
from voiceflow.server.app import ServerSettings, ServerState, create_app
from voiceflow.transports.playout import PacedAudioOutput
from voiceflow.transports.websocket.input import PcmInput

ROUTES = ("voiceflow.server.health", "voiceflow.server.twilio_routes", "voiceflow.server.ws_routes")
F = TypeVar("F", bound=Frame)


class UpstreamTap(Processor):
    """Records, with clock times, what the output reports upstream (bot speaking, playout, metrics)."""

    def __init__(self, *, name: str = "tap") -> None:
        super().__init__(name=name)
        self.frames: list[tuple[float, Frame]] = []

    @on(BotStartedSpeaking, BotStoppedSpeaking, PlayoutReport, Metrics, upstream=True)
    async def record(self, frame: Frame) -> None:
        self.frames.append((self.now(), frame))
        await self.push_up(frame)

    def of(self, kind: type[F]) -> list[tuple[float, F]]:
        return [(t, f) for t, f in self.frames if isinstance(f, kind)]


@dataclass
class CallRecord:
    ctx: CallContext
    input: PcmInput
    output: PacedAudioOutput
    tap: UpstreamTap
    echo: EchoAgent


@dataclass
class EchoFactory:
    """The echo pipeline with an upstream tap, remembering each call's processors."""

    barge_in_secs: float = 0.2
    calls: dict[str, CallRecord] = field(default_factory=dict)

    def __call__(self, ctx: CallContext, input: Processor, output: Processor) -> Graph:
        tap, echo = UpstreamTap(), EchoAgent(name="echo")
        self.calls[ctx.call_id] = CallRecord(
            ctx, cast(PcmInput, input), cast(PacedAudioOutput, output), tap, echo
        )
        turns = EnergyTurnDetector(name="turns")
        barge_in = BargeIn(name="barge_in", min_speech_secs=self.barge_in_secs)
        return Graph(f"echo:{ctx.call_id}").chain(input, tap, turns, barge_in, echo, output)


@asynccontextmanager
async def echo_server(
    factory: Any = None, **settings: Any
) -> AsyncIterator[tuple[RunningServer, EchoFactory, ServerState]]:
    """A real uvicorn server on a free port serving the Twilio and browser routes."""
    echo = factory if factory is not None else EchoFactory()
    app = create_app(echo, ServerSettings(**settings), routes=ROUTES)
    limit = settings.get("max_message_bytes", 64 * 1024)
    async with serve_in_background(app, max_message_bytes=limit) as server:
        yield server, echo, app.state.voiceflow


async def ws_url(server: RunningServer, path: str = "/ws") -> str:
    """The browser socket's URL with the page's short-lived token (``GET /token``)."""
    async with httpx.AsyncClient() as http:
        token = (await http.get(f"{server.http_url}/token")).json()["token"]
    return server.ws_url(f"{path}?token={token}")


def tone(seconds: float, freq: float = 440.0, rate: int = 16000, amplitude: float = 0.3) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2").tobytes()


def tone_power(pcm16: bytes, rate: int, freq: float) -> float:
    """Relative power of ``freq`` in ``pcm16`` (FFT magnitude at the nearest bin)."""
    x = np.frombuffer(pcm16, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(spectrum[round(freq * x.size / rate)])


async def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    import asyncio

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.01)
