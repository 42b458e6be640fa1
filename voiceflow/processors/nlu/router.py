"""The ``IntentRouter`` processor: final Transcripts in, Intent frames out.

The Transcript is forwarded first and the Intent follows it, so memory and the
LLM downstream see the caller's words before the decision about them. Interim
transcripts pass through untouched. ``await router.classify(text)`` is the same
decision without a graph (benchmarks, the dialogue policy).

Configuration: ``NLUConfig.from_settings(config.nlu)`` takes the ``nlu`` section of
``voiceflow.config`` (``VOICEFLOW_RASA_URL`` enables tier 2, ``VOICEFLOW_NLU_MODEL_DIR``
moves the SetFit cache, ``VOICEFLOW_BUSINESS_TZ`` sets the timezone relative dates are
resolved in); an LLM engine is passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from voiceflow.config import NLUSettings, section_from_env
from voiceflow.core.processor import Processor, on
from voiceflow.frames import Intent, Transcript
from voiceflow.processors.nlu.cascade import IntentCascade
from voiceflow.processors.nlu.entities import DEFAULT_TIMEZONE
from voiceflow.processors.nlu.intents import default_catalog
from voiceflow.processors.nlu.llm_tier import LLMTier
from voiceflow.processors.nlu.rasa_tier import RasaTier
from voiceflow.processors.nlu.regex_tier import RegexTier
from voiceflow.processors.nlu.result import IntentResult, IntentTier
from voiceflow.processors.nlu.setfit_tier import SetFitTier
from voiceflow.processors.nlu.setfit_training import cached_model_dir
from voiceflow.services.breaker import TimeSource
from voiceflow.services.llm.engine import LLMEngine


@dataclass(frozen=True, slots=True)
class NLUConfig:
    rasa_url: str | None = None
    model_root: Path | None = None
    timezone: str = DEFAULT_TIMEZONE
    regex_threshold: float = 0.8
    rasa_threshold: float = 0.7
    setfit_threshold: float = 0.5
    llm_threshold: float = 0.5
    floor: float = 0.3
    rasa_timeout: float = 0.25
    train_if_missing: bool = False

    @classmethod
    def from_settings(cls, nlu: NLUSettings) -> NLUConfig:
        """The router's configuration from the config's ``nlu`` section (thresholds stay default)."""
        return cls(rasa_url=nlu.rasa_url, model_root=nlu.model_dir, timezone=nlu.timezone)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NLUConfig:
        return cls.from_settings(section_from_env(NLUSettings, environ))


def default_tiers(
    config: NLUConfig | None = None, *, llm: LLMEngine | None = None, clock: TimeSource | None = None
) -> list[IntentTier]:
    """regex -> rasa -> setfit -> llm, as configured (unconfigured tiers skip themselves)."""
    cfg = config or NLUConfig.from_env()
    model_dir = cached_model_dir(root=cfg.model_root) if cfg.model_root else None
    return [
        RegexTier(threshold=cfg.regex_threshold),
        RasaTier(
            cfg.rasa_url,
            threshold=cfg.rasa_threshold,
            timeout=cfg.rasa_timeout,
            known_intents=default_catalog().names,
            clock=clock,
        ),
        SetFitTier(
            threshold=cfg.setfit_threshold, model_dir=model_dir, train_if_missing=cfg.train_if_missing
        ),
        LLMTier(llm, threshold=cfg.llm_threshold),
    ]


class IntentRouter(Processor):
    """Decides the caller's intent for each final transcript (see the module docstring)."""

    produces = (Intent,)

    def __init__(
        self,
        *,
        name: str = "nlu",
        tiers: Sequence[IntentTier] | None = None,
        config: NLUConfig | None = None,
        llm: LLMEngine | None = None,
        clock: TimeSource | None = None,
        today: Callable[[], date] | None = None,
    ) -> None:
        super().__init__(name=name)
        cfg = config or NLUConfig.from_env()
        self.cascade = IntentCascade(
            tiers if tiers is not None else default_tiers(cfg, llm=llm, clock=clock),
            floor=cfg.floor,
            tz=cfg.timezone,
            today=today,
        )
        self._started = False

    async def start(self) -> None:
        """Load models and open clients (``setup`` does it inside a graph)."""
        if not self._started:
            await self.cascade.start()
            self._started = True

    async def aclose(self) -> None:
        if self._started:
            await self.cascade.aclose()
            self._started = False

    async def classify(self, text: str) -> IntentResult:
        await self.start()
        return await self.cascade.classify(text)

    async def setup(self) -> None:
        await self.start()

    async def cleanup(self) -> None:
        await self.aclose()

    @on(Transcript)
    async def transcript(self, frame: Transcript) -> None:
        await self.push(frame)
        if not frame.final or not frame.text.strip():
            return
        try:
            result = await self.cascade.classify(frame.text)
        except Exception as exc:  # the cascade guards its tiers; this is the last net
            await self.report_error(f"intent routing failed: {exc}", exception=exc)
            return
        # the transcript's generation: if its turn is continued meanwhile, the intent is stale too
        await self.push(Intent(**result.frame_fields(), generation=frame.generation))
