"""Recorded speech through a recognizer's stream, outside a graph (tests and benchmarks).

``recognize`` sends PCM16 in 20 ms chunks (optionally at real-time pace on a clock, as a
phone line delivers it), finalizes, and reads the stream's events up to the answer to
that ``finalize``. It needs no task of its own: the stream buffers its events.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from voiceflow.core.clock import Clock
from voiceflow.services.stt.engine import (
    FinalText,
    InterimText,
    STTEngine,
    STTEvent,
    STTFailure,
    STTStream,
    UtteranceEnd,
)


@dataclass(frozen=True, slots=True)
class Recognition:
    final: FinalText
    interims: tuple[str, ...]
    #: every event of this utterance, in order, up to and including the final
    events: tuple[STTEvent, ...]
    failures: tuple[STTFailure, ...] = field(default_factory=tuple)
    #: wall seconds from the end of the speech (its last voiced chunk sent) to the final
    final_after_speech: float = 0.0
    #: wall seconds from the ``finalize`` call to the final
    final_after_finalize: float = 0.0

    @property
    def text(self) -> str:
        return self.final.text


async def recognize(
    stream: STTStream,
    pcm16: bytes,
    *,
    sample_rate: int = 16000,
    chunk_ms: int = 20,
    trailing_silence_ms: int = 0,
    clock: Clock | None = None,
    timeout: float = 60.0,
) -> Recognition:
    """Send ``pcm16`` (then ``trailing_silence_ms`` of silence, as the VAD's stop window would
    pass on), finalize, and return the utterance's events and final.

    With ``clock`` the chunks are paced at real time on it; without, they go as fast as the
    stream takes them.
    """
    step = 2 * sample_rate * chunk_ms // 1000
    silence = bytes(2 * sample_rate * trailing_silence_ms // 1000)
    start = clock.now() if clock is not None else 0.0
    sent = 0
    speech_end = time.perf_counter()
    for audio, voiced in ((pcm16, True), (silence, False)):
        for i in range(0, len(audio), step):
            await stream.send(audio[i : i + step])
            sent += len(audio[i : i + step]) // 2
            if clock is not None:
                await clock.sleep(start + sent / sample_rate - clock.now())
        if voiced:
            speech_end = time.perf_counter()
    finalized = time.perf_counter()
    await stream.finalize()
    events: list[STTEvent] = []
    async with asyncio.timeout(timeout):
        async for event in stream.events():
            if not events and isinstance(event, UtteranceEnd):
                continue  # the tail of the previous utterance
            events.append(event)
            if isinstance(event, FinalText) and event.from_finalize:
                break
        else:
            raise RuntimeError("the stream closed before answering finalize()")
    done = time.perf_counter()
    final = events[-1]
    assert isinstance(final, FinalText)
    return Recognition(
        final=final,
        interims=tuple(e.text for e in events if isinstance(e, InterimText)),
        events=tuple(events),
        failures=tuple(e for e in events if isinstance(e, STTFailure)),
        final_after_speech=done - speech_end,
        final_after_finalize=done - finalized,
    )


async def recognize_through_vad(engine: STTEngine, pcm16: bytes, sample_rate: int) -> tuple[str, list[str]]:
    """A recording through the agent's hearing chain (resampling to 16 kHz, Silero VAD, the
    STT processor) on a virtual clock: the finals as the endpointer joins them (a final read
    together with the one before it replaces that one) and the run's errors. The recognizer
    gets each utterance as the VAD hands it over, not the whole recording."""
    from voiceflow.frames import AudioRaw, Transcript
    from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
    from voiceflow.processors.audio import Resample, VADProcessor
    from voiceflow.processors.stt import STTProcessor

    sink = Collector(name="sink")
    graph = Graph("phone", inputs=[AudioRaw]).chain(
        Resample(16000), VADProcessor(), STTProcessor(engine, forward_audio=False), sink
    )
    frame = 2 * sample_rate // 50
    async with GraphRun(graph, clock=VirtualClock()) as run:
        for i in range(0, len(pcm16), frame):
            await run.push(run.make(AudioRaw, audio=pcm16[i : i + frame], sample_rate=sample_rate))
    finals: list[str] = []
    for f in sink.of(Transcript):
        if not (isinstance(f, Transcript) and f.final):
            continue
        if finals and (joined := f.joined_to(finals[-1])) is not None:
            finals[-1] = joined
        else:
            finals.append(f.text)
    return " ".join(finals), [e.message for e in run.errors]
