"""The inbound-call webhook's answer: TwiML that connects the call to our Media Streams socket.

Built with the ``twilio`` package's TwiML classes, so escaping and element
names are Twilio's own. The caller's number and the call SID travel as stream
custom parameters and come back in the ``start`` message.
"""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Connect, Stream, VoiceResponse

__all__ = ["MEDIA_PATH", "connect_stream_twiml", "signature_valid"]

MEDIA_PATH = "/twilio/media"


def connect_stream_twiml(
    host: str, *, caller: str | None, call_sid: str | None, parameters: Mapping[str, str] | None = None
) -> str:
    """``<Response><Connect><Stream url="wss://HOST/twilio/media">`` with caller and call SID parameters
    (and ``parameters``: an outbound call's campaign and contact)."""
    stream = Stream(url=f"wss://{host}{MEDIA_PATH}")
    if caller:
        stream.parameter(name="caller", value=caller)
    if call_sid:
        stream.parameter(name="call_sid", value=call_sid)
    for name, value in (parameters or {}).items():
        stream.parameter(name=name, value=value)
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
