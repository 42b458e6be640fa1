"""Transfers to a person: the department's number, the ``<Dial>`` TwiML, what the agent hears first.

A live call is moved by updating it with new TwiML (``calls(sid).update(twiml=...)``):
``<Dial action=... timeout=...><Number url=WHISPER>+1...</Number></Dial>``. The
human agent hears the whisper (the caller's number, the reason, their place in
the queue) before being connected; the ``action`` URL learns how the dial ended,
and when nobody answered the caller hears an apology and a promised call-back.
TwiML is built with the ``twilio`` package's classes (escaping is Twilio's).
"""

from __future__ import annotations

from twilio.twiml.voice_response import Dial, VoiceResponse

__all__ = ["TransferError", "dial_twiml", "parse_transfer_numbers", "unanswered_twiml", "whisper_twiml"]


class TransferError(ValueError):
    """A transfer that cannot be made (no number for the department, bad configuration)."""


def parse_transfer_numbers(spec: str | None) -> dict[str, str]:
    """``"billing=+15550100,sales=+15550101"`` → ``{"billing": "+15550100", ...}`` (E.164 checked)."""
    import phonenumbers

    out: dict[str, str] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        dept, sep, number = part.partition("=")
        if not sep or not dept.strip():
            raise TransferError(f"VOICEFLOW_TRANSFER_NUMBERS: {part.strip()!r} is not department=+number")
        try:
            parsed = phonenumbers.parse(number.strip(), None)
        except phonenumbers.NumberParseException as exc:
            raise TransferError(
                f"VOICEFLOW_TRANSFER_NUMBERS: {number.strip()!r} for {dept.strip()}: {exc}"
            ) from None
        if not phonenumbers.is_valid_number(parsed):
            raise TransferError(f"VOICEFLOW_TRANSFER_NUMBERS: {number.strip()!r} is not a valid phone number")
        out[dept.strip()] = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return out


def dial_twiml(number: str, *, caller_id: str | None, timeout: int, action: str, whisper_url: str) -> str:
    response = VoiceResponse()
    dial = Dial(action=action, method="POST", timeout=timeout, caller_id=caller_id)
    dial.number(number, url=whisper_url, method="POST")
    response.append(dial)
    return str(response)


def whisper_twiml(*, caller: str | None, department: str, reason: str, queue_position: int | None) -> str:
    """What the person picking up hears before the caller is connected."""
    who = " ".join(caller[1:]) if caller else "an unknown number"
    parts = [f"Transfer from the voice agent for {department.replace('_', ' ')}. Caller {who}."]
    if reason:
        parts.append(f"Reason: {reason}.")
    if queue_position:
        parts.append(f"Queue position {queue_position}.")
    response = VoiceResponse()
    response.say(" ".join(parts))
    return str(response)


def unanswered_twiml(department: str) -> str:
    """Nobody picked up: apologise, promise the call-back (recorded), and hang up."""
    response = VoiceResponse()
    response.say(
        f"I'm sorry, nobody from {department.replace('_', ' ')} could take your call right now. "
        "We have noted your request and someone will call you back. Goodbye."
    )
    response.hangup()
    return str(response)
