"""Cartesia Sonic voices over the TTS WebSocket, through the ``cartesia`` SDK.

One WebSocket per engine, opened in ``start`` (the SDK's ``tts.websocket_connect``: URL,
``Authorization`` and ``Cartesia-Version`` headers) and shared by every call: each
utterance is a context (``context_id``), its clauses sent as continuations
(``continue: true``) and closed with an empty ``continue: false``, so the voice keeps
its prosody across clauses; ``synthesize_stream`` sends each clause as soon as the LLM's
tokens complete it, on one context per utterance. One reader task routes the server's events (parsed by the
SDK into ``chunk`` / ``timestamps`` / ``done`` / ``error`` models) to the context they
name. Closing a stream early (a barge-in) sends ``cancel`` for its context, so the
server stops generating at once; the socket stays up for the other calls. A dropped
socket fails every open context with a precise error and is reopened on the next
utterance.

``output_format``: raw ``pcm_mulaw`` 8 kHz for a phone line, ``pcm_s16le`` 16 kHz for
WebRTC and the browser. Speed and volume come from the prosody (``generation_config``),
an emotion from the caller's mood; word timestamps are asked for and handed to
``on_words`` (they place barge-in truncation and failover on word boundaries).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from typing import Any

from voiceflow.core.clock import Clock
from voiceflow.services.tts import formats, ssml_dialects
from voiceflow.services.tts.clauses import split_clauses, stream_clauses
from voiceflow.services.tts.engine import TTSError, TTSProviderError, WordTime
from voiceflow.services.tts.prosody import NEUTRAL, Prosody

log = logging.getLogger("voiceflow.tts.cartesia")

DEFAULT_VOICE = "a0e99841-438c-4a64-b679-ae501e7d6091"
DEFAULT_MODEL = "sonic-3"
OUTPUT_FORMATS = {
    ("pcm_mulaw", 8000): formats.AudioFormat("mulaw", 8000),
    ("pcm_s16le", 8000): formats.AudioFormat("pcm", 8000),
    ("pcm_s16le", 16000): formats.AudioFormat("pcm", 16000),
    ("pcm_s16le", 22050): formats.AudioFormat("pcm", 22050),
    ("pcm_s16le", 24000): formats.AudioFormat("pcm", 24000),
}


def generation_config(prosody: Prosody) -> dict[str, Any]:
    """Sonic's speed (0.6-1.5) and volume (0.5-2.0) from the prosody, and an emotion for the mood:
    slower and softer is how we answer an upset caller (calm), brighter a happy one (content)."""
    config: dict[str, Any] = {
        "speed": round(min(1.5, max(0.6, prosody.rate)), 3),
        "volume": round(min(2.0, max(0.5, prosody.volume)), 3),
    }
    if prosody.rate < 0.95 and prosody.volume < 1.0:
        config["emotion"] = "calm"
    elif prosody.pitch > 0.5:
        config["emotion"] = "content"
    return config


class CartesiaEngine:
    name = "cartesia"
    #: fills ``synthesize(words=...)`` from its word timestamps
    word_times = True
    #: SSML is rendered into Sonic's tags (breaks, speed, volume, spell) by ``ssml_dialects``
    supports_ssml = True

    def __init__(
        self,
        api_key: str,
        *,
        voice_id: str = DEFAULT_VOICE,
        model_id: str = DEFAULT_MODEL,
        encoding: str = "pcm_s16le",
        sample_rate: int = 16000,
        language: str = "en",
        base_url: str | None = None,
        add_timestamps: bool = True,
        on_words: Callable[[list[WordTime]], None] | None = None,
        open_timeout: float = 5.0,
    ) -> None:
        if (encoding, sample_rate) not in OUTPUT_FORMATS:
            raise ValueError(f"output format {encoding}/{sample_rate} not in {sorted(OUTPUT_FORMATS)}")
        self.api_key = api_key
        self.voice_id = voice_id
        self.model_id = model_id
        self.encoding = encoding
        self.format = OUTPUT_FORMATS[(encoding, sample_rate)]
        self.language = language
        self.base_url = (base_url or "https://api.cartesia.ai").rstrip("/")
        self.add_timestamps = add_timestamps
        self.on_words = on_words
        self.open_timeout = open_timeout
        self._client: Any = None
        self._conn: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._contexts: dict[str, asyncio.Queue[Any]] = {}
        self._lock = asyncio.Lock()

    @property
    def sample_rate(self) -> int:
        return self.format.sample_rate

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self, clock: Clock) -> None:
        """Open the shared WebSocket (idempotent); a bad key or an unreachable server raises here."""
        await self._ensure()

    async def aclose(self) -> None:
        reader, self._reader = self._reader, None
        conn, self._conn = self._conn, None
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2.0)
        self._fail_all(TTSError("cartesia: engine closed"))

    async def _ensure(self) -> Any:
        async with self._lock:
            if self._conn is not None and self._reader is not None and not self._reader.done():
                return self._conn
            if not self.api_key:
                raise TTSError("cartesia: no API key (set CARTESIA_API_KEY)")
            from cartesia import AsyncCartesia
            from websockets.exceptions import InvalidStatus

            if self._client is None:
                ws_base = self.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
                self._client = AsyncCartesia(
                    api_key=self.api_key, base_url=self.base_url, websocket_base_url=ws_base
                )
            manager = self._client.tts.websocket_connect(
                websocket_connection_options={"open_timeout": self.open_timeout}
            )
            try:
                conn = await manager.enter()
            except InvalidStatus as exc:
                status = exc.response.status_code
                code = {401: "invalid_api_key", 403: "invalid_api_key", 429: "rate_limited"}.get(status)
                raise TTSProviderError(
                    self.name, code or "server_error", f"HTTP {status} on connect"
                ) from exc
            except (OSError, TimeoutError) as exc:
                raise TTSProviderError(self.name, "connection_lost", f"cannot connect: {exc}") from exc
            self._conn = conn
            self._reader = asyncio.create_task(self._read(conn), name="cartesia-reader")
            return conn

    def _fail_all(self, error: Exception) -> None:
        for queue in self._contexts.values():
            queue.put_nowait(error)

    async def _read(self, conn: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                try:
                    event = await conn.recv()
                except ValueError as exc:  # not JSON: the stream can no longer be trusted
                    self._fail_all(TTSError(f"cartesia: malformed frame (not JSON): {exc}"))
                    with contextlib.suppress(Exception):
                        await conn.close()
                    return
                cid = getattr(event, "context_id", None)
                queue = self._contexts.get(cid) if cid else None
                if queue is not None:
                    queue.put_nowait(event)
                elif getattr(event, "type", None) == "error":
                    log.warning("cartesia error outside a context: %s", getattr(event, "message", event))
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else 1006
            self._fail_all(TTSProviderError(self.name, "connection_lost", "the socket dropped", code=code))
        finally:
            if self._conn is conn:
                self._conn = None

    # -- synthesis ---------------------------------------------------------------------------------
    def _request(self, cid: str, transcript: str, prosody: Prosody, *, more: bool) -> dict[str, Any]:
        return {
            "context_id": cid,
            "model_id": self.model_id,
            "transcript": transcript,
            "voice": {"mode": "id", "id": self.voice_id},
            "output_format": {"container": "raw", "encoding": self.encoding, "sample_rate": self.sample_rate},
            "language": self.language,
            "add_timestamps": self.add_timestamps,
            "generation_config": generation_config(prosody),
            "continue": more,
        }

    async def synthesize(
        self, text: str, *, prosody: Prosody = NEUTRAL, words: list[WordTime] | None = None
    ) -> AsyncGenerator[bytes, None]:
        """``words`` (given) gets each word's timestamps as soon as the server sends them."""
        if not text.strip():
            raise TTSError("nothing to synthesize (empty text)")
        if text.lstrip().startswith("<speak"):
            text = ssml_dialects.to_cartesia(text)

        async def clauses() -> AsyncIterator[str]:
            for clause in split_clauses(text):
                yield clause

        async with contextlib.aclosing(self._context(clauses(), prosody, words)) as audio:
            async for pcm in audio:
                yield pcm

    async def synthesize_stream(
        self, pieces: AsyncIterable[str], *, prosody: Prosody = NEUTRAL, words: list[WordTime] | None = None
    ) -> AsyncGenerator[bytes, None]:
        """Speak text as it arrives (LLM tokens) on one context: each clause goes out as a
        continuation (``continue: true``) once complete, while the audio of the earlier ones plays."""

        async with contextlib.aclosing(self._context(stream_clauses(pieces), prosody, words)) as audio:
            async for pcm in audio:
                yield pcm

    async def _context(
        self, clauses: AsyncIterator[str], prosody: Prosody, words: list[WordTime] | None
    ) -> AsyncGenerator[bytes, None]:
        """One context: the clauses sent as continuations by a task while its audio is read here."""
        conn = await self._ensure()
        cid = uuid.uuid4().hex
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._contexts[cid] = queue
        finished = False
        decoder = formats.decoder(self.format, self.name)
        if words is None:
            words = []

        async def send() -> None:
            try:
                async for clause in clauses:
                    await conn.send(self._request(cid, clause + " ", prosody, more=True))
                await conn.send(self._request(cid, "", prosody, more=False))
            except Exception as exc:  # handed to the reader, which raises it
                queue.put_nowait(TTSProviderError(self.name, "connection_lost", f"send failed: {exc}"))

        sender = asyncio.create_task(send(), name="cartesia-send")
        try:
            while True:
                event = await queue.get()
                if isinstance(event, Exception):
                    raise event
                kind = getattr(event, "type", None)
                if kind == "chunk":
                    try:
                        audio = event.audio or b""
                    except ValueError as exc:
                        raise TTSError("cartesia: malformed frame: chunk data is not base64") from exc
                    pcm = decoder.feed(audio)
                    if pcm:
                        yield pcm
                elif kind == "timestamps" and event.word_timestamps is not None:
                    stamps = event.word_timestamps
                    words += [
                        WordTime(w, s, e)
                        for w, s, e in zip(stamps.words, stamps.start, stamps.end, strict=False)
                    ]
                elif kind == "error":
                    finished = True
                    status = event.error_code or f"http_{event.status_code}"
                    raise TTSProviderError(self.name, status, event.message or event.title or "error")
                elif kind == "done":
                    finished = True
                    tail = decoder.flush()
                    if tail:
                        yield tail
                    if self.on_words is not None and words:
                        self.on_words(words)
                    return
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            self._contexts.pop(cid, None)
            if not finished and self._conn is conn:
                # interrupted: stop the generation of this context only
                with contextlib.suppress(Exception):
                    await conn.send({"context_id": cid, "cancel": True})
