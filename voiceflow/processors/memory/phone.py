"""Caller phone numbers normalised to E.164, the key of a caller's memory."""

from __future__ import annotations

import re

_ALLOWED = re.compile(r"^[\d\s().\-+/]+$")


class InvalidPhoneError(ValueError):
    """The text is not a phone number we can key memory by."""


def normalize_phone(raw: str, *, default_country_code: str = "1") -> str:
    """``raw`` as E.164 (``+15551234567``).

    Accepts ``+`` or ``00`` international prefixes, punctuation and spaces, a
    ``tel:`` / ``sip:`` scheme, and national numbers of the default country
    (NANP: 10 digits, or 11 starting with ``1``; elsewhere a leading trunk ``0``).
    Raises ``InvalidPhoneError`` for anything else.
    """
    text = raw.strip()
    lowered = text.lower()
    for scheme in ("tel:", "sip:", "sips:"):
        if lowered.startswith(scheme):
            text = text[len(scheme) :].split("@", 1)[0].split(";", 1)[0]
            break
    if not text or not _ALLOWED.match(text):
        raise InvalidPhoneError(f"not a phone number: {raw!r}")
    digits = re.sub(r"\D", "", text)
    if text.lstrip().startswith("+"):
        international = digits
    elif digits.startswith("00"):
        international = digits[2:]
    elif default_country_code == "1" and len(digits) == 11 and digits.startswith("1"):
        international = digits
    elif default_country_code == "1" and len(digits) == 10 and digits[0] not in "01":
        international = "1" + digits
    elif default_country_code != "1" and digits.startswith("0"):
        international = default_country_code + digits[1:]  # national trunk prefix dropped
    else:
        raise InvalidPhoneError(f"cannot tell the country of {raw!r}; give it with a + prefix")
    if not 8 <= len(international) <= 15 or international.startswith("0"):
        raise InvalidPhoneError(f"not a valid E.164 number: {raw!r}")
    return "+" + international
