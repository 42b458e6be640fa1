"""WS /ws through a real server: binary linear16 in and out, JSON events, garbage, barge-in."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.transports.transport_helpers import echo_server, tone, tone_power, wait_until, ws_url

RATE = 16000
FRAME_BYTES = 640  # 20 ms of PCM16 at 16 kHz


@dataclass
class Browser:
    """A page's side of /ws: records binary audio and JSON events with arrival times."""

    ws: ClientConnection
    audio: list[tuple[float, bytes]] = field(default_factory=list)
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    async def read(self) -> None:
        try:
            async for message in self.ws:
                now = time.monotonic()
                if isinstance(message, bytes):
                    self.audio.append((now, message))
                else:
                    self.events.append((now, json.loads(message)))
        except ConnectionClosed:
            pass

    def of(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        return [
            e
            for _, e in self.events
            if e.get("type") == kind and all(e.get(k) == v for k, v in match.items())
        ]

    async def speak(self, pcm: bytes, chunk: int = 1001) -> float:
        """Send PCM16 16 kHz in odd-sized pieces at real time; returns when the last piece left."""
        t0 = time.monotonic()
        for i, off in enumerate(range(0, len(pcm), chunk)):
            await asyncio.sleep(max(0.0, t0 + off / (2 * RATE) - time.monotonic()))
            await self.ws.send(pcm[off : off + chunk])
            del i
        return time.monotonic()


def silence(seconds: float) -> bytes:
    return bytes(2 * int(RATE * seconds))


async def test_browser_round_trip_audio_and_events() -> None:
    async with echo_server() as (server, _factory, state), connect(await ws_url(server)) as ws:
        page = Browser(ws)
        reader = asyncio.create_task(page.read())
        try:
            await ws.send(json.dumps({"type": "start", "caller": "browser-1"}))
            await wait_until(lambda: bool(page.of("started")))
            spoke_until = await page.speak(silence(0.1) + tone(0.5) + silence(0.5))
            await wait_until(lambda: bool(page.of("latency")) and bool(page.audio), timeout=5)
            await wait_until(lambda: time.monotonic() - page.audio[-1][0] > 0.3, timeout=5)

            frames = [(t, a) for t, a in page.audio if t > spoke_until - 0.5]
            assert frames and all(len(a) == FRAME_BYTES for _, a in frames), "20 ms of 16 kHz PCM16 each"
            span = frames[-1][0] - frames[0][0]
            assert 0.017 < span / (len(frames) - 5) < 0.03, "paced at real time after a 100 ms lead"
            reply = b"".join(a for _, a in frames)
            assert tone_power(reply, RATE, 440) > 20 * tone_power(reply, RATE, 1000)

            user = page.of("transcript", role="user", final=True)
            agent = page.of("transcript", role="agent", final=True)
            assert user and user[0]["text"].endswith("s of speech]")
            assert agent and agent[0]["text"].startswith("echo 1:")
            latency = page.of("latency")[0]
            assert latency["turn"] == 1 and latency["v2v_ms"] > 250
            call_id = page.of("started")[0]["call_id"]
            assert call_id in state.calls.calls

            await ws.send(json.dumps({"type": "stop"}))
            await asyncio.wait_for(reader, 5)
            assert ws.close_code == 1000
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        await wait_until(lambda: len(state.calls) == 0)


async def test_browser_garbage_dtmf_barge_in_and_oversize() -> None:
    async with echo_server() as (server, _factory, state), connect(await ws_url(server)) as ws:
        page = Browser(ws)
        reader = asyncio.create_task(page.read())
        try:
            await page.speak(silence(0.1))  # audio first: the call starts without a 'start' message
            await wait_until(lambda: bool(page.of("started")))
            for junk in (
                "not json",
                json.dumps({"type": "bogus"}),
                json.dumps({"type": "dtmf", "digit": "X"}),
            ):
                await ws.send(junk)
            await wait_until(lambda: len(page.of("error")) == 3)

            await ws.send(json.dumps({"type": "dtmf", "digit": "7"}))
            await wait_until(lambda: bool(page.of("transcript", role="agent", text="you pressed 7")))
            await wait_until(lambda: bool(page.audio) and time.monotonic() - page.audio[-1][0] > 0.2)
            tone_reply = b"".join(a for _, a in page.audio)
            assert tone_power(tone_reply, RATE, 852) > 10 * tone_power(tone_reply, RATE, 697)

            spoke_until = await page.speak(tone(1.5) + silence(0.55))
            await wait_until(lambda: any(t > spoke_until - 0.3 for t, _ in page.audio), timeout=5)
            onset = time.monotonic()
            await page.speak(tone(0.6, freq=600))
            await wait_until(lambda: bool(page.of("interrupt")), timeout=5)
            interrupt_at = next(t for t, e in page.events if e["type"] == "interrupt")
            assert onset < interrupt_at < onset + 1.5
            assert len(page.of("interrupt")) == 1
            assert not [t for t, _ in page.audio if interrupt_at + 0.05 < t < interrupt_at + 0.3]

            await ws.send(bytes(70_000))  # over max_message_bytes: closed cleanly
            await asyncio.wait_for(reader, 5)
            assert ws.close_code == 1009
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        await wait_until(lambda: len(state.calls) == 0)
        assert state.calls.failed == 0
