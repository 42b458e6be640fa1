"""The offline voice agent: no API keys, every model from an installed package.

    input → vad → bargein → stt → endpointer → nlu → memory → dialogue → tts → hangup → output

- ``vad``: Silero VAD (bundled ONNX) marks speech; ``bargein`` interrupts the agent when
  the caller talks over it; ``stt``: pocketsphinx, streaming; ``endpointer`` decides when
  the turn is over (and joins the recognizer's finals into one per turn).
- ``nlu``: the intent router (regex → Rasa if configured → SetFit → LLM if configured).
- ``memory``: records the call in SQLite (returning callers are greeted by name).
- ``dialogue``: the offline policy (slot filling, confirmation, the nine tools, RAG over
  ``kb/``); with an LLM configured (``VOICEFLOW_LLM_BASE_URL``), the LLM agent with
  function calling takes its place, knowledge questions grounded in ``kb/`` passages.
- ``tts``: Piper with the joe voice; the output transport resamples and paces.
- ``hangup``: after the ``end_call`` tool, ends the call once the farewell has played.

Heavy resources (database, knowledge index, models) are process-wide and shared by
every call: ``await prepare()`` once, then ``build`` per call.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from voiceflow.calls import CallContext
from voiceflow.db import Database, open_seeded
from voiceflow.graphs import Graph, MonotonicClock
from voiceflow.processors import Processor
from voiceflow.processors.audio.bargein import BargeIn
from voiceflow.processors.audio.turns import Endpointer, default_completeness
from voiceflow.processors.audio.vad import VADProcessor
from voiceflow.processors.dialogue.hangup import HangUpAfterGoodbye
from voiceflow.processors.dialogue.processor import DialoguePolicy
from voiceflow.processors.memory.persistent import MEMORY_MIGRATION, PersistentUserMemory
from voiceflow.processors.memory.recorder import MemoryRecorder
from voiceflow.processors.nlu.regex_tier import RegexTier
from voiceflow.processors.nlu.router import IntentRouter, NLUConfig
from voiceflow.processors.nlu.spoken import normalise_for_numbers
from voiceflow.processors.rag import KnowledgeBase
from voiceflow.processors.stt import STTProcessor
from voiceflow.processors.tools import ToolCallTracker, ToolRegistry, build_registry
from voiceflow.processors.tts import TTSProcessor
from voiceflow.services.llm.engine import LLMEngine
from voiceflow.services.stt.engine import STTEngine
from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine
from voiceflow.services.tts.piper import PiperEngine

log = logging.getLogger("voiceflow.pipelines.offline")

DATA_DIR = Path(os.environ.get("VOICEFLOW_DATA_DIR", ".voiceflow/data"))

SYSTEM_PROMPT = (
    "You are the phone agent of Acme Home, a home-goods retailer. Answer in one or two short "
    "spoken sentences, no lists or markdown. Use the tools to check orders, book, cancel or "
    "reschedule appointments, look up accounts, give business hours, take feedback, transfer "
    "to a human or end the call."
)


@dataclass
class OfflineAgent:
    """What every call shares: one database, the tools, the knowledge base, optional LLM."""

    db: Database
    registry: ToolRegistry
    memory: PersistentUserMemory
    kb: KnowledgeBase
    llm: LLMEngine | None = None
    endpoint_silence_secs: float = 0.8
    #: one recognizer per line type, shared by every call (``VOICEFLOW_STT``, see ``stt_engine``)
    stt_phone: STTEngine = field(default_factory=lambda: stt_engine("phone"))
    stt_wideband: STTEngine = field(default_factory=lambda: stt_engine(None))
    #: one voice for every call (each call's TTSProcessor starts it; only ``close`` closes it)
    tts: PiperEngine = field(default_factory=PiperEngine)

    def stt_for(self, transport: str) -> STTEngine:
        """Phone lines (8 kHz mu-law) and wideband peers (WebRTC, browser) need different starts."""
        return self.stt_phone if transport == "twilio" else self.stt_wideband

    @classmethod
    async def open(cls, data_dir: Path = DATA_DIR, *, llm: LLMEngine | None = None) -> OfflineAgent:
        await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
        db = await open_seeded(data_dir / "voiceflow.db", extra=[MEMORY_MIGRATION])
        agent = cls(db, build_registry(db), PersistentUserMemory(db), KnowledgeBase(), llm)
        return agent

    async def warm_up(self) -> None:
        """Load every model once, so the first call answers as fast as the next."""
        from voiceflow.processors.audio.silero import SileroVAD
        from voiceflow.processors.nlu.setfit_training import ensure_trained

        await asyncio.gather(
            asyncio.to_thread(SileroVAD.shared),
            self.tts.start(MonotonicClock()),
            self.stt_phone.start(MonotonicClock()),
            self.stt_wideband.start(MonotonicClock()),
            self.kb.prepare(),
            asyncio.to_thread(ensure_trained),
        )
        nlu = IntentRouter(config=NLUConfig.from_env())
        await nlu.classify("hello")  # loads the SetFit model into the process cache
        await nlu.aclose()

    async def close(self) -> None:
        if self.llm is not None:
            await self.llm.aclose()
        await self.tts.aclose()
        await self.stt_phone.aclose()
        await self.stt_wideband.aclose()
        await self.db.close()

    def build(self, ctx: CallContext, input: Processor, output: Processor) -> Graph:
        """The call's graph between the transport's two ends."""
        nlu = IntentRouter(name="nlu", config=NLUConfig.from_env(), llm=self.llm)
        brain: Processor
        if self.llm is not None:
            from voiceflow.processors.llm.agent import LLMAgent
            from voiceflow.processors.llm.grounding import KnowledgeGrounding
            from voiceflow.processors.memory.conversation import ConversationMemory

            brain = LLMAgent(
                self.llm,
                memory=ConversationMemory(SYSTEM_PROMPT),
                registry=self.registry,
                tracker=ToolCallTracker(self.registry),
                respond_to="intent",
                # knowledge questions are answered from the kb passages (RAG), not the model's memory
                turn_prompt=KnowledgeGrounding(self.kb),
                name="dialogue",
            )
        else:
            brain = DialoguePolicy(
                ToolCallTracker(self.registry), knowledge=self.kb, greet_on_start=True, name="dialogue"
            )
        return Graph(f"offline:{ctx.call_id}").chain(
            input,
            VADProcessor(name="vad"),
            BargeIn(name="bargein"),
            STTProcessor(self.stt_for(ctx.transport), name="stt"),
            Endpointer(
                name="endpointer", silence_secs=self.endpoint_silence_secs, completeness=intent_completeness()
            ),
            nlu,
            MemoryRecorder(name="memory", persistent=self.memory),
            brain,
            TTSProcessor(self.tts, name="tts"),
            HangUpAfterGoodbye(name="hangup"),
            output,
        )


def stt_engine(channel: str | None) -> STTEngine:
    """The recognizer ``VOICEFLOW_STT`` names: ``pocketsphinx`` (default) or ``whisper``.

    pocketsphinx keeps its channel adaptation per line type and the domain language model
    (phone-line WER 0.33 → 0.25 on held-out calls); Whisper tiny.en is far more accurate
    (phone-line WER ~0.05 on Piper speech) at ~0.7 s of CPU per utterance, with pocketsphinx
    giving it live interims.
    """
    choice = os.environ.get("VOICEFLOW_STT", "pocketsphinx").strip().lower()
    if choice == "pocketsphinx":
        return PocketsphinxEngine(channel=channel, domain_lm=True)
    if choice == "whisper":
        from voiceflow.services.stt.whisper import WhisperEngine

        return WhisperEngine(interim=PocketsphinxEngine(channel=channel, hints=None))
    raise ValueError(f"VOICEFLOW_STT={choice!r}: expected 'pocketsphinx' or 'whisper'")


#: intents that are complete on their own words; others usually need a detail that may follow
_SELF_CONTAINED = frozenset(
    {"check_order", "track_delivery", "business_hours", "transfer_to_human", "goodbye", "repeat", "help"}
)


def intent_completeness(regex: RegexTier | None = None) -> Callable[[str], float]:
    """Endpointing that listens to meaning: a turn whose words already make a confident intent
    (and, for orders, carry the order number) ends after the short window; a bare courtesy
    ("thanks") waits a little longer, since "thanks, goodbye" often follows in one breath."""
    tier = regex or RegexTier()

    def completeness(text: str) -> float:
        base = default_completeness(text)
        if base == 0.0:  # ends on a filler or a dangling word: the caller is not done
            return 0.0
        if len(text.split()) <= 3:
            # "no" / "thanks" are often the first breath of "no, that's all" / "thanks, goodbye"
            return min(base, 0.6)
        folded = normalise_for_numbers(text)
        answer = tier.match(folded)
        if answer is None or answer.confidence < tier.threshold:
            return min(base, 0.7)
        if answer.intent in ("check_order", "track_delivery"):
            # "where is my order" is complete only once the number has been said
            return 1.0 if re.search(r"\d{3,}", folded) else min(base, 0.6)
        return 1.0 if answer.intent in _SELF_CONTAINED else max(base, 0.8)

    return completeness


def llm_from_env() -> LLMEngine | None:
    """An OpenAI-compatible engine when ``VOICEFLOW_LLM_BASE_URL`` is set, else None (offline)."""
    base_url = os.environ.get("VOICEFLOW_LLM_BASE_URL")
    if not base_url:
        return None
    from voiceflow.services.llm.openai import OpenAICompatEngine

    return OpenAICompatEngine(
        os.environ.get("VOICEFLOW_LLM_MODEL", "gpt-4o-mini"),
        base_url=base_url,
        api_key=os.environ.get("VOICEFLOW_LLM_API_KEY", "not-needed"),
    )


_agent: OfflineAgent | None = None


async def prepare() -> OfflineAgent:
    """Open the process-wide agent and load its models (idempotent)."""
    global _agent
    if _agent is None:
        _agent = await OfflineAgent.open(llm=llm_from_env())
        await _agent.warm_up()
    return _agent


async def shutdown() -> None:
    global _agent
    if _agent is not None:
        await _agent.close()
        _agent = None


def build(ctx: CallContext, input: Processor, output: Processor) -> Graph:
    """The ``PipelineFactory`` used by ``voiceflow serve --pipeline offline``."""
    if _agent is None:
        raise RuntimeError("pipelines.offline.prepare() must run before the first call")
    return _agent.build(ctx, input, output)
