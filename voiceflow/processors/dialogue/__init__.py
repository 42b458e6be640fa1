"""The offline dialogue policy: intents + entities → slot filling → confirmation → tool → templated reply.

    policy = DialoguePolicy.for_database(db, knowledge=kb)        # nine tools on db, RAG optional
    graph = Graph("call", inputs=[Intent, DTMF]).chain(policy, tts, ...)

Decisions live in ``DialoguePolicyLogic`` (pure, testable: ``decide(state, turn)``), replies in
``templates``.
"""

from voiceflow.processors.dialogue.handoff import Handoff, handoff_from_memory
from voiceflow.processors.dialogue.hangup import HangUpAfterGoodbye
from voiceflow.processors.dialogue.policy import DialoguePolicyLogic, SlotRules
from voiceflow.processors.dialogue.processor import DialoguePolicy, KnowledgeSource
from voiceflow.processors.dialogue.standin import OfflineStandIn
from voiceflow.processors.dialogue.state import Action, CallTool, DialogueState, Lookup, Say, Turn
from voiceflow.processors.dialogue.templates import TEMPLATES, render

__all__ = [
    "TEMPLATES",
    "Action",
    "CallTool",
    "DialoguePolicy",
    "DialoguePolicyLogic",
    "DialogueState",
    "Handoff",
    "HangUpAfterGoodbye",
    "KnowledgeSource",
    "Lookup",
    "OfflineStandIn",
    "Say",
    "SlotRules",
    "Turn",
    "handoff_from_memory",
    "render",
]
