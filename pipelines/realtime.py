"""The speech-to-speech agent: OpenAI Realtime over the same transports, tools, memory and knowledge base.

    input → mode ─┬─ realtime ─────────────────────────────────────────────┬─ merge → memory
                  └─ vad → bargein → stt → endpointer → nlu → dialogue → tts ┘    → hangup → output

The ``realtime`` node holds the Realtime session (Twilio audio goes to it as
``audio/pcmu`` and the model's mu-law comes back to it untouched, as ``EncodedTTSAudio``; other
transports get 24 kHz PCM, resampled by soxr at the edges); the nine business tools and
``search_knowledge_base`` run through the same registry and call tracker as the
cascaded agent. The cascaded branch is the offline agent standing by: when the session
cannot be opened or fails for good mid-call, ``mode`` sends the rest of the call there
(same transport, same memory), with a bridge line; its dialogue policy takes over the
conversation so far (both sides' words, what the tools found) and goes on from there.
Standing by costs no recognizer stream: the cascade's STT opens one only when the call
falls back (``StandbySTT``); its models are the ones every offline call shares.

Needs ``OPENAI_API_KEY`` (``VOICEFLOW_OPENAI_URL`` for another endpoint);
``voiceflow call --pipeline realtime --fake-providers`` runs it against the local fake.
"""

from __future__ import annotations

from pipelines.offline import SYSTEM_PROMPT, OfflinePipeline, Shared
from voiceflow.calls import CallContext
from voiceflow.config import Config, ConfigError, RealtimeSettings
from voiceflow.graphs import Graph, Merge, MonotonicClock
from voiceflow.processors import Processor
from voiceflow.processors.audio import BargeIn, Endpointer, VADProcessor
from voiceflow.processors.dialogue import DialoguePolicy, HangUpAfterGoodbye, handoff_from_memory
from voiceflow.processors.memory import ConversationMemory, MemoryRecorder
from voiceflow.processors.nlu import IntentRouter, intent_completeness
from voiceflow.processors.rag.tool import knowledge_search_tool
from voiceflow.processors.realtime import ModeRouter, RealtimeProcessor, StandbySTT
from voiceflow.processors.tools import ToolCallTracker
from voiceflow.processors.tts import TTSProcessor
from voiceflow.services.realtime.engine import AudioFormat, SessionConfig
from voiceflow.services.realtime.openai import OpenAIRealtimeEngine
from voiceflow.transports.twilio import TwilioInput, TwilioOutput

INSTRUCTIONS = SYSTEM_PROMPT + " Search the knowledge base for policy questions. Speak in a warm, brisk tone."


def pipeline(config: Config) -> RealtimePipeline:
    """What ``voiceflow serve --pipeline realtime`` and ``voiceflow call --pipeline realtime`` load."""
    return RealtimePipeline(config)


#: ``voiceflow call --fake-providers``: the hook that starts this pipeline's local fakes and returns
#: the settings pointing it at them (named, not imported: the product never imports the test kit)
FAKE_PROVIDERS = "voiceflow.testing.fakes.openai_realtime:fake_providers"


def turn_detection(rt: RealtimeSettings) -> dict[str, object]:
    if rt.turn_detection == "semantic_vad":
        return {"type": "semantic_vad", "eagerness": rt.eagerness}
    return {
        "type": "server_vad",
        "threshold": rt.vad_threshold,
        "silence_duration_ms": rt.silence_ms,
        "prefix_padding_ms": rt.prefix_padding_ms,
    }


class RealtimePipeline:
    def __init__(self, config: Config) -> None:
        if not config.llm.openai_api_key:
            raise ConfigError(["OPENAI_API_KEY is not set: the realtime pipeline needs an OpenAI API key"])
        self.config = config
        self.cascade = OfflinePipeline(config)
        self.engine = OpenAIRealtimeEngine(
            config.realtime.model, api_key=config.llm.openai_api_key, base_url=config.llm.openai_url
        )

    async def prepare(self) -> None:
        await self.cascade.prepare()
        shared = self._shared()
        if "search_knowledge_base" not in shared.registry:
            shared.registry.register(knowledge_search_tool(shared.kb))
        await self.engine.start(MonotonicClock())

    async def shutdown(self) -> None:
        await self.engine.aclose()
        await self.cascade.shutdown()

    def _shared(self) -> Shared:
        if self.cascade.shared is None:
            raise RuntimeError("RealtimePipeline.prepare() must run before the first call")
        return self.cascade.shared

    def session_config(self, ctx: CallContext) -> SessionConfig:
        fmt: AudioFormat = "audio/pcmu" if ctx.transport == "twilio" else "audio/pcm"
        rt = self.config.realtime
        return SessionConfig(
            instructions=INSTRUCTIONS,
            voice=rt.voice,
            input_format=fmt,
            output_format=fmt,
            turn_detection=turn_detection(rt),
            tools=self._shared().registry.declarations(),
        )

    def build(self, ctx: CallContext, input: Processor, output: Processor) -> Graph:
        shared = self._shared()
        memory = ConversationMemory(INSTRUCTIONS)
        mode = ModeRouter(name="mode")
        realtime = RealtimeProcessor(
            self.engine,
            self.session_config(ctx),
            tracker=ToolCallTracker(shared.registry),
            memory=memory,
            mode=mode,
            encoded_output=isinstance(output, TwilioOutput),
            name="realtime",
        )
        if isinstance(input, TwilioInput) and realtime.config.input_format == "audio/pcmu":
            input.wire_taps.append(realtime.tap_wire)  # the caller's mu-law goes to the socket as it came
        cascade, stt, dialogue = self._cascade(ctx, shared, memory)
        mode.handoffs.append(stt.activate)  # the cascade's recognizer stream: opened only if needed
        if isinstance(dialogue, DialoguePolicy):  # (an LLM agent reads ``memory`` itself)
            policy = dialogue

            async def take_over() -> None:
                policy.take_over(handoff_from_memory(memory))

            mode.handoffs.append(take_over)
        merge = Merge(name="merge")
        graph = Graph(f"realtime:{ctx.call_id}").link(input, mode)
        graph.route(mode, {"realtime": realtime, "cascade": cascade}).fan_in([realtime, cascade], merge)
        return graph.chain(
            merge,
            MemoryRecorder(name="memory", persistent=shared.memory),
            HangUpAfterGoodbye(name="hangup"),
            output,
        )

    def _cascade(
        self, ctx: CallContext, shared: Shared, memory: ConversationMemory
    ) -> tuple[Graph, StandbySTT, Processor]:
        """The offline agent's chain, idle until ``mode`` falls back to it (then it has the call,
        and its dialogue the conversation so far); and its dialogue node."""
        stt = shared.stt_phone if ctx.transport == "twilio" else shared.stt_wideband
        recognizer = StandbySTT(stt, name="stt")
        dialogue: Processor
        if shared.llm is None:
            dialogue = DialoguePolicy(
                ToolCallTracker(shared.registry), knowledge=shared.kb, forward_input=True, name="dialogue"
            )
        else:
            from voiceflow.processors.llm.agent import LLMAgent

            dialogue = LLMAgent(shared.llm, memory=memory, registry=shared.registry, name="dialogue")
        graph = Graph("cascade").chain(
            VADProcessor(name="vad"),
            BargeIn(name="bargein"),
            recognizer,
            Endpointer(
                name="endpointer",
                silence_secs=self.cascade.endpoint_silence_secs,
                completeness=intent_completeness(),
            ),
            IntentRouter(name="nlu", config=shared.nlu, llm=shared.llm),
            dialogue,
            TTSProcessor(shared.tts, name="tts"),
        )
        return graph, recognizer, dialogue
