"""Intent-aware endpointing: how complete a partial turn reads, judged by what it means.

``Endpointer(completeness=intent_completeness())`` ends a turn after its short
window once the words make a confident, self-contained request, and waits longer
when a detail the request needs has not been said yet. The regex tier decides
(cheap, synchronous, on every interim); spoken numbers are folded to digits first,
so "one zero zero two" counts as an order number.

``intent_hold()`` is the Endpointer's ``hold``: besides a trailing filler, it holds the
turn open (``hold_secs``) when the words make a request that still lacks the detail it
needs ("I'd like to book an appointment." with no day yet, "I have a question about my
order." with no number) or a statement with no request in it at all ("So I got a delivery
yesterday."): callers who pause there usually go on with the detail, and answering in the
pause talks over them. A complete request ("where is order 1002?") ends fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from voiceflow.processors.audio.turns import default_completeness, is_backchannel, trailing_hold
from voiceflow.processors.nlu.entities import extract_entities
from voiceflow.processors.nlu.regex_tier import RegexTier
from voiceflow.processors.nlu.spoken import normalise_for_numbers

__all__ = [
    "NEEDS_DETAIL",
    "NEEDS_NUMBER",
    "SELF_CONTAINED",
    "STOP_WORDS",
    "intent_backchannel",
    "intent_completeness",
    "intent_hold",
]

#: intents complete on their own words; others usually need a detail that may follow
SELF_CONTAINED = frozenset(
    {"check_order", "track_delivery", "business_hours", "transfer_to_human", "goodbye", "repeat", "help"}
)
#: intents complete only once a number (an order id) has been said
NEEDS_NUMBER = frozenset({"check_order", "track_delivery"})

_NUMBER = re.compile(r"\d{3,}")
#: intents -> the entities any one of which completes the request (a number for orders)
NEEDS_DETAIL: dict[str, frozenset[str]] = {
    "check_order": frozenset({"order_id", "number"}),
    "track_delivery": frozenset({"order_id", "number"}),
    "schedule_appointment": frozenset({"date", "time"}),
    "reschedule_appointment": frozenset({"date", "time", "confirmation_number"}),
    "cancel_appointment": frozenset({"date", "confirmation_number"}),
    "account_lookup": frozenset({"email", "phone", "order_id"}),
}


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


def intent_hold(regex: RegexTier | None = None) -> Callable[[str], bool]:
    """A ``hold(text) -> bool`` for the ``Endpointer`` (module doc)."""
    tier = regex or RegexTier()

    def hold(text: str) -> bool:
        if trailing_hold(text):
            return True
        if len(text.split()) <= 3:
            return False  # a short answer ("yes", "next Tuesday") is the caller's whole turn
        folded = normalise_for_numbers(text)
        answer = tier.match(folded)
        if answer is None or answer.confidence < tier.threshold:
            return not text.rstrip().endswith("?")  # a statement, no request yet: more is coming
        needs = NEEDS_DETAIL.get(answer.intent)
        if needs is None:
            return False
        found = set(extract_entities(folded))
        if _NUMBER.search(folded):
            found.add("number")
        return not (needs & found)

    return hold


#: short words over the agent that do ask it to stop
STOP_WORDS = frozenset("stop wait hold hang no nope sorry excuse pardon what hello hey".split())
_WORDS = re.compile(r"[a-z']+")


def intent_backchannel(regex: RegexTier | None = None) -> Callable[[str], bool]:
    """The Endpointer's ``backchannel`` for sounds over the agent: a listener noise ("mm-hm",
    "okay"), or one or two words that make no request and are not a stop word (how a
    recognizer writes a murmur: "minimum", "uh hum"); the agent then goes on."""
    tier = regex or RegexTier()

    def backchannel(text: str) -> bool:
        if is_backchannel(text):
            return True
        words = _WORDS.findall(text.lower())
        if len(words) > 2 or STOP_WORDS & set(words):
            return False
        answer = tier.match(normalise_for_numbers(text))
        return answer is None or answer.confidence < tier.threshold

    return backchannel
