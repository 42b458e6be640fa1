"""Twilio endpoints: ``POST /twilio/voice`` (inbound-call webhook) and ``WS /twilio/media``.

The webhook answers TwiML connecting the call to ``wss://HOST/twilio/media``
(HOST from ``settings.public_host``, else the request's Host header). With
``settings.twilio_auth_token`` set, a request without a valid
``X-Twilio-Signature`` is refused with 403. The TwiML carries a one-time token
bound to the CallSid and caller (``voiceflow.guard.tokens``); the media socket
opens a call only for a ``start`` carrying it. A form without CallSid, or with
control characters in a value, gets 400 naming the field. Body size and read
time are bounded by ``voiceflow.guard.http_limits`` before this code runs.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import PlainTextResponse, Response

from voiceflow.transports.twilio import TwilioMediaStream, connect_stream_twiml, signature_valid
from voiceflow.transports.twilio.twiml import TwiMLValueError, check_value, stream_subject

if TYPE_CHECKING:
    from voiceflow.server.app import ServerState

log = logging.getLogger("voiceflow.server.twilio")

#: a webhook body is a few hundred bytes of form fields
MAX_WEBHOOK_BYTES = 16 * 1024


def _signed_url(request: Request, public_host: str | None) -> str:
    """The URL Twilio requested (and signed): behind a proxy, the public host over https."""
    if public_host:
        query = f"?{request.url.query}" if request.url.query else ""
        return f"https://{public_host}{request.url.path}{query}"
    return str(request.url)


def install(app: FastAPI, state: ServerState) -> None:
    settings = state.settings

    @app.post("/twilio/voice")
    async def twilio_voice(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_WEBHOOK_BYTES:
            return PlainTextResponse("request body too large", status_code=413)
        try:
            params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return PlainTextResponse("form body is not UTF-8", status_code=400)
        token = settings.twilio_auth_token
        if token is not None:
            url = _signed_url(request, settings.public_host)
            if not signature_valid(token, url, params, request.headers.get("x-twilio-signature")):
                log.warning("twilio webhook: bad or missing X-Twilio-Signature for %s", url)
                return PlainTextResponse("invalid Twilio signature", status_code=403)
        host = settings.public_host or request.headers.get("host") or request.url.netloc
        call_sid, caller = params.get("CallSid"), params.get("From")
        if not call_sid:
            return PlainTextResponse("CallSid is required", status_code=400)
        try:
            check_value("CallSid", call_sid)
            check_value("From", caller or "")
            token = state.edge.stream_tokens.issue(stream_subject(call_sid, caller))
            twiml = connect_stream_twiml(host, caller=caller, call_sid=call_sid, token=token)
        except TwiMLValueError as exc:
            return PlainTextResponse(f"invalid form field: {exc}", status_code=400)
        return Response(content=twiml, media_type="application/xml")

    @app.websocket("/twilio/media")
    async def twilio_media(socket: WebSocket) -> None:
        stream = TwilioMediaStream(
            socket,
            calls=state.calls,
            factory=state.factory,
            max_message_bytes=settings.max_message_bytes,
            tokens=state.edge.stream_tokens,
            admission=state.edge.admission,
        )
        await stream.serve()
