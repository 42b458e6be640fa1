"""Memory: the context of one call (ConversationMemory) and what is kept about a caller between calls."""

from voiceflow.processors.memory.conversation import ConversationMemory
from voiceflow.processors.memory.persistent import (
    MEMORY_MIGRATION,
    CallerProfile,
    CallRecord,
    GreetingContext,
    PersistentUserMemory,
    StoredTurn,
)
from voiceflow.processors.memory.phone import InvalidPhoneError, normalize_phone
from voiceflow.processors.memory.recorder import MemoryRecorder
from voiceflow.processors.memory.summarizer import ExtractiveSummarizer, LLMSummarizer, Summarizer
from voiceflow.processors.memory.turn import Turn

__all__ = [
    "MEMORY_MIGRATION",
    "CallRecord",
    "CallerProfile",
    "ConversationMemory",
    "ExtractiveSummarizer",
    "GreetingContext",
    "InvalidPhoneError",
    "LLMSummarizer",
    "MemoryRecorder",
    "PersistentUserMemory",
    "StoredTurn",
    "Summarizer",
    "Turn",
    "normalize_phone",
]
