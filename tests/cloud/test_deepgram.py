"""The Deepgram adapter through deepgram-sdk against the fake Deepgram server, which hears the
audio with pocketsphinx: what the adapter sent (query, auth, audio, control messages), how
Deepgram's events become one final per turn, and what happens when things go wrong (a refused
key or parameters, a socket cut mid-utterance, malformed and unknown messages)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.speech.speech_helpers import wideband_cmn
from voiceflow.core.clock import MonotonicClock, VirtualClock
from voiceflow.processors.audio.codecs import ulaw_encode
from voiceflow.services.stt.deepgram import DeepgramEngine, DeepgramOptions, DeepgramStream
from voiceflow.services.stt.engine import (
    FinalText,
    InterimText,
    SpeechStarted,
    STTEvent,
    STTFailure,
    UtteranceEnd,
)
from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine
from voiceflow.sim.speech import normalize_words, synthesize
from voiceflow.testing.fakes.deepgram_server import FakeDeepgramServer

RATE = 16000
CHUNK = RATE // 50 * 2  # 20 ms of linear16
RESCHEDULE = "i need to reschedule my appointment for next tuesday"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDeepgramServer]:
    cmn = wideband_cmn()
    async with FakeDeepgramServer(api_key="dg-test", recognizer=lambda rate: _engine(rate, cmn)) as server:
        yield server


def _engine(rate: int, cmn: str) -> PocketsphinxEngine:
    return PocketsphinxEngine(channel="phone") if rate == 8000 else PocketsphinxEngine(initial_cmn=cmn)


async def _engine_for(fake: FakeDeepgramServer, clock: object = None, **kw: object) -> DeepgramEngine:
    engine = DeepgramEngine(api_key=str(kw.pop("api_key", "dg-test")), url=fake.url, **kw)  # type: ignore[arg-type]
    await engine.start(clock or MonotonicClock())  # type: ignore[arg-type]
    return engine


async def _send(stream: DeepgramStream, audio: bytes, chunk: int = CHUNK) -> None:
    for i in range(0, len(audio), chunk):
        await stream.send(audio[i : i + chunk])


async def _until(
    stream: DeepgramStream, done: type, timeout: float = 30.0, **match: object
) -> list[STTEvent]:
    """Events up to the first of type ``done`` whose attributes equal ``match``."""
    got: list[STTEvent] = []
    async with asyncio.timeout(timeout):
        async for event in stream.events():
            got.append(event)
            if isinstance(event, done) and all(getattr(event, k) == v for k, v in match.items()):
                return got
    raise AssertionError(f"the stream ended before a {done.__name__}: {got}")


def _speech(text: str, rate: int = RATE, *, after_s: float = 0.5) -> bytes:
    return bytes(2 * rate // 5) + synthesize(text, rate) + bytes(int(2 * rate * after_s))


async def test_the_query_auth_and_audio_are_what_deepgram_documents(fake: FakeDeepgramServer) -> None:
    options = DeepgramOptions(keywords=(("appointment", 2.0),))
    engine = await _engine_for(fake, options=options)
    stream = await engine.open_stream(hints=("reschedule",))
    audio = _speech(RESCHEDULE)
    await _send(stream, audio)
    await stream.finalize()
    final = (await _until(stream, FinalText, from_finalize=True))[-1]
    await engine.aclose()
    session = fake.sessions[0]
    await fake.wait_until(lambda: session.closed)
    assert session.headers["Authorization"] == "Token dg-test"
    assert {k: v for k, v in session.query.items()} == {
        "model": ["nova-2"],
        "language": ["en-US"],
        "encoding": ["linear16"],
        "sample_rate": ["16000"],
        "channels": ["1"],
        "interim_results": ["true"],
        "vad_events": ["true"],
        "smart_format": ["true"],
        "punctuate": ["true"],
        "endpointing": ["800"],
        "utterance_end_ms": ["1000"],
        "keywords": ["appointment:2", "reschedule:1"],
        "filler_words": ["false"],
    }
    assert session.audio_bytes == len(audio)
    assert "Finalize" in session.controls[0]
    assert "CloseStream" in session.controls[-1] and session.close_code == 1000
    assert session.sent[-1]["type"] == "Metadata"
    assert isinstance(final, FinalText) and {"reschedule", "appointment"} <= set(normalize_words(final.text))


async def test_nova3_boosts_with_keyterm(fake: FakeDeepgramServer) -> None:
    engine = await _engine_for(fake, options=DeepgramOptions(model="nova-3", keywords=(("refund", 1.5),)))
    stream = await engine.open_stream(hints=("order",))
    await stream.aclose()
    assert fake.sessions[0].query["keyterm"] == ["refund", "order"]
    assert "keywords" not in fake.sessions[0].query
    await engine.aclose()


async def test_phone_audio_goes_as_mulaw_8k_straight_from_the_wire(fake: FakeDeepgramServer) -> None:
    engine = await _engine_for(fake)
    stream = await engine.open_stream(encoding="mulaw", sample_rate=8000)
    wire = ulaw_encode(_speech("please cancel my order", 8000))
    await _send(stream, wire, chunk=160)  # Twilio's 20 ms media payloads
    await stream.finalize()
    final = (await _until(stream, FinalText, from_finalize=True))[-1]
    await engine.aclose()
    session = fake.sessions[0]
    assert session.param("encoding") == "mulaw" and session.param("sample_rate") == "8000"
    assert session.audio_bytes == len(wire)  # one byte per sample: nothing decoded or resampled
    assert isinstance(final, FinalText) and {"cancel", "order"} <= set(normalize_words(final.text))


async def test_deepgram_endpointing_gives_one_final_then_utterance_end(fake: FakeDeepgramServer) -> None:
    options = DeepgramOptions(endpointing_ms=300, utterance_end_ms=1000)
    engine = await _engine_for(fake, options=options)
    stream = await engine.open_stream()
    await _send(stream, _speech(RESCHEDULE, after_s=1.4))  # no finalize: Deepgram decides
    events = await _until(stream, UtteranceEnd)
    await engine.aclose()
    finals = [e for e in events if isinstance(e, FinalText)]
    assert len(finals) == 1 and finals[0].speech_final and not finals[0].from_finalize
    assert {"reschedule", "appointment"} <= set(normalize_words(finals[0].text))
    kinds = [type(e) for e in events]
    assert kinds.index(SpeechStarted) < kinds.index(InterimText) < kinds.index(FinalText)
    started = next(e for e in events if isinstance(e, SpeechStarted))
    assert 0.2 <= started.at <= 0.4  # the speech starts 0.2 s into the stream (and Piper breathes)
    end = events[-1]
    assert isinstance(end, UtteranceEnd) and finals[0].end - 0.5 <= end.last_word_end <= finals[0].end + 0.5


async def test_a_socket_cut_mid_utterance_reconnects_and_loses_no_words(fake: FakeDeepgramServer) -> None:
    engine = await _engine_for(fake, backoff_s=0.05)
    stream = await engine.open_stream()
    audio = _speech(RESCHEDULE)
    fake.drop_after_audio_s = 1.6  # in the middle of the sentence
    fake.reject_next(503)  # and the first attempt to come back is refused
    await _send(stream, audio)
    await stream.finalize()
    events = await _until(stream, FinalText, from_finalize=True)
    await engine.aclose()
    failures = [e for e in events if isinstance(e, STTFailure)]
    assert failures and all(f.recoverable for f in failures)
    assert "dropped" in failures[0].message and "replaying" in failures[0].message
    assert any("503" in f.message for f in failures)
    first, second = fake.sessions[0], fake.sessions[-1]
    assert first.dropped_by_server and len(fake.sessions) == 2 and stream.reconnects == 1
    assert second.audio_bytes >= len(audio) - first.audio_bytes  # what was cut off came again
    final = events[-1]
    assert isinstance(final, FinalText)
    heard = normalize_words(final.text)
    assert {"reschedule", "appointment", "tuesday"} <= set(heard), final.text  # both halves heard
    assert final.end <= len(audio) / 2 / RATE + 0.05  # times are back on the stream's timeline


async def test_keepalive_during_silence_on_the_run_clock(fake: FakeDeepgramServer) -> None:
    clock = VirtualClock()
    engine = await _engine_for(fake, clock=clock, keepalive_s=5.0)
    stream = await engine.open_stream()
    await stream.send(bytes(CHUNK))
    await clock.advance(3.0)
    await asyncio.sleep(0.05)
    assert not any("KeepAlive" in c for c in fake.sessions[0].controls)  # audio 3 s ago: not yet
    await clock.advance(3.0)
    await fake.wait_until(lambda: any("KeepAlive" in c for c in fake.sessions[0].controls))
    await engine.aclose()


async def test_a_refused_key_is_a_final_failure_and_finalize_still_answers(fake: FakeDeepgramServer) -> None:
    engine = await _engine_for(fake, api_key="wrong")
    stream = await engine.open_stream()
    await stream.send(bytes(CHUNK))
    await stream.finalize()
    events = await _until(stream, FinalText, from_finalize=True)
    await engine.aclose()
    failure = events[0]
    assert isinstance(failure, STTFailure) and not failure.recoverable
    assert "API key was refused" in failure.message
    assert isinstance(events[-1], FinalText) and events[-1].text == ""
    assert fake.sessions == []


async def test_refused_parameters_say_so(fake: FakeDeepgramServer) -> None:
    engine = await _engine_for(fake, options=DeepgramOptions(model="nova-9"))
    stream = await engine.open_stream()
    failure = (await _until(stream, STTFailure))[-1]
    await engine.aclose()
    assert isinstance(failure, STTFailure) and "parameters were refused" in failure.message
    assert not failure.recoverable


async def test_malformed_unknown_and_error_messages_are_reported_and_the_stream_goes_on(
    fake: FakeDeepgramServer,
) -> None:
    engine = await _engine_for(fake)
    stream = await engine.open_stream()
    audio = _speech(RESCHEDULE)
    half = len(audio) // 2 // CHUNK * CHUNK
    await _send(stream, audio[:half])
    await fake.send_raw("{this is not json")
    await fake.send_raw('{"type": "Mystery", "x": 1}')
    await fake.send_raw('{"type": "Error", "variant": "error", "description": "slow down", "code": "X-1"}')
    await _send(stream, audio[half:])
    await stream.finalize()
    events = await _until(stream, FinalText, from_finalize=True)
    await engine.aclose()
    failures = [e.message for e in events if isinstance(e, STTFailure)]
    assert len(failures) == 3 and all(
        isinstance(e, STTFailure) and e.recoverable for e in events if isinstance(e, STTFailure)
    )
    assert "malformed" in failures[0] and "unknown" in failures[1] and "slow down" in failures[2]
    final = events[-1]
    assert isinstance(final, FinalText) and {"reschedule", "appointment"} <= set(normalize_words(final.text))
    assert len(fake.sessions) == 1  # no reconnect was needed


async def test_a_cut_socket_leaves_the_other_calls_stream_untouched(fake: FakeDeepgramServer) -> None:
    engine = await _engine_for(fake, backoff_s=0.05)
    cut, other = await engine.open_stream(), await engine.open_stream()
    fake.drop_after_audio_s = 1.0  # the first stream to reach one second of audio is cut
    await _send(cut, _speech(RESCHEDULE))  # this one gets there first (the fake cuts it, then the other runs)
    await fake.wait_until(lambda: fake.sessions[0].dropped_by_server)
    await _send(other, _speech("please cancel my order"))
    await cut.finalize()
    await other.finalize()
    cut_events = await _until(cut, FinalText, from_finalize=True)
    other_events = await _until(other, FinalText, from_finalize=True)
    await engine.aclose()
    assert any(isinstance(e, STTFailure) for e in cut_events) and cut.reconnects == 1
    assert not any(isinstance(e, STTFailure) for e in other_events) and other.reconnects == 0
    final = other_events[-1]
    assert isinstance(final, FinalText) and {"cancel", "order"} <= set(normalize_words(final.text))
    final = cut_events[-1]
    assert isinstance(final, FinalText) and {"reschedule", "appointment"} <= set(normalize_words(final.text))


async def test_a_handshake_that_does_not_answer_in_time_is_retried_on_the_next_audio(
    fake: FakeDeepgramServer,
) -> None:
    engine = await _engine_for(fake, connect_timeout_s=0.3)
    fake.handshake_delay_s = 2.0
    stream = await engine.open_stream()
    failure = (await _until(stream, STTFailure))[-1]
    assert isinstance(failure, STTFailure) and failure.recoverable and "cannot connect" in failure.message
    audio = _speech("please cancel my order")
    await _send(stream, audio)  # the first send connects again and the audio is not lost
    await stream.finalize()
    final = (await _until(stream, FinalText, from_finalize=True))[-1]
    await engine.aclose()
    assert isinstance(final, FinalText) and {"cancel", "order"} <= set(normalize_words(final.text))
    assert fake.sessions[-1].audio_bytes == len(audio)
