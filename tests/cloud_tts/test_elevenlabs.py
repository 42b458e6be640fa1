"""ElevenLabs through its SDK against the local fake: what goes on the wire, formats, errors, cloning."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from tests.speech.speech_helpers import wait_until
from voiceflow.graphs import VirtualClock
from voiceflow.processors.audio.codecs import ulaw_encode
from voiceflow.services.tts import SSMLBuilder, TTSError, prosody_for
from voiceflow.services.tts.elevenlabs import ElevenLabsEngine
from voiceflow.services.tts.engine import TTSProviderError
from voiceflow.testing.fakes import tts_audio
from voiceflow.testing.fakes.elevenlabs_server import FakeElevenLabsServer

TEXT = "Your order shipped on Monday. It should arrive by Thursday afternoon."


@pytest.fixture
async def fake() -> AsyncIterator[FakeElevenLabsServer]:
    async with FakeElevenLabsServer() as server:
        yield server


def _engine(fake: FakeElevenLabsServer, **kw: object) -> ElevenLabsEngine:
    return ElevenLabsEngine(fake.api_key, base_url=fake.http_url, **kw)  # type: ignore[arg-type]


async def _speak(engine: ElevenLabsEngine, text: str = TEXT, **kw: object) -> bytes:
    return b"".join([c async for c in engine.synthesize(text, **kw)])  # type: ignore[arg-type]


async def test_the_documented_messages_go_out_with_settings_from_the_callers_mood(
    fake: FakeElevenLabsServer,
) -> None:
    engine = _engine(fake, language="en", model_id="eleven_multilingual_v2")
    await _speak(engine, prosody=prosody_for("frustrated"))
    s = fake.sessions[-1]
    assert s.api_key == fake.api_key
    assert s.query == {
        "model_id": "eleven_multilingual_v2",
        "output_format": "pcm_16000",
        "language_code": "en",
    }
    init, *texts, close = s.messages
    assert init["text"] == " "
    settings = init["voice_settings"]
    assert settings["speed"] == 0.9 and settings["stability"] > 0.5  # slower and steadier for an upset caller
    assert init["generation_config"]["chunk_length_schedule"][0] == 50
    # one message per clause, each ending in a space and flushed at the clause boundary
    assert [t["text"] for t in texts] == [
        "Your order shipped on Monday. ",
        "It should arrive by Thursday afternoon. ",
    ]
    assert all(t["flush"] is True for t in texts)
    assert close == {"text": ""}
    assert s.ended == "final"


async def test_ulaw_for_the_phone_line_is_played_as_sent(fake: FakeElevenLabsServer) -> None:
    engine = _engine(fake, output_format="ulaw_8000")
    pcm = await _speak(engine)
    assert engine.sample_rate == 8000
    sent = b"".join(tts_audio.speech(t, "mulaw", 8000) for t in fake.sessions[-1].generated)
    # decoded and re-encoded by the Twilio transport: the very bytes ElevenLabs sent, no resampling
    assert ulaw_encode(pcm) == sent


async def test_mp3_is_decoded_to_the_same_length_as_pcm(fake: FakeElevenLabsServer) -> None:
    mp3 = _engine(fake, output_format="mp3_44100_128")
    pcm16 = _engine(fake, output_format="pcm_16000")
    a = np.frombuffer(await _speak(mp3), dtype="<i2")
    b = np.frombuffer(await _speak(pcm16), dtype="<i2")
    assert abs(len(a) / 44100 - len(b) / 16000) < 0.2  # encoder padding only
    assert np.sqrt(np.mean(a.astype(np.float64) ** 2)) > 100


async def test_streamed_tokens_are_sent_as_they_arrive_and_flushed_at_clause_ends(
    fake: FakeElevenLabsServer,
) -> None:
    engine = _engine(fake)

    async def tokens() -> AsyncIterator[str]:
        for piece in ["Your order ", "shipped on ", "Monday. It ", "should arrive", " soon."]:
            yield piece

    pcm = b"".join([c async for c in engine.synthesize_stream(tokens())])
    assert len(pcm) > 16000
    texts = [m["text"] for m in fake.sessions[-1].messages[1:-1]]
    assert texts == ["Your order shipped on Monday. ", "It should arrive soon. "]


async def test_ssml_is_rendered_into_what_elevenlabs_reads(fake: FakeElevenLabsServer) -> None:
    b = SSMLBuilder()
    b.text("Order ").say_as("1002", "digits").pause(500)
    with b.prosody(rate="slow"):
        b.text("Thanks for waiting.")
    await _speak(_engine(fake), b.to_string())
    sent = fake.sessions[-1].text_received
    assert "one zero zero two" in sent and '<break time="0.5s" />' in sent
    assert "prosody" not in sent and "Thanks for waiting." in sent


@pytest.mark.parametrize(
    ("kw", "fault", "status", "code"),
    [
        ({"api_key": "wrong"}, None, "invalid_api_key", 1008),
        ({"voice_id": "no-such-voice"}, None, "voice_not_found", 1008),
        ({}, "quota_exceeded", "quota_exceeded", 1008),
        ({}, "too_many_concurrent_requests", "too_many_concurrent_requests", 1013),
    ],
)
async def test_provider_errors_are_precise_and_the_engine_still_speaks(
    fake: FakeElevenLabsServer, kw: dict[str, str], fault: str | None, status: str, code: int
) -> None:
    api_key = kw.pop("api_key", fake.api_key)
    engine = ElevenLabsEngine(api_key, base_url=fake.http_url, **kw)
    fake.faults.error = fault
    with pytest.raises(TTSProviderError) as err:
        await _speak(engine)
    assert err.value.status == status and err.value.code == code
    assert err.value.retryable == (status == "too_many_concurrent_requests")
    assert status in str(err.value)
    fake.faults.error = None
    if status not in {"invalid_api_key", "voice_not_found"}:
        assert await _speak(engine)


async def test_garbage_dropped_sockets_and_truncated_mp3_are_clear_errors(fake: FakeElevenLabsServer) -> None:
    engine = _engine(fake)
    fake.faults.garbage = True
    with pytest.raises(TTSError, match="malformed frame"):
        await _speak(engine)
    fake.faults.garbage = False
    fake.faults.drop_after = 3
    with pytest.raises(TTSProviderError, match="connection_lost"):
        await _speak(engine)
    fake.faults.drop_after = None
    fake.faults.truncate_mp3 = True
    with pytest.raises(TTSError, match="mp3"):
        await _speak(_engine(fake, output_format="mp3_44100_128"), "Your order shipped on Monday.")
    fake.faults.truncate_mp3 = False
    assert await _speak(engine)


async def test_closing_early_closes_the_socket_and_the_generation_stops(fake: FakeElevenLabsServer) -> None:
    engine = _engine(fake)
    fake.faults.chunk_delay_s = 0.02
    stream = engine.synthesize(TEXT)
    assert await anext(stream)
    await stream.aclose()
    await wait_until(lambda: fake.sessions[-1].ended is not None, timeout=5)
    assert fake.sessions[-1].ended == "client_closed"
    sent = fake.work()
    await wait_until(lambda: not fake.busy(), timeout=5)
    assert fake.work() == sent


async def test_a_missing_key_fails_at_start(fake: FakeElevenLabsServer) -> None:
    with pytest.raises(TTSError, match="ELEVENLABS_API_KEY"):
        await ElevenLabsEngine("", base_url=fake.http_url).start(VirtualClock())


async def test_voice_cloning_uploads_the_samples(fake: FakeElevenLabsServer, tmp_path: Path) -> None:
    import wave

    sample = tmp_path / "me.wav"
    with wave.open(str(sample), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(tts_audio.speech("This is my voice.", "pcm", 16000))
    engine = _engine(fake)
    voice_id = await engine.clone_voice("Support Sam", [sample], description="our agent")
    upload = fake.uploads[-1]
    assert upload.voice_id == voice_id and upload.name == "Support Sam" and upload.description == "our agent"
    assert upload.files == [("me.wav", sample.stat().st_size)]
    # the new voice speaks
    assert await _speak(_engine(fake, voice_id=voice_id))
    bad = tmp_path / "notes.txt"
    bad.write_text("not audio")
    with pytest.raises(TTSProviderError, match="invalid_file"):
        await engine.clone_voice("X", [bad])
    with pytest.raises(TTSError, match="does not exist"):
        await engine.clone_voice("X", [tmp_path / "missing.wav"])
    assert len(fake.uploads) == 1


def test_alignment_becomes_word_times_on_the_utterances_timeline() -> None:
    from voiceflow.services.tts.elevenlabs import aligned_words
    from voiceflow.services.tts.engine import WordTime

    alignment = {
        "chars": list("Hi there "),
        "charStartTimesMs": [0, 50, 100, 120, 150, 180, 200, 230, 260],
        "charDurationsMs": [50, 50, 20, 30, 30, 20, 30, 30, 0],
    }
    assert aligned_words(alignment, 1.0) == [WordTime("Hi", 1.0, 1.1), WordTime("there", 1.12, 1.26)]
    # a malformed alignment costs the timing, never the audio
    assert aligned_words({"chars": ["a"], "charStartTimesMs": ["x"], "charDurationsMs": [1]}, 0.0) == []
    assert aligned_words(None, 0.0) == [] and aligned_words({"chars": "abc"}, 0.0) == []
