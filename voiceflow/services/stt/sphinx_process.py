"""pocketsphinx in child processes: the offline recognizer without holding the server's GIL.

pocketsphinx's Python binding keeps the GIL through ``process_raw`` and the end-of-utterance
search, so in a server worker its decodes delay the event loop that paces every call's
audio. ``ProcessPocketsphinxEngine`` keeps the same streaming contract (``engine.py``) and
the same decoder code (``sphinx_decoder.DecoderSession``), but runs the decoders in a
few child processes per worker (``sphinx_child.py``): a stream is a session in one child;
its 20 ms chunks (640 bytes) go down a pipe, interims and finals come back.

The loop never waits on a pipe: a writer thread per child sends what the loop queued, a
reader thread hands each answer to the loop. ``send`` returns at once while fewer than
``max_in_flight`` chunks wait in the child (else it waits, pacing a caller that outruns
the decoders, as the in-process engine's ``send`` does). Each child builds its share of
``prewarm`` decoders before ``start`` returns. The channel mean (CMN) a final brings back
is the engine's, so a new stream in any child starts from the latest one.

A child that dies (killed, out of memory) is reported on each of its streams as a
recoverable ``STTFailure``; an awaited ``finalize`` gets an empty final; the stream's next
audio opens it again in a fresh child (the utterance so far is lost, the call goes on).
``aclose`` closes the children's pipes and waits for them to exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from typing import Any

from voiceflow.core.clock import Clock, MonotonicClock
from voiceflow.services.stt.engine import (
    Encoding,
    FinalText,
    STTClosedError,
    STTEvent,
    STTFailure,
    UtteranceEnd,
    check_english_stream,
    check_pcm16,
)
from voiceflow.services.stt.feed import EventFeed
from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine
from voiceflow.services.stt.sphinx_child import read_message, write_message

#: seconds a child may take to exit once its pipe is closed before it is killed
EXIT_TIMEOUT = 5.0


class _Child:
    """One recognizer process and the two threads that talk to it."""

    def __init__(self, options: dict[str, Any], prewarm: int, owner: ProcessPocketsphinxEngine) -> None:
        self._owner = owner
        self._loop = asyncio.get_running_loop()
        self.streams: dict[int, ProcessStream] = {}
        self.ready: asyncio.Future[None] = self._loop.create_future()
        self.alive = True
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "voiceflow.services.stt.sphinx_child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._out: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._out.put(("config", options, prewarm))
        self._writer = threading.Thread(target=self._write, name=f"sphinx-w{self.proc.pid}", daemon=True)
        self._reader = threading.Thread(target=self._read, name=f"sphinx-r{self.proc.pid}", daemon=True)
        self._writer.start()
        self._reader.start()

    def post(self, message: tuple[Any, ...]) -> None:
        """Queue a message for the child (never blocks the loop)."""
        self._out.put(message)

    # -- threads ---------------------------------------------------------------------------------
    def _write(self) -> None:
        pipe = self.proc.stdin
        assert pipe is not None
        try:
            while (message := self._out.get()) is not None:
                write_message(pipe, message)
        except OSError:  # the child is gone: the reader reports it
            pass
        finally:
            with contextlib.suppress(OSError):
                pipe.close()

    def _read(self) -> None:
        pipe = self.proc.stdout
        assert pipe is not None
        try:
            while (message := read_message(pipe)) is not None:
                self._call(self._dispatch, message)
        except Exception:  # a garbled answer ends the child like a crash does
            self.proc.kill()
        code = self.proc.wait()
        self._out.put(None)  # let the writer go
        self._call(self._exited, code)

    def _call(self, fn: Any, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening any more
            self._loop.call_soon_threadsafe(fn, *args)

    # -- on the loop -------------------------------------------------------------------------------
    def _dispatch(self, message: tuple[Any, ...]) -> None:
        if message[0] == "ready":
            if not self.ready.done():
                self.ready.set_result(None)
            return
        kind, sid, *args = message
        stream = self.streams.get(sid)
        if stream is None:
            return  # closed meanwhile
        if kind == "events":
            stream.on_events(*args)
        elif kind == "final":
            stream.on_final(*args)
        elif kind == "failure":
            stream.on_failure(*args)

    def _exited(self, code: int) -> None:
        self.alive = False
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(f"pocketsphinx process exited with code {code} at start"))
        streams, self.streams = list(self.streams.values()), {}
        for stream in streams:
            stream.on_child_lost(code)
        self._owner.child_exited(self)

    async def stop(self) -> None:
        """Close the pipe, wait for the child to exit (killed past ``EXIT_TIMEOUT``), join the threads."""
        self._out.put(None)
        try:
            await asyncio.to_thread(self.proc.wait, EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)
        await asyncio.to_thread(self._reader.join)
        await asyncio.to_thread(self._writer.join)
        if self.ready.done() and not self.ready.cancelled():
            self.ready.exception()  # retrieved, so an exit at start is not logged as never seen
        else:
            self.ready.cancel()


class ProcessStream:
    """One call's session in a child process behind the streaming contract."""

    def __init__(self, engine: ProcessPocketsphinxEngine, sid: int, hints: frozenset[str]) -> None:
        self._engine = engine
        self.sid = sid
        self.hints = hints
        self._feed = EventFeed()
        self._child: _Child | None = None
        self._sent = 0  # chunks posted to the current child
        self._done = 0  # of those, decoded (the child's count)
        self._credit = asyncio.Event()
        self._finals: list[asyncio.Future[FinalText]] = []
        self._closed = False

    @property
    def child_pid(self) -> int | None:
        """The recognizer process this stream's decoder lives in (None until it has one)."""
        return self._child.proc.pid if self._child is not None else None

    def attach(self) -> _Child:
        child = self._child = self._engine.child_for(self)
        self._sent = self._done = 0
        child.post(("open", self.sid, self._engine.channel_cmn, tuple(sorted(self.hints))))
        return child

    # -- the contract ------------------------------------------------------------------------------
    async def send(self, audio: bytes) -> None:
        self._check_open()
        check_pcm16(audio)
        child = self._child or self.attach()
        while self._sent - self._done >= self._engine.max_in_flight and self._child is child:
            self._credit.clear()
            await self._credit.wait()
        self._check_open()
        child = self._child or self.attach()
        self._sent += 1
        child.post(("audio", self.sid, audio))

    async def finalize(self) -> None:
        self._check_open()
        child = self._child or self.attach()
        answer: asyncio.Future[FinalText] = asyncio.get_running_loop().create_future()
        self._finals.append(answer)
        child.post(("finalize", self.sid))
        final = await answer
        self._feed.put(final)
        if final.words:
            self._feed.put(UtteranceEnd(last_word_end=final.words[-1].end))

    def events(self) -> AsyncIterator[STTEvent]:
        return self._feed

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._feed.close()
        self._credit.set()
        if (child := self._child) is not None:
            self._child = None
            child.streams.pop(self.sid, None)
            child.post(("close", self.sid))
        while self._finals:  # a finalize still waiting gets its (empty) answer
            self._answer(FinalText("", 0.0, speech_final=True, from_finalize=True))

    def _check_open(self) -> None:
        if self._closed:
            raise STTClosedError("pocketsphinx stream is closed")

    # -- the child's answers (on the loop) -----------------------------------------------------------
    def on_events(self, done: int, events: list[STTEvent]) -> None:
        self._done = done
        self._credit.set()
        for event in events:
            self._feed.put(event)

    def on_final(self, done: int, final: FinalText, channel_cmn: str | None) -> None:
        self.on_events(done, [])
        if self._engine.adapt_channel and channel_cmn is not None:
            self._engine.channel_cmn = channel_cmn
        self._answer(final)

    def on_failure(self, message: str) -> None:
        self._feed.put(STTFailure(message, recoverable=True))

    def on_child_lost(self, code: int) -> None:
        self._child = None
        self._credit.set()
        self._feed.put(
            STTFailure(
                f"pocketsphinx process exited (code {code}): the utterance so far is lost, "
                "the stream goes on in a new process",
                recoverable=True,
            )
        )
        while self._finals:
            self._answer(FinalText("", 0.0, speech_final=True, from_finalize=True))

    def _answer(self, final: FinalText) -> None:
        while self._finals:
            answer = self._finals.pop(0)
            if not answer.done():  # a cancelled finalize's answer is dropped, as in-process
                answer.set_result(final)
                return


class ProcessPocketsphinxEngine:
    """``PocketsphinxEngine``'s configuration, its decoders in ``processes`` child processes."""

    name = "pocketsphinx"
    encodings: tuple[Encoding, ...] = ("linear16",)

    def __init__(
        self,
        *,
        processes: int = 1,
        max_in_flight: int = 50,
        prewarm: int = 1,
        max_idle: int = 8,
        **options: Any,
    ) -> None:
        if processes < 1:
            raise ValueError(f"processes must be at least 1, not {processes}")
        # validated (and the domain LM built and cached) here, before any child reads it
        self._config = PocketsphinxEngine(prewarm=prewarm, max_idle=max_idle, **options)
        if options.pop("domain_lm", False):  # the children load the LM this built
            options["lm"] = self._config.options["lm"]
            options.setdefault("lw", self._config.options["lw"])
        self.sample_rate = self._config.sample_rate
        self.hints = self._config.hints
        self.adapt_channel = self._config.adapt_channel
        #: the channel mean the next stream starts from (the latest final's, with adaptation)
        self.channel_cmn = self._config.channel_cmn
        self.processes = processes
        self.max_in_flight = max_in_flight
        self.prewarm_count = prewarm
        per_child = -(-prewarm // processes)
        self._child_options = {**options, "max_idle": max(max_idle, per_child), "prewarm": 0}
        self._per_child = per_child
        self._children: list[_Child] = []
        self._dead: list[_Child] = []  # exited, their threads joined at ``aclose``
        self._ids = itertools.count(1)
        self._started = False

    @property
    def child_pids(self) -> list[int]:
        return [c.proc.pid for c in self._children]

    async def start(self, clock: Clock) -> None:
        """Start the children and wait until each has built its share of ``prewarm`` decoders."""
        if self._started:
            return
        self._started = True
        while len(self._children) < self.processes:
            self._children.append(_Child(self._child_options, self._per_child, self))
        await asyncio.gather(*(c.ready for c in self._children))

    async def aclose(self) -> None:
        """Stop every child (their streams' events end); the engine starts again on the next stream."""
        self._started = False
        children, self._children, self._dead = self._children + self._dead, [], []
        for child in children:
            for stream in list(child.streams.values()):
                await stream.aclose()
        await asyncio.gather(*(c.stop() for c in children))

    async def open_stream(
        self,
        *,
        sample_rate: int = 16000,
        encoding: Encoding = "linear16",
        language: str = "en",
        hints: tuple[str, ...] = (),
    ) -> ProcessStream:
        check_english_stream(
            self.name,
            encoding=encoding,
            sample_rate=sample_rate,
            encodings=self.encodings,
            rate=self.sample_rate,
            language=language,
            model="the US-English model",
        )
        if not self._started:
            await self.start(MonotonicClock())
        extra = frozenset(w.lower() for hint in hints for w in hint.split())
        stream = ProcessStream(self, next(self._ids), self.hints | extra)
        stream.attach()
        return stream

    def child_for(self, stream: ProcessStream) -> _Child:
        """The live child with the fewest streams (a new one in place of a child that died)."""
        while len(self._children) < self.processes:
            self._children.append(_Child(self._child_options, self._per_child, self))
        child = min(self._children, key=lambda c: len(c.streams))
        child.streams[stream.sid] = stream
        return child

    def child_exited(self, child: _Child) -> None:
        if child in self._children:
            self._children.remove(child)
            self._dead.append(child)
