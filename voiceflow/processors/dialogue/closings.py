"""Thanks and closings: what a caller says when a request is done, read from the words.

A lone "thanks" is an acknowledgement, not a request and not a goodbye: the agent answers
"you're welcome" and asks whether there is anything else (ending the call on it would be
acting on a guess, and "sorry, I didn't catch that" answers a caller who was understood).
"""

from __future__ import annotations

import re

from voiceflow.processors.audio.turns import is_backchannel
from voiceflow.processors.dialogue.state import Turn

__all__ = ["closes", "is_thanks"]

_LEAD = r"(?:ok(?:ay)?|oh|great|perfect|alright|all right|awesome|wonderful|cool|excellent|lovely|good)"
_THANKS = (
    r"(?:thanks|thank you|thank ya|thankyou|cheers|many thanks|much appreciated|i appreciate (?:it|that))"
    r"(?: (?:so|very) much| a lot| a bunch| kindly| for (?:that|your help|the help|helping me))?"
)
_TAIL = (
    r"(?:that'?s (?:great|helpful|perfect|wonderful)|that (?:was|is) (?:great|helpful|perfect)|"
    r"appreciate it)"
)
_THANKS_ONLY = re.compile(rf"^(?:{_LEAD}[\s,.!]+)*{_THANKS}(?:[\s,.!]+(?:{_THANKS}|{_TAIL}))*[\s,.!]*$")


def is_thanks(text: str) -> bool:
    """True when ``text`` only thanks the agent ("thanks", "okay, thank you so much")."""
    return bool(_THANKS_ONLY.match(" ".join(text.lower().split())))


def closes(turn: Turn) -> bool:
    """True when a turn after the farewell only closes the call (thanks, a goodbye, "okay", no words)."""
    if turn.digits is not None:
        return False
    return turn.intent == "goodbye" or is_thanks(turn.text) or is_backchannel(turn.text)
