"""POST /webrtc/offer: a browser's SDP offer in, the server's answer out; one graph run per peer.

The body is ``{"sdp": str, "type": "offer"}`` as ``application/json``; the answer
is ``{"sdp", "type": "answer", "peer_id"}``. Before anything is parsed, the
request must come from an allowed origin with the page's token (``GET /token``,
sent as ``X-Voiceflow-Token``): 403 otherwise; another content type is 415.
A malformed body or offer gets 400 with ``{"error": message}`` naming the
problem; too many live peers or offers (per address, pending, total) 503 with
``Retry-After``. The call's pipeline is built only once the peer connects (see
``WebRTCTransport``). The transport is kept on ``app.state.webrtc`` (tests and
health checks read it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from voiceflow.guard.json_limits import loads_bounded
from voiceflow.server.edge import client_address
from voiceflow.transports.webrtc.offer import MAX_SDP_BYTES, OfferError
from voiceflow.transports.webrtc.transport import PeerLimitError, WebRTCTransport

if TYPE_CHECKING:
    from voiceflow.server.app import ServerState

#: the offer JSON may carry a little more than the SDP itself
MAX_BODY_BYTES = MAX_SDP_BYTES + 4096


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _read_json(request: Request) -> object:
    """The request body as JSON, bounded in size and depth; OfferError when it is not."""
    body = await request.body()  # already bounded in size and time by the edge's BodyLimits
    if not body:
        raise OfferError('body is empty; expected JSON {"sdp": ..., "type": "offer"}')
    try:
        return loads_bounded(body, max_bytes=MAX_BODY_BYTES)
    except ValueError as exc:
        raise OfferError(f"body is {exc}") from None


def install(app: FastAPI, state: ServerState) -> None:
    transport = WebRTCTransport(state.calls, state.factory, admission=state.edge.admission)
    app.state.webrtc = state.webrtc = transport

    @app.post("/webrtc/offer")
    async def webrtc_offer(request: Request) -> JSONResponse:
        refused = state.edge.check_browser(request)
        if refused is not None:
            return _error(403, refused)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return _error(415, f"content type must be application/json, got {ctype[:40]!r}")
        try:
            body = await _read_json(request)
            answer = await transport.accept(body, client_address(request))
        except OfferError as exc:
            return _error(400, str(exc))
        except PeerLimitError as exc:
            return _error(503, str(exc), {"Retry-After": str(exc.retry_after_s)})
        return JSONResponse(answer.as_json())
