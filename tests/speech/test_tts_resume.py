"""After a false interruption the TTS says the rest of the utterance from the position heard."""

from __future__ import annotations

from tests.speech.speech_helpers import wait_until
from voiceflow.frames import Error, ResumeSpeaking, TextToSpeak, TTSAudio
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.tts import TTSProcessor
from voiceflow.services.tts.piper import PiperEngine

REPLY = "Your order shipped on Monday from our warehouse. It should arrive by Thursday afternoon."


def audio_of(frames: list[TTSAudio], uid: int) -> bytes:
    return b"".join(f.audio for f in frames if f.utterance_id == uid)


async def test_resume_of_a_finished_utterance_replays_its_audio_from_the_heard_position() -> None:
    sink = Collector(name="sink")
    tts = TTSProcessor(PiperEngine(noise_scale=0.0, noise_w_scale=0.0), name="tts")
    graph = Graph("tts", inputs=[TextToSpeak, ResumeSpeaking]).chain(tts, sink)
    async with GraphRun(graph, clock=VirtualClock()) as run:
        await run.push(run.make(TextToSpeak, text=REPLY))
        await run.push(run.make(ResumeSpeaking, utterance_id=1, from_ms=1500.0))
        await run.push(run.make(ResumeSpeaking, utterance_id=99, from_ms=0.0))
    chunks = sink.of(TTSAudio)
    whole, rest = audio_of(chunks, 1), audio_of(chunks, 2)
    skip = 2 * int(1500.0 * 22050 / 1000)
    assert rest == whole[skip:]  # exactly the part the caller had not heard, as a new utterance
    assert tts.resumed == 1
    (error,) = [e for e in run.errors if isinstance(e, Error)]
    assert "utterance 99" in error.message  # nothing kept for it: said plainly, the run goes on


async def test_resume_of_an_utterance_cut_mid_synthesis_synthesizes_the_rest() -> None:
    sink = Collector(name="sink")
    engine = PiperEngine(noise_scale=0.0, noise_w_scale=0.0)
    tts = TTSProcessor(engine, name="tts")
    graph = Graph("tts", inputs=[TextToSpeak, ResumeSpeaking]).chain(tts, sink)
    async with GraphRun(graph, clock=VirtualClock()) as run:
        await run.push(run.make(TextToSpeak, text="One two three."))
        await wait_until(lambda: bool(sink.of(TTSAudio)))
        full = audio_of(sink.of(TTSAudio), 1)
        await run.push(run.make(TextToSpeak, text=REPLY))
        await wait_until(lambda: bool(audio_of(sink.of(TTSAudio), 2)))
        await tts.interrupt()  # the caller coughed: synthesis of utterance 2 stops part way
        await run.push(run.make(ResumeSpeaking, utterance_id=2, from_ms=500.0))
    assert full
    resumed = audio_of(sink.of(TTSAudio), 3)
    reference = b"".join(
        [pcm async for pcm in PiperEngine(noise_scale=0.0, noise_w_scale=0.0).synthesize(REPLY)]
    )
    skip = 2 * int(500.0 * 22050 / 1000)
    assert resumed == reference[skip:]
