"""Keypad (DTMF) presses on a realtime call, read the way the cascaded agent reads them.

``0`` pressed on its own is the operator: the ``transfer_to_human`` tool runs through the
call's tracker (as keypad 0 does in the offline dialogue), and the model is told the call
and its output so it announces the transfer. Other keys make one entry, ended by ``#``
or by a pause (``*`` starts over), that goes to the model as the caller's text turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["KEYS", "OPERATOR_CALL", "KeypadAction", "KeypadEntry", "entry_text"]

KEYS = frozenset("0123456789*#")
#: the tool and arguments keypad 0 runs
OPERATOR_CALL = ("transfer_to_human", {"department": "customer_service", "reason": "caller pressed 0"})


@dataclass(frozen=True, slots=True)
class KeypadAction:
    kind: Literal["operator", "entry"]
    digits: str = ""


class KeypadEntry:
    """The keys typed so far; ``press`` says when they make an action."""

    def __init__(self) -> None:
        self.buffer = ""

    def press(self, key: str) -> KeypadAction | None:
        if key not in KEYS:
            raise ValueError(f"not a keypad key: {key!r}")
        if key == "*":
            self.buffer = ""
            return None
        if key == "#":
            return self.submit()
        if key == "0" and not self.buffer:
            return KeypadAction("operator")
        self.buffer += key
        return None

    def submit(self) -> KeypadAction | None:
        """The entry so far (after ``#`` or a pause); None when nothing was typed."""
        digits, self.buffer = self.buffer, ""
        return KeypadAction("entry", digits) if digits else None


def entry_text(digits: str) -> str:
    """The caller's keypad entry as the text turn the model reads."""
    return f"(keypad) The caller typed {digits} on the phone keypad."
