"""MemoryRecorder in a graph: what flows is recorded in conversation and persistent memory."""

from __future__ import annotations

from pathlib import Path

from voiceflow.frames import Intent, LLMResponseEnd, LLMToken, TextToSpeak, Transcript
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.memory import ConversationMemory, MemoryRecorder, PersistentUserMemory

CALLER = "+15550102030"


def graph_with(recorder: MemoryRecorder) -> tuple[Graph, Collector]:
    sink = Collector(name="sink")
    graph = Graph("mem", inputs=[Transcript, Intent, TextToSpeak, LLMToken, LLMResponseEnd])
    return graph.chain(recorder, sink), sink


async def test_records_a_call_and_greets_the_caller_back(tmp_path: Path) -> None:
    memory = await PersistentUserMemory.open(tmp_path / "mem.db", business="Acme")
    try:
        conversation = ConversationMemory(max_turns=10)
        recorder = MemoryRecorder(conversation=conversation, persistent=memory)
        graph, sink = graph_with(recorder)
        meta = {"caller": "(555) 010-2030", "call_id": "rec-1"}
        async with GraphRun(graph, clock=VirtualClock(), metadata=meta) as run:
            said = "where's my order 1001"
            await run.push(run.make(Transcript, text=said, final=True))
            await run.push(run.make(Intent, intent="check_order", confidence=0.9, text=said))
            await run.push(run.make(TextToSpeak, text="Order 1001 shipped."))
            await run.push(run.make(TextToSpeak, text="It arrives Thursday."))
            bye = "thanks bye"
            await run.push(run.make(Intent, intent="goodbye", confidence=0.9, text=bye))  # before its text
            await run.push(run.make(Transcript, text=bye, final=True))
            await run.push(run.make(TextToSpeak, text="Goodbye!"))
        assert recorder.greeting is not None and not recorder.greeting.returning
        assert len(sink.frames) >= 7 and not run.errors  # everything passed through
        turns = await memory.turns(CALLER, call_id="rec-1")
        assert [(t.role, t.text, t.intent) for t in turns] == [
            ("user", "where's my order 1001", "check_order"),
            ("assistant", "Order 1001 shipped. It arrives Thursday.", None),
            ("user", "thanks bye", "goodbye"),
            ("assistant", "Goodbye!", None),
        ]
        (record,) = await memory.call_history(CALLER)
        assert record.topic == "check_order" and record.ended_at is not None  # goodbye is not a topic
        assert [(t.user_text, t.intent, t.assistant_text) for t in conversation.turns] == [
            ("where's my order 1001", "check_order", "Order 1001 shipped. It arrives Thursday."),
            ("thanks bye", "goodbye", "Goodbye!"),
        ]

        again = MemoryRecorder(persistent=memory)
        graph, _ = graph_with(again)
        async with GraphRun(graph, clock=VirtualClock(), metadata={"from": CALLER, "call_sid": "rec-2"}):
            pass
        assert again.greeting is not None and again.greeting.returning
        assert again.greeting.last_topic == "check_order"
    finally:
        await memory.close()


async def test_llm_tokens_are_recorded_per_response(tmp_path: Path) -> None:
    memory = await PersistentUserMemory.open(tmp_path / "mem.db")
    try:
        recorder = MemoryRecorder(persistent=memory, phone=CALLER, call_id="llm-1", assistant_source="llm")
        graph, _ = graph_with(recorder)
        async with GraphRun(graph, clock=VirtualClock()) as run:
            await run.push(run.make(Transcript, text="hours?", final=True))
            for piece in ["We open", " at nine", "."]:
                await run.push(run.make(LLMToken, text=piece))
            await run.push(run.make(LLMResponseEnd))
            await run.push(run.make(TextToSpeak, text="We open at nine."))  # not double-recorded
        turns = await memory.turns(CALLER)
        assert [(t.role, t.text) for t in turns] == [("user", "hours?"), ("assistant", "We open at nine.")]
    finally:
        await memory.close()


async def test_bad_caller_number_is_reported_and_the_call_goes_on(tmp_path: Path) -> None:
    memory = await PersistentUserMemory.open(tmp_path / "mem.db")
    try:
        conversation = ConversationMemory()
        recorder = MemoryRecorder(conversation=conversation, persistent=memory)
        graph, sink = graph_with(recorder)
        async with GraphRun(graph, clock=VirtualClock(), metadata={"caller": "restricted"}) as run:
            await run.push(run.make(Transcript, text="hello", final=True))
        (error,) = run.errors
        assert error.processor == recorder.name and "restricted" in error.message
        assert recorder.greeting is not None and recorder.greeting.phone is None
        assert sink.of(Transcript) and conversation.turns[0].user_text == "hello"
    finally:
        await memory.close()
