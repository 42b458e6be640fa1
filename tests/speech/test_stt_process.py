"""pocketsphinx in child processes (``ProcessPocketsphinxEngine``): real speech through a real
child, a child killed under a call reported as a recoverable STT failure with the stream and the
call going on, and no recognizer process left once the engine is closed.

The contract itself runs for this engine in tests/contracts (``pocketsphinx-process``).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import psutil
import pytest

from tests.speech.speech_helpers import wait_until, wideband_cmn
from voiceflow.core.clock import MonotonicClock
from voiceflow.frames import AudioRaw, Transcript, VoiceStarted, VoiceStopped
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.stt import STTProcessor
from voiceflow.services.stt.engine import FinalText, STTEvent, STTFailure
from voiceflow.services.stt.sphinx_decoder import decoders_created
from voiceflow.services.stt.sphinx_process import ProcessPocketsphinxEngine, ProcessStream
from voiceflow.sim.recognize import recognize
from voiceflow.sim.speech import normalize_words, synthesize

RATE = 16000
FRAME = 2 * RATE // 50  # 20 ms
CANCEL = "please cancel my order"
RESCHEDULE = "i need to reschedule my appointment for next tuesday"


def _speech(text: str) -> bytes:
    return bytes(RATE // 5) + synthesize(text, RATE) + bytes(RATE // 2)


def _recognizer_processes() -> list[int]:
    """This test process's children running a recognizer (zombies are gone for good)."""
    alive = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "voiceflow.services.stt.sphinx_child" in child.cmdline() and child.status() != "zombie":
                alive.append(child.pid)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.fixture
async def engine() -> AsyncIterator[ProcessPocketsphinxEngine]:
    """A started engine; afterwards every recognizer process it ran has exited."""
    engine = ProcessPocketsphinxEngine(processes=1, prewarm=1, initial_cmn=wideband_cmn())
    await engine.start(MonotonicClock())
    assert len(_recognizer_processes()) == 1
    try:
        yield engine
    finally:
        await engine.aclose()
    assert _recognizer_processes() == [] and engine.child_pids == []


async def _watch(stream: ProcessStream, into: list[STTEvent]) -> None:
    async for event in stream.events():
        into.append(event)


async def test_speech_goes_through_the_child_and_comes_back_as_text(
    engine: ProcessPocketsphinxEngine,
) -> None:
    built_here = decoders_created()
    stream = await engine.open_stream(hints=("reschedule",))
    try:
        result = await recognize(stream, _speech(RESCHEDULE))
        assert stream.child_pid is not None and stream.child_pid != os.getpid()
        assert psutil.Process(stream.child_pid).is_running()
    finally:
        await stream.aclose()
    assert {"reschedule", "appointment"} <= set(normalize_words(result.final.text)), result.final.text
    assert result.interims, "interims come back from the child while the audio is sent"
    assert decoders_created() == built_here, "no decoder is built in the server's own process"


async def test_a_killed_child_is_a_recoverable_failure_and_the_stream_goes_on_in_a_new_one(
    engine: ProcessPocketsphinxEngine,
) -> None:
    stream = await engine.open_stream()
    events: list[STTEvent] = []
    reader = asyncio.create_task(_watch(stream, events))
    try:
        speech = _speech(RESCHEDULE)
        for i in range(0, len(speech) // 2, FRAME):
            await stream.send(speech[i : i + FRAME])
        first = stream.child_pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        await wait_until(lambda: any(isinstance(e, STTFailure) for e in events))
        failure = next(e for e in events if isinstance(e, STTFailure))
        assert "pocketsphinx process exited" in failure.message and failure.recoverable
        # the next utterance is heard, by a new process
        result = await recognize(stream, _speech(CANCEL))
        assert stream.child_pid not in (None, first)
        assert not psutil.pid_exists(first) or psutil.Process(first).status() == "zombie"
    finally:
        await stream.aclose()
        await asyncio.wait_for(reader, 10)
    assert {"cancel", "order"} <= set(normalize_words(result.final.text)), result.final.text


async def test_a_finalize_waiting_on_a_child_that_dies_gets_an_empty_final(
    engine: ProcessPocketsphinxEngine,
) -> None:
    stream = await engine.open_stream()
    try:
        await stream.send(_speech(CANCEL)[: RATE // 2])
        pid = stream.child_pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)  # the finalize is queued behind a child that cannot answer
        finalize = asyncio.create_task(stream.finalize())
        await asyncio.sleep(0.05)
        assert not finalize.done()
        os.kill(pid, signal.SIGKILL)
        await asyncio.wait_for(finalize, 10)
        events = [e async for e in _until_final(stream)]
    finally:
        await stream.aclose()
    assert any(isinstance(e, STTFailure) for e in events)
    final = events[-1]
    assert isinstance(final, FinalText) and final.from_finalize and final.text == ""


async def test_a_call_whose_recognizer_dies_reports_it_and_its_next_turn_is_heard(
    engine: ProcessPocketsphinxEngine,
) -> None:
    sink = Collector(name="sink")
    stt = STTProcessor(engine, name="stt", forward_audio=False)
    graph = Graph("stt", inputs=[AudioRaw]).chain(stt, sink)
    async with GraphRun(graph, clock=VirtualClock()) as run:

        async def turn(speech: bytes, *, kill_midway: bool = False) -> None:
            await run.push(run.make(VoiceStarted))
            for i in range(0, len(speech), FRAME):
                await run.push(run.make(AudioRaw, audio=speech[i : i + FRAME], sample_rate=RATE))
                if kill_midway and i == len(speech) // 2 // FRAME * FRAME:
                    await wait_until(lambda: bool(engine.child_pids))
                    await _kill_the_child(engine)
            await run.push(run.make(VoiceStopped))

        await turn(synthesize(RESCHEDULE, RATE), kill_midway=True)
        await turn(synthesize(CANCEL, RATE))
    assert [e.message.split(" (")[0] for e in run.errors] == ["pocketsphinx: pocketsphinx process exited"]
    assert all(not e.fatal for e in run.errors)
    finals = [f.text for f in sink.of(Transcript) if f.final]
    assert finals and {"cancel", "order"} <= set(normalize_words(finals[-1])), finals


async def _kill_the_child(engine: ProcessPocketsphinxEngine) -> None:
    """SIGKILL the engine's one recognizer process; return once the engine has noticed."""
    (pid,) = engine.child_pids
    os.kill(pid, signal.SIGKILL)
    await wait_until(lambda: pid not in engine.child_pids)


async def _until_final(stream: ProcessStream) -> AsyncIterator[STTEvent]:
    async with asyncio.timeout(30):
        async for event in stream.events():
            yield event
            if isinstance(event, FinalText) and event.from_finalize:
                return
