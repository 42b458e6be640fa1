"""Twilio's Calls REST resource through the official SDK: dial, hang up, redirect (transfer).

The SDK's async HTTP client (aiohttp) keeps REST calls off the event loop's
thread; ``api_url`` replaces ``https://api.twilio.com`` (the SDK's ``Domain.base_url``)
so tests and benchmarks reach a local fake that speaks the same resource.
Every REST failure becomes ``TwilioCallError`` carrying Twilio's error code
(21211 invalid number, 20003 authentication, ...) and message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

__all__ = ["STATUS_EVENTS", "CallHandle", "TwilioCallError", "TwilioRest"]

#: the call progress events we ask Twilio to post
STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")


class TwilioCallError(RuntimeError):
    """A REST request Twilio refused (``code`` is Twilio's error code when it sent one)."""

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True, slots=True)
class CallHandle:
    sid: str
    status: str
    to: str
    from_: str


class TwilioRest:
    """One account's Calls resource (async)."""

    def __init__(self, account_sid: str, auth_token: str, *, api_url: str = "https://api.twilio.com") -> None:
        self.http = AsyncTwilioHttpClient(timeout=15.0)
        self.client = Client(account_sid, auth_token, http_client=self.http)
        self.client.api.base_url = api_url.rstrip("/")

    async def aclose(self) -> None:
        await self.http.close()

    async def dial(
        self,
        to: str,
        from_: str,
        twiml: str,
        *,
        status_callback: str,
        amd_callback: str | None = None,
        ring_timeout: int = 30,
        events: Sequence[str] = STATUS_EVENTS,
    ) -> CallHandle:
        """``POST /Calls.json``; with ``amd_callback`` Twilio's async AMD (DetectMessageEnd) runs."""
        amd = (
            {
                "machine_detection": "DetectMessageEnd",
                "async_amd": "true",
                "async_amd_status_callback": amd_callback,
                "async_amd_status_callback_method": "POST",
            }
            if amd_callback
            else {}
        )
        try:
            call = await self.client.calls.create_async(
                to=to,
                from_=from_,
                twiml=twiml,
                status_callback=status_callback,
                status_callback_event=list(events),
                status_callback_method="POST",
                timeout=ring_timeout,
                **amd,
            )
        except TwilioRestException as exc:
            raise _error(exc, f"dialing {to}") from None
        except TwilioException as exc:
            raise TwilioCallError(f"dialing {to}: {exc}") from None
        return CallHandle(str(call.sid), str(call.status), str(call.to), str(call._from))

    async def hang_up(self, sid: str) -> str:
        """End a live call (``Status=completed``); returns the call's status afterwards."""
        return await self._update(sid, status="completed")

    async def redirect(self, sid: str, twiml: str) -> str:
        """Replace what a live call is doing with new TwiML (a ``<Dial>`` transfers it)."""
        return await self._update(sid, twiml=twiml)

    async def fetch_status(self, sid: str) -> str:
        try:
            call = await self.client.calls(sid).fetch_async()
        except TwilioRestException as exc:
            raise _error(exc, f"fetching call {sid}") from None
        return str(call.status)

    async def _update(self, sid: str, **fields: str) -> str:
        try:
            call = await self.client.calls(sid).update_async(**fields)
        except TwilioRestException as exc:
            raise _error(exc, f"updating call {sid}") from None
        except TwilioException as exc:
            raise TwilioCallError(f"updating call {sid}: {exc}") from None
        return str(call.status)


def _error(exc: TwilioRestException, doing: str) -> TwilioCallError:
    code = f" (Twilio error {exc.code})" if exc.code else ""
    return TwilioCallError(f"{doing}: {exc.msg}{code}", code=exc.code, status=exc.status)
