"""Shared by the WebRTC and browser tests: a live server, a real aiortc client peer, test pipelines.

``live_server`` runs the real FastAPI app under uvicorn on 127.0.0.1 (port 0) in
this event loop. ``ClientPeer`` is a real aiortc peer: its microphone track
plays PCM16 at real time (then silence), it records the agent's audio track and
collects the JSON events of the "events" data channel.
"""

from __future__ import annotations

import asyncio
import fractions
import gc
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import uvicorn
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame
from fastapi import FastAPI

from voiceflow.calls import CallContext, CallSession, PipelineFactory
from voiceflow.config import GuardSettings, SecuritySettings
from voiceflow.frames import AudioRaw, TextToSpeak, Transcript, TTSAudio, UserStoppedSpeaking
from voiceflow.graphs import Graph
from voiceflow.processors import Processor, on
from voiceflow.processors.audio.resample import StreamResampler
from voiceflow.processors.tts import TTSProcessor
from voiceflow.server.app import ServerSettings, create_app
from voiceflow.transports.webrtc import WebRTCTransport

RATE = 48000
FRAME = 960  # 20 ms at 48 kHz


# -- the server ----------------------------------------------------------------------------------
@dataclass
class LiveServer:
    app: FastAPI
    url: str

    @property
    def transport(self) -> WebRTCTransport:
        transport: WebRTCTransport = self.app.state.webrtc
        return transport

    @property
    def live_calls(self) -> int:
        return len(self.app.state.voiceflow.calls)

    async def session(self, peer_id: str | None, timeout: float = 10.0) -> CallSession:
        """The peer's call, once its media flows and the pipeline is built."""
        deadline = time.monotonic() + timeout
        while (found := self.app.state.voiceflow.calls.calls.get(f"webrtc-{peer_id}")) is None:
            assert time.monotonic() < deadline, f"no call for peer {peer_id}"
            await asyncio.sleep(0.01)
        session: CallSession = found
        return session

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until every peer is released and every call closed."""
        deadline = time.monotonic() + timeout
        while self.transport.live or self.live_calls:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"server not idle: {self.transport.live} peer(s), {self.live_calls} call(s) live"
                )
            await asyncio.sleep(0.02)


@asynccontextmanager
async def live_server(
    factory: PipelineFactory, settings: ServerSettings | None = None, guard: GuardSettings | None = None
) -> AsyncIterator[LiveServer]:
    """The whole app on a free port; admission bounds and the per-IP request limit wide enough for
    batches (tests/guard and tests/security test them)."""
    guard = guard or GuardSettings(max_calls=128, max_calls_per_address=128, max_pending_offers=128)
    app = create_app(factory, settings, guard=guard, security=SecuritySettings(rate_limit_requests=0))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(), name="uvicorn")
    try:
        while not server.started:
            if task.done():
                await task
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield LiveServer(app, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await task


async def offer_headers(http: httpx.AsyncClient, url: str) -> dict[str, str]:
    """What the page sends with its offer: JSON and the short-lived token from ``GET /token``."""
    token = (await http.get(f"{url}/token")).json()["token"]
    return {"content-type": "application/json", "x-voiceflow-token": token}


# -- pipelines -------------------------------------------------------------------------------------
class Loopback(Processor):
    """Sends the caller's audio straight back as agent audio (the lightest possible call)."""

    produces = (TTSAudio,)

    @on(AudioRaw)
    async def audio(self, frame: AudioRaw) -> None:
        await self.push(TTSAudio(audio=frame.audio, sample_rate=frame.sample_rate, utterance_id=1))


def loopback_factory(ctx: CallContext, input: Processor, output: Processor) -> Graph:
    """For connect/disconnect cycles: no models, the peer hears itself."""
    return Graph(f"loopback-{ctx.call_id}").chain(input, Loopback(name="loopback"), output)


class Replier(Processor):
    """Answers each caller turn with "You said <final transcript>."."""

    produces = (TextToSpeak,)

    def __init__(self, *, name: str = "replier") -> None:
        super().__init__(name=name)
        self.heard = ""

    @on(Transcript)
    async def transcript(self, frame: Transcript) -> None:
        if frame.final:
            self.heard = frame.text
        await self.push(frame)

    @on(UserStoppedSpeaking)
    async def stopped(self, frame: UserStoppedSpeaking) -> None:
        await self.push(frame)
        if self.heard.strip():
            await self.push(TextToSpeak(text=f"You said {self.heard}."))
        self.heard = ""


def agent_factory(ctx: CallContext, input: Processor, output: Processor) -> Graph:
    """A real offline mini-agent: Silero VAD → pocketsphinx → endpointer → reply → Piper."""
    from voiceflow.processors.audio import Endpointer, VADProcessor
    from voiceflow.processors.stt import STTProcessor
    from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine
    from voiceflow.services.tts.piper import PiperEngine

    return Graph(f"agent-{ctx.call_id}").chain(
        input,
        VADProcessor(name="vad"),
        STTProcessor(PocketsphinxEngine(), name="stt"),
        Endpointer(name="endpointer"),
        Replier(),
        TTSProcessor(PiperEngine(), name="tts"),
        output,
    )


def speech_48k(text: str) -> bytes:
    """Piper speech for ``text`` as 48 kHz PCM16 (cached on disk by the speech helper)."""
    from voiceflow.sim.speech import synthesize

    return StreamResampler(16000, RATE).process(synthesize(text, 16000), last=True)


# -- the client peer -----------------------------------------------------------------------------------
class Microphone(MediaStreamTrack):
    """Plays queued 48 kHz mono PCM16 (``say``), silence otherwise; paced at real time."""

    kind = "audio"

    def __init__(self, pcm: bytes = b"", lead_s: float = 0.3) -> None:
        super().__init__()
        self.pending = bytearray(bytes(int(lead_s * RATE) * 2) + pcm if pcm else b"")
        self.start: float | None = None
        self.pts = 0
        #: wall-clock time the latest ``say`` started playing
        self.said_at: float | None = None
        self._said = False

    @property
    def done(self) -> bool:
        return not self.pending

    def say(self, pcm: bytes) -> None:
        """Speak ``pcm`` from the next frame on (after anything still queued)."""
        self.pending += pcm
        self._said = True

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self.start is None:
            self.start = time.monotonic()
        else:
            self.pts += FRAME
            await asyncio.sleep(max(0.0, self.start + self.pts / RATE - time.monotonic()))
        chunk = bytes(self.pending[: 2 * FRAME])
        del self.pending[: 2 * FRAME]
        if chunk and self._said:
            self._said = False
            self.said_at = time.monotonic()
        chunk += bytes(2 * FRAME - len(chunk))
        frame = AudioFrame.from_ndarray(
            np.frombuffer(chunk, "<i2").reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = RATE
        frame.pts = self.pts
        frame.time_base = fractions.Fraction(1, RATE)
        return frame


class ClientPeer:
    """A real aiortc peer calling the server, as a browser would."""

    def __init__(self, speech: bytes = b"", *, channel: bool = True) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = Microphone(speech)
        self.pc.addTrack(self.mic)
        self.events: list[dict[str, Any]] = []
        self.event_arrived = asyncio.Event()
        self.agent_audio: list[np.ndarray] = []
        #: (arrival time, RMS level) of each agent audio frame received
        self.agent_levels: list[tuple[float, float]] = []
        self.peer_id: str | None = None
        self._reader: asyncio.Task[None] | None = None
        self.channel = self.pc.createDataChannel("events") if channel else None
        if self.channel is not None:
            self.channel.on("message", self._on_message)
        self.pc.on("track", self._on_track)

    def _on_message(self, message: str | bytes) -> None:
        event = json.loads(message)
        event["received_at"] = time.monotonic()
        self.events.append(event)
        self.event_arrived.set()

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self._reader is None:
            self._reader = asyncio.create_task(self._read(track), name="client-audio")

    async def _read(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, AudioFrame)
            data = frame.to_ndarray().reshape(-1, len(frame.layout.channels)).mean(axis=1)
            samples = data.astype(np.float32) / 32768.0
            self.agent_audio.append(samples)
            self.agent_levels.append((time.monotonic(), float(np.sqrt(np.mean(samples * samples)))))

    async def offer(self) -> dict[str, str]:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return {"sdp": self.pc.localDescription.sdp, "type": self.pc.localDescription.type}

    async def connect(self, http: httpx.AsyncClient, url: str) -> dict[str, str]:
        headers = await offer_headers(http, url)
        response = await http.post(f"{url}/webrtc/offer", json=await self.offer(), headers=headers)
        assert response.status_code == 200, response.text
        answer: dict[str, str] = response.json()
        self.peer_id = answer["peer_id"]
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        return answer

    async def wait_connected(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.pc.connectionState != "connected":
            assert time.monotonic() < deadline, f"client stuck in {self.pc.connectionState}"
            await asyncio.sleep(0.01)

    async def wait_event(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 20.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if match(event):
                    return event
            seen = len(self.events)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching event within {timeout} s; got {self.events}")
            self.event_arrived.clear()
            try:
                await asyncio.wait_for(self.event_arrived.wait(), remaining)
            except TimeoutError:
                pass

    def hang_up(self) -> None:
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(json.dumps({"type": "hangup"}))

    async def close(self) -> None:
        await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    def audio_rms(self) -> float:
        if not self.agent_audio:
            return 0.0
        x = np.concatenate(self.agent_audio)
        return float(np.sqrt(np.mean(x * x)))


def live_peer_connections(*, open_only: bool = False) -> int:
    """RTCPeerConnection objects still alive in this process (after a full collection).

    ``open_only`` counts only connections not yet closed (for tests where a captured
    log record's traceback legitimately keeps a closed one referenced).
    """
    gc.collect()
    return sum(
        1
        for obj in gc.get_objects()
        if type(obj) is RTCPeerConnection and not (open_only and obj.connectionState == "closed")
    )


def open_sockets() -> dict[str, int]:
    """This process's open sockets by protocol ("udp", "tcp", "other"), read from /proc."""
    inodes: set[str] = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    counts = {"udp": 0, "tcp": 0, "other": 0}
    for proto in ("udp", "udp6", "tcp", "tcp6"):
        with open(f"/proc/net/{proto}") as table:
            for line in table.readlines()[1:]:
                if line.split()[9] in inodes:
                    counts[proto.rstrip("6")] += 1
                    inodes.discard(line.split()[9])
    counts["other"] = len(inodes)
    return counts
