"""The offline dialogue's decisions: caller turn + state → actions (speak, run a tool, search the kb).

Pure logic, no I/O: ``decide`` reads a ``Turn`` and returns actions; the processor runs
them and hands tool outcomes to ``after_tool`` and kb hits to ``after_lookup``, which
return the next actions. Every reply is a template from ``templates``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, time
from typing import Any, Protocol

from voiceflow.processors.dialogue import answers
from voiceflow.processors.dialogue.closings import is_thanks
from voiceflow.processors.dialogue.handoff import Handoff
from voiceflow.processors.dialogue.keypad import YES_NO, collect_key, keypad_meaning
from voiceflow.processors.dialogue.slots import (
    ARGUMENT_SLOTS,
    ERROR_SLOTS,
    SIDE_INTENTS,
    TASKS,
    department_in,
    read_slot,
)
from voiceflow.processors.dialogue.state import Action, CallTool, DialogueState, Lookup, Say, Turn
from voiceflow.processors.dialogue.templates import TEMPLATES, join, render
from voiceflow.processors.tools.declare import check_bounds
from voiceflow.processors.tools.outcome import ToolError, ToolOutcome
from voiceflow.processors.tools.parsing import parse_date, parse_time
from voiceflow.processors.tools.service import RATING_BOUNDS
from voiceflow.processors.tools.spoken import spoken_date, spoken_digits, spoken_time

MAX_ATTEMPTS = 3
#: intents whose handling can end the call, transfer it or write to the database: never on a guess
ACTING = frozenset(
    {
        "goodbye",
        "transfer_to_human",
        "affirm",
        "deny",
        "feedback",
        "schedule_appointment",
        "cancel_appointment",
        "reschedule_appointment",
    }
)


class SlotRules(Protocol):
    """Checks a date (and time) before the caller is asked to confirm (``AppointmentTools`` is one)."""

    def check_slot(self, day: date, at: time | None) -> None: ...


class KnowledgeHit(Protocol):
    @property
    def text(self) -> str: ...

    @property
    def score(self) -> float: ...


class DialoguePolicyLogic:
    """Decides what to say and do next. ``slot_rules`` lets dates be checked while filling slots."""

    def __init__(
        self,
        *,
        slot_rules: SlotRules | None = None,
        knowledge: bool = False,
        min_score: float = 0.35,
        fallback_min_score: float = 0.5,
    ) -> None:
        self.slot_rules = slot_rules
        self.knowledge = knowledge
        self.min_score = min_score
        self.fallback_min_score = fallback_min_score

    # -- entry points ------------------------------------------------------------------------
    def decide(self, state: DialogueState, turn: Turn) -> list[Action]:
        """The actions answering one caller turn."""
        state.turns += 1
        if turn.digits is None:
            state.dtmf_buffer = ""  # a spoken turn abandons a half-typed keypad entry
            self._note_emotion(state, turn)
        else:
            state.pending_prefix = ""  # keypad presses carry no emotion: keep the spoken one
        if turn.intent == "repeat":
            return [Say(state.last_reply or render("help"))]
        if turn.digits is None and is_thanks(turn.text) and not self._answers_yes_no(state, turn):
            return self._thanks(state)
        if not turn.understood and turn.intent in ACTING and not self._answers_a_slot(state):
            return self._not_understood(state)
        if turn.intent == "goodbye":
            return self._goodbye(state)
        if turn.digits is not None:
            turn = keypad_meaning(state, turn)
        if state.awaiting in YES_NO and turn.intent in ("affirm", "deny"):
            return self._yes_no(state, turn)
        if state.task and state.awaiting:
            handled = self._answer_to_task(state, turn)
            if handled is not None:
                return handled
        return self._new_request(state, turn)

    def after_tool(self, state: DialogueState, call: CallTool, outcome: ToolOutcome) -> list[Action]:
        if call.name == "end_call":
            state.ended = not outcome.cancelled  # a call-off (the turn was continued) ends nothing
            return []
        if outcome.cancelled:
            return []
        if not outcome.ok:
            return self._tool_failed(state, call, outcome)
        assert outcome.result is not None
        result = outcome.result
        task = state.task
        if call.name in ("get_business_hours", "transfer_to_human"):
            day, state.hours_day = state.hours_day, None
            text = answers.reply_for(call.name, result, task=None, day=day)
            if call.name == "transfer_to_human":
                state.clear_task()
                return [self._say(state, text)]
            return [self._say(state, self._then_resume_or_more(state, text))]
        text = answers.reply_for(call.name, result, task=task)
        self._remember(state, call.name, result)
        state.clear_task()
        state.awaiting = "anything_else"
        return [self._say(state, join(text, render("anything_else")))]

    def after_lookup(
        self, state: DialogueState, lookup: Lookup, hits: Sequence[KnowledgeHit]
    ) -> list[Action]:
        threshold = self.fallback_min_score if lookup.fallback else self.min_score
        best = hits[0] if hits else None
        if best is None or best.score < threshold:
            if lookup.fallback:
                return self._fallback(state)
            return [
                self._say(state, self._then_resume_or_more(state, render("knowledge.unknown"), more=False))
            ]
        state.fallbacks = 0
        answer = answers.speakable_excerpt(best.text)
        return [
            self._say(
                state, self._then_resume_or_more(state, render("knowledge.answer", answer=answer), more=False)
            )
        ]

    def take_over(self, state: DialogueState, handoff: Handoff) -> None:
        """Continue a call another graph served so far: its words, and what its tools found."""
        state.history.extend(handoff.turns)
        state.turns += sum(1 for role, _ in handoff.turns if role == "user")
        for tool, result in handoff.tool_results:
            self._remember(state, tool, result)
        said = [text for role, text in handoff.turns if role == "assistant"]
        if said:
            state.last_reply = said[-1]

    def keypad(self, state: DialogueState, key: str) -> Turn | None:
        """Collect keypad keys; a ``Turn`` when an entry is complete (``#`` always completes it)."""
        return collect_key(state, key)

    # -- routing ----------------------------------------------------------------------------------
    def _yes_no(self, state: DialogueState, turn: Turn) -> list[Action]:
        awaiting = state.awaiting
        yes = turn.intent == "affirm"
        if awaiting == "confirm" and state.task:
            if yes:
                state.confirmed = True
                state.awaiting = None
                return self._advance(state)
            if self._fill(state, turn, awaited=None):  # "no, make it 4 PM": correct and re-confirm
                return self._advance(state)
            text = render(f"declined.{state.task}")
            state.clear_task()
            state.awaiting = "anything_else"
            return [self._say(state, join(text, render("anything_else")))]
        if awaiting == "offer_human":
            state.awaiting = None
            if yes:
                return self._transfer(state, turn)
            state.awaiting = "anything_else"
            return [self._say(state, render("anything_else"))]
        # anything else?
        state.awaiting = None
        if yes:
            return [self._say(state, render("what_else"))]
        return self._goodbye(state)

    def _answer_to_task(self, state: DialogueState, turn: Turn) -> list[Action] | None:
        """A reply to the question just asked; None when the turn is a new request instead."""
        assert state.task is not None
        awaited = state.awaiting if state.awaiting in TASKS[state.task].slots else None
        try:
            filled = self._fill(state, turn, awaited=awaited)
        except ToolError as err:
            return self._reask(state, err.message)
        if filled:
            return self._advance(state)
        if state.awaiting == "confirm":
            if turn.intent in SIDE_INTENTS:
                return self._side_question(state, turn)
            if turn.intent in TASKS or turn.intent == "transfer_to_human":
                return None
            return [self._say(state, join(render("not_understood"), render("confirm.yes_no_keys")))]
        if turn.intent == "deny":
            state.clear_task()
            state.awaiting = "anything_else"
            return [self._say(state, join(render("task_dropped"), render("anything_else")))]
        if turn.intent in SIDE_INTENTS:
            return self._side_question(state, turn)
        if (turn.intent in TASKS and turn.intent != state.task) or turn.intent == "transfer_to_human":
            return None
        return self._reask(state, render("not_understood"))

    def _new_request(self, state: DialogueState, turn: Turn) -> list[Action]:
        intent = turn.intent
        if intent in TASKS:
            state.fallbacks = 0
            if state.task != intent:
                state.start_task(intent)
                self._prefill(state)
            try:
                self._fill(state, turn, awaited=None)
            except ToolError as err:
                return self._reask(state, err.message)
            return self._advance(state)
        if intent == "transfer_to_human":
            return self._transfer(state, turn)
        if intent in SIDE_INTENTS:
            return self._side_question(state, turn)
        if intent in ("affirm", "deny"):
            return [self._say(state, render("ok_nothing_pending"))]
        if self.knowledge and turn.text.strip():
            return [Lookup(turn.text, fallback=True)]
        return self._fallback(state)

    def _side_question(self, state: DialogueState, turn: Turn) -> list[Action]:
        """Answer without disturbing the task in progress; its question is asked again after."""
        state.fallbacks = 0
        if state.task and state.awaiting:
            state.resume_question = self._question_for(state)
        intent = turn.intent
        if intent == "business_hours":
            state.hours_day = answers.weekday_asked(turn.text, turn.entities.get("date"))
            dept = department_in(turn.text)
            return [CallTool("get_business_hours", {"department": dept} if dept else {})]
        if intent == "knowledge_question":
            if self.knowledge and turn.text.strip():
                return [Lookup(turn.text)]
            return [
                self._say(state, self._then_resume_or_more(state, render("knowledge.unknown"), more=False))
            ]
        if intent == "greeting":
            text = self._greeting(state)
        else:
            text = render(intent)
        return [self._say(state, self._then_resume_or_more(state, text, more=False))]

    # -- slot filling ----------------------------------------------------------------------------------
    def _prefill(self, state: DialogueState) -> None:
        task = state.task
        if task == "schedule_appointment" and state.caller_name:
            state.slots["name"] = state.caller_name
        if task == "track_delivery" and "order_id" in state.remembered:
            state.slots["order_id"] = state.remembered["order_id"]
        if (
            task in ("cancel_appointment", "reschedule_appointment")
            and "confirmation_number" in state.remembered
        ):
            state.slots["confirmation_number"] = state.remembered["confirmation_number"]

    def _fill(self, state: DialogueState, turn: Turn, *, awaited: str | None) -> bool:
        """Read every slot of the task from the turn; checks dates and times (raises ToolError)."""
        assert state.task is not None
        spec = TASKS[state.task]
        filled = False
        for slot in spec.slots:
            value = read_slot(slot, turn, state, awaited=slot == awaited)
            if value is None:
                continue
            state.slots[slot] = value
            state.confirmed = False
            filled = True
        if "time" in state.slots and "date" not in turn.entities:
            for offer in state.suggestions:  # "4 PM" after offers on another day: take that day
                if offer["time"] == state.slots["time"]:
                    state.slots["date"] = offer["date"]
                    break
        if filled:
            self._check_slots(state)
        return filled

    def _check_slots(self, state: DialogueState) -> None:
        if "rating" in state.slots:
            try:
                check_bounds("rating", state.slots["rating"], RATING_BOUNDS)
            except ToolError:
                state.slots.pop("rating")
                raise
        if "date" not in state.slots and "time" not in state.slots:
            return
        try:
            day = parse_date(str(state.slots["date"])) if "date" in state.slots else None
            at = parse_time(str(state.slots["time"])) if "time" in state.slots else None
            if day is not None and self.slot_rules is not None:
                self.slot_rules.check_slot(day, at)
        except ToolError as err:
            for slot in ERROR_SLOTS.get(err.code, ("date", "time")):
                state.slots.pop(slot, None)
            raise
        state.slots.update({"date": day.isoformat()} if day else {})
        state.slots.update({"time": at.strftime("%H:%M")} if at else {})

    def _advance(self, state: DialogueState) -> list[Action]:
        """Ask for the next missing slot, or confirm, or run the tool."""
        assert state.task is not None
        spec = TASKS[state.task]
        missing = next((s for s in spec.slots if s not in state.slots), None)
        if missing is not None:
            if state.awaiting != missing:
                state.attempts = 0
            state.awaiting = missing
            return [self._say(state, self._question_for(state))]
        if spec.confirm and not state.confirmed:
            state.awaiting = "confirm"
            return [self._say(state, self._question_for(state))]
        state.awaiting = None
        return [CallTool(spec.tool, spec.arguments(state.slots))]

    def _question_for(self, state: DialogueState) -> str:
        awaiting = state.awaiting
        if awaiting == "confirm" and state.task:
            return render(f"confirm.{state.task}", **self._confirm_values(state))
        if awaiting == "time" and state.suggestions:
            return render("ask.time_after_suggestions")
        if awaiting == "date" and state.task == "reschedule_appointment":
            return render("ask.new_date")
        key = f"ask.{awaiting}"
        return render(key) if key in TEMPLATES else render("anything_else")

    def _confirm_values(self, state: DialogueState) -> dict[str, Any]:
        s = state.slots
        values: dict[str, Any] = {"name": s.get("name", ""), "purpose": s.get("purpose", "")}
        if "date" in s:
            values["spoken_date"] = spoken_date(date.fromisoformat(s["date"]))
        if "time" in s:
            values["spoken_time"] = spoken_time(s["time"])
        if "confirmation_number" in s:
            values["spoken_confirmation"] = spoken_digits(str(s["confirmation_number"]))
        return values

    def _reask(self, state: DialogueState, lead: str) -> list[Action]:
        """Say ``lead`` (what went wrong) and ask again for the first missing slot."""
        if state.task:
            missing = next((s for s in TASKS[state.task].slots if s not in state.slots), None)
            state.awaiting = missing or state.awaiting
        state.attempts += 1
        if state.attempts >= MAX_ATTEMPTS:  # offer a person; transfer only on a clear yes
            state.clear_task()
            state.awaiting = "offer_human"
            return [self._say(state, render("too_many_attempts"))]
        question = self._question_for(state) if state.awaiting else ""
        if lead.rstrip().endswith("?"):
            question = ""
        return [self._say(state, join(lead, question))]

    # -- tool outcomes -----------------------------------------------------------------------------------
    def _tool_failed(self, state: DialogueState, call: CallTool, outcome: ToolOutcome) -> list[Action]:
        error = outcome.error or {}
        code = outcome.code or ""
        slots = ERROR_SLOTS.get(code)
        if slots is None and code in ("missing_argument", "invalid_argument"):
            arg = str(error.get("argument", ""))
            slots = (ARGUMENT_SLOTS.get(arg, arg),)
        task_tool = TASKS[state.task].tool if state.task else None
        if not slots or call.name != task_tool:
            state.clear_task()
            if call.name in ("transfer_to_human", "get_business_hours"):
                return [self._say(state, self._then_resume_or_more(state, outcome.message))]
            state.awaiting = "anything_else"
            return [self._say(state, join(outcome.message, render("anything_else")))]
        for slot in slots:
            state.slots.pop(slot, None)
        state.confirmed = False
        state.suggestions = list(error.get("suggestions", []))
        return self._reask(state, outcome.message)

    def _remember(self, state: DialogueState, tool: str, result: dict[str, Any]) -> None:
        if tool == "check_order_status":
            state.remembered["order_id"] = result.get("order_id")
            state.last_topic = "an order"
        elif tool in ("schedule_appointment", "reschedule_appointment"):
            state.remembered["confirmation_number"] = result.get("confirmation_number")
            state.last_topic = "an appointment"
        elif tool == "look_up_account" and not state.caller_name:
            state.caller_name = result.get("name")

    # -- replies ------------------------------------------------------------------------------------
    def _say(self, state: DialogueState, text: str) -> Say:
        text = join(state.pending_prefix, text)
        state.pending_prefix = ""
        state.last_reply = text
        return Say(text)

    def _then_resume_or_more(self, state: DialogueState, text: str, *, more: bool = True) -> str:
        if state.resume_question:
            question, state.resume_question = state.resume_question, None
            return join(text, render("resume", question=question))
        if more:
            state.awaiting = "anything_else"
            return join(text, render("anything_else"))
        return text

    def _greeting(self, state: DialogueState) -> str:
        if state.first_name and state.last_topic:
            return render("greeting.known_topic", first_name=state.first_name, last_topic=state.last_topic)
        if state.first_name:
            return render("greeting.known", first_name=state.first_name)
        return render("greeting")

    def _goodbye(self, state: DialogueState) -> list[Action]:
        state.clear_task()
        name_part = f", {state.first_name}" if state.first_name else ""
        return [
            self._say(state, render("goodbye", name_part=name_part)),
            CallTool("end_call", {"reason": "caller said goodbye"}),
        ]

    def _transfer(self, state: DialogueState, turn: Turn) -> list[Action]:
        state.clear_task()
        dept = department_in(turn.text) or "customer_service"
        reason = turn.text.strip() or "caller asked for a person"
        return [CallTool("transfer_to_human", {"department": dept, "reason": reason})]

    @staticmethod
    def _answers_yes_no(state: DialogueState, turn: Turn) -> bool:
        """ "Okay, thanks" to "Shall I book it?" is a yes: a pending yes/no question reads it first."""
        asked = state.awaiting in ("confirm", "offer_human")
        return asked and turn.understood and turn.intent in ("affirm", "deny")

    def _thanks(self, state: DialogueState) -> list[Action]:
        """A lone "thanks": welcome it and ask again what is pending, else whether there is more."""
        state.fallbacks = 0
        if state.task and state.awaiting:
            return [self._say(state, join(render("thanks"), self._question_for(state)))]
        state.awaiting = "anything_else"
        return [self._say(state, join(render("thanks"), render("anything_else")))]

    @staticmethod
    def _answers_a_slot(state: DialogueState) -> bool:
        """A slot question is pending: its answer is read from the words, whatever the intent."""
        return bool(state.task and state.awaiting in TASKS[state.task].slots)

    def _not_understood(self, state: DialogueState) -> list[Action]:
        """Ask again, changing nothing: a guessed goodbye, transfer or yes must not act."""
        question = self._question_for(state) if state.awaiting else render("say_again")
        return [self._say(state, join(render("not_understood"), question))]

    def _fallback(self, state: DialogueState) -> list[Action]:
        state.fallbacks += 1
        if state.fallbacks >= 2:
            state.awaiting = "offer_human"
            return [self._say(state, render("fallback.offer_human"))]
        return [self._say(state, self._then_resume_or_more(state, render("fallback"), more=False))]

    def _note_emotion(self, state: DialogueState, turn: Turn) -> None:
        emotion = turn.emotion or "neutral"
        upset = emotion in ("angry", "frustrated")
        state.upset_turns = state.upset_turns + 1 if upset else 0
        key = f"empathy.{emotion}"
        prefix = render(key) if key in TEMPLATES and emotion != state.last_emotion else ""
        if state.upset_turns >= 2 and not state.offered_human:
            state.offered_human = True
            prefix = join(prefix, render("offer_human"))
        state.pending_prefix = prefix
        state.last_emotion = emotion
