"""smart-turn v3.2 on wideband and on 8 kHz phone audio: is the caller done? (benchmarks/speech.py).

Clips: each held-out caller sentence, said by Piper and by espeak-ng. *Complete*: the whole
sentence followed by the VAD's 0.25 s stop window. *Unfinished*: the same audio cut at a
pause inside the sentence (the quietest 20 ms frame between 35 % and 75 % of its voiced
span, so the cut falls between words with the sentence's own mid-sentence intonation),
also followed by 0.25 s of silence. Each clip is scored at 16 kHz (wideband) and after a
μ-law 8 kHz phone line resampled back to 16 kHz.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from voiceflow.sim.speech import (
    caller_sentences,
    from_phone_line,
    synthesize,
    synthesize_espeak,
    to_phone_line,
)

RATE = 16000
STOP = np.zeros(int(0.25 * RATE), dtype=np.int16)


def _pcm(x: np.ndarray) -> bytes:
    return x.astype("<i2").tobytes()


def cut_mid_sentence(pcm16: bytes) -> bytes:
    """The audio up to a quiet frame inside the sentence (see module doc)."""
    x = np.frombuffer(pcm16, dtype="<i2")
    n = len(x) // 320
    frames = x[: n * 320].astype(np.float32).reshape(n, 320) / 32768.0
    level = 10 * np.log10((frames * frames).mean(axis=1) + 1e-12)
    voiced = np.flatnonzero(level > -40)
    first, last = int(voiced[0]), int(voiced[-1])
    lo, hi = first + int(0.35 * (last - first)), first + int(0.75 * (last - first))
    cut = lo + int(np.argmin(level[lo : hi + 1]))
    return _pcm(x[: cut * 320])


def _as_float(pcm16: bytes) -> np.ndarray:
    return np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32768.0


def clips(quick: bool) -> dict[str, list[tuple[bool, np.ndarray]]]:
    """(complete?, 16 kHz float audio) per condition: {piper,espeak} x {wideband,phone}."""
    sentences = caller_sentences()[: 10 if quick else None]
    voices: dict[str, Callable[[str, int], bytes]] = {"piper": synthesize, "espeak": synthesize_espeak}
    out: dict[str, list[tuple[bool, np.ndarray]]] = {}
    for voice, say in voices.items():
        for line in ("wideband", "phone"):
            items = []
            for s in sentences:
                whole = say(s.spoken, RATE)
                for complete, audio in ((True, whole), (False, cut_mid_sentence(whole))):
                    audio = audio + _pcm(STOP)
                    if line == "phone":
                        audio = from_phone_line(to_phone_line(audio, RATE), RATE)
                    items.append((complete, _as_float(audio)))
            out[f"{voice}_{line}"] = items
    return out


def _auc(pos: list[float], neg: list[float]) -> float:
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def bench_turn_model(quick: bool) -> dict[str, float]:
    from voiceflow.services.turn.smart_turn import SmartTurnModel

    model = SmartTurnModel.shared()
    out: dict[str, float] = {}
    times: list[float] = []
    for cond, items in clips(quick).items():
        scores = []
        for complete, audio in items:
            t = time.perf_counter()
            scores.append((complete, model.probability(audio)))
            times.append(1000 * (time.perf_counter() - t))
        pos = [p for c, p in scores if c]
        neg = [p for c, p in scores if not c]
        out[f"turn_accuracy_{cond}"] = round(sum((p > 0.5) == c for c, p in scores) / len(scores), 3)
        out[f"turn_complete_recall_{cond}"] = round(sum(p > 0.5 for p in pos) / len(pos), 3)
        out[f"turn_unfinished_recall_{cond}"] = round(sum(p <= 0.5 for p in neg) / len(neg), 3)
        out[f"turn_auc_{cond}"] = round(_auc(pos, neg), 3)
        out[f"turn_p_complete_median_{cond}"] = round(statistics.median(pos), 3)
        out[f"turn_p_unfinished_median_{cond}"] = round(statistics.median(neg), 3)
    out["turn_model_p50_ms"] = round(statistics.median(times), 1)
    out["turn_model_clips"] = len(times)
    return out
