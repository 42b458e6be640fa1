"""Twilio transport: the inbound-call webhook's TwiML and Media Streams over a WebSocket.

``protocol`` (messages), ``processors`` (``TwilioInput``/``TwilioOutput`` and the
wire), ``media_stream`` (one socket's life), ``twiml`` (the webhook answer).
"""

from voiceflow.transports.twilio.media_stream import TwilioMediaStream
from voiceflow.transports.twilio.processors import TWILIO_RATE, TwilioInput, TwilioOutput, TwilioWire
from voiceflow.transports.twilio.twiml import connect_stream_twiml, signature_valid

__all__ = [
    "TWILIO_RATE",
    "TwilioInput",
    "TwilioMediaStream",
    "TwilioOutput",
    "TwilioWire",
    "connect_stream_twiml",
    "signature_valid",
]
