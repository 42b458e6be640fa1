"""The failover chains the cloud pipeline runs, from the settings.

- STT: Deepgram, then the offline recognizer (pocketsphinx with the phone channel and the
  domain language model): a Deepgram outage mid-call costs no caller words.
- LLM: the chosen provider, then every other provider that has a key (Anthropic, Gemini,
  OpenAI, in that order), each with its default model.
"""

from __future__ import annotations

import dataclasses

from voiceflow.config import LLMSettings
from voiceflow.services.failover.llm import FailoverLLM
from voiceflow.services.failover.stt import FailoverSTT
from voiceflow.services.providers import llm_engine
from voiceflow.services.stt.engine import STTEngine

BACKUP_ORDER = ("anthropic", "gemini", "openai")


def _has_key(llm: LLMSettings, provider: str) -> bool:
    return bool(
        {"anthropic": llm.anthropic_api_key, "gemini": llm.gemini_api_key, "openai": llm.openai_key}[provider]
    )


def llm_chain(llm: LLMSettings) -> FailoverLLM | None:
    """The chosen engine, with every other keyed provider behind it (None: no LLM at all)."""
    chosen = llm_engine(llm)
    if chosen is None:
        return None
    backups = []
    for provider in BACKUP_ORDER:
        if provider != llm.chosen and _has_key(llm, provider):
            engine = llm_engine(dataclasses.replace(llm, provider=provider, model=None))
            if engine is not None:
                backups.append(engine)
    return FailoverLLM([chosen, *backups]) if backups else FailoverLLM([chosen])


def stt_chain(primary: STTEngine) -> STTEngine:
    """A cloud recognizer with the offline one behind it; an offline recognizer as it is."""
    if primary.name in ("pocketsphinx", "whisper"):
        return primary
    from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine

    return FailoverSTT([primary, PocketsphinxEngine(channel="phone", domain_lm=True)])
