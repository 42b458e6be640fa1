"""Knowledge answers from the real RAG index (shipped kb, real MiniLM, cached index), and barge-in.

The kb index is cached under .voiceflow/cache/rag (shared with the RAG tests) so reruns skip
embedding the kb; the MiniLM model loads once per session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.dialogue.dialogue_helpers import FixedNow, converse, make_policy, said
from voiceflow.db import Database
from voiceflow.frames import Intent, TextToSpeak
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.dialogue import DialoguePolicy
from voiceflow.processors.rag import KnowledgeBase, shared_embedder

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    embedder = shared_embedder()
    embedder.load()
    base = KnowledgeBase(
        REPO / "kb", index_dir=REPO / ".voiceflow" / "cache" / "rag" / "shipped-index", embedder=embedder
    )
    base.load_or_build()
    return base


async def test_knowledge_questions_are_answered_from_the_kb(
    db: Database, now: FixedNow, kb: KnowledgeBase
) -> None:
    call = await converse(
        make_policy(db, now, knowledge=kb),
        said("knowledge_question", "how many days do I have to return something?"),
        said("out_of_scope", "can I return a mattress if I do not like it"),
        said("knowledge_question", "what is the airspeed velocity of an unladen swallow"),
    )
    assert "30 days" in call.replies[0]
    assert len(call.replies[0]) <= 340
    assert "100-night sleep trial" in call.replies[1]  # out of scope for the intents, but the kb knows
    assert call.replies[2].startswith("I'm not sure about that one.")
    assert call.tools == []


async def test_a_knowledge_side_question_mid_task_resumes_the_task(
    db: Database, now: FixedNow, kb: KnowledgeBase
) -> None:
    call = await converse(
        make_policy(db, now, knowledge=kb),
        said("cancel_appointment", "cancel my appointment"),
        said("knowledge_question", "is there a fee for cancelling an appointment?"),
    )
    assert call.replies[1].endswith(
        "Now, back to your request. What's the confirmation number? "
        "It starts with A P T, followed by six digits."
    )


class HeldKnowledge:
    """A knowledge source that waits for the test, to interrupt the dialogue mid-turn."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def search(self, query: str, k: int = 3) -> Sequence[object]:
        self.started.set()
        await self.release.wait()
        return []


async def test_interrupt_mid_turn_drops_the_stale_reply_and_keeps_the_state(
    db: Database, now: FixedNow
) -> None:
    held = HeldKnowledge()
    policy = make_policy(db, now, knowledge=held)
    clock = VirtualClock()
    sink = Collector(name="sink")
    graph = Graph("call", inputs=[Intent]).chain(policy, sink)
    async with GraphRun(graph, clock=clock) as run:
        await run.push(run.make(Intent, intent="schedule_appointment", confidence=0.9, text="book something"))
        await run.push(
            run.make(Intent, intent="knowledge_question", confidence=0.9, text="do you do home visits?")
        )
        await asyncio.wait_for(held.started.wait(), 10)
        before = policy.state
        await policy.interrupt()  # barge-in while the kb lookup is in flight
        held.release.set()
        await run.push(
            run.make(
                Intent, intent="out_of_scope", confidence=0.9, text="Friday", entities={"date": "2025-12-05"}
            )
        )
    replies = [f.text for f in sink.of(TextToSpeak) if isinstance(f, TextToSpeak)]
    assert replies == ["What day would you like?", "What time works for you?"]
    assert before.awaiting == "date"  # the interrupted turn committed nothing
    assert policy.state.slots == {"date": "2025-12-05"} and policy.state.awaiting == "time"
    assert not run.errors


async def test_knowledge_failures_fall_back_gracefully(db: Database, now: FixedNow) -> None:
    async def broken(query: str) -> Sequence[object]:
        raise ConnectionError("index offline")

    policy = DialoguePolicy.for_database(db, now=now, knowledge=broken)
    call = await converse(policy, said("out_of_scope", "tell me a joke"))
    assert call.replies == [
        "Sorry, I can't help with that. I can check orders, manage appointments, "
        "look up your account or tell you our hours."
    ]
    assert [e.message for e in call.errors] == ["knowledge search failed: index offline"]
