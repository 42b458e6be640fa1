"""The fake Realtime server's turn detection: ``server_vad`` and ``semantic_vad``, told apart.

What the documentation says (``session.audio.input.turn_detection``):

- ``server_vad`` (``threshold``, ``prefix_padding_ms``, ``silence_duration_ms``): the
  turn ends after ``silence_duration_ms`` of silence, whatever was said.
- ``semantic_vad`` (``eagerness``: ``low`` | ``medium`` | ``high`` | ``auto`` = medium;
  no silence or threshold parameters): a turn-detection model estimates whether the
  caller has finished and sets the timeout from it — a trailing "uhm" waits longer;
  ``low`` / ``medium`` / ``high`` wait at most 8 s / 4 s / 2 s.

The fake's semantic model is a rule: at a pause (``PAUSE_S`` of the eagerness: 0.8 / 0.5 /
0.3 s) it transcribes the turn so far; one that ends on a filler or a word that cannot
end a sentence ("uhm", "and", "the", "my", ...) is held until the eagerness's maximum
timeout (of input audio after its last speech) passes in silence, unless the caller goes on (the same turn
then continues: no new ``speech_started``). Any other ends the turn at the pause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["EAGERNESS", "TurnRules", "sounds_finished", "turn_detection_problem", "turn_rules"]

#: eagerness -> (pause that may end a finished-sounding turn, maximum wait for an unfinished one), s
EAGERNESS = {"low": (0.8, 8.0), "medium": (0.5, 4.0), "auto": (0.5, 4.0), "high": (0.3, 2.0)}
_SERVER_KEYS = {"type", "threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"}
_SEMANTIC_KEYS = {"type", "eagerness"}
_COMMON_KEYS = {"create_response", "interrupt_response"}
#: last words after which a sentence is not over
UNFINISHED = frozenset(
    "uh um uhm hmm er erm and or but so because to the a an my of for with in on at is was "
    "about like if then which that".split()
)


@dataclass(frozen=True)
class TurnRules:
    semantic: bool
    pause_s: float  # silence that ends a (finished-sounding) turn
    max_wait_s: float  # semantic: silence that ends any turn
    threshold: float
    prefix_padding_ms: int


def turn_rules(td: dict[str, Any]) -> TurnRules:
    if td.get("type") == "semantic_vad":
        pause, most = EAGERNESS[str(td.get("eagerness", "auto"))]
        return TurnRules(True, pause, most, 0.5, 300)
    silence = int(td.get("silence_duration_ms", 500)) / 1000
    return TurnRules(
        False, silence, silence, float(td.get("threshold", 0.5)), int(td.get("prefix_padding_ms", 300))
    )


def sounds_finished(text: str) -> bool:
    words = re.findall(r"[a-z']+", text.lower())
    return bool(words) and words[-1] not in UNFINISHED


def turn_detection_problem(td: Any) -> str | None:
    """What the service would reject in a ``turn_detection`` object (None: it is valid)."""
    if td is None:
        return None
    if not isinstance(td, dict):
        return "turn_detection must be an object or null"
    kind = td.get("type")
    allowed = {"server_vad": _SERVER_KEYS, "semantic_vad": _SEMANTIC_KEYS}.get(str(kind))
    if allowed is None:
        return f"Invalid value for 'turn_detection.type': {kind!r}; use 'server_vad' or 'semantic_vad'"
    unknown = sorted(set(td) - allowed - _COMMON_KEYS)
    if unknown:
        return f"Unknown parameter for {kind} turn detection: 'turn_detection.{unknown[0]}'"
    if kind == "semantic_vad" and td.get("eagerness", "auto") not in EAGERNESS:
        return f"Invalid value for 'turn_detection.eagerness': {td.get('eagerness')!r}"
    return None
