"""Deepgram live transcription (``/v1/listen`` WebSocket) through the official ``deepgram-sdk``.

One WebSocket per stream, opened by the SDK with the query parameters Deepgram documents:
``model`` (``nova-2`` by default; ``nova-3`` takes ``keyterm`` where earlier models take
``keywords`` with intensities), ``encoding`` / ``sample_rate`` (``mulaw`` 8 kHz straight from
a phone line, ``linear16`` otherwise), ``interim_results``, ``endpointing``,
``utterance_end_ms``, ``vad_events``, ``smart_format``, ``punctuate``, ``filler_words``.

Events onto the streaming contract (``engine.py``): interim ``Results`` → ``InterimText``
(the whole utterance so far); ``is_final`` segments are *joined* until Deepgram closes the
utterance (``speech_final``, or ``UtteranceEnd`` after a final without it), so one turn
gives one ``FinalText``; our ``finalize()`` sends ``Finalize`` and the ``from_finalize``
answer closes the utterance the same way; ``SpeechStarted`` → ``SpeechStarted`` (usable for
barge-in); ``UtteranceEnd`` → ``UtteranceEnd``. Deepgram ``Error`` messages, malformed
or unknown messages become recoverable ``STTFailure`` events: the stream goes on.

Keeping the line: ``KeepAlive`` every ``keepalive_s`` without audio (Deepgram closes an
idle socket after 10 s); ``CloseStream`` on ``aclose``. A socket that drops is reopened
with backoff, and the audio sent since the last final is sent again (times are shifted
back onto the stream's timeline), so no caller words are lost across a reconnect; a
``Finalize`` that was not answered is sent again. A refused key (401/403) is final.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from deepgram import AsyncDeepgramClient
from deepgram.core.api_error import ApiError
from deepgram.environment import DeepgramClientEnvironment
from deepgram.listen.v1.socket_client import AsyncV1SocketClient
from deepgram.listen.v1.types import (
    ListenV1Error,
    ListenV1Metadata,
    ListenV1Results,
    ListenV1SpeechStarted,
    ListenV1UtteranceEnd,
)
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from voiceflow.core.clock import Clock, MonotonicClock
from voiceflow.services.stt.engine import (
    Encoding,
    FinalText,
    InterimText,
    SpeechStarted,
    STTClosedError,
    STTEvent,
    STTFailure,
    STTInputError,
    UtteranceEnd,
    Word,
    check_format,
    check_pcm16,
)
from voiceflow.services.stt.feed import EventFeed

log = logging.getLogger("voiceflow.stt.deepgram")

DEFAULT_URL = "wss://api.deepgram.com"
LINEAR16_RATES = (8000, 16000, 24000, 48000)
#: audio kept for a replay after a reconnect (seconds); older audio is dropped and counted
MAX_REPLAY_S = 60.0


def environment(url: str) -> DeepgramClientEnvironment:
    """The SDK's environment for a base URL (``wss://`` or ``ws://``; REST on the same host)."""
    ws = url.rstrip("/")
    rest = ws.replace("wss://", "https://", 1).replace("ws://", "http://", 1)
    return DeepgramClientEnvironment(base=rest, production=ws, agent=ws, agent_rest=rest)


@dataclass(frozen=True)
class DeepgramOptions:
    """The live-transcription parameters every stream of an engine uses."""

    model: str = "nova-2"
    language: str = "en-US"
    #: ms of silence after speech before Deepgram closes a segment (``speech_final``); None: off
    endpointing_ms: int | None = 800
    #: ms without words after which Deepgram sends ``UtteranceEnd``; None: off
    utterance_end_ms: int | None = 1000
    interim_results: bool = True
    vad_events: bool = True
    smart_format: bool = True
    punctuate: bool = True
    filler_words: bool = False
    #: boosted words and their intensity (``keywords=word:2``); ``keyterm`` on Nova-3
    keywords: tuple[tuple[str, float], ...] = ()

    @property
    def nova3(self) -> bool:
        return self.model.startswith("nova-3")

    def query(self, encoding: Encoding, sample_rate: int, hints: Sequence[str]) -> dict[str, Any]:
        """The SDK's ``connect`` keyword arguments."""
        params: dict[str, Any] = {
            "model": self.model,
            "language": self.language,
            "encoding": encoding,
            "sample_rate": sample_rate,
            "channels": 1,
            "interim_results": _flag(self.interim_results),
            "vad_events": _flag(self.vad_events),
            "smart_format": _flag(self.smart_format),
            "punctuate": _flag(self.punctuate),
            "endpointing": "false" if self.endpointing_ms is None else self.endpointing_ms,
        }
        if self.utterance_end_ms is not None and self.interim_results:
            params["utterance_end_ms"] = self.utterance_end_ms
        boosted = [*self.keywords, *((h, 1.0) for h in hints if h)]
        if boosted and self.nova3:
            params["keyterm"] = [word for word, _ in boosted]
        elif boosted:
            params["keywords"] = [f"{word}:{intensity:g}" for word, intensity in boosted]
        params["request_options"] = {
            "additional_query_parameters": {"filler_words": _flag(self.filler_words)}
        }
        return params


def _flag(value: bool) -> str:
    return "true" if value else "false"


class DeepgramEngine:
    """``STTEngine`` over Deepgram's live WebSocket: one socket per stream."""

    name = "deepgram"
    encodings: tuple[Encoding, ...] = ("linear16", "mulaw")
    #: ``speech_final`` / ``UtteranceEnd`` close an utterance without a ``finalize`` (its endpointing)
    ends_turns = True

    def __init__(
        self,
        *,
        api_key: str,
        url: str = DEFAULT_URL,
        options: DeepgramOptions | None = None,
        keepalive_s: float = 5.0,
        reconnect_attempts: int = 4,
        backoff_s: float = 0.1,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self.options = options or DeepgramOptions()
        self.keepalive_s = keepalive_s
        self.reconnect_attempts = reconnect_attempts
        self.backoff_s = backoff_s
        self.connect_timeout_s = connect_timeout_s
        self.url = url
        self._client = AsyncDeepgramClient(api_key=api_key, environment=environment(url))
        self.clock: Clock = MonotonicClock()
        self._streams: set[DeepgramStream] = set()

    async def start(self, clock: Clock) -> None:
        """Adopt the run clock (keep-alive and backoff follow it); no request is made."""
        self.clock = clock

    async def open_stream(
        self,
        *,
        sample_rate: int = 16000,
        encoding: Encoding = "linear16",
        language: str = "en",
        hints: tuple[str, ...] = (),
    ) -> DeepgramStream:
        rates = (8000,) if encoding == "mulaw" else LINEAR16_RATES
        check_format(self.name, encoding=encoding, sample_rate=sample_rate, encodings=self.encodings,
                     sample_rates=rates)  # fmt: skip
        stream = DeepgramStream(self, self.options.query(encoding, sample_rate, hints), encoding, sample_rate)
        self._streams.add(stream)
        await stream.connect()
        return stream

    async def aclose(self) -> None:
        """Close every stream still open (each sends ``CloseStream``)."""
        streams, self._streams = list(self._streams), set()
        for stream in streams:
            await stream.aclose()

    def _forget(self, stream: DeepgramStream) -> None:
        self._streams.discard(stream)


class _Utterance:
    """``is_final`` segments joined until the utterance is closed."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.texts: list[str] = []
        self.words: list[Word] = []
        self.confidences: list[float] = []
        self.start: float | None = None
        self.end = 0.0

    def add(self, text: str, confidence: float, words: list[Word], start: float, end: float) -> None:
        if text:
            self.texts.append(text)
            self.confidences.append(confidence)
        self.words.extend(words)
        if self.start is None and text:
            self.start = start
        self.end = max(self.end, end)

    @property
    def text(self) -> str:
        return " ".join(self.texts)

    def close(self, *, from_finalize: bool, at: float) -> FinalText:
        start = self.start if self.start is not None else at
        final = FinalText(
            text=self.text,
            confidence=min(self.confidences) if self.confidences else 1.0,
            speech_final=True,
            words=tuple(self.words),
            start=start,
            end=max(start, self.end if self.texts else at),
            from_finalize=from_finalize,
        )
        self.reset()
        return final


class DeepgramStream:
    """One live transcription: see the module docstring for the mapping and the reconnects."""

    def __init__(self, engine: DeepgramEngine, query: dict[str, Any], encoding: Encoding, rate: int) -> None:
        self.engine = engine
        self.query = query
        self.encoding = encoding
        self.bytes_per_second = rate * (1 if encoding == "mulaw" else 2)
        self.feed = EventFeed()
        self.utterance = _Utterance()
        #: (stream time the chunk starts at, chunk): audio not yet covered by a final
        self.unconfirmed: deque[tuple[float, bytes]] = deque()
        self.replay_dropped_s = 0.0
        self.reconnects = 0
        self.sent_s = 0.0  # seconds of audio sent on this stream
        self.offset = 0.0  # stream time at which the current socket's audio starts
        self.finalizes_waiting = 0
        self._socket: AsyncV1SocketClient | None = None
        self._stack: AsyncExitStack | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # the reader(s) and the keep-alive
        self._reader: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._reconnecting = False
        self._retry_at = 0.0  # the clock time before which send() does not try to connect again
        self._last_audio_at = engine.clock.now()
        self._dead = False  # the key was refused: no more attempts
        self._closed = False
        self._closing = False

    # -- the connection ----------------------------------------------------------------------
    async def connect(self) -> bool:
        """Open the socket (and replay what was not confirmed); False if it could not."""
        stack = AsyncExitStack()
        try:
            async with asyncio.timeout(self.engine.connect_timeout_s):
                socket = await stack.enter_async_context(self.engine._client.listen.v1.connect(**self.query))
        except ApiError as exc:
            await stack.aclose()
            status = exc.status_code or 0
            self._dead = status in (400, 401, 403)
            why = "the API key was refused" if status in (401, 403) else f"the handshake failed ({status})"
            if status == 400:
                why = "the parameters were refused (400)"
            self.feed.put(STTFailure(f"deepgram: {why}", recoverable=not self._dead))
            return False
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            await stack.aclose()
            self.feed.put(
                STTFailure(f"deepgram: cannot connect: {exc or type(exc).__name__}", recoverable=True)
            )
            return False
        self.offset = self.unconfirmed[0][0] if self.unconfirmed else self.sent_s
        try:  # what the last socket did not confirm, and the finalizes it did not answer
            sent_until = -1.0  # audio sent by send() during the replay is replayed too, in order
            while pending := [(t, c) for t, c in self.unconfirmed if t > sent_until]:
                for start, chunk in pending:
                    await socket.send_media(chunk)
                    sent_until = start
            for _ in range(self.finalizes_waiting):
                await socket.send_finalize()
        except ConnectionClosed as exc:
            await stack.aclose()
            self.feed.put(
                STTFailure(f"deepgram: the connection closed during the replay ({exc})", recoverable=True)
            )
            return False
        self._socket, self._stack = socket, stack
        self._reader = self._task(self._read(socket), "deepgram-reader")
        if self._keepalive is None and self.engine.keepalive_s > 0:
            self._keepalive = self._task(self._keep_alive(), "deepgram-keepalive")
        return True

    def _task(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _drop_socket(self) -> None:
        stack, self._stack, self._socket = self._stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()

    async def _reconnect(self, why: str) -> None:
        """Reopen with backoff; the unconfirmed audio and pending finalizes are sent again."""
        self._reconnecting = True
        try:
            await self._reconnect_with_backoff(why)
        finally:
            self._reconnecting = False

    async def _reconnect_with_backoff(self, why: str) -> None:
        await self._drop_socket()
        replay = sum(len(c) for _, c in self.unconfirmed) / self.bytes_per_second
        self.feed.put(
            STTFailure(f"deepgram: {why}; reconnecting (replaying {replay:.1f} s)", recoverable=True)
        )
        delay = self.engine.backoff_s
        for _ in range(self.engine.reconnect_attempts):
            if self._closed or self._dead:
                break
            await self.engine.clock.sleep(delay)
            if await self.connect():
                self.reconnects += 1
                return
            delay *= 2
        if not self._closed:
            self.feed.put(STTFailure("deepgram: the connection could not be restored", recoverable=False))
            self._answer_waiting_finalizes()

    def _answer_waiting_finalizes(self) -> None:
        """Without a socket, each waiting ``finalize`` is answered with what was already final."""
        at = self.sent_s
        while self.finalizes_waiting:
            self.finalizes_waiting -= 1
            self.feed.put(self.utterance.close(from_finalize=True, at=at))

    # -- the contract --------------------------------------------------------------------------
    async def send(self, audio: bytes) -> None:
        if self._closed:
            raise STTClosedError("send on a closed Deepgram stream")
        if self.encoding == "linear16":
            check_pcm16(audio)
        elif not audio:
            raise STTInputError("empty audio")
        self.unconfirmed.append((self.sent_s, audio))
        self.sent_s += len(audio) / self.bytes_per_second
        self._trim_replay()
        self._last_audio_at = self.engine.clock.now()
        socket = self._socket
        if socket is None:
            now = self.engine.clock.now()
            if not self._dead and not self._reconnecting and now >= self._retry_at:
                # the connection failed: try again with this audio, at most once per backoff
                self._retry_at = now + self.engine.backoff_s
                await self.connect()
            return
        with contextlib.suppress(ConnectionClosed):  # the reader reconnects and replays
            await socket.send_media(audio)

    async def finalize(self) -> None:
        if self._closed:
            raise STTClosedError("finalize on a closed Deepgram stream")
        if not self.unconfirmed and not self.utterance.texts and not self.finalizes_waiting:
            self.feed.put(self.utterance.close(from_finalize=True, at=self.sent_s))  # nothing to wait for
            return
        self.finalizes_waiting += 1
        socket = self._socket
        if socket is None:
            if self._dead:
                self._answer_waiting_finalizes()
            return
        with contextlib.suppress(ConnectionClosed):
            await socket.send_finalize()

    def events(self) -> AsyncIterator[STTEvent]:
        return self.feed

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.engine._forget(self)
        socket, reader = self._socket, self._reader
        try:
            if socket is not None and reader is not None and not reader.done():
                self._closing = True
                # CloseStream: Deepgram flushes, sends Metadata and closes; the reader sees the close
                await socket.send_close_stream()
                async with asyncio.timeout(2.0):
                    await asyncio.shield(reader)
        except (ConnectionClosed, TimeoutError):
            pass
        finally:
            tasks = [t for t in self._tasks if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._drop_socket()
            self.feed.close()

    # -- inside ------------------------------------------------------------------------------
    def _trim_replay(self) -> None:
        kept = sum(len(c) for _, c in self.unconfirmed) / self.bytes_per_second
        while self.unconfirmed and kept > MAX_REPLAY_S:
            _, chunk = self.unconfirmed.popleft()
            seconds = len(chunk) / self.bytes_per_second
            kept -= seconds
            self.replay_dropped_s += seconds

    def _confirm(self, until: float) -> None:
        """Forget the audio a final covered (it needs no replay)."""
        while self.unconfirmed:
            start, chunk = self.unconfirmed[0]
            if start + len(chunk) / self.bytes_per_second > until + 1e-6:
                break
            self.unconfirmed.popleft()

    async def _keep_alive(self) -> None:
        clock = self.engine.clock
        while True:
            await clock.sleep(self.engine.keepalive_s / 2)
            socket = self._socket
            if socket is not None and clock.now() - self._last_audio_at >= self.engine.keepalive_s:
                with contextlib.suppress(ConnectionClosed):
                    await socket.send_keep_alive()
                    self._last_audio_at = clock.now()

    async def _read(self, socket: AsyncV1SocketClient) -> None:
        while True:
            try:
                message = await socket.recv()
            except ConnectionClosed as exc:
                if self._closing or self._closed:
                    return
                code = exc.rcvd.code if exc.rcvd is not None else 1006
                reason = exc.rcvd.reason if exc.rcvd is not None else "no close frame"
                await self._reconnect(f"the connection dropped (code {code}: {reason or 'no reason'})")
                return
            except json.JSONDecodeError as exc:
                self.feed.put(STTFailure(f"deepgram: malformed message ignored ({exc})", recoverable=True))
                continue
            self._handle(message)

    def _handle(self, message: object) -> None:
        if isinstance(message, ListenV1Results):
            self._results(message)
        elif isinstance(message, ListenV1SpeechStarted):
            self.feed.put(SpeechStarted(at=self.offset + float(message.timestamp)))
        elif isinstance(message, ListenV1UtteranceEnd):
            if self.utterance.texts:
                self.feed.put(self.utterance.close(from_finalize=False, at=self.sent_s))
            self.feed.put(UtteranceEnd(last_word_end=self.offset + float(message.last_word_end)))
        elif isinstance(message, ListenV1Metadata):
            log.debug("deepgram metadata: request %s, %.2f s", message.request_id, message.duration)
        elif isinstance(message, ListenV1Error):
            self.feed.put(
                STTFailure(f"deepgram error {message.code or ''}: {message.description}", recoverable=True)
            )
        elif isinstance(message, bytes):
            return
        else:
            kind = message.get("type") if isinstance(message, dict) else None
            self.feed.put(STTFailure(f"deepgram: unknown message ignored (type {kind!r})", recoverable=True))

    def _results(self, message: ListenV1Results) -> None:
        alternatives = message.channel.alternatives
        best = alternatives[0] if alternatives else None
        text = (best.transcript if best is not None else "").strip()
        start = self.offset + float(message.start)
        end = start + float(message.duration)
        if not message.is_final:
            if text:
                joined = " ".join([*self.utterance.texts, text])
                self.feed.put(InterimText(joined))
            return
        words = [
            Word(w.punctuated_word or w.word, self.offset + w.start, self.offset + w.end, w.confidence)
            for w in (best.words if best is not None else [])
        ]
        self.utterance.add(text, float(best.confidence) if best is not None else 1.0, words, start, end)
        self._confirm(end)
        if message.from_finalize and self.finalizes_waiting:
            self.finalizes_waiting -= 1
            self.feed.put(self.utterance.close(from_finalize=True, at=end))
        elif message.speech_final and self.utterance.texts:
            self.feed.put(self.utterance.close(from_finalize=False, at=end))
