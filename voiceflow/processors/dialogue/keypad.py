"""Keypad (DTMF) input: when a run of keys is a complete entry, and what a bare entry means."""

from __future__ import annotations

from voiceflow.processors.dialogue.slots import KEYPAD_SLOTS
from voiceflow.processors.dialogue.state import DialogueState, Turn

#: questions answered with yes / no (keys 1 / 2)
YES_NO = ("confirm", "offer_human", "anything_else")
#: an idle caller typing this many digits has typed an order number
ORDER_DIGITS = 4


def collect_key(state: DialogueState, key: str) -> Turn | None:
    """Add ``key`` to the entry; a ``Turn`` when it is complete (``*`` clears, ``#`` submits)."""
    if key == "*":
        state.dtmf_buffer = ""
        return None
    if key == "#":
        digits, state.dtmf_buffer = state.dtmf_buffer, ""
        return Turn(intent="keypad", digits=digits)
    awaiting = state.awaiting
    if key == "0" and not state.dtmf_buffer and KEYPAD_SLOTS.get(awaiting or "", 0) is None:
        # a free-text entry (a typed comment) never swallows the operator key
        return Turn(intent="keypad", digits="0")
    state.dtmf_buffer += key
    entry = state.dtmf_buffer
    needed: int | None
    if awaiting in YES_NO:
        needed = 1
    elif state.task and awaiting in KEYPAD_SLOTS:
        needed = KEYPAD_SLOTS[awaiting]
    else:
        needed = 1 if entry == "0" else ORDER_DIGITS  # idle: 0 = operator
    if needed is not None and len(entry) >= needed:
        state.dtmf_buffer = ""
        return Turn(intent="keypad", digits=entry)
    return None


def keypad_meaning(state: DialogueState, turn: Turn) -> Turn:
    """A complete entry as the turn it stands for: yes/no, a slot value, the operator, an order."""
    digits = turn.digits or ""
    if state.awaiting in YES_NO and digits in ("1", "2"):
        return Turn(intent="affirm" if digits == "1" else "deny", text=digits, emotion=turn.emotion)
    if digits == "0" and KEYPAD_SLOTS.get(state.awaiting or "", 0) is None:
        return Turn(intent="transfer_to_human", text="operator")
    if state.task and state.awaiting in KEYPAD_SLOTS:
        return turn
    if digits == "0":
        return Turn(intent="transfer_to_human", text="operator")
    if state.task and state.awaiting:
        return turn  # digits where words were expected: asked again
    if len(digits) >= 3:
        return Turn(intent="check_order", entities={"order_id": digits}, text=digits)
    return Turn(intent="help")
