"""POST /webrtc/offer: a browser's SDP offer in, the server's answer out; one graph run per peer.

The body is ``{"sdp": str, "type": "offer"}``; the answer is ``{"sdp", "type": "answer",
"peer_id"}``. A malformed body or offer gets 400 with ``{"error": message}`` naming the
problem; too many live peers 503; a pipeline that fails to start 500. The
``WebRTCTransport`` is kept on ``app.state.webrtc`` (tests and health checks read it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from voiceflow.guard.json_limits import loads_bounded
from voiceflow.transports.webrtc.offer import MAX_SDP_BYTES, OfferError
from voiceflow.transports.webrtc.transport import PeerLimitError, PipelineStartError, WebRTCTransport

if TYPE_CHECKING:
    from voiceflow.server.app import ServerState

#: the offer JSON may carry a little more than the SDP itself
MAX_BODY_BYTES = MAX_SDP_BYTES + 4096


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _read_json(request: Request) -> object:
    """The request body as JSON, bounded in size; OfferError when it is not."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise OfferError(f"body is larger than {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise OfferError(f"body is larger than {MAX_BODY_BYTES} bytes")
    if not body:
        raise OfferError('body is empty; expected JSON {"sdp": ..., "type": "offer"}')
    try:
        return loads_bounded(bytes(body), max_bytes=MAX_BODY_BYTES)
    except ValueError as exc:
        raise OfferError(f"body is {exc}") from None


def install(app: FastAPI, state: ServerState) -> None:
    transport = WebRTCTransport(state.calls, state.factory)
    app.state.webrtc = transport

    @app.post("/webrtc/offer")
    async def webrtc_offer(request: Request) -> JSONResponse:
        try:
            body = await _read_json(request)
            answer = await transport.accept(body)
        except OfferError as exc:
            return _error(400, str(exc))
        except PeerLimitError as exc:
            return _error(503, str(exc))
        except PipelineStartError as exc:
            return _error(500, str(exc))
        return JSONResponse(answer.as_json())
