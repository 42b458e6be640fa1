"""Intent routing: four tiers (regex, Rasa, SetFit, LLM), entities, emotion.

Importing this package is cheap; torch and setfit load only when the SetFit
tier starts or a model is trained.
"""

from voiceflow.processors.nlu.cascade import IntentCascade
from voiceflow.processors.nlu.completeness import intent_backchannel, intent_completeness, intent_hold
from voiceflow.processors.nlu.emotion import EMOTIONS, EmotionResult, detect_emotion
from voiceflow.processors.nlu.entities import business_today, extract_entities
from voiceflow.processors.nlu.intents import (
    OUT_OF_SCOPE,
    IntentCatalog,
    default_catalog,
    load_catalog,
    load_test_set,
)
from voiceflow.processors.nlu.llm_tier import LLMTier, classify_intent_declaration
from voiceflow.processors.nlu.rasa_tier import RasaTier
from voiceflow.processors.nlu.regex_tier import RegexTier
from voiceflow.processors.nlu.result import IntentResult, IntentTier, TierAnswer, TierAttempt, TierUnavailable
from voiceflow.processors.nlu.router import IntentRouter, NLUConfig, default_tiers
from voiceflow.processors.nlu.setfit_tier import SetFitTier
from voiceflow.processors.nlu.setfit_training import ensure_trained

__all__ = [
    "EMOTIONS",
    "OUT_OF_SCOPE",
    "EmotionResult",
    "IntentCascade",
    "IntentCatalog",
    "IntentResult",
    "IntentRouter",
    "IntentTier",
    "LLMTier",
    "NLUConfig",
    "RasaTier",
    "RegexTier",
    "SetFitTier",
    "TierAnswer",
    "TierAttempt",
    "TierUnavailable",
    "business_today",
    "classify_intent_declaration",
    "default_catalog",
    "default_tiers",
    "detect_emotion",
    "ensure_trained",
    "extract_entities",
    "intent_backchannel",
    "intent_completeness",
    "intent_hold",
    "load_catalog",
    "load_test_set",
]
