"""Phone numbers: E.164 normalisation and the time zones a number may ring in (phonenumbers)."""

from __future__ import annotations

import phonenumbers
from phonenumbers import timezone as number_timezones

__all__ = ["InvalidNumber", "to_e164", "zones_of"]

#: phonenumbers' answer when it cannot tell
UNKNOWN_ZONE = "Etc/Unknown"


class InvalidNumber(ValueError):
    """Not a dialable phone number."""


def to_e164(raw: str, region: str = "US") -> str:
    """``raw`` (any common notation; national numbers read in ``region``) as E.164, or ``InvalidNumber``."""
    text = (raw or "").strip()
    if not text:
        raise InvalidNumber("empty phone number")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidNumber(f"{text!r:.40} is not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber(f"{text!r:.40} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def zones_of(e164: str) -> tuple[str, ...]:
    """The IANA zones the number's area may be in (several for some area codes); () when unknown."""
    parsed = phonenumbers.parse(e164, None)
    zones = tuple(z for z in number_timezones.time_zones_for_number(parsed) if z != UNKNOWN_ZONE)
    return zones
