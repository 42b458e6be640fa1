"""Offline streaming STT on pocketsphinx 5 with its bundled US-English model.

Audio is decoded as it arrives (``process_raw`` per chunk); the interim text is
the decoder's running hypothesis; ``finish`` closes the utterance with the
lattice best path, no second pass over the audio (``fwdflat`` is off by default:
it re-searches every frame of the utterance; on the caller set it cost ~90 ms per
final against ~9 ms, for a WER gain under one point).

Decoders are costly to create (~0.5 s: acoustic model, dictionary and LM) and
cannot be shared by two streams, so idle ones wait in a process-wide pool keyed
by their configuration and a new session takes one from there.

Channel adaptation: live cepstral-mean normalisation (CMN) must learn the line's
spectral mean before recognition is good; from the model's default a fresh
decoder's first utterances are poor (WER ~0.8 on the phone-line set against
~0.3 once adapted). Calls of one deployment share a channel type, so the engine
keeps the mean reached by its latest finished utterance and every new session
starts from it (``adapt_channel``; ``channel="phone"`` or ``initial_cmn`` set it up
front: use ``channel="phone"`` behind a telephone transport). A session's
results depend only on its engine's history, never on which pooled decoder it got.

Phrase hints: after the utterance, the N-best list is rescored with a bonus per
hinted word (domain words and digits) — it can only choose among hypotheses the
decoder already found, so it never invents words. On the shipped caller set over
the phone-line round trip it lowers WER from 0.362 to 0.330 and raises keyword
recall from 0.635 to 0.678 (tests/speech/test_speech_roundtrip.py, benchmarks/speech.py).

Domain language model: ``domain_lm=True`` swaps the generic LM for a trigram model of
what callers say to the agent (``domain_lm.py``; built once, cached on disk), at a
language weight of ``DOMAIN_LM_WEIGHT``; ``lm=PATH`` loads any ARPA/binary LM. On the
same phone round trip it lowers WER from 0.330 to 0.252 and raises digit recall from
0.535 to 0.767 (tests/speech/test_domain_lm.py); off-topic speech comes out worse.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from voiceflow.services.stt.engine import FinalTranscript, STTInputError

#: domain words callers say to a support line, and the digits they read out
DEFAULT_HINTS: tuple[str, ...] = (
    "order",
    "appointment",
    "cancel",
    "reschedule",
    "refund",
    "account",
    "number",
    "zero",
    "oh",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)

#: starting channel means (13 cepstral coefficients) per line type. "phone": G.711 μ-law
#: 8 kHz audio upsampled to 16 kHz, measured after two calibration sentences that are
#: not part of the test set; the model's own default suits wideband microphones.
CHANNEL_CMN: dict[str, str] = {
    "phone": "45.9,19.5,-19.2,23.9,-12.8,-0.68,7.74,-13.4,10.1,-4.70,3.63,5.59,-8.82",
}

#: language weight with the domain LM (the generic model's default is 6.5): chosen on a tuning
#: set written apart from every evaluation set; it keeps more digits on a phone line
DOMAIN_LM_WEIGHT = 5.5

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


def _take_decoder(options: Mapping[str, Any]) -> tuple[Any, str]:
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


def _give_back(options: Mapping[str, Any], pooled: tuple[Any, str], max_idle: int) -> None:
    with _pool_lock:
        idle = _pools.setdefault(_pool_key(options), [])
        if len(idle) < max_idle:
            idle.append(pooled)


class PocketsphinxSession:
    """A stream's decoder. Not thread-safe: one caller at a time (the STT processor)."""

    def __init__(self, engine: PocketsphinxEngine, pooled: tuple[Any, str]) -> None:
        self._engine = engine
        self._pooled = pooled
        self._decoder: Any = pooled[0]
        if engine.channel_cmn is not None:
            self._decoder.set_cmn(engine.channel_cmn)
        self._in_utt = False
        self._fed = 0
        self._decoded = 0
        self._since_interim = 0
        self._last_interim = ""
        # close() may come from teardown while a feed still runs in a worker thread
        self._lock = threading.Lock()

    @property
    def samples_fed(self) -> int:
        return self._fed

    @property
    def samples_decoded(self) -> int:
        """Samples that went through ``process_raw`` in the current utterance."""
        return self._decoded

    @property
    def in_utterance(self) -> bool:
        return self._in_utt

    def _require_decoder(self) -> Any:
        if self._decoder is None:
            raise RuntimeError("session is closed")
        return self._decoder

    def feed(self, pcm16: bytes) -> str | None:
        self._engine.check_audio(pcm16)
        with self._lock:
            return self._feed(pcm16)

    def _feed(self, pcm16: bytes) -> str | None:
        decoder = self._require_decoder()
        if not self._in_utt:
            decoder.start_utt()
            self._in_utt = True
            self._fed = self._decoded = self._since_interim = 0
            self._last_interim = ""
        samples = len(pcm16) // 2
        self._fed += samples
        decoder.process_raw(pcm16, False, False)
        self._decoded += samples
        self._since_interim += samples
        if self._since_interim < self._engine.interim_every_samples:
            return None
        self._since_interim = 0
        hyp = decoder.hyp()
        text = hyp.hypstr if hyp is not None else ""
        if not text or text == self._last_interim:
            return None
        self._last_interim = text
        return text

    def finish(self) -> FinalTranscript:
        with self._lock:
            return self._finish()

    def _finish(self) -> FinalTranscript:
        decoder = self._require_decoder()
        if not self._in_utt:
            return FinalTranscript(text="", confidence=0.0, samples=0)
        self._in_utt = False
        decoder.end_utt()
        if self._engine.adapt_channel:
            self._engine.channel_cmn = decoder.get_cmn(True)
        hyp = decoder.hyp()
        if hyp is None or not hyp.hypstr:
            return FinalTranscript(text="", confidence=0.0, samples=self._decoded)
        text = hyp.hypstr
        if self._engine.hints:
            text = self._rescore(decoder, text)
        return FinalTranscript(text=text, confidence=self._confidence(decoder), samples=self._decoded)

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
        chosen_score = base + engine.hint_bonus * engine.hint_count(best.split())
        for text, score in entries:
            total = score + engine.hint_bonus * engine.hint_count(text.split())
            if total > chosen_score:
                chosen, chosen_score = text, total
        return chosen

    @staticmethod
    def _confidence(decoder: Any) -> float:
        """Mean word posterior over the best path (fillers and silences left out)."""
        probs = [seg.prob for seg in decoder.seg() if seg.word.split("(")[0] not in _FILLERS]
        return float(sum(probs) / len(probs)) if probs else 0.0

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        decoder, self._decoder = self._decoder, None
        if decoder is None:
            return
        if self._in_utt:
            decoder.end_utt()
            self._in_utt = False
        _give_back(self._engine.options, self._pooled, self._engine.max_idle)


class PocketsphinxEngine:
    """Engine factory: configuration shared by its sessions, decoders from the process pool."""

    name = "pocketsphinx"
    sample_rate = 16_000

    def __init__(
        self,
        *,
        hints: Iterable[str] | None = DEFAULT_HINTS,
        hint_bonus: int = 250,
        nbest: int = 100,
        second_pass: bool = False,
        interim_every_ms: int = 200,
        max_idle: int = 8,
        adapt_channel: bool = True,
        channel: str | None = None,
        initial_cmn: str | None = None,
        domain_lm: bool = False,
        lm: str | Path | None = None,
        **decoder_options: Any,
    ) -> None:
        self.hints = frozenset(w.lower() for w in hints) if hints else frozenset()
        self.hint_bonus = hint_bonus
        self.nbest = nbest
        self.max_idle = max_idle
        self.adapt_channel = adapt_channel
        #: the channel's cepstral mean that new sessions start from (None: the model's default)
        if channel is not None and channel not in CHANNEL_CMN:
            raise ValueError(f"unknown channel {channel!r}; known: {sorted(CHANNEL_CMN)}")
        self.channel_cmn: str | None = initial_cmn or (CHANNEL_CMN[channel] if channel else None)
        self.interim_every_samples = self.sample_rate * interim_every_ms // 1000
        if domain_lm and lm is not None:
            raise ValueError("pass either domain_lm=True or lm=PATH, not both")
        if domain_lm:
            from voiceflow.services.stt.domain_lm import domain_lm_path

            lm = domain_lm_path()
            decoder_options.setdefault("lw", DOMAIN_LM_WEIGHT)
        if lm is not None:
            if not Path(lm).is_file():
                raise ValueError(f"language model {str(lm)!r} is not a file")
            decoder_options["lm"] = str(lm)
        self.options: dict[str, Any] = {
            "samprate": self.sample_rate,
            "loglevel": "FATAL",
            "fwdflat": second_pass,
            "bestpath": True,
            **decoder_options,
        }

    def hint_count(self, words: Iterable[str]) -> int:
        return sum(1 for w in words if w in self.hints)

    def check_audio(self, pcm16: bytes) -> None:
        if not pcm16:
            raise STTInputError("empty audio")
        if len(pcm16) % 2:
            raise STTInputError(f"odd-length PCM16 ({len(pcm16)} bytes): a sample is cut in half")

    def open_session(self) -> PocketsphinxSession:
        return PocketsphinxSession(self, _take_decoder(self.options))

    def prewarm(self, count: int = 1) -> None:
        """Build ``count`` idle decoders now (blocking) so the first calls do not pay for it."""
        made = [_take_decoder(self.options) for _ in range(count)]
        for d in made:
            _give_back(self.options, d, self.max_idle)
