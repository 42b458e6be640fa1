"""The engine each provider setting names: one place from settings to a configured adapter.

Pipelines call these in ``prepare`` (after ``Config.from_env`` has already refused a chosen
provider without its key): ``llm_engine(config.llm)`` and ``deepgram_engine(config.stt)``.
Vendor modules are imported only when chosen, so an offline deployment never loads a cloud SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voiceflow.config import LLMSettings, STTSettings
from voiceflow.services.llm.engine import LLMEngine

if TYPE_CHECKING:
    from voiceflow.services.stt.deepgram import DeepgramEngine


def llm_engine(llm: LLMSettings, *, timeout: float = 30.0) -> LLMEngine | None:
    """The engine ``VOICEFLOW_LLM`` chooses (None: no LLM, the offline policy answers)."""
    provider = llm.chosen
    if provider == "anthropic":
        from voiceflow.services.llm.anthropic import AnthropicEngine

        assert llm.anthropic_api_key is not None  # Config.from_env refuses a missing key
        return AnthropicEngine(
            llm.model_name, api_key=llm.anthropic_api_key, base_url=llm.anthropic_url, timeout=timeout
        )
    if provider == "gemini":
        from voiceflow.services.llm.gemini import GeminiEngine

        assert llm.gemini_api_key is not None
        return GeminiEngine(
            llm.model_name, api_key=llm.gemini_api_key, base_url=llm.gemini_url, timeout=timeout
        )
    if provider == "openai":
        from voiceflow.services.llm.openai import OpenAIEngine

        key = llm.openai_key or "not-needed"
        return OpenAIEngine(llm.model_name, base_url=llm.openai_base_url, api_key=key, timeout=timeout)
    return None


def keywords(raw: str | None) -> tuple[tuple[str, float], ...]:
    """``"refund:2, order"`` → ``(("refund", 2.0), ("order", 1.0))``; a bad intensity is a ValueError."""
    out = []
    for item in (raw or "").split(","):
        word, _, intensity = item.strip().partition(":")
        if not word:
            continue
        try:
            out.append((word, float(intensity) if intensity else 1.0))
        except ValueError:
            raise ValueError(f"VOICEFLOW_DEEPGRAM_KEYWORDS: intensity of {word!r} is not a number") from None
    return tuple(out)


def deepgram_engine(stt: STTSettings, *, endpointing_ms: int | None = None) -> DeepgramEngine:
    """Deepgram with the ``VOICEFLOW_DEEPGRAM_*`` settings (``endpointing_ms`` overrides the setting)."""
    from voiceflow.services.stt.deepgram import DEFAULT_URL, DeepgramEngine, DeepgramOptions

    assert stt.deepgram_api_key is not None
    options = DeepgramOptions(
        model=stt.deepgram_model,
        endpointing_ms=endpointing_ms if endpointing_ms is not None else stt.deepgram_endpointing_ms,
        utterance_end_ms=stt.deepgram_utterance_end_ms,
        keywords=keywords(stt.deepgram_keywords),
    )
    return DeepgramEngine(api_key=stt.deepgram_api_key, url=stt.deepgram_url or DEFAULT_URL, options=options)
