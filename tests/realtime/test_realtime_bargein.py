"""Barge-in on the realtime agent over a real aiortc peer and the browser WebSocket.

Talking over the agent's answer cancels the response, empties the output (the page gets
``interrupt``) and truncates the assistant item at what the caller actually heard: on
WebRTC the track's clock (the 20 ms frames handed to the peer), on the browser socket the
paced output's clock. Each test counts the heard audio on the caller's side and compares
it with the ``conversation.item.truncate`` the fake recorded (within 40 ms): the page
plays the answer's chunks at real time from the first one until the interrupt; the aiortc
peer counts the 20 ms frames it was handed from the answer's first audible one (plus the
answer's leading silence as the fake sent it) to the last before the track fell silent.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import numpy as np
from websockets.asyncio.client import connect

from tests.realtime.helpers import eventually, realtime_agent, realtime_pipeline
from tests.transports.test_browser_ws import Browser
from tests.transports.transport_helpers import ws_url
from tests.webrtc.webrtc_helpers import ClientPeer, live_server, speech_48k
from voiceflow.sim.speech import synthesize
from voiceflow.testing.fakes.openai_realtime import FakeRealtimeServer

HOURS = "What time do you close on Saturday?"
OVER = "Sorry, one more thing."
AUDIBLE = 0.01  # RMS of a 20 ms window that counts as sound
SILENT = 1e-4  # RMS below which a frame is the idle track (Piper's pauses between words are above)


def _lead_silence_ms(fake: FakeRealtimeServer, item_id: str) -> float:
    """Ms of the item's audio (24 kHz PCM, as the fake sent it) before its first audible 20 ms."""
    pcm = np.frombuffer(bytes(fake.sent_audio[item_id]), "<i2").astype(np.float32) / 32768
    win = 480
    for n in range(len(pcm) // win):
        w = pcm[n * win : (n + 1) * win]
        if float(np.sqrt(np.mean(w * w))) >= AUDIBLE:
            return n * 20.0
    return 0.0


async def test_barge_in_over_webrtc_truncates_at_the_track_clock(tmp_path: Path) -> None:
    async with FakeRealtimeServer(api_key="test-key") as fake:
        pipeline = realtime_pipeline(tmp_path, fake)
        async with live_server(pipeline) as server, httpx.AsyncClient(timeout=600) as http:  # type: ignore[arg-type]
            client = ClientPeer()
            try:
                await client.connect(http, server.url)
                await client.wait_connected()
                await client.wait_event(lambda e: e.get("type") == "speaking" and not e["active"], timeout=30)
                client.mic.say(speech_48k(HOURS))
                user = await client.wait_event(
                    lambda e: e.get("type") == "transcript" and e.get("role") == "user", timeout=60
                )
                start = await client.wait_event(
                    lambda e: (
                        e.get("type") == "speaking" and e["active"] and e["received_at"] > user["received_at"]
                    ),
                    timeout=60,
                )
                await asyncio.sleep(1.5)
                client.mic.say(speech_48k(OVER))
                interrupt = await client.wait_event(lambda e: e.get("type") == "interrupt", timeout=15)
                cut = await fake.wait_truncations(1)
                # the peer's side: every frame of the answer it was handed — from the first audible one to
                # the last before the track fell digitally silent (the cut; frames in flight and in the
                # client's jitter buffer at the interrupt arrive just after it)
                await asyncio.sleep(0.6)
                frames = [
                    (len(a) / 48000 * 1000, level)
                    for (t, level), a in zip(client.agent_levels, client.agent_audio, strict=True)
                    if start["received_at"] - 0.5 <= t <= interrupt["received_at"] + 0.5
                ]
                first = next(i for i, (_, level) in enumerate(frames) if level >= AUDIBLE)
                last = max(i for i, (_, level) in enumerate(frames) if level > SILENT)
                heard = _lead_silence_ms(fake, cut.item_id) + sum(ms for ms, _ in frames[first : last + 1])
                assert abs(cut.audio_end_ms - heard) <= 40, (cut, heard)
                assert 500 < cut.audio_end_ms < cut.audio_ms - 500
                client.hang_up()
                await server.idle(timeout=15)
            finally:
                await client.close()


async def test_barge_in_over_the_browser_socket_truncates_at_the_played_position(tmp_path: Path) -> None:
    async with FakeRealtimeServer(api_key="test-key") as fake, realtime_agent(tmp_path, fake) as agent:
        async with connect(await ws_url(agent.server)) as ws:
            page = Browser(ws)
            reader = asyncio.create_task(page.read())
            try:
                await page.speak(bytes(3200))
                await eventually(lambda: page.of("transcript", role="agent"), timeout=30, what="the greeting")
                await eventually(lambda: time.monotonic() - page.audio[-1][0] > 0.3, what="its end")
                await page.speak(synthesize(HOURS, 16000) + bytes(32000))
                await eventually(lambda: page.of("transcript", role="user"), timeout=60, what="the question")
                asked = next(t for t, e in page.events if e.get("role") == "user")
                await eventually(lambda: page.audio[-1][0] > asked, timeout=60, what="the answer")
                await asyncio.sleep(1.5)
                await page.speak(synthesize(OVER, 16000) + bytes(16000))
                await eventually(lambda: page.of("interrupt"), timeout=15, what="the interrupt")
                interrupt_at = next(t for t, e in page.events if e["type"] == "interrupt")
                cut = await fake.wait_truncations(1)
                # the page plays what it receives at real time; the answer's audio (its leading silence
                # included: the paced output sends it all) starts with the first chunk after the question
                chunks = [(t, a) for t, a in page.audio if t > asked]
                play_at, played = chunks[0][0], 0.0
                for t, a in chunks:
                    play_at = max(play_at, t)
                    if play_at >= interrupt_at:
                        break
                    seconds = len(a) / 2 / 16000
                    played += min(seconds, interrupt_at - play_at)
                    play_at += seconds
                heard = played * 1000
                assert abs(cut.audio_end_ms - heard) <= 40, (cut, heard)
                assert 500 < cut.audio_end_ms < cut.audio_ms - 500
            finally:
                await ws.close()
                await asyncio.wait_for(reader, 5)
