"""``WS /ws``: the browser WebSocket (linear16 16 kHz in, agent audio and JSON events out)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, WebSocket

from voiceflow.transports.websocket import BrowserCall

if TYPE_CHECKING:
    from voiceflow.server.app import ServerState


def install(app: FastAPI, state: ServerState) -> None:
    @app.websocket("/ws")
    async def browser_socket(socket: WebSocket) -> None:
        call = BrowserCall(
            socket,
            calls=state.calls,
            factory=state.factory,
            max_message_bytes=state.settings.max_message_bytes,
        )
        await call.serve()
