"""Offline streaming STT on pocketsphinx 5 with its bundled US-English model.

It implements the streaming contract (``engine.py``): each stream owns one thread
(``SerialWorker``) where its decoder runs, so the event loop never blocks and the
caller sees only ``send`` / ``finalize`` / ``events``. Audio is decoded as it is sent
(``process_raw`` per chunk; ``send`` returns once the chunk is decoded, which paces a
caller that outruns the decoder); the interim text is the decoder's running
hypothesis; ``finalize`` closes the utterance with the
lattice best path, no second pass over the audio (``fwdflat`` is off by default:
it re-searches every frame of the utterance; on the caller set it cost ~90 ms per
final against ~9 ms, for a WER gain under one point).

Decoders are costly to create (~0.5 s: acoustic model, dictionary and LM) and
cannot be shared by two streams, so idle ones wait in a process-wide pool keyed
by their configuration and a new stream takes one from there.

Channel adaptation: live cepstral-mean normalisation (CMN) must learn the line's
spectral mean before recognition is good; from the model's default a fresh
decoder's first utterances are poor (WER ~0.8 on the phone-line set against
~0.3 once adapted). Calls of one deployment share a channel type, so the engine
keeps the mean reached by its latest finished utterance and every new stream
starts from it (``adapt_channel``; ``channel="phone"`` or ``initial_cmn`` set it up
front: use ``channel="phone"`` behind a telephone transport). A stream's
results depend only on its engine's history, never on which pooled decoder it got.

Phrase hints: after the utterance, the N-best list is rescored with a bonus per
hinted word (domain words and digits, plus the words of the stream's own ``hints``) —
it can only choose among hypotheses the decoder already found, so it never invents
words. On the shipped caller set over the phone-line round trip it lowers WER from
0.362 to 0.330 and raises keyword
recall from 0.635 to 0.678 (tests/speech/test_speech_roundtrip.py, benchmarks/speech.py).

Domain language model: ``domain_lm=True`` swaps the generic LM for a trigram model of
what callers say to the agent (``domain_lm.py``; built once, cached on disk), at a
language weight of ``DOMAIN_LM_WEIGHT``; ``lm=PATH`` loads any ARPA/binary LM. On the
same phone round trip it lowers WER from 0.330 to 0.252 and raises digit recall from
0.535 to 0.767 (tests/speech/test_domain_lm.py); off-topic speech comes out worse.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import AsyncIterator, Iterable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from voiceflow.core.clock import Clock
from voiceflow.services.stt.engine import (
    Encoding,
    FinalText,
    InterimText,
    SpeechStarted,
    STTClosedError,
    STTEvent,
    STTFailure,
    UtteranceEnd,
    Word,
    check_format,
    check_pcm16,
)
from voiceflow.services.stt.feed import EventFeed
from voiceflow.services.stt.worker import SerialWorker

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


class PocketsphinxStream:
    """One call's decoder behind the streaming contract; every decoder call runs in the stream's thread."""

    def __init__(
        self, engine: PocketsphinxEngine, pooled: tuple[Any, str], worker: SerialWorker, hints: frozenset[str]
    ) -> None:
        self._engine = engine
        self._pooled = pooled
        self._decoder: Any = pooled[0]
        if engine.channel_cmn is not None:
            self._decoder.set_cmn(engine.channel_cmn)
        self._worker = worker
        self._feed = EventFeed()
        self.hints = hints
        self._closed = False
        # decoder-thread state
        self._in_utt = False
        self._stream_samples = 0  # every sample of the stream so far (for event times)
        self._utt_start = 0  # stream sample where the current utterance began
        self._sent = 0
        self._decoded = 0
        self._since_interim = 0
        self._last_interim = ""
        self._heard = False  # SpeechStarted sent for this utterance

    # -- inspection (tests, benchmarks) ------------------------------------------------------
    @property
    def samples_sent(self) -> int:
        """Samples sent in the current (or latest) utterance."""
        return self._sent

    @property
    def samples_decoded(self) -> int:
        """Samples that went through ``process_raw`` in the current (or latest) utterance."""
        return self._decoded

    @property
    def in_utterance(self) -> bool:
        return self._in_utt

    # -- the contract ------------------------------------------------------------------------------
    async def send(self, audio: bytes) -> None:
        self._check_open()
        check_pcm16(audio)
        try:
            events = await self._worker.call(self._decode, audio)
        except STTClosedError:
            raise
        except Exception as exc:  # the decoder itself failed: report it, the stream goes on
            self._feed.put(STTFailure(f"pocketsphinx: {type(exc).__name__}: {exc}", recoverable=True))
            return
        for event in events:
            self._feed.put(event)

    async def finalize(self) -> None:
        self._check_open()
        try:
            final = await self._worker.call(self._finish)
        except STTClosedError:
            raise
        except Exception as exc:
            self._feed.put(STTFailure(f"pocketsphinx: {type(exc).__name__}: {exc}", recoverable=True))
            final = FinalText("", 0.0, speech_final=True, from_finalize=True)
        self._feed.put(final)
        if final.words:
            self._feed.put(UtteranceEnd(last_word_end=final.words[-1].end))

    def events(self) -> AsyncIterator[STTEvent]:
        return self._feed

    def pending_events(self) -> list[STTEvent]:
        """The events buffered so far, taken without waiting (instead of ``events()``: for an
        adapter that runs this stream inside its own, e.g. for live interims)."""
        return self._feed.drain()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._feed.close()
        await self._worker.close(self._release)

    def _check_open(self) -> None:
        if self._closed:
            raise STTClosedError("pocketsphinx stream is closed")

    # -- decoder thread ----------------------------------------------------------------------------
    def _require_decoder(self) -> Any:
        if self._decoder is None:
            raise STTClosedError("pocketsphinx stream is closed")
        return self._decoder

    def _decode(self, pcm16: bytes) -> list[STTEvent]:
        decoder = self._require_decoder()
        if not self._in_utt:
            decoder.start_utt()
            self._in_utt = True
            self._utt_start = self._stream_samples
            self._sent = self._decoded = self._since_interim = 0
            self._last_interim = ""
            self._heard = False
        samples = len(pcm16) // 2
        self._sent += samples
        self._stream_samples += samples
        decoder.process_raw(pcm16, False, False)
        self._decoded += samples
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

    def _finish(self) -> FinalText:
        decoder = self._require_decoder()
        start = self._seconds(self._utt_start)
        if not self._in_utt:
            at = self._seconds(self._stream_samples)
            return FinalText("", 0.0, speech_final=True, start=at, end=at, from_finalize=True)
        self._in_utt = False
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

    def _release(self) -> None:
        """Give the decoder back to the pool (in the stream's thread, after every queued job)."""
        decoder, self._decoder = self._decoder, None
        if decoder is None:
            return
        if self._in_utt:
            decoder.end_utt()
            self._in_utt = False
        _give_back(self._engine.options, self._pooled, self._engine.max_idle)


class PocketsphinxEngine:
    """Configuration shared by its streams; decoders come from the process-wide pool."""

    name = "pocketsphinx"
    encodings: tuple[Encoding, ...] = ("linear16",)
    sample_rate = 16_000
    #: decoder frames per second (pocketsphinx's default ``frate``)
    frame_rate = 100

    def __init__(
        self,
        *,
        hints: Iterable[str] | None = DEFAULT_HINTS,
        hint_bonus: int = 250,
        nbest: int = 100,
        second_pass: bool = False,
        interim_every_ms: int = 200,
        max_idle: int = 8,
        prewarm: int = 1,
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
        #: decoders ``start`` builds: building one holds the GIL ~0.16 s (pocketsphinx's constructor does
        #: not release it), stalling every live call's audio, so a server builds its calls' share up front
        self.prewarm_count = prewarm
        self.max_idle = max(max_idle, prewarm)
        self.adapt_channel = adapt_channel
        #: the channel's cepstral mean that new streams start from (None: the model's default)
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
        self._started = False

    async def start(self, clock: Clock) -> None:
        """Build ``prewarm`` idle decoders now, so calls do not pay for them (idempotent)."""
        if not self._started:
            await asyncio.to_thread(self.prewarm, self.prewarm_count)
            self._started = True

    async def aclose(self) -> None:
        """Nothing to release: idle decoders stay in the process-wide pool for the next engine."""
        self._started = False

    async def open_stream(
        self,
        *,
        sample_rate: int = 16000,
        encoding: Encoding = "linear16",
        language: str = "en",
        hints: tuple[str, ...] = (),
    ) -> PocketsphinxStream:
        check_format(
            self.name,
            encoding=encoding,
            sample_rate=sample_rate,
            encodings=self.encodings,
            sample_rates=(self.sample_rate,),
        )
        if not language.lower().startswith("en"):
            raise ValueError(f"pocketsphinx carries a US-English model only, not {language!r}")
        worker = SerialWorker("pocketsphinx")
        job = worker.submit(_take_decoder, self.options)
        try:
            pooled = await asyncio.wrap_future(job)
        except BaseException:
            job.add_done_callback(self._give_back_taken)  # cancelled while building: keep the decoder
            await worker.close()
            raise
        extra = frozenset(w.lower() for hint in hints for w in hint.split())
        return PocketsphinxStream(self, pooled, worker, self.hints | extra)

    def _give_back_taken(self, job: Future[tuple[Any, str]]) -> None:
        if not job.cancelled() and job.exception() is None:
            _give_back(self.options, job.result(), self.max_idle)

    def prewarm(self, count: int = 1) -> None:
        """Build ``count`` idle decoders now (blocking) so the first calls do not pay for it."""
        made = [_take_decoder(self.options) for _ in range(count)]
        for d in made:
            _give_back(self.options, d, self.max_idle)
