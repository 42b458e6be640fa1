"""The offline voice agent: no API keys, every model from an installed package.

    input → vad → bargein → turn → stt → endpointer → nlu → memory → dialogue → tts → hangup → gate → output

Silero VAD marks speech; ``bargein`` interrupts the agent when the caller talks over
it; ``turn`` scores each pause with the smart-turn audio model (``VOICEFLOW_TURN_MODEL``);
Whisper tiny.en (or pocketsphinx, ``VOICEFLOW_STT=pocketsphinx``) recognises; the
endpointer ends the turn sooner when the words and the sound both say the request is
complete, waits longer when either says not, and reopens it if the caller goes on; at a
pause that may end the request it ends the turn provisionally, so the reply is prepared
while the turn is decided (``gate`` holds it, and the dialogue and ``memory`` hold what
has effects, until the end is confirmed); the
intent router (regex → Rasa → SetFit → LLM, as configured) decides; ``memory``
records the call in SQLite; the dialogue policy (or, with ``VOICEFLOW_LLM_BASE_URL``,
an LLM agent over the same tools) answers; Piper speaks; ``hangup`` ends the call
once the farewell has played.

Config → shared resources → graph: ``pipeline(config)`` keeps the settings,
``await prepare()`` opens what every call shares once per process, ``build`` makes
one call's graph, ``await shutdown()`` closes the engines and the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from voiceflow.calls import CallContext
from voiceflow.config import Config, LLMSettings, SecuritySettings, STTSettings
from voiceflow.db import Database, open_seeded
from voiceflow.graphs import Graph, MonotonicClock
from voiceflow.processors import Processor
from voiceflow.processors.audio import BargeIn, Endpointer, SileroVAD, VADProcessor
from voiceflow.processors.audio.turn_audio import AudioTurnDetector
from voiceflow.processors.dialogue import DialoguePolicy, HangUpAfterGoodbye
from voiceflow.processors.memory import (
    MEMORY_MIGRATION,
    ConversationMemory,
    MemoryRecorder,
    PersistentUserMemory,
)
from voiceflow.processors.nlu import (
    IntentRouter,
    NLUConfig,
    ensure_trained,
    intent_backchannel,
    intent_completeness,
    intent_hold,
)
from voiceflow.processors.rag import KnowledgeBase
from voiceflow.processors.speculation import ReplyGate, Speculation
from voiceflow.processors.stt import STTProcessor
from voiceflow.processors.tools import ToolCallTracker, ToolRegistry, build_registry
from voiceflow.processors.tts import TTSProcessor
from voiceflow.security.llm_input import RedactingLLM
from voiceflow.security.redaction import Redactor
from voiceflow.services.llm.engine import LLMEngine
from voiceflow.services.stt.engine import STTEngine
from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine
from voiceflow.services.stt.sphinx_process import ProcessPocketsphinxEngine
from voiceflow.services.tts.piper import PiperEngine
from voiceflow.services.turn.engine import TurnModel

SYSTEM_PROMPT = (
    "You are the phone agent of Acme Home, a home-goods retailer. Answer in one or two short "
    "spoken sentences, no lists or markdown. Use the tools to check orders, book, cancel or "
    "reschedule appointments, look up accounts, give business hours, take feedback, transfer "
    "to a human or end the call."
)


def pipeline(config: Config) -> OfflinePipeline:
    """What ``voiceflow serve --pipeline offline`` and ``voiceflow call`` load."""
    return OfflinePipeline(config)


@dataclass
class Shared:
    """What every call shares: one database, the tools, caller memory, the knowledge base, the
    recognizers (one per line type: channel adaptation carries over between calls), one voice,
    an optional LLM. Each call's processors start the engines; only ``shutdown`` closes them."""

    db: Database
    registry: ToolRegistry
    memory: PersistentUserMemory
    kb: KnowledgeBase
    nlu: NLUConfig
    stt_phone: STTEngine
    stt_wideband: STTEngine
    tts: PiperEngine
    llm: LLMEngine | None
    turn: TurnModel | None = None


class OfflinePipeline:
    def __init__(
        self,
        config: Config,
        *,
        endpoint_silence_secs: float = 0.8,
        endpoint_hold_secs: float = 1.3,
        continuation_secs: float = 1.5,
        speculate: bool = True,
        pause_secs: float = 0.12,
    ) -> None:
        self.config = config
        self.endpoint_silence_secs = endpoint_silence_secs
        #: the tools' wall clock (business hours, "tomorrow"); None is the real time. Tests pin it.
        self.now: Callable[[], datetime] | None = None
        #: the wait after a filler or a request still missing its detail (see intent_hold)
        self.endpoint_hold_secs = endpoint_hold_secs
        #: the caller going on this soon after the end of a turn continues it (the reply is cancelled)
        self.continuation_secs = continuation_secs
        #: prepare the reply at a pause, before the end of the turn is confirmed
        self.speculate = speculate
        #: the quiet after which the reply is prepared (the VAD's pause hint; its stop is 0.25 s)
        self.pause_secs = pause_secs
        self.shared: Shared | None = None

    async def prepare(self) -> None:
        paths = self.config.paths
        await asyncio.to_thread(paths.data_dir.mkdir, parents=True, exist_ok=True)
        db = await open_seeded(paths.data_dir / "voiceflow.db", extra=[MEMORY_MIGRATION])
        self.shared = shared = Shared(
            db,
            build_registry(db, now=self.now),
            PersistentUserMemory(db, redact=redactor(self.config.security)),
            KnowledgeBase(paths.kb_dir, index_dir=paths.index_dir),
            NLUConfig.from_settings(self.config.nlu),
            # recognizers for the calls expected, built before the first (VOICEFLOW_PREWARM_CALLS)
            stt_phone=stt_engine(self.config.stt, "phone", prewarm=self.config.guard.prewarm_calls),
            stt_wideband=stt_engine(self.config.stt, None, prewarm=min(2, self.config.guard.prewarm_calls)),
            # the greeting and set answers, synthesized once (VOICEFLOW_TTS_CACHE_MB)
            tts=PiperEngine(cache_bytes=int(self.config.tts.cache_mb * 2**20)),
            llm=llm_engine(self.config.llm, self.config.security),
        )
        if self.config.stt.turn_model == "smart-turn":
            from voiceflow.services.turn.smart_turn import SmartTurnModel

            shared.turn = await asyncio.to_thread(SmartTurnModel.shared)  # checked against its sha256
        # load every model now, so the first call answers as fast as the next
        await asyncio.gather(
            asyncio.to_thread(SileroVAD.shared),
            shared.tts.start(MonotonicClock()),
            shared.stt_phone.start(MonotonicClock()),
            shared.stt_wideband.start(MonotonicClock()),
            shared.kb.prepare(),
            asyncio.to_thread(ensure_trained, root=shared.nlu.model_root),
        )
        nlu = IntentRouter(config=shared.nlu)
        await nlu.classify("hello")  # loads the SetFit model into the process cache
        await nlu.aclose()

    async def shutdown(self) -> None:
        if (shared := self.shared) is None:
            return
        self.shared = None
        if shared.llm is not None:
            await shared.llm.aclose()
        await shared.tts.aclose()
        await shared.stt_phone.aclose()
        await shared.stt_wideband.aclose()
        await shared.db.close()

    def build(self, ctx: CallContext, input: Processor, output: Processor) -> Graph:
        """The call's graph between the transport's two ends."""
        if (shared := self.shared) is None:
            raise RuntimeError("OfflinePipeline.prepare() must run before the first call")
        stt = shared.stt_phone if ctx.transport == "twilio" else shared.stt_wideband  # 8 kHz vs wideband
        turn = [] if shared.turn is None else [AudioTurnDetector(shared.turn, name="turn")]
        spec = Speculation() if self.speculate else None
        gate = [] if spec is None else [ReplyGate(spec, name="gate")]
        return Graph(f"offline:{ctx.call_id}").chain(
            input,
            VADProcessor(name="vad", pause_secs=self.pause_secs if self.speculate else None),
            # the agent stops at the caller's onset and resumes where it was cut if no words follow
            BargeIn(name="bargein", min_speech_secs=0.0, resume=True, early_stop_secs=0.8),
            *turn,
            # the recognizer finalizes at the pause hint too: the reply is prepared on its final
            STTProcessor(
                stt,
                name="stt",
                preroll_ms=500,
                finalize_at_hint=self.speculate and stt.name in ("pocketsphinx", "whisper"),
            ),
            Endpointer(
                name="endpointer",
                silence_secs=self.endpoint_silence_secs,
                completeness=intent_completeness(),
                hold=intent_hold(),
                backchannel=intent_backchannel(),
                hold_secs=self.endpoint_hold_secs,
                continuation_secs=self.continuation_secs,
                audio_turn=shared.turn is not None,
                speculation=spec,
            ),
            IntentRouter(name="nlu", config=shared.nlu, llm=shared.llm),
            MemoryRecorder(name="memory", persistent=shared.memory, speculation=spec),
            self._dialogue(shared, spec),
            TTSProcessor(shared.tts, name="tts"),
            HangUpAfterGoodbye(name="hangup"),
            *gate,
            output,
        )

    def _dialogue(self, shared: Shared, spec: Speculation | None) -> Processor:
        """The offline policy; with an LLM configured, the LLM agent with function calling."""
        if shared.llm is None:
            return DialoguePolicy(
                ToolCallTracker(shared.registry),
                knowledge=shared.kb,
                greet_on_start=True,
                speculation=spec,
                name="dialogue",
            )
        from voiceflow.processors.llm.agent import LLMAgent
        from voiceflow.processors.llm.grounding import KnowledgeGrounding

        return LLMAgent(
            shared.llm,
            memory=ConversationMemory(SYSTEM_PROMPT, redact=redactor(self.config.security)),
            registry=shared.registry,
            tracker=ToolCallTracker(shared.registry),
            respond_to="intent",
            # knowledge questions are answered from the kb passages (RAG), not the model's memory
            turn_prompt=KnowledgeGrounding(shared.kb),
            speculation=spec,
            name="dialogue",
        )


def stt_engine(stt: STTSettings, channel: str | None, *, prewarm: int = 1) -> STTEngine:
    """The recognizer ``VOICEFLOW_STT`` names: ``whisper`` (default), ``pocketsphinx`` (alias
    ``offline``) or ``deepgram`` (cloud; ``pipelines/cloud.py`` is built around it).

    Whisper tiny.en decodes each utterance over a short window in tens of ms (phone-line WER
    0.025 / 0.23 on Piper / espeak-ng speech against pocketsphinx's 0.18 / 0.58); pocketsphinx
    interims beside it (``VOICEFLOW_WHISPER_INTERIMS=on``) doubled the recognition CPU and
    slowed voice to voice, so by default the VAD alone says when the caller speaks.
    pocketsphinx keeps its channel adaptation per line type and the domain language model.
    ``prewarm``: pocketsphinx decoders built at start (building one during a call holds the
    GIL ~0.16 s and delays every live call's audio); they run in ``VOICEFLOW_STT_PROCESSES``
    child processes (pocketsphinx's decode holds the GIL too).
    """
    if stt.recognizer == "deepgram":
        from voiceflow.services.providers import deepgram_engine

        return deepgram_engine(stt)
    if stt.recognizer == "whisper":
        from voiceflow.services.stt.whisper import WhisperEngine

        interim = (
            PocketsphinxEngine(channel=channel, hints=None, prewarm=prewarm)
            if stt.whisper_interims == "on"
            else None
        )
        return WhisperEngine(interim=interim)
    if stt.processes:  # the decoders in child processes, off this worker's GIL
        return ProcessPocketsphinxEngine(
            processes=stt.processes, channel=channel, domain_lm=True, prewarm=prewarm
        )
    return PocketsphinxEngine(channel=channel, domain_lm=True, prewarm=prewarm)


def llm_engine(llm: LLMSettings, security: SecuritySettings | None = None) -> LLMEngine | None:
    """The engine ``VOICEFLOW_LLM`` chooses (an OpenAI-compatible one when only
    ``VOICEFLOW_LLM_BASE_URL`` is set), else None (offline).

    With ``VOICEFLOW_REDACT_LLM_INPUT=on`` what it is sent is redacted first.
    """
    from voiceflow.services.providers import llm_engine as chosen_engine

    engine = chosen_engine(llm)
    if engine is not None and security is not None and security.redact_llm_input == "on":
        return RedactingLLM(engine, Redactor().redact)
    return engine


def redactor(security: SecuritySettings) -> Callable[[str], str] | None:
    """PII redaction for stored transcripts and summaries (``VOICEFLOW_REDACT``, on by default)."""
    return Redactor().redact if security.redaction == "on" else None
