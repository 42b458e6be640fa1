"""PII redaction: ten types, written and spoken, each with a severity.

    redactor = Redactor()
    redactor.redact("my card is four one one one one one one one one one one one one one one one")
    # -> 'my card is [PAYMENT_CARD]'
    redactor.find(text)  # -> [Finding(type, severity, start, end)] in the original text

Detection runs on a digit view of the text (``spoken_text``: "four one one one"
→ "4111", mapped back to the words), so a spoken number is found by the same
pattern as a written one. Generic numbers are only taken as an account, routing,
licence, passport number or SSN when a cue word is near ("routing number",
"passport"); self-checking numbers are checked (Luhn for cards, the ABA checksum
for routing numbers, octet ranges for IPv4, libphonenumber for phones). Overlaps
are settled by detector order: cue-word detectors first, then the generic ones.

Measured on ``tests/security/pii_corpus.jsonl`` (``voiceflow.security.evaluation``);
figures in the README.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import phonenumbers

from voiceflow.security.spoken_text import DigitView, digit_view

__all__ = ["PII_TYPES", "SEVERITY", "Finding", "Redactor", "luhn_valid", "redact", "routing_valid"]

SEVERITY = {
    "ssn": "critical",
    "payment_card": "critical",
    "bank_account": "critical",
    "passport": "high",
    "drivers_license": "high",
    "date_of_birth": "high",
    "street_address": "medium",
    "email": "medium",
    "phone": "medium",
    "ip_address": "low",
}
PII_TYPES = tuple(SEVERITY)


@dataclass(frozen=True, slots=True)
class Finding:
    type: str
    start: int
    end: int

    @property
    def severity(self) -> str:
        return SEVERITY[self.type]


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def routing_valid(digits: str) -> bool:
    """The ABA routing number checksum (3-7-1 weights)."""
    if len(digits) != 9 or not digits.isdigit():
        return False
    d = [int(c) for c in digits]
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])) % 10 == 0


def _only_digits(s: str) -> str:
    return re.sub(r"\D", "", s)


# -- patterns (on the digit view, case-insensitive) -----------------------------------------------
_ANY_DIGIT = re.compile(r"\d")
_SEP = r"[ \t.-]?"
_CARD = re.compile(rf"(?<![\d])(?:\d{_SEP}){{12,18}}\d(?![\d])")
_SSN_FORMATTED = re.compile(r"(?<![\d-])(\d{3})([ -])(\d{2})\2(\d{4})(?![\d-])")
_DIGIT_RUN = re.compile(rf"(?<![\d])\d(?:{_SEP}\d)*(?![\d])")
_ALNUM_ID = re.compile(
    r"(?<![A-Za-z0-9])(?=[A-Za-z0-9 -]*\d)[A-Za-z]{0,2}[ -]?(?:\d[ -]?){4,14}\d(?![A-Za-z0-9])"
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
_TLD = r"(?:com|net|org|edu|gov|io|co|us|uk|info|biz|me)"
_SPOKEN_DIGIT = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double\s+\w+|triple\s+\w+)"
_SPOKEN_EMAIL = re.compile(
    rf"\b[a-z0-9]+(?:\s+(?:dot|underscore|dash)\s+[a-z0-9]+|\s+{_SPOKEN_DIGIT})*\s+at\s+[a-z0-9]+(?:\s+dot\s+[a-z0-9]+)*"
    rf"\s+dot\s+{_TLD}\b",
    re.IGNORECASE,
)
_PHONE = re.compile(r"(?<![\d+])(?:\+?1[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]?\d{4}(?![\d])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\s?(?:\.|\bdot\b)\s?){3}\d{1,3}(?![\d.])", re.IGNORECASE)
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}(?::|[0-9A-Fa-f]{1,4})(?:[0-9A-Fa-f:]*)(?![\w:])")
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_ORD = (
    r"(?:\d{1,2}(?:st|nd|rd|th)?|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|"
    r"eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|"
    r"twentieth|thirtieth|(?:20|30)[ -]?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth))"
)
_YEAR = r"(?:\d{4}|\d{2})"
_DATE = re.compile(
    rf"(?:\b(?:{_MONTHS})\.?\s+(?:the\s+)?{_ORD},?\s+(?:of\s+)?{_YEAR}\b"
    rf"|\b(?:the\s+)?{_ORD}\s+(?:of\s+)?(?:{_MONTHS})\.?,?\s+{_YEAR}\b"
    r"|(?<![\d/.-])\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?![\d/.-])"
    r"|(?<![\d-])\d{4}-\d{2}-\d{2}(?![\d-]))",
    re.IGNORECASE,
)
_STREET = (
    r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|"
    r"terrace|parkway|pkwy|circle|cir|highway|hwy|square|trail|alley)"
)
_ADDRESS = re.compile(
    rf"(?<![\w])\d{{1,6}}[a-z]?\s+(?:(?:north|south|east|west|n|s|e|w)\.?\s+)?"
    rf"(?:[a-z0-9]+(?:st|nd|rd|th)?\s+){{1,3}}{_STREET}\b\.?"
    r"(?:,?\s+(?:apartment|apt|suite|ste|unit|#)\.?\s*[a-z0-9]+)?",
    re.IGNORECASE,
)
_PO_BOX = re.compile(r"\bp\.?\s?o\.?\s+box\s+\d{1,6}\b", re.IGNORECASE)
_CVV = re.compile(r"(?<![\d])\d{3,4}(?![\d])")
_EXPIRY = re.compile(r"(?<![\d/])(?:0?[1-9]|1[0-2])\s?(?:/|-|\s)\s?(?:\d{4}|\d{2})(?![\d/])")
_EXPIRY_WORDS = re.compile(rf"\b(?:{_MONTHS})\.?\s+(?:of\s+)?(?:\d{{4}}|\d{{2}})\b", re.IGNORECASE)

# cue words: a number is taken as that type only near one of these (before it)
_CUES = {
    "ssn": re.compile(r"\b(?:social(?:\s+security)?|ssn|s\s?s\s?n)\b", re.IGNORECASE),
    "bank_account": re.compile(
        r"\b(?:account\s+(?:number|no|num|#)|acct|checking|savings|routing|aba|transit|iban|bank)\b",
        re.IGNORECASE,
    ),
    "drivers_license": re.compile(
        r"\b(?:driver'?s?\s+licen[cs]e|licen[cs]e\s+(?:number|no|#)|dl\s+(?:number|no|#)|driving\s+licen[cs]e)",
        re.IGNORECASE,
    ),
    "passport": re.compile(r"\bpassport\b", re.IGNORECASE),
    "date_of_birth": re.compile(
        r"\b(?:born|birth\s?day|birth\s?date|date\s+of\s+birth|d\.?o\.?b\.?)\b", re.IGNORECASE
    ),
    "cvv": re.compile(
        r"\b(?:cvv|cvc|cv2|security\s+code|card\s+verification|three\s+digit\s+code)\b", re.IGNORECASE
    ),
    "expiry": re.compile(r"\b(?:expir\w*|exp|valid\s+(?:thru|through|until)|good\s+thru)\b", re.IGNORECASE),
    "card": re.compile(r"\b(?:card|visa|mastercard|amex|discover)\b", re.IGNORECASE),
}
CUE_WINDOW = 48  # characters before a number where its cue word may stand


def _cued(cue: str, view: DigitView, at: int, window: int = CUE_WINDOW) -> bool:
    return _CUES[cue].search(view.text, max(0, at - window), at) is not None


class Redactor:
    """Finds and masks PII (see module doc). Stateless and thread-safe; build once, reuse."""

    def __init__(
        self, *, types: tuple[str, ...] = PII_TYPES, mask: Callable[[str], str] | None = None
    ) -> None:
        unknown = set(types) - set(PII_TYPES)
        if unknown:
            raise ValueError(f"unknown PII types: {', '.join(sorted(unknown))}")
        self.types = frozenset(types)
        self.mask = mask or (lambda kind: f"[{kind.upper()}]")

    def find(self, text: str) -> list[Finding]:
        """Non-overlapping findings in ``text``, by position."""
        if not text:
            return []
        view = digit_view(text)
        taken: list[tuple[int, int]] = []  # view spans already claimed
        found: list[Finding] = []
        for kind, begin, stop, in_view in self._candidates(view):
            if kind not in self.types:
                continue
            if in_view:
                if any(begin < e and s < stop for s, e in taken):
                    continue
                taken.append((begin, stop))
                o_begin, o_end = view.span(begin, stop)
            else:
                o_begin, o_end = begin, stop
                if any(o_begin < f.end and f.start < o_end for f in found):
                    continue
            found.append(Finding(kind, o_begin, o_end))
        found.sort(key=lambda f: f.start)
        merged: list[Finding] = []
        for f in found:  # two view spans may map into one spoken word run: keep one finding
            if merged and f.start < merged[-1].end:
                last = merged[-1]
                merged[-1] = Finding(last.type, last.start, max(last.end, f.end))
            else:
                merged.append(f)
        return merged

    def redact(self, text: str) -> str:
        findings = self.find(text)
        if not findings:
            return text
        out, pos = [], 0
        for f in findings:
            out.append(text[pos : f.start])
            out.append(self.mask(f.type))
            pos = f.end
        out.append(text[pos:])
        return "".join(out)

    __call__ = redact

    # -- detectors, in priority order ------------------------------------------------------------
    def _candidates(self, view: DigitView) -> Iterator[tuple[str, int, int, bool]]:
        t = view.text
        lowered = view.original.lower()
        # spoken email works on the original words ("john dot smith at example dot com")
        if " at " in lowered and " dot " in lowered:
            for m in _SPOKEN_EMAIL.finditer(view.original):
                yield "email", m.start(), m.end(), False
        if "@" in t:
            for m in _EMAIL.finditer(t):
                yield "email", m.start(), m.end(), True
        if not _ANY_DIGIT.search(t):  # every other type has a digit in it, but IPv6 may not
            if ":" in t:
                yield from self._ipv6(t)
            return
        # cheap pre-checks first: most turns have no birth-date, CVV or expiry cue at all
        if _CUES["date_of_birth"].search(t):
            for m in _DATE.finditer(t):
                if _cued("date_of_birth", view, m.start(), 40):
                    yield "date_of_birth", m.start(), m.end(), True
        cards: list[tuple[int, int]] = []
        for m in _CARD.finditer(t):
            digits = _only_digits(m.group())
            if 13 <= len(digits) <= 19 and luhn_valid(digits):
                cards.append((m.start(), m.end()))
                yield "payment_card", m.start(), m.end(), True
        yield from self._card_extras(view, cards)
        for m in _SSN_FORMATTED.finditer(t):
            area, group, serial = m.group(1), m.group(3), m.group(4)
            if area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000":
                yield "ssn", m.start(), m.end(), True
        for m in _DIGIT_RUN.finditer(t):
            digits = _only_digits(m.group())
            if len(digits) == 9 and _cued("ssn", view, m.start()):
                yield "ssn", m.start(), m.end(), True
            elif len(digits) == 9 and routing_valid(digits) and _cued("bank_account", view, m.start()):
                yield "bank_account", m.start(), m.end(), True
            elif (
                6 <= len(digits) <= 17
                and _cued("bank_account", view, m.start())
                and not _cued("card", view, m.start(), 24)
            ):
                yield "bank_account", m.start(), m.end(), True
        for m in _ALNUM_ID.finditer(t):
            if _cued("passport", view, m.start()):
                yield "passport", m.start(), m.end(), True
            elif _cued("drivers_license", view, m.start()):
                yield "drivers_license", m.start(), m.end(), True
        for m in _PHONE.finditer(t):
            if _phone_valid(m.group()):
                yield "phone", m.start(), m.end(), True
        for m in _IPV4.finditer(t):
            octets = re.split(r"\s?(?:\.|dot)\s?", m.group(), flags=re.IGNORECASE)
            if len(octets) == 4 and all(o.isdigit() and int(o) <= 255 for o in octets):
                yield "ip_address", m.start(), m.end(), True
        if ":" in t:
            yield from self._ipv6(t)
        for m in _ADDRESS.finditer(t):
            yield "street_address", m.start(), m.end(), True
        for m in _PO_BOX.finditer(t):
            yield "street_address", m.start(), m.end(), True

    @staticmethod
    def _ipv6(t: str) -> Iterator[tuple[str, int, int, bool]]:
        for m in _IPV6.finditer(t):
            try:
                ipaddress.IPv6Address(m.group())
            except ValueError:
                continue
            yield "ip_address", m.start(), m.end(), True

    def _card_extras(
        self, view: DigitView, cards: list[tuple[int, int]]
    ) -> Iterator[tuple[str, int, int, bool]]:
        """CVV and expiry: after a cue word, or within a short distance of a card number."""
        t = view.text

        def near_card(at: int) -> bool:
            return any(0 <= at - e <= 60 or 0 <= s - at <= 60 for s, e in cards)

        if _CUES["cvv"].search(t):
            for m in _CVV.finditer(t):
                if _cued("cvv", view, m.start(), 32):
                    yield "payment_card", m.start(), m.end(), True
        if not cards and not _CUES["expiry"].search(t):
            return
        for pattern in (_EXPIRY, _EXPIRY_WORDS):
            for m in pattern.finditer(t):
                if _cued("expiry", view, m.start(), 32) or (near_card(m.start()) and "/" in m.group()):
                    yield "payment_card", m.start(), m.end(), True


def _phone_valid(raw: str) -> bool:
    digits = _only_digits(raw)
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) != 10 or digits[0] in "01" or digits[3] in "01":
        return False
    try:
        number = phonenumbers.parse(digits, "US")
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_possible_number(number))


_DEFAULT = Redactor()


def redact(text: str) -> str:
    """``Redactor().redact`` with every type (the shared default instance)."""
    return _DEFAULT.redact(text)
