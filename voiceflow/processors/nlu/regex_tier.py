"""Tier 1: hand-written patterns, microseconds per utterance, high precision.

Short conversational turns ("yes", "no", "bye", "say that again") are matched as
whole utterances; task intents by a verb/object pair ("cancel ... appointment").
When patterns of two different intents match with similar confidence the answer
is marked ambiguous (confidence lowered below the threshold) so a learned tier
decides instead of a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from voiceflow.processors.nlu.result import TierAnswer

_END = r"[\s,.!?]*$"
_AFFIRM = (
    r"yes|yeah|yep|yup|ya|sure(?: thing)?|correct|right|all right|alright|absolutely|definitely|"
    r"of course|ok(?:ay)?|exactly|affirmative|uh[- ]huh|sounds (?:good|great|fine|perfect)|go ahead|"
    r"please do|do it|that works|confirm(?:ed)?|perfect|it is|i agree|"
    r"that'?s (?:right|correct|fine|good|perfect)|that is (?:right|correct)"
)
_DENY = (
    r"no|nope|nah|negative|not really|not at all|no way|absolutely not|definitely not|of course not|"
    r"incorrect|wrong|that'?s (?:wrong|incorrect|not right|not it|not what i said)|"
    r"that is (?:wrong|incorrect|not right)|i don'?t think so|don'?t(?: do (?:that|it))?|please don'?t|"
    r"not (?:that|this)(?: one)?|never ?mind|i said no|it'?s not|i don'?t want (?:that|it)|i'?m good|"
    r"that doesn'?t work(?: for me)?|cancel that"
)
_POLITE = r"please|thanks|thank you"
_GREET = (
    r"hi|hello|hey|hiya|heya|howdy|greetings|yo|well hello|good (?:morning|afternoon|evening|day)|"
    r"morning|evening"
)
_GREET_TAIL = (
    r"how are you(?: doing| today)?|how'?s it going|is (?:anyone|anybody) there|anybody there|"
    r"anyone there|can you hear me|i'?m calling"
)
_BOOKABLE = r"appointments?|booking|reservation|visit|consultation|session|slot"
#: the most words a farewell may be followed by ("bye, thank you so much")
_AFTER_GOODBYE = 5
#: internal label of the policy-question patterns; answered as ``knowledge_question``
POLICY = "policy_question"


@dataclass(frozen=True, slots=True)
class Pattern:
    intent: str
    regex: re.Pattern[str]
    confidence: float
    #: the pattern only counts for utterances up to this many words
    max_words: int = 40


def _p(intent: str, pattern: str, confidence: float, max_words: int = 40) -> Pattern:
    return Pattern(intent, re.compile(pattern), confidence, max_words)


PATTERNS: tuple[Pattern, ...] = (
    _p("affirm", rf"^(?:{_AFFIRM})(?:[\s,.!]+(?:{_AFFIRM}|{_POLITE}))*{_END}", 0.97),
    _p("deny", rf"^(?:{_DENY})(?:[\s,.!]+(?:{_DENY}|{_POLITE}))*{_END}", 0.97),
    _p("greeting", rf"^(?:(?:{_GREET})(?:\s+there)?(?:\s+to you)?[\s,.!]*)+(?:{_GREET_TAIL})?{_END}", 0.96),
    _p(
        "goodbye",
        r"\b(?:good ?bye|bye(?: bye| now)?|see (?:you|ya)(?: later)?|talk (?:to you )?later|hang up|"
        r"end (?:the|this) call|have a (?:nice|good|great) (?:day|one|evening))\b"
        # a farewell comes last: one followed by a request ("bye and I want to know ...") is
        # not one (a mishearing, or the caller has more)
        rf"(?=(?:[\s,.!?]+[\w']+){{0,{_AFTER_GOODBYE}}}[\s,.!?]*$)",
        0.93,
        12,
    ),
    _p(
        "goodbye",
        r"^(?:(?:ok(?:ay)?|alright|no|thanks|thank you)[\s,]+)*"
        r"(?:that'?s (?:all|everything|it)(?: i needed)?|"
        r"that will be all|i'?m (?:done|finished|all set)|nothing (?:else|more)|we'?re done(?: here)?|"
        r"i have to go)\b",
        0.9,
        10,
    ),
    _p(
        "repeat",
        r"\b(?:repeat|say (?:that|it) again|say again|come again|pardon|one more time|i missed that|"
        r"(?:didn'?t|did not|couldn'?t|could not) (?:catch|hear|get) (?:that|you|it|the)|"
        r"what (?:was that|did you (?:just )?say)|^sorry what|go over that again)\b",
        0.93,
        12,
    ),
    _p(
        "help",
        r"^(?:(?:can|could) you )?help(?: me)?(?: please)?$|^i need (?:some )?help$|^menu$|"
        r"^what (?:can|could) you (?:do|help (?:me )?with)|^what are (?:my|the) options|"
        r"^what options do i have|^how does this work|^what can i (?:do|ask|say)\b",
        0.93,
        12,
    ),
    _p(
        "transfer_to_human",
        r"\b(?:(?:talk|speak|chat)(?: to| with)(?: a| an| the| your| some)?\s?(?:human|person|agent|"
        r"representative|rep|operator|manager|supervisor|somebody|someone|real person|live (?:agent|person)|"
        r"billing|sales|support|technical support|customer service)|transfer me|connect me|"
        r"put me through|(?:live|real) (?:agent|person|human)|human being)\b|"
        r"^(?:an? )?(?:agent|representative|operator|human)(?: please)?$",
        0.94,
    ),
    _p("cancel_appointment", rf"\bcancel(?:l?ed|l?ing)?\b.*\b(?:{_BOOKABLE})\b", 0.93),
    _p("cancel_appointment", rf"\b(?:{_BOOKABLE})\b.*\bcancel(?:l?ed|l?ing)?\b", 0.93),
    _p(
        "cancel_appointment",
        rf"\b(?:call off|drop|remove|delete|scrap|get rid of)\b.*\b(?:{_BOOKABLE})\b",
        0.9,
    ),
    _p(
        "reschedule_appointment",
        r"\b(?:re-?schedul\w*|re-?book\w*|postpone\w*)\b",
        0.94,
    ),
    _p(
        "reschedule_appointment",
        rf"\b(?:move|change|switch|shift|bring|push)\b.*\b(?:{_BOOKABLE})\b",
        0.9,
    ),
    _p(
        "schedule_appointment",
        rf"\b(?:book|schedule|make|set up|arrange|reserve|get|need|want|like)\b.*\b(?:an? |the )?"
        rf"(?:{_BOOKABLE})\b",
        0.88,
    ),
    _p(
        "schedule_appointment",
        r"\b(?:book me|schedule me|fit me in|openings|availability|free slots|any slots|"
        r"come (?:in|see someone)|see someone (?:about|for))\b",
        0.88,
    ),
    _p(
        "check_order",
        r"\b(?:order status|status of (?:my |the |this )?(?:order|purchase)|"
        r"(?:check|update)(?: on)? (?:my |the |an )?(?:order|purchase)|order (?:number |#|no )?\d{3,}|"
        r"has my order (?:shipped|been)|did my order go through)\b",
        0.9,
    ),
    _p(
        "track_delivery",
        r"\b(?:track(?:ing)? (?:my |the |number|info)|"
        r"where(?:'s| is) my (?:package|parcel|shipment|delivery|box)|"
        r"(?:package|parcel|shipment|delivery) (?:hasn't|has not|still hasn't|never|is late|is missing)|"
        r"when will my (?:package|parcel|shipment|delivery) (?:arrive|get here|come)|out for delivery)\b",
        0.9,
    ),
    _p(
        "account_lookup",
        r"\b(?:(?:look|pull|bring) (?:up )?(?:my |the )?account|(?:find|check|verify|access|see) my account|"
        r"my account (?:details|information|info|balance|status|number)|look me up)\b",
        0.9,
    ),
    _p(
        "business_hours",
        r"\b(?:(?:business|opening|office|store) hours|your hours|opening times|"
        r"what time do you (?:guys )?(?:open|close)|when (?:are|do|does) (?:you|your \w+|the \w+)(?: guys)? "
        r"(?:open|close)|are you (?:guys )?open|is the (?:store|office) open|how late are you open|"
        r"(?:are you|you're) closed)\b",
        0.92,
    ),
    _p(
        "feedback",
        r"\b(?:feedback|leave a review|complain|complaint|compliment|rate (?:the|your|my|it|you)\b|"
        r"(?:[1-5]|one|two|three|four|five) (?:stars?|out of (?:5|five)))",
        0.9,
    ),
    _p(
        "knowledge_question",
        r"\b(?:what|what's|how|do|does|is|are|can|could|will|if)\b.*\b(?:return policy|refund|warranty|"
        r"privacy|restocking fee|ship (?:internationally|to \w+)|shipping (?:cost|take)|free shipping|"
        r"payment methods|personal (?:data|information)|money back|send (?:it|something) back)\b|"
        r"\b(?:return|warranty|privacy|refund|shipping) policy\b",
        0.9,
    ),
    # a question about a rule ("is there a fee if I cancel", "how long do I have to return") is
    # a knowledge question, not the start of the action it mentions (see BEATS, POLICY)
    _p(
        POLICY,
        r"\b(?:is there (?:a|any) (?:fee|charge|penalty|cost|fine)|"
        r"(?:any|a) (?:fee|charge|penalty) (?:for|if|to|when)|(?:do|will|would) (?:you|they) charge|"
        r"(?:do|will|would) i (?:get charged|be charged|have to pay|pay)|"
        r"how (?:long|many days|much time|soon|late|far (?:ahead|in advance)) "
        r"(?:do|does|can|will|would|should|have) (?:i|we|you)|how much notice|"
        r"(?:what|what's|whats) (?:is )?(?:the|your) (?:policy|rule|rules|deadline|cut ?off|"
        r"cancellation fee|fee)|(?:what|what's) (?:happens|would happen) if|(?:am i|are we) allowed to|"
        r"(?:does|would|will) it cost (?:anything|extra|money)?|"
        r"how much (?:does it|would it|will it) cost to|"
        r"is it (?:free|possible|ok|okay|allowed) to \w+ .*\b(?:late|after|without|same day|last minute)|"
        r"is there (?:a|any) (?:time limit|deadline|limit))",
        0.96,
    ),
    _p(
        "small_talk",
        r"\b(?:how are you|what'?s your name|what is your name|are you (?:a |an )?(?:robot|bot|human|real|"
        r"person|machine|computer|ai)\b|who (?:made|built|created) you|tell me a joke|how'?s your day|"
        r"how old are you)",
        0.9,
        10,
    ),
    _p(
        "out_of_scope",
        r"\b(?:weather forecast|what'?s the weather|book (?:me )?a (?:flight|hotel)|order (?:me )?a pizza|"
        r"play (?:some |my )?(?:music|song)|call (?:me )?a taxi)\b",
        0.88,
    ),
)

#: a more specific intent wins over a generic one it overlaps ("cancel my appointment" also "makes" one)
BEATS: dict[str, frozenset[str]] = {
    POLICY: frozenset(
        {
            "knowledge_question",
            "schedule_appointment",
            "cancel_appointment",
            "reschedule_appointment",
            "check_order",
            "track_delivery",
            "feedback",
            "business_hours",
        }
    ),
    "cancel_appointment": frozenset({"schedule_appointment"}),
    "reschedule_appointment": frozenset({"schedule_appointment", "cancel_appointment"}),
    "goodbye": frozenset({"affirm", "deny"}),
}

#: when two intents match and their confidences are this close, the answer is ambiguous
_AMBIGUITY_MARGIN = 0.05
_AMBIGUOUS_CONFIDENCE = 0.55


def _normalise(text: str) -> str:
    s = text.lower().replace("\u2019", "'")
    s = re.sub(r"[^\w'#@:/.\s-]", " ", s)
    return " ".join(s.split())


class RegexTier:
    """The first tier: deterministic patterns, no I/O."""

    name = "regex"

    def __init__(self, *, threshold: float = 0.8, patterns: tuple[Pattern, ...] = PATTERNS) -> None:
        self.threshold = threshold
        self.patterns = patterns

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def classify(self, text: str) -> TierAnswer | None:
        return self.match(text)

    def match(self, text: str) -> TierAnswer | None:
        """The best pattern match (synchronous: callers on a hot path need no await)."""
        s = _normalise(text)
        if not s:
            return None
        words = s.count(" ") + 1
        best: dict[str, float] = {}
        for pat in self.patterns:
            if words <= pat.max_words and pat.confidence > best.get(pat.intent, 0.0) and pat.regex.search(s):
                best[pat.intent] = pat.confidence
        if not best:
            return None
        for winner, losers in BEATS.items():
            if winner in best:
                for loser in losers:
                    best.pop(loser, None)
        if POLICY in best:
            best["knowledge_question"] = best.pop(POLICY)
        ranking = tuple(sorted(best.items(), key=lambda kv: kv[1], reverse=True))
        intent, confidence = ranking[0]
        if len(ranking) > 1 and confidence - ranking[1][1] < _AMBIGUITY_MARGIN:
            confidence = _AMBIGUOUS_CONFIDENCE
        return TierAnswer(intent=intent, confidence=confidence, ranking=ranking)
