"""pocketsphinx decoders: the process-wide pool of idle ones, and one stream's synchronous session.

The session holds everything that touches a decoder (utterance state, interims, the
final with its N-best hint rescoring) and nothing asynchronous, so the same code runs
in a stream's thread (``pocketsphinx.py``) and in a recognizer child process
(``sphinx_child.py``), where a long decode holds a different interpreter's GIL than
the event loop that paces the calls' audio.

Decoders are costly to create (~0.5 s: acoustic model, dictionary and LM) and cannot
be shared by two streams, so idle ones wait in a pool keyed by their configuration.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from voiceflow.services.stt.engine import (
    FinalText,
    InterimText,
    SpeechStarted,
    STTClosedError,
    STTEvent,
    Word,
)

_FILLERS = {"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]", "[BREATH]", "[COUGH]", "[UM]", "[UH]"}

_pool_lock = threading.Lock()
#: idle (decoder, initial cepstral mean) per decoder configuration
_pools: dict[tuple[tuple[str, Any], ...], list[tuple[Any, str]]] = {}
_created = 0


def decoders_created() -> int:
    """How many pocketsphinx decoders this process has built (pool effectiveness)."""
    return _created


def _pool_key(options: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(options.items()))


def take_decoder(options: Mapping[str, Any]) -> tuple[Any, str]:
    """An idle decoder of this configuration (or a new one), with the model's initial channel mean."""
    global _created
    key = _pool_key(options)
    with _pool_lock:
        idle = _pools.get(key)
        pooled = idle.pop() if idle else None
    if pooled is not None:
        decoder, initial_cmn = pooled
        decoder.set_cmn(initial_cmn)
        return pooled
    from pocketsphinx import Decoder

    decoder = Decoder(**options)
    with _pool_lock:
        _created += 1
    return decoder, decoder.get_cmn()


def give_back(options: Mapping[str, Any], pooled: tuple[Any, str], max_idle: int) -> None:
    with _pool_lock:
        idle = _pools.setdefault(_pool_key(options), [])
        if len(idle) < max_idle:
            idle.append(pooled)


class SessionSettings(Protocol):
    """What a session reads from its engine (``PocketsphinxEngine`` provides it)."""

    sample_rate: int
    frame_rate: int
    interim_every_samples: int
    adapt_channel: bool
    channel_cmn: str | None
    nbest: int
    hint_bonus: int
    max_idle: int
    options: dict[str, Any]


class DecoderSession:
    """One stream's decoder and utterance state; every method blocks and runs in one thread at a time."""

    def __init__(self, engine: SessionSettings, pooled: tuple[Any, str], hints: frozenset[str]) -> None:
        self._engine = engine
        self._pooled = pooled
        self._decoder: Any = pooled[0]
        if engine.channel_cmn is not None:
            self._decoder.set_cmn(engine.channel_cmn)
        self.hints = hints
        self.in_utt = False
        self._stream_samples = 0  # every sample of the stream so far (for event times)
        self._utt_start = 0  # stream sample where the current utterance began
        self.sent = 0
        self.decoded = 0
        self._since_interim = 0
        self._last_interim = ""
        self._heard = False  # SpeechStarted sent for this utterance

    def _require_decoder(self) -> Any:
        if self._decoder is None:
            raise STTClosedError("pocketsphinx stream is closed")
        return self._decoder

    def decode(self, pcm16: bytes) -> list[STTEvent]:
        """Decode one chunk; the events it gives (a first ``SpeechStarted``, a changed interim)."""
        decoder = self._require_decoder()
        if not self.in_utt:
            decoder.start_utt()
            self.in_utt = True
            self._utt_start = self._stream_samples
            self.sent = self.decoded = self._since_interim = 0
            self._last_interim = ""
            self._heard = False
        samples = len(pcm16) // 2
        self.sent += samples
        self._stream_samples += samples
        decoder.process_raw(pcm16, False, False)
        self.decoded += samples
        self._since_interim += samples
        if self._since_interim < self._engine.interim_every_samples:
            return []
        self._since_interim = 0
        hyp = decoder.hyp()
        text = hyp.hypstr if hyp is not None else ""
        if not text or text == self._last_interim:
            return []
        self._last_interim = text
        events: list[STTEvent] = []
        if not self._heard:
            self._heard = True
            events.append(SpeechStarted(at=self._seconds(self._utt_start + self._first_word_frame(decoder))))
        events.append(InterimText(text))
        return events

    def _first_word_frame(self, decoder: Any) -> int:
        """Samples from the utterance start to the first real word of the running hypothesis."""
        for seg in decoder.seg():
            if seg.word not in _FILLERS:
                return int(seg.start_frame * self._engine.sample_rate // self._engine.frame_rate)
        return 0

    def finish(self) -> FinalText:
        """Close the utterance: the lattice best path (hint-rescored), or an empty final."""
        decoder = self._require_decoder()
        start = self._seconds(self._utt_start)
        if not self.in_utt:
            at = self._seconds(self._stream_samples)
            return FinalText("", 0.0, speech_final=True, start=at, end=at, from_finalize=True)
        self.in_utt = False
        decoder.end_utt()
        end = self._seconds(self._stream_samples)
        if self._engine.adapt_channel:
            self._engine.channel_cmn = decoder.get_cmn(True)
        hyp = decoder.hyp()
        if hyp is None or not hyp.hypstr:
            return FinalText("", 0.0, speech_final=True, start=start, end=end, from_finalize=True)
        best = hyp.hypstr
        text = self._rescore(decoder, best) if self.hints else best
        # word times come from the best path; a hint-rescored text has none to offer
        words = self._words(decoder) if text == best else ()
        return FinalText(
            text,
            self._confidence(decoder),
            speech_final=True,
            words=words,
            start=start,
            end=end,
            from_finalize=True,
        )

    def _seconds(self, samples: int) -> float:
        return samples / self._engine.sample_rate

    def _words(self, decoder: Any) -> tuple[Word, ...]:
        frames = self._engine.frame_rate
        base = self._seconds(self._utt_start)
        return tuple(
            Word(
                seg.word.split("(")[0],
                start=base + seg.start_frame / frames,
                end=base + (seg.end_frame + 1) / frames,
                confidence=float(seg.prob),
            )
            for seg in decoder.seg()
            if seg.word.split("(")[0] not in _FILLERS
        )

    def _rescore(self, decoder: Any, best: str) -> str:
        """Pick the N-best entry with the highest score once each hinted word earns a bonus.

        The best path competes with its own N-best score (or, when the N-best walk
        did not reproduce it, with the top N-best score), so a hint only wins when
        the acoustics already made it a close call.
        """
        engine = self._engine
        logmath = decoder.get_logmath()
        entries = [
            (h.hypstr, logmath.log(h.score))
            for h in itertools.islice(decoder.nbest(), engine.nbest)
            if h.hypstr
        ]
        if not entries:
            return best
        base = max((s for t, s in entries if t == best), default=max(s for _, s in entries))
        chosen = best
        chosen_score = base + engine.hint_bonus * self._hint_count(best)
        for text, score in entries:
            total = score + engine.hint_bonus * self._hint_count(text)
            if total > chosen_score:
                chosen, chosen_score = text, total
        return chosen

    def _hint_count(self, text: str) -> int:
        return sum(1 for w in text.split() if w in self.hints)

    @staticmethod
    def _confidence(decoder: Any) -> float:
        """Mean word posterior over the best path (fillers and silences left out)."""
        probs = [seg.prob for seg in decoder.seg() if seg.word.split("(")[0] not in _FILLERS]
        return float(sum(probs) / len(probs)) if probs else 0.0

    def release(self) -> None:
        """Give the decoder back to the pool (after every job of the stream)."""
        decoder, self._decoder = self._decoder, None
        if decoder is None:
            return
        if self.in_utt:
            decoder.end_utt()
            self.in_utt = False
        give_back(self._engine.options, self._pooled, self._engine.max_idle)
