"""Whisper decoding over the utterance alone, not a 30 s window.

faster-whisper's ``transcribe`` pads every input to 30 s, so the encoder costs the same
(~170 ms on 2 cores, ~0.5 s loaded) for a two-word answer as for a long sentence. The
CTranslate2 encoder takes shorter input: the log-mel features of just the utterance, padded
with a little silence and rounded up to a fixed step (``Window``), encode in a few ms.
This module does that and then one ``generate`` call the way faster-whisper would for one
window without timestamps: the domain prompt (and hint words) as previous text, blank and
non-speech tokens suppressed, output capped by the caller, a window the model calls no
speech and decodes with low confidence taken as silence.

Too little padding makes tiny.en cut the last word or invent one; the default window was
chosen on the tuning sentences (``Window`` says what was measured).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: the encoder's frame rate (10 ms hop) and its largest input (30 s)
FRAMES_PER_SECOND = 100
MAX_FRAMES = 3000
#: tokens the model's decoder holds (prompt + output)
MAX_LENGTH = 448
#: faster-whisper's no-speech rule (its defaults): a window the model itself says is likely not
#: speech, decoded with low confidence, is silence -- a murmur heard as "and a number"
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0


@dataclass(frozen=True, slots=True)
class Window:
    """How much silence follows the utterance into the encoder.

    ``pad_s`` of silence is added, the total rounded up to whole ``step_s`` and kept at least
    ``min_s`` (a fixed granularity keeps the encoder's shapes few) and at most 30 s.
    ``None`` as ``pad_s`` means the full 30 s window (faster-whisper's own framing)."""

    pad_s: float | None = 1.0
    min_s: float = 2.0
    step_s: float = 1.0

    def frames(self, samples: int, rate: int) -> int:
        if self.pad_s is None:
            return MAX_FRAMES
        seconds = max(self.min_s, samples / rate + self.pad_s)
        steps = math.ceil(seconds / self.step_s - 1e-9)
        return min(MAX_FRAMES, round(steps * self.step_s * FRAMES_PER_SECOND))


@dataclass(frozen=True, slots=True)
class DecodeResult:
    text: str
    avg_logprob: float
    tokens: int
    no_speech_prob: float = 0.0


#: what only goes with written numbers ("$40", "20%")
_NUMBER_SIGNS = frozenset("$%£€#")


def digit_tokens(tokenizer: Any) -> tuple[int, ...]:
    """The text tokens (below end-of-text) that write a digit or a sign that goes with one:
    suppressed, they make the model spell a number out word by word ("one zero zero two")."""
    hf = tokenizer.tokenizer
    return tuple(
        i for i in range(tokenizer.eot) if any(c.isdigit() or c in _NUMBER_SIGNS for c in hf.decode([i]))
    )


class ShortWindowDecoder:
    """One utterance → text, through a loaded faster-whisper ``WhisperModel``'s parts."""

    def __init__(
        self,
        model: Any,
        *,
        prompt: str | None,
        beam_size: int = 1,
        window: Window = Window(),
        digits: Sequence[int] | None = None,
    ) -> None:
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self._model = model.model  # ctranslate2.models.Whisper
        self._features = model.feature_extractor
        self.tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en"
        )
        self._suppress = list(get_suppressed_tokens(self.tokenizer, [-1]) or ())
        self.digits = tuple(digit_tokens(self.tokenizer) if digits is None else digits)
        self._suppress_digits = sorted(set(self._suppress) | set(self.digits))
        self._previous = self.tokenizer.encode(" " + prompt.strip()) if prompt else []
        self.beam_size = beam_size
        self.window = window
        self.sample_rate = int(self._features.sampling_rate)

    def prompt(self, hotwords: str | None = None, prefix: str | None = None) -> list[int]:
        """faster-whisper's prompt for one window without timestamps: previous text (hint words,
        then the domain prompt) after ``<|startofprev|>``, then the start sequence, then a forced
        beginning of the transcript (``prefix``, which replaces the hint words as there)."""
        tok = self.tokenizer
        hotwords = None if prefix else hotwords
        prompt: list[int] = []
        if self._previous or hotwords:
            prompt.append(tok.sot_prev)
            if hotwords:
                prompt.extend(tok.encode(" " + hotwords.strip())[: MAX_LENGTH // 2 - 1])
            prompt.extend(self._previous[-(MAX_LENGTH // 2 - 1) :])
        prompt.extend(tok.sot_sequence)
        prompt.append(tok.no_timestamps)
        if prefix:
            prompt.extend(self._prefix_tokens(prefix))
        return prompt

    def _prefix_tokens(self, prefix: str) -> list[int]:
        return list(self.tokenizer.encode(" " + prefix.strip())[: MAX_LENGTH // 2 - 1])

    def features(self, audio: np.ndarray) -> np.ndarray:
        """Log-mel features [80, frames] of ``audio`` (float32, at 16 kHz) and the window's
        padding; padded frames are zeros, as faster-whisper pads its 30 s segments."""
        feats = self._features(audio)
        frames = self.window.frames(len(audio), self.sample_rate)
        if feats.shape[-1] >= frames:
            return np.ascontiguousarray(feats[:, :frames], dtype=np.float32)
        out = np.zeros((feats.shape[0], frames), dtype=np.float32)
        out[:, : feats.shape[-1]] = feats
        return out

    def encode(self, audio: np.ndarray) -> Any:
        """The encoder's output for ``audio``'s window (kept for more than one ``generate``)."""
        import ctranslate2

        feats = self.features(audio)
        return self._model.encode(ctranslate2.StorageView.from_array(feats[None]), to_cpu=False)

    def decode(
        self,
        audio: np.ndarray,
        *,
        max_new_tokens: int,
        hotwords: str | None = None,
        prefix: str | None = None,
        spell_digits: bool = False,
        encoded: Any = None,
    ) -> DecodeResult:
        """Encode the utterance's window (unless ``encoded`` is given) and decode it greedily (or
        with ``beam_size``); a ``prefix`` is part of the text. ``spell_digits`` forbids the
        tokens that write digits."""
        if encoded is None:
            encoded = self.encode(audio)
        prompt = self.prompt(hotwords, prefix)
        result = self._model.generate(
            encoded,
            [prompt],
            beam_size=self.beam_size,
            # CTranslate2 counts the prompt's last token in max_length: one fewer gives the budget
            max_length=min(MAX_LENGTH, len(prompt) + max(1, max_new_tokens) - 1),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppress_digits if spell_digits else self._suppress,
        )[0]
        generated = result.sequences_ids[0]
        logprob = result.scores[0] * len(generated) / (len(generated) + 1)
        tokens = (self._prefix_tokens(prefix) if prefix else []) + [
            t for t in generated if t < self.tokenizer.eot
        ]
        return DecodeResult(self.tokenizer.decode(tokens).strip(), float(logprob), len(generated))
