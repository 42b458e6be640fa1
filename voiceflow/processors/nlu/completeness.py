"""Intent-aware endpointing: how complete a partial turn reads, judged by what it means.

``Endpointer(completeness=intent_completeness())`` ends a turn after its short
window once the words make a confident, self-contained request, and waits longer
when a detail the request needs has not been said yet. The regex tier decides
(cheap, synchronous, on every interim); spoken numbers are folded to digits first,
so "one zero zero two" counts as an order number.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from voiceflow.processors.audio.turns import default_completeness
from voiceflow.processors.nlu.regex_tier import RegexTier
from voiceflow.processors.nlu.spoken import normalise_for_numbers

__all__ = ["NEEDS_NUMBER", "SELF_CONTAINED", "intent_completeness"]

#: intents complete on their own words; others usually need a detail that may follow
SELF_CONTAINED = frozenset(
    {"check_order", "track_delivery", "business_hours", "transfer_to_human", "goodbye", "repeat", "help"}
)
#: intents complete only once a number (an order id) has been said
NEEDS_NUMBER = frozenset({"check_order", "track_delivery"})

_NUMBER = re.compile(r"\d{3,}")


def intent_completeness(regex: RegexTier | None = None) -> Callable[[str], float]:
    """A ``completeness(text) -> [0, 1]`` for the ``Endpointer``.

    - 0 when ``default_completeness`` says the caller is mid-sentence (a filler, a dangling word);
    - at most 0.6 for three words or fewer: "no" / "thanks" often start "no, that's all" /
      "thanks, goodbye";
    - at most 0.7 when no confident intent is heard yet;
    - for an order question, 1 once a number is said, else at most 0.6;
    - 1 for other self-contained intents, at least 0.8 for the rest (booking: a date may follow).
    """
    tier = regex or RegexTier()

    def completeness(text: str) -> float:
        base = default_completeness(text)
        if base == 0.0:
            return 0.0
        if len(text.split()) <= 3:
            return min(base, 0.6)
        folded = normalise_for_numbers(text)
        answer = tier.match(folded)
        if answer is None or answer.confidence < tier.threshold:
            return min(base, 0.7)
        if answer.intent in NEEDS_NUMBER:
            return 1.0 if _NUMBER.search(folded) else min(base, 0.6)
        return 1.0 if answer.intent in SELF_CONTAINED else max(base, 0.8)

    return completeness
