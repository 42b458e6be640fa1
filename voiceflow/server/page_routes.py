"""GET /: the browser page (plain HTML/JS, no build step) and its assets under /static.

The page calls the agent over WebRTC (``POST /webrtc/offer``), plays the agent's
track, and shows both sides' transcript and each turn's latency from the
"events" data channel. The files ship in the package (``voiceflow/server/static``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

if TYPE_CHECKING:
    from voiceflow.server.app import ServerState

STATIC_DIR = Path(__file__).resolve().parent / "static"


def install(app: FastAPI, state: ServerState) -> None:
    index = STATIC_DIR / "index.html"

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
