"""``WS /ws``: the browser WebSocket (linear16 16 kHz in, agent audio and JSON events out).

The handshake must come from an allowed origin with the page's token
(``/ws?token=...`` from ``GET /token``): otherwise it is refused with HTTP 403
before the socket is accepted. The call takes an admission slot for its client
address when it starts (a full server closes with 1013).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI, WebSocket
from fastapi.responses import JSONResponse

from voiceflow.server.edge import client_address
from voiceflow.transports.websocket import BrowserCall

if TYPE_CHECKING:
    from voiceflow.server.app import ServerState

log = logging.getLogger("voiceflow.server.ws")


def install(app: FastAPI, state: ServerState) -> None:
    @app.websocket("/ws")
    async def browser_socket(socket: WebSocket) -> None:
        refused = state.edge.check_browser(socket)
        if refused is not None:
            log.info("/ws refused: %s", refused)
            await socket.send_denial_response(JSONResponse({"error": refused}, status_code=403))
            return
        call = BrowserCall(
            socket,
            calls=state.calls,
            factory=state.factory,
            max_message_bytes=state.settings.max_message_bytes,
            admission=state.edge.admission,
            address=client_address(socket),
        )
        await call.serve()
