"""Entities the dialogue needs, pulled from one utterance with regexes.

Values are normalised for the tools: ``order_id`` ("1002", "A-1234"), ``date``
(ISO, relative dates resolved against the business's ``today``), ``time``
("HH:MM"), ``purpose`` (short free text), ``email``, ``phone`` (E.164),
``confirmation_number`` ("APT-482913": three letters, dash, 4-8 digits),
``rating`` (int 1-5), ``name`` and ``number`` (a bare 3-10 digit number not used
by another entity, for answers to "what's your order number?").

Malformed values never raise: the entity is left out and ``invalid`` maps its
name to the raw text, so the dialogue can say "I didn't get that date".
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from voiceflow.processors.nlu.datetimes import resolve_date, resolve_time
from voiceflow.processors.nlu.spoken import NUMBER_WORDS_RE, normalise_for_numbers, number_value

DEFAULT_TIMEZONE = "America/New_York"

_ORDER = re.compile(
    r"\border(?:\s+(?:number|no\.?|num|id|#))?\s*(?:is\s+|of\s+)?#?\s*([a-z]{1,2}-?\d{3,10}|\d{1,10})\b"
)
_HASH_ID = re.compile(r"#\s?([a-z]{1,2}-?\d{3,10}|\d{3,10})\b")
_CONFIRMATION = re.compile(r"\b([a-z]{3})[\s-]?(\d{4,8})\b")
_CONFIRMATION_CUE = re.compile(r"\b(confirmation|reference|booking|code|appointment|reservation)\b")
_NOT_PREFIX = frozenset(
    "the and for are was you its his her our not but any all can had has one two six ten "
    "day age may use way who how why yes say see get got let put set off out per via".split()
)
_EMAIL = re.compile(r"\b[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b")
_SPOKEN_EMAIL = re.compile(
    r"\b([a-z0-9]+(?:\s+(?:dot|underscore|dash|hyphen)\s+[a-z0-9]+)*)\s+at\s+"
    r"([a-z0-9-]+(?:(?:\s+dot\s+|\.)[a-z0-9-]+)+)\b"
)
_PHONE_US = re.compile(r"(?<![\d+])(?:\+?1[\s.-]?)?\(?(\d{3})\)?[\s.-]?(\d{3})[\s.-]?(\d{4})(?!\d)")
_PHONE_INTL = re.compile(r"\+(\d[\d\s.-]{7,17}\d)")
_PHONE_CUE = re.compile(
    r"\b(?:phone|number is|call me (?:at|on)|reach me (?:at|on)|cell|mobile)\b\D{0,12}([\d\s.-]{3,})"
)
_RATING_NUM = rf"(\d{{1,2}}|{NUMBER_WORDS_RE})"
_RATING = (
    re.compile(rf"\b{_RATING_NUM}\s*(?:stars?\b|out\s+of\s+(?:5|five|10|ten)\b)"),
    re.compile(
        rf"\b(?:rate|rating|score|give)\s+(?:(?:it|you|you guys|them|the \w+|us|this)\s+)?(?:of\s+)?"
        rf"(?:an?\s+)?{_RATING_NUM}\b(?!\s*(?:am|pm|o'?clock|:))"
    ),
)
_PURPOSE_CUE = re.compile(r"\b(appointment|book|schedul|consult|visit|come in|see someone|reschedul|slot)")
_PURPOSE = re.compile(r"\b(?:for|about|regarding|to discuss)\s+((?:an?\s+|the\s+|my\s+)?[a-z][a-z' -]{1,60})")
_PURPOSE_STOP = re.compile(
    rf"\s+(?:on|at|tomorrow|today|tonight|next|this|please|around|by|in|from|and|with|"
    rf"monday|tuesday|wednesday|thursday|friday|saturday|sunday|{NUMBER_WORDS_RE}|\d)\b.*$"
)
_NOT_PURPOSE = re.compile(
    rf"^(?:me|us|it|that|this|you|now|a while|the|an? (?:day|time|slot)|later|"
    rf"next\b|this\b|tomorrow|today|tonight|noon|midday|half|quarter|{NUMBER_WORDS_RE}\b|"
    rf"(?:mon|tues|wednes|thurs|fri|satur|sun)day|january|february|march|april|may|june|july|"
    rf"august|september|october|november|december|the \d|\d)"
)
_NAME = re.compile(r"\b(?:my name is|my name's|name is)\s+([a-z][a-z'-]+(?:\s+[a-z][a-z'-]+)?)")
_THIS_IS_NAME = (
    re.compile(r"\bthis is\s+([a-z][a-z'-]+(?:\s+[a-z][a-z'-]+)?)(?=\s+(?:calling|from|here|speaking)\b)"),
    re.compile(r"^(?:hi|hello|hey|good \w+)[\s,]+this is\s+([a-z][a-z'-]+(?:\s+[a-z][a-z'-]+)?)[\s,.!]*$"),
)
_NOT_NAME_WORDS = frozenset(
    "calling looking trying not just here so very a an the having going wondering interested sorry "
    "done all fine good ok okay still wanting about and with from ready lost confused".split()
)
_BARE_NUMBER = re.compile(r"(?<![\d/:.-])\b(\d{3,10})\b(?![/:.-]\d)")


def business_today(tz: str = DEFAULT_TIMEZONE) -> date:
    """The business's local date now (the default ``today`` for relative dates)."""
    return datetime.now(ZoneInfo(tz)).date()


def extract_entities(text: str, *, today: date | None = None, tz: str = DEFAULT_TIMEZONE) -> dict[str, Any]:
    """All entities found in ``text``; ``invalid`` lists the ones that were malformed."""
    raw = " ".join(text.split())
    lower = raw.lower()
    numeric = normalise_for_numbers(raw)
    found: dict[str, Any] = {}
    invalid: dict[str, str] = {}
    used_digits: set[str] = set()

    if email := _email(lower):
        found["email"] = email
    elif "@" in lower:
        invalid["email"] = next(tok for tok in lower.split() if "@" in tok)

    if conf := _confirmation(numeric):
        found["confirmation_number"] = conf
        used_digits.add(conf.split("-")[1])

    order = _ORDER.search(numeric) or _HASH_ID.search(numeric)
    if order:
        value = order[1].upper()
        if re.fullmatch(r"\d{1,2}", value):
            invalid["order_id"] = value
        elif value.lstrip("#") not in used_digits:
            value = re.sub(r"^([A-Z]{1,2})(\d)", r"\1-\2", value)
            found["order_id"] = value
            used_digits.add(value.split("-")[-1])

    phone, bad_phone = _phone(numeric)
    if phone:
        found["phone"] = phone
        used_digits.add(phone[-10:])
    elif bad_phone:
        invalid["phone"] = bad_phone
        used_digits.update(bad_phone.split())

    day = resolve_date(numeric, today or business_today(tz))
    if day.value:
        found["date"] = day.value
    elif day.invalid:
        invalid["date"] = day.invalid
    clock = resolve_time(numeric)
    if clock.value:
        found["time"] = clock.value
    elif clock.invalid:
        invalid["time"] = clock.invalid

    rating, bad_rating = _rating(lower)
    if rating is not None:
        found["rating"] = rating
    elif bad_rating:
        invalid["rating"] = bad_rating

    if purpose := _purpose(lower):
        found["purpose"] = purpose
    if name := _name(lower):
        found["name"] = name

    digits_only = re.sub(r"\D", "", found.get("phone", ""))
    for m in _BARE_NUMBER.finditer(numeric):
        if m[1] not in used_digits and m[1] not in digits_only and "order_id" not in found:
            found["number"] = m[1]
            break
    if invalid:
        found["invalid"] = invalid
    return found


def _email(lower: str) -> str | None:
    if m := _EMAIL.search(lower):
        return m[0]
    if m := _SPOKEN_EMAIL.search(lower):
        local = re.sub(r"\s+dot\s+", ".", m[1])
        local = re.sub(r"\s+underscore\s+", "_", local)
        local = re.sub(r"\s+(?:dash|hyphen)\s+", "-", local)
        domain = re.sub(r"\s+dot\s+", ".", m[2])
        candidate = f"{local}@{domain}"
        if _EMAIL.fullmatch(candidate):
            return candidate
    return None


def _confirmation(numeric: str) -> str | None:
    has_cue = bool(_CONFIRMATION_CUE.search(numeric))
    for m in _CONFIRMATION.finditer(numeric):
        prefix = m[1]
        if prefix == "apt" or (has_cue and prefix not in _NOT_PREFIX):
            return f"{prefix.upper()}-{m[2]}"
    return None


def _phone(numeric: str) -> tuple[str | None, str | None]:
    if m := _PHONE_INTL.search(numeric):
        digits = re.sub(r"\D", "", m[1])
        if 8 <= len(digits) <= 15 and not (digits.startswith("1") and len(digits) != 11):
            return f"+{digits}", None
    if m := _PHONE_US.search(numeric):
        return f"+1{m[1]}{m[2]}{m[3]}", None
    if m := _PHONE_CUE.search(numeric):
        digits = re.sub(r"\D", "", m[1])
        if 5 <= len(digits) < 10:
            return None, m[1].strip()
    return None, None


def _rating(lower: str) -> tuple[int | None, str | None]:
    for pattern in _RATING:
        if m := pattern.search(lower):
            value = number_value(m[1])
            if value is not None and 1 <= value <= 5:
                return value, None
            return None, m[0]
    return None, None


def _purpose(lower: str) -> str | None:
    if not _PURPOSE_CUE.search(lower):
        return None
    for m in _PURPOSE.finditer(lower):
        phrase = _PURPOSE_STOP.sub("", m[1]).strip(" -'")
        if not phrase or _NOT_PURPOSE.match(phrase):
            continue
        phrase = re.sub(r"^(?:an?|the|my)\s+", "", phrase)
        words = phrase.split()
        if 0 < len(words) <= 6 and phrase not in ("appointment", "an appointment", "booking"):
            return phrase
    return None


def _name(lower: str) -> str | None:
    m = _NAME.search(lower) or _THIS_IS_NAME[0].search(lower) or _THIS_IS_NAME[1].search(lower)
    if not m:
        return None
    words = m[1].split()
    if words[0] in _NOT_NAME_WORDS:
        return None
    kept = [w for w in words if w not in _NOT_NAME_WORDS][:2]
    if len(kept) < len(words):
        kept = kept[:1]
    return " ".join(w.capitalize() for w in kept) if kept else None
