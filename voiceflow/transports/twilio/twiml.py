"""The inbound-call webhook's answer: TwiML that connects the call to our Media Streams socket.

Built with the ``twilio`` package's TwiML classes, so escaping and element
names are Twilio's own. The caller's number, the call SID and the one-time
stream token (``voiceflow.guard.tokens``: the socket accepts a ``start`` only
with it, bound to that CallSid and caller) travel as stream custom parameters
and come back in the ``start`` message. Values with control characters are
refused (``TwiMLValueError``): XML cannot carry most of them.
"""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Connect, Stream, VoiceResponse

__all__ = [
    "MEDIA_PATH",
    "TwiMLValueError",
    "check_value",
    "connect_stream_twiml",
    "signature_valid",
    "stream_subject",
]

MEDIA_PATH = "/twilio/media"
#: the longest parameter value we write (a phone number, a SID, a SIP URI are far shorter)
MAX_VALUE_CHARS = 256


class TwiMLValueError(ValueError):
    """A value that cannot go into TwiML; the message names the field."""


def check_value(name: str, value: str) -> str:
    """``value`` if it can be written into TwiML; ``TwiMLValueError`` naming ``name`` otherwise."""
    if len(value) > MAX_VALUE_CHARS:
        raise TwiMLValueError(f"{name} is longer than {MAX_VALUE_CHARS} characters")
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 or ch in "\ufffe\uffff" for ch in value):
        raise TwiMLValueError(f"{name} contains control characters")
    return value


#: an outbound call's token is made before Twilio gives the call its SID
OUTBOUND_SUBJECT = "outbound\n"


def stream_subject(call_sid: str, caller: str | None, *, outbound: bool = False) -> str:
    """What a stream token is bound to: the call and the caller the signed webhook saw
    (for a call we place: only that we placed it, the SID being unknown when its TwiML is made)."""
    return OUTBOUND_SUBJECT if outbound else f"{call_sid}\n{caller or ''}"


def connect_stream_twiml(
    host: str,
    *,
    caller: str | None,
    call_sid: str | None,
    token: str | None = None,
    parameters: Mapping[str, str] | None = None,
) -> str:
    """``<Response><Connect><Stream url="wss://HOST/twilio/media">``; caller, call SID, token parameters
    (and ``parameters``: an outbound call's campaign and contact)."""
    stream = Stream(url=f"wss://{check_value('host', host)}{MEDIA_PATH}")
    given = (("caller", caller), ("call_sid", call_sid), ("token", token), *(parameters or {}).items())
    for name, value in given:
        if value:
            stream.parameter(name=name, value=check_value(name, value))
    connect = Connect()
    connect.append(stream)
    response = VoiceResponse()
    response.append(connect)
    return str(response)


def signature_valid(auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    """Whether ``X-Twilio-Signature`` matches the request Twilio says it made (HMAC-SHA1 of URL + params)."""
    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))
