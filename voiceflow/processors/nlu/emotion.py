"""Caller emotion from the words of one utterance: a weighted lexicon, deterministic.

Six labels (neutral, happy, frustrated, sad, angry, confused). Each cue adds its
weight to a label; intensifiers ("very", "so") and shouting (exclamation marks,
words in capitals) scale the weight; a negated positive ("not happy", "not
helpful") counts as frustration. The label with the highest score wins (ties go
to the more urgent label); intensity is the score squashed into 0..1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

EMOTIONS = ("neutral", "happy", "frustrated", "sad", "angry", "confused")
#: tie-break order: the dialogue should react to anger before happiness
_PRIORITY = ("angry", "frustrated", "sad", "confused", "happy")

_LEXICON: dict[str, dict[str, float]] = {
    "angry": {
        "furious": 2.0,
        "angry": 1.5,
        "mad": 1.0,
        "outraged": 2.0,
        "ridiculous": 1.5,
        "unacceptable": 1.5,
        "disgusting": 1.5,
        "pathetic": 1.5,
        "worst": 1.5,
        "hate": 1.5,
        "incompetent": 1.5,
        "useless": 1.2,
        "damn": 1.2,
        "hell": 1.0,
        "scam": 1.5,
        "rip off": 1.5,
        "sue": 1.2,
        "shut up": 1.5,
        "are you kidding": 1.5,
        "what the": 1.2,
    },
    "frustrated": {
        "frustrated": 1.5,
        "frustrating": 1.5,
        "annoyed": 1.2,
        "annoying": 1.2,
        "fed up": 1.5,
        "sick of": 1.5,
        "tired of": 1.2,
        "still": 0.6,
        "again": 0.5,
        "already": 0.4,
        "waiting": 0.7,
        "waited": 0.8,
        "forever": 1.0,
        "hasn't arrived": 1.0,
        "never arrived": 1.2,
        "never got": 1.0,
        "keeps": 0.8,
        "third time": 1.5,
        "second time": 1.0,
        "how many times": 1.5,
        "come on": 1.0,
        "late": 0.6,
        "seriously": 1.0,
        "not working": 1.0,
        "doesn't work": 1.0,
        "complaint": 0.8,
        "awful": 1.0,
        "terrible": 1.2,
    },
    "sad": {
        "sad": 1.5,
        "upset": 1.2,
        "unhappy": 1.2,
        "disappointed": 1.2,
        "disappointing": 1.2,
        "heartbroken": 2.0,
        "depressed": 1.5,
        "unfortunately": 0.8,
        "miss": 0.5,
        "passed away": 2.0,
        "died": 1.5,
        "lost my": 1.0,
        "lonely": 1.5,
        "crying": 1.5,
        "sorry to say": 1.0,
        "it's been hard": 1.5,
        "bad day": 1.2,
    },
    "confused": {
        "confused": 1.5,
        "confusing": 1.5,
        "don't understand": 1.5,
        "do not understand": 1.5,
        "don't get it": 1.2,
        "what do you mean": 1.5,
        "not sure": 0.8,
        "i'm lost": 1.5,
        "makes no sense": 1.5,
        "doesn't make sense": 1.5,
        "huh": 0.8,
        "which one": 0.6,
        "i don't know": 0.8,
        "unclear": 1.0,
        "how does this work": 1.0,
    },
    "happy": {
        "happy": 1.2,
        "glad": 1.2,
        "great": 1.0,
        "awesome": 1.2,
        "amazing": 1.2,
        "wonderful": 1.2,
        "excellent": 1.2,
        "fantastic": 1.2,
        "perfect": 1.0,
        "love": 1.2,
        "thank you so much": 1.5,
        "thanks so much": 1.5,
        "appreciate": 1.0,
        "helpful": 0.8,
        "delighted": 1.5,
        "pleased": 1.0,
        "nice": 0.6,
        "lovely": 1.0,
        "brilliant": 1.2,
        "good day": 0.8,
    },
}
_NEGATORS = re.compile(r"\b(?:not|never|no|isn't|wasn't|aren't|don't|didn't|hardly)\s+(?:\w+\s+)?$")
_INTENSIFIER = re.compile(r"\b(?:very|so|really|extremely|totally|absolutely|incredibly)\s+$")
_CUE_RES: dict[str, list[tuple[re.Pattern[str], float]]] = {
    label: [(re.compile(rf"\b{re.escape(cue)}\b"), weight) for cue, weight in cues.items()]
    for label, cues in _LEXICON.items()
}
_THRESHOLD = 0.75


@dataclass(frozen=True, slots=True)
class EmotionResult:
    label: str
    intensity: float
    scores: dict[str, float] = field(default_factory=dict)


def detect_emotion(text: str) -> EmotionResult:
    """Label, intensity (0..1) and per-label scores for one utterance."""
    lower = text.lower()
    scores = dict.fromkeys(_PRIORITY, 0.0)
    for label, cues in _CUE_RES.items():
        for pattern, weight in cues:
            for m in pattern.finditer(lower):
                before = lower[max(0, m.start() - 24) : m.start()]
                boost = 1.5 if _INTENSIFIER.search(before) else 1.0
                if _NEGATORS.search(before):
                    if label == "happy":
                        scores["frustrated"] += weight * boost
                    continue  # "not angry" is not anger
                scores[label] += weight * boost
    shouting = _shouting(text)
    if shouting:
        for label in ("angry", "frustrated"):
            if scores[label] > 0:
                scores[label] *= 1.0 + shouting
        if scores["angry"] == 0 and scores["frustrated"] == 0 and shouting >= 0.5:
            scores["angry"] += shouting
    best = max(_PRIORITY, key=lambda lab: (scores[lab], -_PRIORITY.index(lab)))
    top = scores[best]
    if top < _THRESHOLD:
        return EmotionResult("neutral", 0.0, {k: round(v, 3) for k, v in scores.items()})
    intensity = round(min(1.0, top / 3.0), 3)
    return EmotionResult(best, intensity, {k: round(v, 3) for k, v in scores.items()})


def _shouting(text: str) -> float:
    """0..1 from exclamation marks and words written in capitals."""
    bangs = min(text.count("!"), 3) / 3.0
    words = re.findall(r"[A-Za-z]{3,}", text)
    caps = sum(1 for w in words if w.isupper())
    caps_ratio = caps / len(words) if words else 0.0
    return round(min(1.0, bangs * 0.6 + (caps_ratio if caps >= 2 else 0.0)), 3)
