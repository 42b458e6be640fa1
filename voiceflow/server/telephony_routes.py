"""Twilio's callbacks for the calls we place and transfer, each checked against ``X-Twilio-Signature``.

``POST /twilio/status`` (call progress), ``POST /twilio/amd`` (async AMD),
``POST /twilio/transfer/{id}`` (how a transfer's ``<Dial>`` ended; answers TwiML)
and ``POST /twilio/transfer/{id}/whisper`` (what the person picking up hears).
A forged or unsigned request gets 403 and changes nothing; a callback for a
call we do not know gets 404; a replay is answered 200 and ignored. Present
only when the pipeline has telephony (``TelephonyPipeline``); otherwise 404.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from voiceflow.server.twilio_routes import MAX_WEBHOOK_BYTES, _signed_url
from voiceflow.telephony.service import CallbackReply, Telephony
from voiceflow.transports.twilio import signature_valid

if TYPE_CHECKING:
    from voiceflow.server.app import ServerState

log = logging.getLogger("voiceflow.server.telephony")

#: what a route does with a verified callback
Handler = Callable[[Telephony, dict[str, str]], Awaitable[CallbackReply]]


def install(app: FastAPI, state: ServerState) -> None:
    async def verified(request: Request) -> tuple[Telephony, dict[str, str]] | Response:
        telephony: Telephony | None = getattr(state.pipeline, "telephony", None)
        if telephony is None:
            return PlainTextResponse("telephony is not configured", status_code=404)
        body = await request.body()
        if len(body) > MAX_WEBHOOK_BYTES:
            return PlainTextResponse("request body too large", status_code=413)
        try:
            params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return PlainTextResponse("form body is not UTF-8", status_code=400)
        url = _signed_url(request, state.settings.public_host)
        if not signature_valid(
            telephony.options.auth_token, url, params, request.headers.get("x-twilio-signature")
        ):
            log.warning("twilio callback: bad or missing X-Twilio-Signature for %s", url)
            return PlainTextResponse("invalid Twilio signature", status_code=403)
        return telephony, params

    async def handle(request: Request, act: Handler) -> Response:
        checked = await verified(request)
        if isinstance(checked, Response):
            return checked
        reply = await act(*checked)
        if reply.twiml is not None:
            return Response(content=reply.twiml, media_type="application/xml", status_code=reply.status)
        if reply.status >= 400:
            log.warning("twilio callback refused: %s", reply.message)
        return PlainTextResponse(reply.message, status_code=reply.status)

    @app.post("/twilio/status")
    async def status(request: Request) -> Response:
        return await handle(request, lambda telephony, params: telephony.on_status(params))

    @app.post("/twilio/amd")
    async def amd(request: Request) -> Response:
        return await handle(request, lambda telephony, params: telephony.on_amd(params))

    @app.post("/twilio/transfer/{transfer_id}")
    async def transfer_action(request: Request, transfer_id: int) -> Response:
        return await handle(
            request, lambda telephony, params: telephony.on_transfer_action(transfer_id, params)
        )

    @app.post("/twilio/transfer/{transfer_id}/whisper")
    async def whisper(request: Request, transfer_id: int) -> Response:
        return await handle(request, lambda telephony, _: telephony.on_whisper(transfer_id))
