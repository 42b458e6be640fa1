"""A reopened Realtime session gets the conversation so far, and a cut-off answer is finished.

The new session has none of the old one's items: the instructions go with its
``session.update``; the turns (both sides' words, function calls and their outputs) are
re-sent as items from the call's ``ConversationMemory``. A caller turn or tool result
left without a reply is answered (``response.create``); an answer the drop cut off
(``cut_off``: the words the caller got) is continued from where it stopped, not said again.
"""

from __future__ import annotations

import json

from voiceflow.processors.memory.conversation import ConversationMemory
from voiceflow.services.realtime.engine import RealtimeSession

__all__ = ["CONTINUE", "restore_conversation"]

#: appended to the instructions of the response that finishes an answer a dropped socket cut off
CONTINUE = (
    '\n\nThe connection dropped while you were answering; the caller heard you say: "{said}". '
    "Continue that answer from exactly where it stopped, without repeating any of it."
)


async def restore_conversation(
    session: RealtimeSession, memory: ConversationMemory, instructions: str, cut_off: str = ""
) -> bool:
    """Re-send ``memory``'s turns to ``session``; True when a cut-off answer was asked to continue.
    Raises ``RealtimeError`` when a send fails."""
    last_role = ""
    for msg in memory.messages(system_prompt=""):
        if msg.role == "tool" and msg.tool_call_id:
            await session.send_function_output(msg.tool_call_id, msg.content or "")
        elif msg.role == "assistant" and msg.tool_calls:
            for call in msg.tool_calls:
                arguments = call.raw_arguments or json.dumps(call.arguments)
                await session.add_function_call(call.id, call.name, arguments)
        elif msg.role in ("user", "assistant") and msg.content:
            await session.add_message(msg.role, msg.content)
        else:
            continue
        last_role = msg.role
    if last_role in ("user", "tool"):
        await session.create_response()
    elif cut_off and last_role == "assistant":
        await session.create_response(instructions + CONTINUE.format(said=cut_off))
        return True
    return False
