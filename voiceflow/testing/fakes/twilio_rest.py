"""A local Twilio: the Calls REST resource as documented, and each call played against our server.

REST (``/2010-04-01/Accounts/{AccountSid}/Calls.json`` and ``/Calls/{Sid}.json``):
HTTP Basic auth with the account SID and auth token (else 401, error 20003),
form-encoded parameters as the SDK sends them, the JSON call resource back,
Twilio's error bodies (``code``, ``message``, ``more_info``, ``status``):
21201/21213 missing To/From, 21211 invalid To, 21205 no TwiML, 20404 unknown
call, 21220 updating a call that is over.

Then it plays the call (``FakeCall``, see ``twilio_play``): status callbacks
for the requested events (initiated, ringing, answered, completed, with
``SequenceNumber``, ``CallDuration``), the callee (``Callee``) answering or not,
the TwiML read (``<Connect><Stream>`` opens the Media Stream WebSocket to our
server; ``<Dial>`` rings a human agent and posts its ``action``; ``<Say>``,
``<Hangup>``), async AMD posted to ``AsyncAmdStatusCallback``. Every callback
is signed with ``X-Twilio-Signature`` (the SDK's ``RequestValidator``). This
fake has no TLS: a ``wss://`` stream URL is opened as ``ws://``.

    async with FakeTwilio(account_sid, auth_token, clock=clock) as twilio:
        twilio.callees["+15551230001"] = Callee("voicemail", greeting=pcm)
        Telephony(..., api_url=twilio.url)
        ...
        twilio.calls[sid].recording        # what the agent left after the beep
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import itertools
import time
from collections.abc import Coroutine
from email.utils import formatdate
from typing import Any

import phonenumbers
from aiohttp import ClientSession, web
from twilio.request_validator import RequestValidator

from voiceflow.core.clock import Clock, MonotonicClock
from voiceflow.testing.fakes.aiohttp_fake import serve_app
from voiceflow.testing.fakes.twilio_call import DialRecord, FakeCall, PostedCallback
from voiceflow.testing.fakes.twilio_callee import Callee
from voiceflow.testing.fakes.twilio_play import play_call, play_inbound

__all__ = ["DialRecord", "FakeCall", "FakeTwilio", "PostedCallback"]

API = "/2010-04-01/Accounts/{account}"
TERMINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


class FakeTwilio:
    """The REST API on 127.0.0.1 (random port) and the call player (see module doc)."""

    def __init__(
        self,
        account_sid: str = "AC" + "a" * 32,
        auth_token: str = "fake-auth-token",
        *,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.clock: Clock = clock or MonotonicClock()
        self.host = host
        self.port = 0
        #: who answers each number: one ``Callee``, or a list (one per call to it; the last repeats)
        self.callees: dict[str, Callee | list[Callee]] = {}
        #: a slow API: ``create`` answers this late (the call's callbacks and stream may come first)
        self.create_delay_s = 0.0
        #: numbers Twilio refuses to call (21211), though they look valid
        self.rejected_numbers: set[str] = set()
        #: transfer destinations that do not pick up (the rest answer)
        self.unanswered_numbers: set[str] = set()
        self.calls: dict[str, FakeCall] = {}
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self.active = 0
        self.max_active = 0
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> FakeTwilio:
        app = web.Application(middlewares=[self._record])
        base = API.format(account="{account}")
        app.router.add_post(base + "/Calls.json", self._create)
        app.router.add_get(base + "/Calls/{sid}.json", self._fetch)
        app.router.add_post(base + "/Calls/{sid}.json", self._update)
        self._runner, self.port = await serve_app(app, self.host, handler_cancellation=False)
        self._session = ClientSession()
        return self

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> FakeTwilio:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """What to give the SDK as the API base URL."""
        return f"http://{self.host}:{self.port}"

    @property
    def live(self) -> int:
        return sum(1 for c in self.calls.values() if c.status not in TERMINAL)

    async def wait_idle(self, timeout: float = 60.0) -> None:
        """Until every call has ended (and its last callback was posted)."""
        async with asyncio.timeout(timeout):
            for call in list(self.calls.values()):
                await call.done.wait()

    # -- REST ---------------------------------------------------------------------------------
    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        self.requests.append((request.method, request.path, response.status))
        return response

    def _authorized(self, request: web.Request) -> bool:
        if request.match_info["account"] != self.account_sid:
            return False
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user, self.account_sid) and hmac.compare_digest(password, self.auth_token)

    async def _create(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 20003, "Authentication Error - invalid username")
        form = await request.post()
        params = {k: [str(v) for v in form.getall(k)] for k in set(form.keys())}
        to, from_ = (params.get(k, [""])[-1] for k in ("To", "From"))
        if not to:
            return _error(400, 21201, "No 'To' number is specified")
        if not from_:
            return _error(400, 21213, "No 'From' number is specified")
        if not _valid_number(to) or to in self.rejected_numbers:
            return _error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not params.get("Twiml") and not params.get("Url"):
            return _error(400, 21205, "Url or Twiml parameter is required")
        sid = f"CA{next(self._ids):032x}"
        call = FakeCall(sid, to, from_, params, self._callee(to), created_at=self.clock.now())
        self.calls[sid] = call
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        self._spawn(play_call(self, call), sid)
        if self.create_delay_s:
            await asyncio.sleep(self.create_delay_s)
        return web.json_response(self.resource(call), status=201)

    def inbound(self, caller: Callee, *, from_: str, to: str, voice_url: str) -> FakeCall:
        """Someone (``caller``) calls our number ``to``: Twilio asks ``voice_url`` what to do."""
        sid = f"CA{next(self._ids):032x}"
        call = FakeCall(sid, to, from_, {}, caller, created_at=self.clock.now())
        self.calls[sid] = call
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        self._spawn(play_inbound(self, call, voice_url), sid)
        return call

    def _spawn(self, coro: Coroutine[Any, Any, None], sid: str) -> None:
        task = asyncio.create_task(coro, name=f"fake-twilio:{sid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _callee(self, to: str) -> Callee:
        who = self.callees.get(to, Callee())
        if isinstance(who, Callee):
            return who
        earlier = sum(1 for c in self.calls.values() if c.to == to)
        return who[min(earlier, len(who) - 1)]

    def calls_to(self, number: str) -> list[FakeCall]:
        return [c for c in self.calls.values() if c.to == number]

    async def _fetch(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 20003, "Authentication Error - invalid username")
        call = self.calls.get(request.match_info["sid"])
        if call is None:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        return web.json_response(self.resource(call))

    async def _update(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 20003, "Authentication Error - invalid username")
        call = self.calls.get(request.match_info["sid"])
        if call is None:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        form = await request.post()
        if call.status in TERMINAL:
            return _error(400, 21220, "Call is not in-progress. Cannot redirect.")
        status, twiml = form.get("Status"), form.get("Twiml")
        if status in ("completed", "canceled"):
            call.hung_up_by = call.hung_up_by or "api"
            call.redirect.put_nowait(None)
        elif isinstance(twiml, str) and twiml:
            call.redirect.put_nowait(twiml)
        else:
            return _error(400, 21205, "Update needs Status=completed|canceled or Twiml")
        return web.json_response(self.resource(call))

    def resource(self, call: FakeCall) -> dict[str, Any]:
        """The call resource as Twilio's API returns it."""
        uri = f"{API.format(account=self.account_sid)}/Calls/{call.sid}.json"
        return {
            "sid": call.sid,
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "to": call.to,
            "from": call.from_,
            "to_formatted": call.to,
            "from_formatted": call.from_,
            "status": call.status,
            "direction": "outbound-api",
            "answered_by": call.answered_by,
            "duration": str(call.duration) if call.status in TERMINAL else None,
            "date_created": formatdate(usegmt=True),
            "date_updated": formatdate(usegmt=True),
            "start_time": None,
            "end_time": None,
            "price": None,
            "price_unit": "USD",
            "parent_call_sid": None,
            "uri": uri,
            "subresource_uris": {},
        }

    # -- callbacks, signed as Twilio signs them ---------------------------------------------
    async def post(self, call: FakeCall, kind: str, url: str, params: dict[str, str]) -> PostedCallback:
        assert self._session is not None
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        try:
            async with self._session.post(url, data=params, headers={"X-Twilio-Signature": signature}) as r:
                record = PostedCallback(kind, url, params, r.status, await r.text(), self.clock.now())
        except OSError as exc:
            record = PostedCallback(kind, url, params, 0, f"unreachable: {exc}", self.clock.now())
        call.callbacks.append(record)
        return record

    def call_params(self, call: FakeCall) -> dict[str, str]:
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": call.sid,
            "CallStatus": call.status,
            "Direction": "outbound-api",
            "From": call.from_,
            "To": call.to,
            "Called": call.to,
            "Caller": call.from_,
        }

    def finished(self, call: FakeCall) -> None:
        self.active -= 1
        if call.started is not None:
            call.duration = max(1, round((call.ended or time.monotonic()) - call.started))


def _valid_number(number: str) -> bool:
    if not number.startswith("+"):
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return False


def _error(status: int, code: int, message: str) -> web.Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return web.json_response(body, status=status)
