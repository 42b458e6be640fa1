"""The STT processor on real speech through the pocketsphinx stream: interims while speaking, the
final before the pause that closes it, no re-decoding, engine failures as Error frames."""

from __future__ import annotations

import pytest

from tests.speech.speech_helpers import FaultyEngine, RecordingEngine, calibrated_engine, wait_until
from voiceflow.frames import AudioRaw, Transcript, VoiceStarted, VoiceStopped
from voiceflow.frames.control import Error
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.stt import STTProcessor
from voiceflow.services.stt.engine import STTClosedError
from voiceflow.services.stt.pocketsphinx import decoders_created
from voiceflow.sim.speech import normalize_words, synthesize, word_errors

RATE = 16000
FRAME = 2 * RATE // 50  # 20 ms
SENTENCE = "i need to reschedule my appointment for next tuesday"


async def _turn(
    engine: RecordingEngine, speech: bytes, *, lead_ms: int = 500
) -> tuple[Collector, list[Error]]:
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
    return sink, run.errors


async def test_interims_then_final_right_before_end_of_turn() -> None:
    engine = RecordingEngine()
    sink, errors = await _turn(engine, synthesize(SENTENCE, RATE))
    assert not errors
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


async def test_every_sample_decoded_once_with_preroll_and_nothing_at_finalize() -> None:
    engine = RecordingEngine()
    speech = synthesize("cancel my order please", RATE)
    assert not (await _turn(engine, speech, lead_ms=500))[1]
    (stream,) = engine.streams
    preroll = RATE * 300 // 1000  # only the last 300 ms of the lead is kept
    assert stream.samples_sent == preroll + len(speech) // 2
    # process_raw saw exactly what was sent: the final came from the running search, not a re-decode
    assert stream.samples_decoded == stream.samples_sent


async def test_decoders_are_pooled_across_streams() -> None:
    engine = calibrated_engine(hints=None)
    await _turn(RecordingEngine(engine), synthesize("yes that is correct", RATE))
    built = decoders_created()
    for _ in range(3):  # three more calls, one after another, reuse the pooled decoder
        await _turn(RecordingEngine(engine), synthesize("yes that is correct", RATE))
    assert decoders_created() == built


async def test_one_stream_serves_every_utterance_of_a_call() -> None:
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
    assert len(finals) == 2 and len(engine.streams) == 1
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


def _kinds(sink: Collector) -> list[str]:
    return [
        ("final" if f.final else "interim") if isinstance(f, Transcript) else type(f).__name__
        for f in sink.frames
        if isinstance(f, Transcript | VoiceStarted | VoiceStopped)
    ]


async def test_each_final_precedes_the_pause_it_closes_over_many_pauses() -> None:
    engine = RecordingEngine()
    sink = Collector(name="sink")
    graph = Graph("stt", inputs=[AudioRaw]).chain(STTProcessor(engine, name="stt", forward_audio=False), sink)
    texts = ("cancel my order please", "yes that is correct", "no", "reschedule my appointment")
    async with GraphRun(graph, clock=VirtualClock()) as run:
        for text in texts:
            speech = synthesize(text, RATE)
            await run.push(run.make(VoiceStarted))
            for i in range(0, len(speech), FRAME):
                await run.push(run.make(AudioRaw, audio=speech[i : i + FRAME], sample_rate=RATE))
            await run.push(run.make(VoiceStopped))
        await run.push(run.make(VoiceStopped))  # a stray stop with nothing said: no final, still forwarded
    kinds = [k for k in _kinds(sink) if k != "interim"]
    assert kinds == ["VoiceStarted", "final", "VoiceStopped"] * len(texts) + ["VoiceStopped"]


async def test_an_engine_failure_goes_upstream_and_the_call_goes_on() -> None:
    engine = FaultyEngine(failure="connection reset by peer")
    sink, errors = await _turn(engine, synthesize("cancel my order please", RATE))
    assert [e.message for e in errors] == ["pocketsphinx: connection reset by peer"]
    assert all(not e.fatal and e.processor == "stt" for e in errors)
    finals = [f.text for f in sink.of(Transcript) if f.final]
    assert len(finals) == 1 and "cancel" in finals[0]


async def test_a_late_final_is_stood_in_for_by_the_interim_and_then_dropped() -> None:
    engine = FaultyEngine(hold_finals=True)
    sink = Collector(name="sink")
    stt = STTProcessor(engine, name="stt", forward_audio=False, final_timeout=2.0)
    graph = Graph("stt", inputs=[AudioRaw]).chain(stt, sink)
    clock = VirtualClock()
    speech = synthesize("i need to reschedule my appointment for next tuesday", RATE)
    async with GraphRun(graph, clock=clock) as run:
        await run.push(run.make(VoiceStarted))
        for i in range(0, len(speech), FRAME):
            await run.push(run.make(AudioRaw, audio=speech[i : i + FRAME], sample_rate=RATE))
        await run.push(run.make(VoiceStopped))
        await wait_until(lambda: engine.held == 1)
        assert "VoiceStopped" not in _kinds(sink)  # held back with its final
        await clock.advance(2.0)
        await wait_until(lambda: "VoiceStopped" in _kinds(sink))
        engine.release()  # the real final arrives after its pause: dropped
        await wait_until(lambda: stt.late_finals_dropped == 1)
    kinds = _kinds(sink)
    assert kinds[-2:] == ["final", "VoiceStopped"] and kinds.count("final") == 1
    interims = [f.text for f in sink.of(Transcript) if not f.final]
    (final,) = [f for f in sink.of(Transcript) if f.final]
    assert final.text == interims[-1]
    assert stt.finals_timed_out == 1
    assert any("no final 2s after finalize" in e.message for e in run.errors)


@pytest.mark.parametrize("forward", [False, True])
async def test_engine_speech_start_becomes_voice_started_only_when_asked(forward: bool) -> None:
    engine = RecordingEngine()
    sink = Collector(name="sink")
    graph = Graph("stt", inputs=[AudioRaw]).chain(
        STTProcessor(engine, name="stt", forward_audio=False, voice_from_engine=forward), sink
    )
    speech = synthesize("cancel my order please", RATE)
    async with GraphRun(graph, clock=VirtualClock()) as run:
        await run.push(run.make(VoiceStarted))
        for i in range(0, len(speech), FRAME):
            await run.push(run.make(AudioRaw, audio=speech[i : i + FRAME], sample_rate=RATE))
        await run.push(run.make(VoiceStopped))
    kinds = _kinds(sink)
    assert kinds.count("VoiceStarted") == (2 if forward else 1)
    if forward:  # the engine's start comes with its first words, before the first interim
        assert kinds.index("interim") > 1 and kinds[1] == "VoiceStarted"


async def test_cancelling_the_run_mid_utterance_leaves_no_task_and_frees_the_decoder() -> None:
    engine = RecordingEngine()
    sink = Collector(name="sink")
    graph = Graph("stt", inputs=[AudioRaw]).chain(STTProcessor(engine, name="stt", forward_audio=False), sink)
    speech = synthesize("i want to change the delivery address for my order", RATE)
    run = GraphRun(graph, clock=VirtualClock())
    await run.start()
    await run.push(run.make(VoiceStarted))
    for i in range(0, len(speech) // 2, FRAME):
        await run.push(run.make(AudioRaw, audio=speech[i : i + FRAME], sample_rate=RATE))
    await wait_until(lambda: engine.streams[0].samples_decoded > RATE // 2)
    await run.cancel(reason="caller hung up")
    assert run.done
    (stream,) = engine.streams
    with pytest.raises(STTClosedError):
        await stream.send(bytes(640))
    built = decoders_created()
    again = await engine.open_stream()  # the cancelled call's decoder went back to the pool
    await again.aclose()
    assert decoders_created() == built


async def test_the_pause_hint_closes_the_segment_and_only_returning_voice_opens_the_next() -> None:
    from voiceflow.frames import VoicePaused

    engine = RecordingEngine()
    sink = Collector(name="sink")
    stt = STTProcessor(engine, name="stt", forward_audio=False, finalize_at_hint=True)
    graph = Graph("stt", inputs=[AudioRaw]).chain(stt, sink)
    quiet = bytes(2 * RATE * 12 // 100)  # 0.12 s, the hint's quiet
    async with GraphRun(graph, clock=VirtualClock()) as run:

        async def audio(pcm: bytes) -> None:
            for i in range(0, len(pcm), FRAME):
                await run.push(run.make(AudioRaw, audio=pcm[i : i + FRAME], sample_rate=RATE))

        await run.push(run.make(VoiceStarted))
        await audio(synthesize("i need to reschedule my appointment", RATE) + quiet)
        await run.push(run.make(VoicePaused))
        await audio(quiet)
        await run.push(run.make(VoicePaused, resumed=True))  # the caller goes on
        await audio(synthesize("for next tuesday", RATE) + quiet)
        await run.push(run.make(VoicePaused))
        await audio(quiet)
        await run.push(run.make(VoiceStopped))
    kinds = [
        ("final" if f.final else "interim") if isinstance(f, Transcript) else type(f).__name__
        for f in sink.frames
        if isinstance(f, Transcript | VoiceStarted | VoiceStopped | VoicePaused)
    ]
    assert [k for k in kinds if k != "interim"] == [
        "VoiceStarted",
        "final",
        "VoicePaused",
        "VoicePaused",
        "final",
        "VoicePaused",
        "VoiceStopped",  # nothing left to finalize: the quiet after the hint was never sent
    ]
    finals = [f.text for f in sink.of(Transcript) if f.final]
    heard = " ".join(finals)
    errors, words = word_errors("i need to reschedule my appointment for next tuesday", heard)
    assert errors / words <= 0.25, finals
    assert not run.errors
