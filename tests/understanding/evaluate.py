"""Runs the understanding evaluation set through the real NLU and the offline dialogue policy.

Each case is the first caller turn of a fresh call on a freshly seeded SQLite file, the
business clock fixed at Monday 1 December 2025, 10:00 (dates in the words are resolved
against that day too), the knowledge base the offline agent uses. Shared by the test and
``benchmarks/nlu.py``.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.dialogue.dialogue_helpers import MONDAY_10AM, FixedNow, converse
from voiceflow.config import Config
from voiceflow.db import open_seeded
from voiceflow.processors.dialogue import DialoguePolicy
from voiceflow.processors.dialogue.templates import TEMPLATES
from voiceflow.processors.nlu import IntentRouter, NLUConfig
from voiceflow.processors.nlu.entities import extract_entities
from voiceflow.processors.rag import KnowledgeBase

EVAL_SET = Path(__file__).with_name("understanding_eval.json")
#: tools that end the call, transfer it or write to the database
ACTING_TOOLS = frozenset(
    {
        "end_call",
        "transfer_to_human",
        "schedule_appointment",
        "cancel_appointment",
        "reschedule_appointment",
        "collect_feedback",
    }
)
#: what the agent asks when it starts a task
_TASK_QUESTIONS = tuple(v.lower() for k, v in TEMPLATES.items() if k.startswith("ask."))


def cases() -> list[dict[str, Any]]:
    return list(json.loads(EVAL_SET.read_text("utf-8"))["cases"])


@dataclass
class Outcome:
    case: dict[str, Any]
    intent: str
    confident: bool
    tools: list[tuple[str, dict[str, Any]]]
    replies: list[str]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def judge(o: Outcome) -> None:
    case, reply = o.case, " ".join(o.replies).lower()
    names = [t for t, _ in o.tools]
    kind = case["expect"]
    if acting := [n for n in names if n in ACTING_TOOLS] if kind != "reschedule" else []:
        o.problems.append(f"acted: {acting}")
    if kind == "day":
        day = case["day"].lower()
        if "get_business_hours" not in names or day not in reply or "right now" in reply:
            o.problems.append(f"not answered for {case['day']}: {o.replies}")
    elif kind == "department":
        args = dict(o.tools[0][1]) if o.tools else {}
        dept = args.get("department", "customer_service")
        if "get_business_hours" not in names or dept != case["department"]:
            o.problems.append(f"hours of {dept!r} instead of {case['department']!r}")
    elif kind == "knowledge":
        if o.intent != "knowledge_question" or any(q in reply for q in _TASK_QUESTIONS):
            o.problems.append(f"taken as {o.intent}: {o.replies}")
    elif kind == "reschedule":
        if o.intent != "reschedule_appointment" or [n for n in names if n in ACTING_TOOLS]:
            o.problems.append(f"taken as {o.intent}")
    elif kind == "no_action":
        if not o.replies:
            o.problems.append("no reply")


async def evaluate(selected: list[dict[str, Any]] | None = None) -> list[Outcome]:
    config = Config.from_env()
    now = FixedNow(MONDAY_10AM)
    router = IntentRouter(config=NLUConfig.from_settings(config.nlu))
    kb = KnowledgeBase(config.paths.kb_dir, index_dir=config.paths.index_dir)
    await kb.prepare()
    outcomes = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for i, case in enumerate(selected if selected is not None else cases()):
                result = await router.classify(case["text"])
                db = await open_seeded(Path(tmp) / f"call{i}.db", today=now().date())
                try:
                    policy = DialoguePolicy.for_database(db, now=now, knowledge=kb)
                    said = {
                        "intent": result.intent,
                        "text": case["text"],
                        "emotion": "neutral",
                        "entities": {
                            **result.entities,
                            **extract_entities(case["text"], today=now().date(), tz=config.nlu.timezone),
                        },
                        "confident": result.confident,
                    }
                    call = await converse(policy, said)
                finally:
                    await db.close()
                o = Outcome(case, result.intent, result.confident, call.calls, call.replies)
                judge(o)
                outcomes.append(o)
    finally:
        await router.aclose()
    return outcomes


def scores(outcomes: list[Outcome]) -> dict[str, float]:
    """Share of cases handled right, per kind and overall."""
    out: dict[str, float] = {}
    for kind in sorted({o.case["expect"] for o in outcomes}):
        mine = [o for o in outcomes if o.case["expect"] == kind]
        out[f"understanding_{kind}_accuracy"] = round(sum(o.ok for o in mine) / len(mine), 3)
    out["understanding_accuracy"] = round(sum(o.ok for o in outcomes) / len(outcomes), 3)
    out["understanding_cases"] = len(outcomes)
    return out
