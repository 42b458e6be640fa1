"""The recognizers the STT contract test runs against: one ``STTCase`` per adapter.

A new adapter adds one entry to ``STT_CASES``: how to bring the engine up for a test
(an async context manager: a cloud adapter starts its local fake server here and
points the SDK at it) and what the contract may expect of it on clean speech.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from tests.speech.speech_helpers import wideband_cmn
from voiceflow.core.clock import MonotonicClock
from voiceflow.services.stt.engine import STTEngine


@dataclass(frozen=True)
class STTCase:
    id: str
    #: brings the engine up (started) for one test and down afterwards
    engine: Callable[[], AbstractAsyncContextManager[STTEngine]]
    #: the engine streams interim text while the caller talks
    interims: bool = True
    #: word error rate bound on the contract's clean sentences
    max_wer: float = 0.35


@asynccontextmanager
async def _pocketsphinx() -> AsyncIterator[STTEngine]:
    from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine

    engine = PocketsphinxEngine(initial_cmn=wideband_cmn())
    await engine.start(MonotonicClock())
    try:
        yield engine
    finally:
        await engine.aclose()


@asynccontextmanager
async def _pocketsphinx_process() -> AsyncIterator[STTEngine]:
    from voiceflow.services.stt.sphinx_process import ProcessPocketsphinxEngine

    engine = ProcessPocketsphinxEngine(processes=2, initial_cmn=wideband_cmn())
    await engine.start(MonotonicClock())
    try:
        yield engine
    finally:
        await engine.aclose()


@asynccontextmanager
async def _whisper() -> AsyncIterator[STTEngine]:
    from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine
    from voiceflow.services.stt.whisper import WhisperEngine

    engine = WhisperEngine(interim=PocketsphinxEngine(initial_cmn=wideband_cmn(), hints=None))
    await engine.start(MonotonicClock())
    try:
        yield engine
    finally:
        await engine.aclose()


@asynccontextmanager
async def _deepgram() -> AsyncIterator[STTEngine]:
    """Deepgram's SDK against the local fake, which hears the audio with pocketsphinx."""
    from voiceflow.services.stt.deepgram import DeepgramEngine
    from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine
    from voiceflow.testing.fakes.deepgram_server import FakeDeepgramServer

    cmn = wideband_cmn()
    async with FakeDeepgramServer(
        api_key="dg-test", recognizer=lambda rate: PocketsphinxEngine(initial_cmn=cmn)
    ) as fake:
        engine = DeepgramEngine(api_key="dg-test", url=fake.url)
        await engine.start(MonotonicClock())
        try:
            yield engine
        finally:
            await engine.aclose()


STT_CASES: list[STTCase] = [
    STTCase("pocketsphinx", _pocketsphinx, interims=True, max_wer=0.35),
    # the same decoders in child processes: the same bound
    STTCase("pocketsphinx-process", _pocketsphinx_process, interims=True, max_wer=0.35),
    STTCase("whisper", _whisper, interims=True, max_wer=0.15),
    # the fake recognizes with pocketsphinx: the same bound as pocketsphinx itself
    STTCase("deepgram", _deepgram, interims=True, max_wer=0.35),
]
