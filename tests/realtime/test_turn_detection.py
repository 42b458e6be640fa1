"""server_vad and semantic_vad sent as the GA session documents them, and told apart by the fake.

``server_vad`` ends a turn after its silence whatever was said; ``semantic_vad`` ends a
finished-sounding turn at a short pause and holds one that trails off ("... and") up to
the eagerness's maximum wait (``high``: 2 s of input audio). Speech is Piper's, heard by
the fake's Silero VAD and pocketsphinx through the real SDK socket.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pipelines.realtime import turn_detection
from voiceflow.config import Config
from voiceflow.core.clock import MonotonicClock
from voiceflow.services.realtime.engine import SessionConfig, SpeechStopped
from voiceflow.services.realtime.openai import OpenAIRealtimeEngine, session_payload
from voiceflow.sim.speech import synthesize
from voiceflow.testing.fakes.openai_realtime import FakeRealtimeServer

FINISHED = "Where is my order one zero zero two?"
TRAILING = "I want to check on my order and"


def _config(td: dict[str, Any]) -> SessionConfig:
    return SessionConfig("Be brief.", "marin", "audio/pcm", "audio/pcm", td)


def test_the_session_update_carries_each_modes_own_parameters() -> None:
    server = turn_detection(Config.from_env({"VOICEFLOW_REALTIME_TURN_DETECTION": "server_vad"}).realtime)
    semantic = turn_detection(
        Config.from_env(
            {"VOICEFLOW_REALTIME_TURN_DETECTION": "semantic_vad", "VOICEFLOW_REALTIME_EAGERNESS": "low"}
        ).realtime
    )
    sent_server = session_payload(_config(server))["audio"]["input"]["turn_detection"]
    sent_semantic = session_payload(_config(semantic))["audio"]["input"]["turn_detection"]
    assert sent_server == {
        "type": "server_vad",
        "threshold": 0.5,
        "silence_duration_ms": 500,
        "prefix_padding_ms": 300,
        "create_response": True,
        "interrupt_response": False,
    }
    # semantic_vad has no silence or threshold: the eagerness alone
    assert sent_semantic == {
        "type": "semantic_vad",
        "eagerness": "low",
        "create_response": True,
        "interrupt_response": False,
    }


async def _turn_end_gaps(fake: FakeRealtimeServer, td: dict[str, Any], text: str) -> list[int]:
    """Send ``text`` then 3 s of silence; ms of input audio between each turn's end and its decision."""
    engine = OpenAIRealtimeEngine("gpt-realtime", api_key="test-key", base_url=fake.base_url)
    await engine.start(MonotonicClock())
    session = await engine.connect(_config(td))
    try:
        audio = synthesize(text, 24000) + bytes(24000 * 2 * 3)
        before = len(fake.turn_ends)
        for i in range(0, len(audio), 960):  # 20 ms
            await session.send_audio(audio[i : i + 960])

        async def stopped() -> None:
            async for event in session.events():
                if isinstance(event, SpeechStopped):
                    return

        await asyncio.wait_for(stopped(), 30)
        return [decided - end for end, decided in fake.turn_ends[before:]]
    finally:
        await session.aclose()
        await engine.aclose()


async def test_semantic_vad_holds_a_trailing_turn_that_server_vad_ends_at_its_silence() -> None:
    async with FakeRealtimeServer(api_key="test-key") as fake:
        server = await _turn_end_gaps(fake, {"type": "server_vad", "silence_duration_ms": 500}, TRAILING)
        held = await _turn_end_gaps(fake, {"type": "semantic_vad", "eagerness": "high"}, TRAILING)
        quick = await _turn_end_gaps(fake, {"type": "semantic_vad", "eagerness": "high"}, FINISHED)
    assert len(server) == len(held) == len(quick) == 1, (server, held, quick)
    assert server[0] < 900  # the silence, and the last chunk
    assert 1900 <= held[0] < 2400  # "... and": held to high eagerness's 2 s maximum
    assert quick[0] < 700  # a finished question: high eagerness's 0.3 s pause


@pytest.mark.parametrize(
    ("td", "problem"),
    [
        ({"type": "semantic_vad", "silence_duration_ms": 200}, "Unknown parameter"),
        ({"type": "semantic_vad", "eagerness": "eager"}, "turn_detection.eagerness"),
        ({"type": "push_to_talk"}, "turn_detection.type"),
    ],
)
async def test_the_fake_rejects_what_the_service_rejects(td: dict[str, Any], problem: str) -> None:
    async with FakeRealtimeServer(api_key="test-key") as fake:
        engine = OpenAIRealtimeEngine("gpt-realtime", api_key="test-key", base_url=fake.base_url)
        await engine.start(MonotonicClock())
        session = await engine.connect(_config(td))
        try:

            async def first_error() -> str:
                async for event in session.events():
                    if getattr(event, "kind", "") == "invalid_request":
                        return str(getattr(event, "message", ""))
                return ""

            assert problem in await asyncio.wait_for(first_error(), 10)
        finally:
            await session.aclose()
            await engine.aclose()
