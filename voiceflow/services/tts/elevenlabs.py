"""ElevenLabs voices over the stream-input WebSocket, through the ``elevenlabs`` SDK.

One WebSocket per utterance (``/v1/text-to-speech/{voice}/stream-input``): the text
goes out clause by clause with ``flush`` at each clause boundary, so the first clause
is spoken while the rest is still being sent (``synthesize_stream`` takes the text as
it arrives, e.g. LLM tokens). The SDK provides the client (key, base URL, its headers),
the URL builder and the typed messages (``InitializeConnection``, ``SendText``,
``CloseConnection``, ``AudioOutput``); its own stream-input helper is synchronous
(``websockets.sync``), so the socket itself is websockets' asyncio client, which the
SDK's async realtime API also uses.

``output_format`` follows where the audio goes: ``ulaw_8000`` for Twilio, ``pcm_16000``
for WebRTC and the browser, ``mp3_44100_128`` where a file is wanted (decoded with av
when played). Voice settings (stability, similarity, style, speed) follow the caller's
mood through the prosody. Errors arrive in-band (``{"message", "error", "code"}``, then a
close) and become ``TTSProviderError``; a socket closed before ``isFinal`` is an error too.
Closing the stream early closes the socket, which stops the generation. The ``alignment``
an audio message carries (``chars``, ``charStartTimesMs``, ``charDurationsMs``, from the start
of that message's audio) becomes word times on the utterance's timeline (``words``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voiceflow.core.clock import Clock
from voiceflow.services.tts import formats, ssml_dialects
from voiceflow.services.tts.clauses import split_clauses, stream_clauses
from voiceflow.services.tts.engine import TTSError, TTSProviderError, WordTime
from voiceflow.services.tts.prosody import NEUTRAL, Prosody

log = logging.getLogger("voiceflow.tts.elevenlabs")

DEFAULT_VOICE = "21m00Tcm4TlvDq8ikWAM"  # "Rachel", a premade voice every account has
DEFAULT_MODEL = "eleven_multilingual_v2"
OUTPUT_FORMATS = {
    "ulaw_8000": formats.AudioFormat("mulaw", 8000),
    "pcm_16000": formats.AudioFormat("pcm", 16000),
    "pcm_22050": formats.AudioFormat("pcm", 22050),
    "pcm_24000": formats.AudioFormat("pcm", 24000),
    "mp3_44100_128": formats.AudioFormat("mp3", 44100),
}


@dataclass(frozen=True, slots=True)
class VoiceStyle:
    """The voice's resting settings; the prosody moves them per utterance."""

    stability: float = 0.5
    similarity_boost: float = 0.75
    style: float = 0.0


def voice_settings(prosody: Prosody, base: VoiceStyle = VoiceStyle()) -> dict[str, float]:
    """ElevenLabs voice settings for ``prosody``: speed from the rate (0.7-1.2 is what the API
    takes), steadier delivery when we slow down for an upset caller, more style when brighter."""
    speed = min(1.2, max(0.7, prosody.rate))
    stability = min(1.0, max(0.0, base.stability + (1.0 - prosody.rate) * 1.5))
    style = min(1.0, max(0.0, base.style + 0.1 * prosody.pitch))
    return {
        "stability": round(stability, 3),
        "similarity_boost": base.similarity_boost,
        "style": round(style, 3),
        "speed": round(speed, 3),
    }


class ElevenLabsEngine:
    name = "elevenlabs"
    #: fills ``synthesize(words=...)`` from the character alignment of its audio messages
    word_times = True
    #: SSML is rendered into what ElevenLabs reads (breaks, phonemes) by ``ssml_dialects``
    supports_ssml = True

    def __init__(
        self,
        api_key: str,
        *,
        voice_id: str = DEFAULT_VOICE,
        model_id: str = DEFAULT_MODEL,
        output_format: str = "pcm_16000",
        language: str | None = None,
        base_url: str | None = None,
        style: VoiceStyle = VoiceStyle(),
        chunk_length_schedule: Sequence[int] = (50, 120, 160, 250),
        open_timeout: float = 5.0,
    ) -> None:
        if output_format not in OUTPUT_FORMATS:
            raise ValueError(f"output_format {output_format!r} not in {sorted(OUTPUT_FORMATS)}")
        self.api_key = api_key
        self.voice_id = voice_id
        self.model_id = model_id
        self.output_format = output_format
        self.format = OUTPUT_FORMATS[output_format]
        self.language = language
        self.base_url = base_url or "https://api.elevenlabs.io"
        self.style = style
        self.chunk_length_schedule = list(chunk_length_schedule)
        self.open_timeout = open_timeout
        self._client: Any = None

    @property
    def sample_rate(self) -> int:
        return self.format.sample_rate

    async def start(self, clock: Clock) -> None:
        """Make the SDK client (no request is sent); a missing key is an error here, not per call."""
        if self._client is not None:
            return
        if not self.api_key:
            raise TTSError("elevenlabs: no API key (set ELEVENLABS_API_KEY)")
        from elevenlabs.client import AsyncElevenLabs

        self._client = AsyncElevenLabs(api_key=self.api_key, base_url=self.base_url)

    async def aclose(self) -> None:
        self._client = None

    # -- synthesis -------------------------------------------------------------------------------
    def _url(self, voice_id: str) -> str:
        from elevenlabs.url_utils import build_ws_url

        params = {"model_id": self.model_id, "output_format": self.output_format}
        if self.language:
            params["language_code"] = self.language
        return build_ws_url(self.base_url, ["v1", "text-to-speech", voice_id, "stream-input"], params)

    async def _connect(self) -> Any:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus

        await self.start(_NO_CLOCK)
        headers = self._client._client_wrapper.get_headers()  # the SDK's own headers, xi-api-key included
        try:
            return await connect(
                self._url(self.voice_id), additional_headers=headers, open_timeout=self.open_timeout
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise TTSProviderError(
                self.name, _HTTP_STATUS.get(status, "server_error"), f"HTTP {status}"
            ) from exc
        except (OSError, TimeoutError) as exc:
            raise TTSProviderError(self.name, "connection_lost", f"cannot connect: {exc}") from exc

    def _init_message(self, prosody: Prosody) -> str:
        from elevenlabs.types import GenerationConfig, InitializeConnection, RealtimeVoiceSettings

        message = InitializeConnection(
            voice_settings=RealtimeVoiceSettings.model_validate(voice_settings(prosody, self.style)),
            generation_config=GenerationConfig(
                chunk_length_schedule=[float(n) for n in self.chunk_length_schedule]
            ),
        )
        return json.dumps(message.model_dump(by_alias=True, exclude_none=True))

    @staticmethod
    def _text_message(text: str, *, flush: bool) -> str:
        from elevenlabs.types import SendText

        # the API wants every piece to end with a single space
        piece = text if text.endswith(" ") else text + " "
        return json.dumps(SendText(text=piece, flush=flush or None).model_dump(exclude_none=True))

    @staticmethod
    def _close_message() -> str:
        from elevenlabs.types import CloseConnection

        return json.dumps(CloseConnection().model_dump())

    def _prepare(self, text: str) -> str:
        if not text.strip():
            raise TTSError("nothing to synthesize (empty text)")
        if text.lstrip().startswith("<speak"):
            text = ssml_dialects.to_elevenlabs(text)
        return text

    async def synthesize(
        self, text: str, *, prosody: Prosody = NEUTRAL, words: list[WordTime] | None = None
    ) -> AsyncGenerator[bytes, None]:
        """``words`` (given) gets each word's times as its audio arrives (from the alignment)."""
        text = self._prepare(text)
        from websockets.exceptions import ConnectionClosed

        ws = await self._connect()
        try:
            try:
                await ws.send(self._init_message(prosody))
                for clause in split_clauses(text):
                    await ws.send(self._text_message(clause, flush=True))
                await ws.send(self._close_message())
            except ConnectionClosed:
                pass  # the server refused and closed: its error message is read below
            async for pcm in self._receive(ws, words):
                yield pcm
        except OSError as exc:
            raise TTSProviderError(self.name, "connection_lost", str(exc)) from exc
        finally:
            await _close(ws)

    async def synthesize_stream(
        self, pieces: AsyncIterable[str], *, prosody: Prosody = NEUTRAL, words: list[WordTime] | None = None
    ) -> AsyncGenerator[bytes, None]:
        """Speak text as it arrives (LLM tokens): sent at once, flushed at clause boundaries."""
        from websockets.exceptions import ConnectionClosed

        ws = await self._connect()

        async def send_all() -> None:
            with contextlib.suppress(ConnectionClosed):  # a refusal is read by the receiver
                await send_pieces()

        async def send_pieces() -> None:
            await ws.send(self._init_message(prosody))
            async for clause in stream_clauses(pieces):
                await ws.send(self._text_message(clause, flush=True))
            await ws.send(self._close_message())

        sender = asyncio.create_task(send_all(), name="elevenlabs-send")
        try:
            async for pcm in self._receive(ws, words):
                yield pcm
            await sender
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            await _close(ws)

    async def _receive(self, ws: Any, words: list[WordTime] | None = None) -> AsyncGenerator[bytes, None]:
        from elevenlabs.types import AudioOutput
        from websockets.exceptions import ConnectionClosed

        decoder = formats.decoder(self.format, self.name)
        delivered = 0.0  # seconds of audio before this message: where its alignment starts
        while True:
            try:
                raw = await ws.recv()
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else 1006
                raise TTSProviderError(
                    self.name, "connection_lost", "the socket closed before the last audio", code=code
                ) from exc
            data = _json(raw, self.name)
            if "error" in data or ("message" in data and "audio" not in data):
                close_code = data.get("code")
                raise TTSProviderError(
                    self.name,
                    str(data.get("error") or "error"),
                    str(data.get("message", "")),
                    code=close_code if isinstance(close_code, int) else None,
                )
            if data.get("audio"):
                chunk = AudioOutput.model_validate(data)
                try:
                    encoded = base64.b64decode(chunk.audio, validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise TTSError(f"{self.name}: malformed frame: audio is not base64") from exc
                if words is not None:
                    words += aligned_words(data.get("alignment"), delivered)
                pcm = decoder.feed(encoded)
                if pcm:
                    delivered += len(pcm) / 2 / self.sample_rate
                    yield pcm
            if data.get("isFinal"):
                tail = decoder.flush()
                if tail:
                    yield tail
                return

    # -- voice cloning ----------------------------------------------------------------------------
    async def clone_voice(self, name: str, files: Sequence[Path], *, description: str | None = None) -> str:
        """Instant voice cloning from sample files (``POST /v1/voices/add``); the new voice id."""
        from elevenlabs.core.api_error import ApiError

        if not name.strip():
            raise TTSError("a cloned voice needs a name")
        if not files:
            raise TTSError("voice cloning needs at least one sample file")
        uploads = []
        for path in files:
            if not path.is_file():
                raise TTSError(f"sample file {path} does not exist")
            uploads.append((path.name, path.read_bytes(), _content_type(path)))
        await self.start(_NO_CLOCK)
        try:
            result = await self._client.voices.ivc.create(name=name, files=uploads, description=description)
        except ApiError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            detail = body.get("detail", body)
            status = (
                detail.get("status", f"http_{exc.status_code}") if isinstance(detail, dict) else "invalid"
            )
            message = detail.get("message", str(detail)) if isinstance(detail, dict) else str(detail)
            raise TTSProviderError(self.name, str(status), str(message)) from exc
        return str(result.voice_id)


def aligned_words(alignment: Any, offset: float) -> list[WordTime]:
    """Words (runs of non-space characters) of an audio message's character alignment, timed on
    the utterance's timeline (``offset``: seconds of audio before that message). Malformed or
    absent alignment gives no words (the audio still plays)."""
    if not isinstance(alignment, dict):
        return []
    chars = alignment.get("chars")
    starts = alignment.get("charStartTimesMs")
    durations = alignment.get("charDurationsMs")
    if not (isinstance(chars, list) and isinstance(starts, list) and isinstance(durations, list)):
        return []
    out: list[WordTime] = []
    word, begin, end = "", 0.0, 0.0
    for char, start, duration in zip(chars, starts, durations, strict=False):
        if (
            not isinstance(char, str)
            or not isinstance(start, int | float)
            or not isinstance(duration, int | float)
        ):
            return out
        if char.isspace():
            if word:
                out.append(WordTime(word, offset + begin, offset + end))
            word = ""
            continue
        if not word:
            begin = start / 1000.0
        word += char
        end = (start + duration) / 1000.0
    if word:
        out.append(WordTime(word, offset + begin, offset + end))
    return out


class _NoClock:
    """ElevenLabs keeps no time: ``start`` ignores the clock, so internal starts pass this."""

    def now(self) -> float:
        return 0.0


_NO_CLOCK: Any = _NoClock()

_HTTP_STATUS = {401: "invalid_api_key", 403: "invalid_api_key", 404: "voice_not_found", 429: "rate_limited"}


def _json(raw: str | bytes, provider: str) -> dict[str, Any]:
    if isinstance(raw, bytes):
        raise TTSError(f"{provider}: malformed frame: binary message where JSON was expected")
    try:
        data = json.loads(raw)
    except ValueError:
        raise TTSError(f"{provider}: malformed frame (not JSON): {raw[:60]!r}") from None
    if not isinstance(data, dict):
        raise TTSError(f"{provider}: malformed frame: {type(data).__name__} where an object was expected")
    return data


def _content_type(path: Path) -> str:
    return {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".flac": "audio/flac"}.get(
        path.suffix.lower(), "application/octet-stream"
    )


async def _close(ws: Any) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(), 2.0)
