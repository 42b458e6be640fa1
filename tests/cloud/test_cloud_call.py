"""Whole calls through ``pipelines/cloud.py`` over the real ``/twilio/media`` WebSocket: Piper
speech at real time as 8 kHz mu-law → Deepgram's fake (it hears with pocketsphinx) → our
endpointer → intent router → the LLM agent against each provider's fake (its model reads the
tools and the caller's words) → a tool's effect in the SQLite file → Piper's spoken answer back
on the line. And barge-in: the caller talking over a streaming answer closes the LLM request
(the fake sees it closed) and the rest of that answer never reaches the TTS."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from tests.cloud.cloud_call import LLMS, cloud_agent
from voiceflow.sim.phone_line import PhoneLine
from voiceflow.sim.speech import normalize_words, synthesize
from voiceflow.sim.twilio_client import TwilioMediaClient
from voiceflow.testing.fakes.anthropic_server import FakeAnthropicServer
from voiceflow.testing.fakes.llm_server import Say
from voiceflow.testing.fakes.openai_server import FakeOpenAIServer, TextReply


@pytest.mark.parametrize("provider", LLMS)
async def test_speech_in_tool_effect_in_sqlite_spoken_answer_out(provider: str, tmp_path: Path) -> None:
    async with cloud_agent(provider, tmp_path) as agent:
        async with TwilioMediaClient(agent.url, caller="+15550100009") as call, PhoneLine(call) as line:
            watcher = await agent.watchers.get(call.call_sid)
            spoken = await line.say(synthesize("My rating is five.", 16000), 16000)
            reply = await call.wait_for_reply(after=spoken.voiced_end_at, timeout=60)
            turn = watcher.take()
        bodies = agent.llm_bodies()
        session = agent.deepgram.sessions[0]
        spoke = list(agent.tts.texts)
    assert {"rating", "five"} <= set(normalize_words(" ".join(turn.heard))), turn.heard
    assert any(t.startswith("collect_feedback(rating=5") for t in turn.tools), turn.tools
    with sqlite3.connect(tmp_path / "voiceflow.db") as db:
        assert db.execute("SELECT rating FROM feedback").fetchall() == [(5,)]
    assert reply.frames > 25  # a spoken answer came back over the phone line
    assert any(t.startswith("Done:") for t in spoke), spoke  # the model's answer, read from the tool result
    # Deepgram got the call's audio as the adapter documents; the LLM got the tools, then the tool result
    assert session.param("model") == "nova-2"
    assert (session.param("encoding"), session.param("sample_rate")) == ("mulaw", "8000")  # as Twilio sent it
    assert session.audio_seconds > 1.0
    # one byte a sample: mu-law (the fake's resampler for its recognizer holds back a little)
    assert 0 <= session.audio_bytes / 8000 - session.audio_seconds < 0.25
    assert len(bodies) >= 2 and "collect_feedback" in str(bodies[0]) and "rating" in str(bodies[-1])


@pytest.mark.parametrize("provider", LLMS)
async def test_barge_in_closes_the_llm_request_and_stale_tokens_never_reach_the_tts(
    provider: str, tmp_path: Path
) -> None:
    async with cloud_agent(provider, tmp_path) as agent:
        first = "Sure, our store hours are long and I will read them all to you now."
        rest = ["Monday", " STALEWORD", " until", " late."]
        fake = agent.llm
        if isinstance(fake, FakeOpenAIServer):  # the first chunk is the role, the first piece the second
            fake.script(TextReply(chunks=[first, *rest], hold_after=2, release=asyncio.Event()))
        else:  # Anthropic: message_start, ping, block start, then the pieces; Gemini: pieces only
            lead = 4 if isinstance(fake, FakeAnthropicServer) else 1
            fake.script(Say(chunks=[first, *rest], hold_after=lead, release=asyncio.Event()))
        async with TwilioMediaClient(agent.url, caller="+15550100010") as call, PhoneLine(call) as line:
            watcher = await agent.watchers.get(call.call_sid)
            spoken = await line.say(synthesize("Tell me everything about your hours.", 16000), 16000)
            await call.wait_for_agent_audio(after=spoken.voiced_end_at, timeout=60)
            watcher.take()
            await asyncio.sleep(0.8)  # the first sentence is playing on the line
            said_from = call.clock.now()
            over = line.say(synthesize("Sorry, can I talk to a person please?", 16000), 16000)
            await call.wait_for_clear(after=said_from, timeout=15)
            record = await agent.llm.wait_finished(0, timeout=15)
            spoken_over = await over
            await call.wait_for_reply(after=spoken_over.voiced_end_at, timeout=60)
            turn = watcher.take()
        spoke = " ".join(agent.tts.texts)
    assert record.closed_by_client  # the barge-in closed the streaming request
    assert "STALEWORD" not in spoke and first.split(",")[0] in spoke
    assert any(t.startswith("transfer_to_human(") for t in turn.tools), turn.tools  # and the call went on


async def test_deepgram_can_end_the_turn_itself(tmp_path: Path) -> None:
    """``VOICEFLOW_ENDPOINTING=deepgram``: no Finalize is sent; Deepgram's speech_final ends the turn."""
    async with cloud_agent("anthropic", tmp_path, env={"VOICEFLOW_ENDPOINTING": "deepgram"}) as agent:
        async with TwilioMediaClient(agent.url, caller="+15550100011") as call, PhoneLine(call) as line:
            watcher = await agent.watchers.get(call.call_sid)
            spoken = await line.say(synthesize("My rating is five.", 16000), 16000)
            await call.wait_for_reply(after=spoken.voiced_end_at, timeout=60)
            turn = watcher.take()
            session = agent.deepgram.sessions[0]
            controls = list(session.controls)
            sent = list(session.sent)
    assert not any("Finalize" in c for c in controls)  # our endpointer did not close the utterance
    assert any(m.get("type") == "Results" and m.get("speech_final") for m in sent)
    assert {"rating", "five"} <= set(normalize_words(" ".join(turn.heard))), turn.heard
    assert len(turn.heard) == 1  # one turn, one final
    with sqlite3.connect(tmp_path / "voiceflow.db") as db:
        assert db.execute("SELECT rating FROM feedback").fetchall() == [(5,)]


async def test_every_llm_down_the_offline_policy_serves_the_call(tmp_path: Path) -> None:
    """The LLM refuses every request (a revoked key): the offline dialogue policy answers instead of a
    fixed apology line, and the caller's feedback still reaches the SQLite file."""
    async with cloud_agent("anthropic", tmp_path, env={"ANTHROPIC_API_KEY": "sk-ant-revoked"}) as agent:
        async with TwilioMediaClient(agent.url, caller="+15550100012") as call, PhoneLine(call) as line:
            watcher = await agent.watchers.get(call.call_sid)
            spoken = await line.say(synthesize("I'd like to leave some feedback.", 16000), 16000)
            await call.wait_for_reply(after=spoken.voiced_end_at, timeout=60)
            asked = watcher.take()
            pressed = call.clock.now()
            await call.send_dtmf("5")  # the offline policy asked: its keys answer it
            await call.wait_for_reply(after=pressed, timeout=60)
            first = watcher.take()
            spoken = await line.say(synthesize("No.", 16000), 16000)
            await call.wait_for_reply(after=spoken.voiced_end_at, timeout=60)
            second = watcher.take()
        requests = len(agent.llm.requests)
    # refused (401, bad key) once: its breaker stays open for the rest of the call, it is not asked again
    assert requests == 1
    assert "scale of 1 to 5" in " ".join(asked.said), asked.said
    assert "anything you'd like to add" in " ".join(first.said).lower(), first.said
    assert any(t.startswith("collect_feedback(rating=5") for t in second.tools), second.tools
    with sqlite3.connect(tmp_path / "voiceflow.db") as db:
        assert db.execute("SELECT rating FROM feedback").fetchall() == [(5,)]


async def test_deepgram_ending_turns_dies_and_the_fallbacks_turns_still_end(tmp_path: Path) -> None:
    """``VOICEFLOW_ENDPOINTING=deepgram``, and Deepgram's socket is cut mid-sentence: the offline
    recognizer takes the stream over and, since it ends no utterance by itself, the caller's pauses
    finalize again: this turn and the next still end and are answered."""
    async with cloud_agent("anthropic", tmp_path, env={"VOICEFLOW_ENDPOINTING": "deepgram"}) as agent:
        deepgram = agent.deepgram
        deepgram.drop_after_audio_s = 0.6  # inside "My rating is five."
        async with TwilioMediaClient(agent.url, caller="+15550100013") as call, PhoneLine(call) as line:
            watcher = await agent.watchers.get(call.call_sid)
            await deepgram.wait_until(lambda: len(deepgram.sessions) == 1)
            for _ in range(8):
                deepgram.reject_next(401)  # and its reconnects are refused: the key was revoked
            spoken = await line.say(synthesize("My rating is five.", 16000), 16000)
            await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
            first = watcher.take()
            spoken = await line.say(synthesize("Can I talk to a person please?", 16000), 16000)
            reply = await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
            second = watcher.take()
        sessions = list(deepgram.sessions)
    assert sessions[0].dropped_by_server and len(sessions) == 1  # Deepgram heard no more of the call
    assert len(first.heard) == 1 and "five" in normalize_words(first.heard[0]), first.heard
    assert any(t.startswith("collect_feedback(rating=5") for t in first.tools), first.tools
    # the next turn ends too (what pocketsphinx makes of it is its own business) and is answered
    assert len(second.heard) == 1 and second.heard[0].strip() and reply.frames > 10, second
