"""Headless Chromium driven over the Chrome DevTools Protocol (CDP) with the ``websockets`` library.

``launch_chromium`` starts the Debian ``chromium`` binary with fake media (a WAV
file as the microphone, permission prompts auto-accepted), finds the DevTools
port it picked (``--remote-debugging-port=0`` writes it to
``DevToolsActivePort``) and connects to the page target. ``Page.evaluate`` runs
JavaScript in the page and returns its value; console messages and uncaught
exceptions are kept for failure messages. On exit the browser's process group is
terminated and its profile directory removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chromium_flags(user_data_dir: str, microphone_wav: str) -> list[str]:
    return [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-quic",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone_wav}%noloop",
        "--autoplay-policy=no-user-gesture-required",
        # host candidates as plain IPs (aiortc peers on the same machine, no mDNS needed)
        "--disable-features=WebRtcHideLocalIpsWithMdns",
        f"--user-data-dir={user_data_dir}",
        "--remote-debugging-port=0",
        "--remote-allow-origins=*",
    ]


class Page:
    """One page target: ``evaluate`` JavaScript, with the page's console kept in ``console``."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.console: list[str] = []
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read(), name="cdp-reader")

    async def _read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            waiter = self._waiting.pop(message.get("id", -1), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(message)
            elif message.get("method") == "Runtime.consoleAPICalled":
                args = message["params"].get("args", [])
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in args)
                self.console.append(f"console.{message['params'].get('type')}: {text}")
            elif message.get("method") == "Runtime.exceptionThrown":
                details = message["params"]["exceptionDetails"]
                self.console.append(f"exception: {details.get('exception', {}).get('description', details)}")

    async def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30) -> Any:
        msg_id = next(self._ids)
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = waiter
        await self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        reply = await asyncio.wait_for(waiter, timeout)
        if "error" in reply:
            raise RuntimeError(f"CDP {method} failed: {reply['error']}")
        return reply.get("result", {})

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page error evaluating {expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 30.0, what: str = "") -> Any:
        """Poll ``expression`` until it is truthy; its value is returned."""
        deadline = time.monotonic() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                state = await self.evaluate("document.body.innerText")
                raise AssertionError(
                    f"page never showed {what or expression} within {timeout} s.\n"
                    f"page text:\n{state}\nconsole:\n" + "\n".join(self.console[-30:])
                )
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        for waiter in self._waiting.values():
            waiter.cancel()


async def _devtools_port(profile: Path, proc: asyncio.subprocess.Process, timeout: float) -> int:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while True:
        if marker.exists():
            lines = marker.read_text().splitlines()
            if lines and lines[0].isdigit():
                return int(lines[0])
        if proc.returncode is not None:
            raise RuntimeError(f"chromium exited with code {proc.returncode} before DevTools started")
        if time.monotonic() > deadline:
            raise RuntimeError("chromium did not open its DevTools port in time")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def launch_chromium(url: str, microphone_wav: str | Path, timeout: float = 30.0) -> AsyncIterator[Page]:
    """Chromium showing ``url``, with ``microphone_wav`` as the microphone; yields the page."""
    profile = Path(tempfile.mkdtemp(prefix="voiceflow-chromium-"))
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM,
        *chromium_flags(str(profile), str(microphone_wav)),
        url,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,  # its own process group: renderers and helpers end with it
    )
    page: Page | None = None
    try:
        port = await _devtools_port(profile, proc, timeout)
        async with httpx.AsyncClient() as http:
            deadline = time.monotonic() + timeout
            target = None
            while target is None:
                targets = (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
                target = next(
                    (t for t in targets if t.get("type") == "page" and t["url"].startswith(url)), None
                )
                if target is None:
                    assert time.monotonic() < deadline, f"no page target for {url}: {targets}"
                    await asyncio.sleep(0.1)
        ws = await connect(target["webSocketDebuggerUrl"], max_size=None)
        page = Page(ws)
        await page.send("Runtime.enable")
        yield page
    finally:
        if page is not None:
            await page.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
