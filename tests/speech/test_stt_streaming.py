"""Streaming STT on real speech: interims while speaking, the final right at end of turn, no re-decoding."""

from __future__ import annotations

from tests.speech.speech_helpers import RecordingEngine, calibrated_engine
from voiceflow.frames import AudioRaw, Transcript, VoiceStarted, VoiceStopped
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.stt import STTProcessor
from voiceflow.services.stt.pocketsphinx import decoders_created
from voiceflow.sim.speech import normalize_words, synthesize, word_errors

RATE = 16000
FRAME = 2 * RATE // 50  # 20 ms
SENTENCE = "i need to reschedule my appointment for next tuesday"


async def _turn(engine: RecordingEngine, speech: bytes, *, lead_ms: int = 500) -> Collector:
    """Push lead silence, a VAD-style start, the speech, a stop, and drain the run."""
    sink = Collector(name="sink")
    graph = Graph("stt", inputs=[AudioRaw]).chain(STTProcessor(engine, name="stt", forward_audio=False), sink)
    async with GraphRun(graph, clock=VirtualClock()) as run:
        lead = bytes(2 * RATE * lead_ms // 1000)
        for i in range(0, len(lead), FRAME):
            await run.push(run.make(AudioRaw, audio=lead[i : i + FRAME], sample_rate=RATE))
        await run.push(run.make(VoiceStarted))
        for i in range(0, len(speech), FRAME):
            await run.push(run.make(AudioRaw, audio=speech[i : i + FRAME], sample_rate=RATE))
        await run.push(run.make(VoiceStopped))
    assert not run.errors
    return sink


async def test_interims_then_final_right_before_end_of_turn() -> None:
    engine = RecordingEngine()
    sink = await _turn(engine, synthesize(SENTENCE, RATE))
    kinds = [
        ("final" if f.final else "interim") if isinstance(f, Transcript) else type(f).__name__
        for f in sink.frames
        if isinstance(f, Transcript | VoiceStarted | VoiceStopped)
    ]
    # interims appear while the caller speaks, then exactly one final, then the end of turn
    assert kinds[0] == "VoiceStarted"
    assert kinds.count("interim") >= 2
    assert kinds[-2:] == ["final", "VoiceStopped"]
    assert kinds.count("final") == 1
    interims = [f.text for f in sink.of(Transcript) if not f.final]
    assert len(set(interims)) == len(interims), "an interim is sent only when the text changed"
    final = next(f for f in sink.of(Transcript) if f.final)
    errors, words = word_errors(SENTENCE, final.text)
    assert errors / words <= 0.35, final.text
    assert {"reschedule", "appointment"} <= set(normalize_words(final.text))
    assert final.confidence is not None and 0.0 < final.confidence <= 1.0


async def test_every_sample_decoded_once_with_preroll_and_nothing_at_finish() -> None:
    engine = RecordingEngine()
    speech = synthesize("cancel my order please", RATE)
    await _turn(engine, speech, lead_ms=500)
    (session,) = engine.sessions
    preroll = RATE * 300 // 1000  # only the last 300 ms of the lead is kept
    assert session.samples_fed == preroll + len(speech) // 2
    # process_raw saw exactly what was fed: the final came from the running search, not a re-decode
    assert session.samples_decoded == session.samples_fed


async def test_decoders_are_pooled_across_streams() -> None:
    engine = calibrated_engine(hints=None)
    await _turn(RecordingEngine(engine), synthesize("yes that is correct", RATE))
    built = decoders_created()
    for _ in range(3):  # three more calls, one after another, reuse the pooled decoder
        await _turn(RecordingEngine(engine), synthesize("yes that is correct", RATE))
    assert decoders_created() == built


async def test_session_reused_across_turns_of_one_stream() -> None:
    engine = RecordingEngine()
    sink = Collector(name="sink")
    graph = Graph("stt", inputs=[AudioRaw]).chain(STTProcessor(engine, name="stt", forward_audio=False), sink)
    async with GraphRun(graph, clock=VirtualClock()) as run:
        for text in ("cancel my order please", "yes that is correct"):
            speech = synthesize(text, RATE)
            await run.push(run.make(VoiceStarted))
            for i in range(0, len(speech), FRAME):
                await run.push(run.make(AudioRaw, audio=speech[i : i + FRAME], sample_rate=RATE))
            await run.push(run.make(VoiceStopped))
    finals = [f.text for f in sink.of(Transcript) if f.final]
    assert len(finals) == 2 and len(engine.sessions) == 1
    assert "cancel" in finals[0] and "correct" in finals[1]


async def test_bad_audio_gives_errors_and_the_run_goes_on() -> None:
    engine = RecordingEngine()
    sink = Collector(name="sink")
    graph = Graph("stt", inputs=[AudioRaw]).chain(STTProcessor(engine, name="stt"), sink)
    speech = synthesize("no please cancel it", RATE)
    async with GraphRun(graph, clock=VirtualClock()) as run:
        await run.push(run.make(AudioRaw, audio=bytes(320), sample_rate=8000))
        await run.push(run.make(AudioRaw, audio=bytes(321), sample_rate=RATE))
        await run.push(run.make(AudioRaw, audio=b"", sample_rate=RATE))
        await run.push(run.make(AudioRaw, audio=bytes(640), sample_rate=RATE, channels=2))
        await run.push(run.make(VoiceStarted))
        await run.push(run.make(AudioRaw, audio=speech, sample_rate=RATE))
        await run.push(run.make(VoiceStopped))
    messages = [e.message for e in run.errors]
    assert len(messages) == 4 and all(e.processor == "stt" for e in run.errors)
    assert "16000 Hz" in messages[0] and "8000 Hz" in messages[0]
    assert "odd-length" in messages[1]
    assert "empty" in messages[2]
    assert "mono" in messages[3]
    finals = [f.text for f in sink.of(Transcript) if f.final]
    assert len(finals) == 1 and "cancel" in finals[0]
    # bad frames are not forwarded; the good one is
    assert [len(f.audio) for f in sink.of(AudioRaw)] == [len(speech)]


async def test_end_of_stream_mid_utterance_still_yields_the_final() -> None:
    engine = RecordingEngine()
    sink = Collector(name="sink")
    graph = Graph("stt", inputs=[AudioRaw]).chain(STTProcessor(engine, name="stt", forward_audio=False), sink)
    speech = synthesize("please cancel my order", RATE)
    async with GraphRun(graph, clock=VirtualClock()) as run:
        await run.push(run.make(VoiceStarted))
        await run.push(run.make(AudioRaw, audio=speech, sample_rate=RATE))
    finals = [f for f in sink.of(Transcript) if f.final]
    assert len(finals) == 1 and "cancel" in finals[0].text
