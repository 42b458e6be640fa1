"""The cloud voice agent: Deepgram hears, an LLM (Anthropic, Gemini or OpenAI) answers with tools.

    input → vad → bargein → stt (Deepgram) → endpointer → nlu → memory → agent → offline → tts
          → hangup → output

Silero VAD marks speech and ``bargein`` interrupts the agent when the caller talks over it
(the LLM request is closed, stale tokens are dropped); Deepgram streams the caller's words
(``VOICEFLOW_STT``, ``DEEPGRAM_API_KEY``), a phone call's mu-law 8 kHz straight from the
Twilio wire (``TwilioInput.wire_taps``); the turn ends by our endpointer or, with
``VOICEFLOW_ENDPOINTING=deepgram``, by Deepgram's own ``speech_final`` / ``UtteranceEnd``;
the intent router reads the turn; ``memory`` records it in SQLite; the LLM agent
(``VOICEFLOW_LLM``) answers with function calling over the nine SQLite tools, the
conversation memory and knowledge-base passages (RAG) for knowledge questions; while no LLM
can answer (every engine failed, every breaker open) ``offline`` serves the turns with the
offline pipeline's dialogue policy over the same tools; the TTS router speaks.

Config → shared resources → graph, like ``pipelines/offline.py``: ``prepare`` opens the
database, the tools, the knowledge base and the engines once per process, ``build`` makes one
call's graph, ``shutdown`` closes them. A chosen provider without its key has already stopped
start-up (``Config.from_env``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pipelines.offline import SYSTEM_PROMPT, redactor, stt_engine
from voiceflow.calls import CallContext
from voiceflow.config import Config
from voiceflow.db import Database, open_seeded
from voiceflow.graphs import Graph, MonotonicClock
from voiceflow.processors import Processor
from voiceflow.processors.audio import BargeIn, Endpointer, SileroVAD, VADProcessor
from voiceflow.processors.dialogue import HangUpAfterGoodbye, OfflineStandIn
from voiceflow.processors.llm.agent import LLMAgent
from voiceflow.processors.llm.grounding import KnowledgeGrounding
from voiceflow.processors.memory import (
    MEMORY_MIGRATION,
    ConversationMemory,
    MemoryRecorder,
    PersistentUserMemory,
)
from voiceflow.processors.nlu import IntentRouter, NLUConfig, ensure_trained, intent_completeness
from voiceflow.processors.rag import KnowledgeBase
from voiceflow.processors.stt import EngineEndpointer, STTProcessor
from voiceflow.processors.tools import ToolCallTracker, ToolRegistry, build_registry
from voiceflow.processors.tts import TTSProcessor
from voiceflow.security.llm_input import RedactingLLM
from voiceflow.security.redaction import Redactor
from voiceflow.services.failover.chains import llm_chain, stt_chain
from voiceflow.services.llm.engine import LLMEngine
from voiceflow.services.stt.engine import STTEngine
from voiceflow.services.tts.build import VoiceSet
from voiceflow.services.tts.engine import TTSEngine
from voiceflow.services.tts.piper import PiperEngine
from voiceflow.transports.twilio import TwilioInput

#: ``voiceflow call --pipeline cloud --fake-providers``: Deepgram, Anthropic, ElevenLabs and Cartesia
#: as local fakes (loaded only on that flag, never by the product)
FAKE_PROVIDERS = "voiceflow.testing.fakes.cloud:start_cloud_fakes"


def pipeline(config: Config) -> CloudPipeline:
    """What ``voiceflow serve --pipeline cloud`` and ``voiceflow call --pipeline cloud`` load."""
    return CloudPipeline(config)


@dataclass
class Shared:
    """What every call shares: the database, tools, caller memory, knowledge base, and one
    engine of each kind (a call opens its own stream / request on them)."""

    db: Database
    registry: ToolRegistry
    memory: PersistentUserMemory
    kb: KnowledgeBase
    nlu: NLUConfig
    stt: STTEngine
    llm: LLMEngine
    tts: TTSEngine
    #: the LLM chain's breakers: False while every LLM is down (the offline policy answers)
    llm_available: Callable[[], bool] | None = None
    #: the cloud voices per line kind (``VOICEFLOW_TTS``), unless a ``tts`` was given
    voices: VoiceSet | None = None

    def voice(self, ctx: CallContext) -> TTSEngine:
        if self.voices is None:
            return self.tts
        return self.voices.voice("phone" if ctx.transport == "twilio" else "wideband")


class CloudPipeline:
    #: the agent waits for the caller to speak first (``voiceflow call`` then expects no greeting)
    greets = False

    def __init__(
        self,
        config: Config,
        *,
        tts: TTSEngine | None = None,
        endpoint_silence_secs: float = 0.8,
        llm_retries: int = 1,
    ) -> None:
        """``tts`` replaces the voices ``VOICEFLOW_TTS`` chooses (ElevenLabs, Cartesia, Piper)."""
        self.config = config
        self.tts = tts
        self.endpoint_silence_secs = endpoint_silence_secs
        self.llm_retries = llm_retries
        #: the tools' wall clock (business hours, "tomorrow"); None is the real time. Tests pin it.
        self.now: Callable[[], datetime] | None = None
        self.shared: Shared | None = None

    def _hearing(self, engine: STTEngine, input: Processor) -> list[Processor]:
        """The recognizer's processor and the endpointer: who feeds it, who ends the turn."""
        by_engine = self.config.stt.endpointing == "deepgram" and engine.name == "deepgram"
        if isinstance(input, TwilioInput) and "mulaw" in engine.encodings:
            stt = STTProcessor(
                engine,
                name="stt",
                audio="external",  # the wire's mu-law, as Twilio sent it
                encoding="mulaw",
                stream_rate=8000,
                finalize_on_pause=not by_engine,
                voice_from_engine=by_engine,
            )
            input.wire_taps.append(stt.send_external)
        else:
            # the engine's own endpointing needs the silence too
            audio: Literal["all", "voiced"] = "all" if by_engine else "voiced"
            stt = STTProcessor(
                engine, name="stt", audio=audio, finalize_on_pause=not by_engine, voice_from_engine=by_engine
            )
        if by_engine:
            return [stt, EngineEndpointer(name="endpointer")]
        turns = Endpointer(
            name="endpointer", silence_secs=self.endpoint_silence_secs, completeness=intent_completeness()
        )
        return [stt, turns]

    async def prepare(self) -> None:
        chain = llm = llm_chain(self.config.llm)  # the chosen provider, then every other one with a key
        if llm is not None and self.config.security.redact_llm_input == "on":
            llm = RedactingLLM(llm, Redactor().redact)  # VOICEFLOW_REDACT_LLM_INPUT
        if llm is None:
            raise RuntimeError("the cloud pipeline needs an LLM: set VOICEFLOW_LLM (and its API key)")
        paths = self.config.paths
        await asyncio.to_thread(paths.data_dir.mkdir, parents=True, exist_ok=True)
        db = await open_seeded(paths.data_dir / "voiceflow.db", extra=[MEMORY_MIGRATION])
        self.shared = shared = Shared(
            db,
            build_registry(db, now=self.now),
            PersistentUserMemory(db, redact=redactor(self.config.security)),
            KnowledgeBase(paths.kb_dir, index_dir=paths.index_dir),
            NLUConfig.from_settings(self.config.nlu),
            stt=stt_chain(stt_engine(self.config.stt, "phone")),  # Deepgram, then pocketsphinx
            llm=llm,
            tts=self.tts or PiperEngine(),
            voices=None if self.tts else VoiceSet(self.config.tts, PiperEngine()),
            llm_available=chain.available if chain is not None else None,
        )
        voices = shared.voices
        await asyncio.gather(
            asyncio.to_thread(SileroVAD.shared),
            shared.tts.start(MonotonicClock()),
            *(voices.voice(line).start(MonotonicClock()) for line in ("phone", "wideband") if voices),
            shared.stt.start(MonotonicClock()),
            shared.llm.start(MonotonicClock()),
            shared.kb.prepare(),
            asyncio.to_thread(ensure_trained, root=shared.nlu.model_root),
        )

    async def shutdown(self) -> None:
        if (shared := self.shared) is None:
            return
        self.shared = None
        await shared.llm.aclose()
        await shared.stt.aclose()
        await shared.tts.aclose()
        if shared.voices is not None:
            await shared.voices.aclose()
        await shared.db.close()

    def build(self, ctx: CallContext, input: Processor, output: Processor) -> Graph:
        """The call's graph between the transport's two ends."""
        if (shared := self.shared) is None:
            raise RuntimeError("CloudPipeline.prepare() must run before the first call")
        memory = ConversationMemory(SYSTEM_PROMPT, redact=redactor(self.config.security))
        tracker = ToolCallTracker(shared.registry)
        return Graph(f"cloud:{ctx.call_id}").chain(
            input,
            VADProcessor(name="vad"),
            BargeIn(name="bargein"),
            *self._hearing(shared.stt, input),
            IntentRouter(name="nlu", config=shared.nlu, llm=shared.llm),
            MemoryRecorder(name="memory", persistent=shared.memory),
            LLMAgent(
                shared.llm,
                memory=memory,
                registry=shared.registry,
                tracker=tracker,
                respond_to="intent",
                turn_prompt=KnowledgeGrounding(shared.kb),  # knowledge questions answered from kb/ (RAG)
                max_retries=self.llm_retries,
                llm_available=shared.llm_available,
                name="dialogue",
            ),
            # every LLM down: the offline pipeline's policy serves the turn (and the call, until one is back)
            OfflineStandIn(tracker, knowledge=shared.kb, memory=memory, name="offline"),
            TTSProcessor(shared.voice(ctx), name="tts"),
            HangUpAfterGoodbye(name="hangup"),
            output,
        )
