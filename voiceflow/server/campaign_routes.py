"""The admin HTTP API for campaigns and the Do-Not-Call list (what ``voiceflow campaign`` calls).

Every route needs ``Authorization: Bearer <VOICEFLOW_ADMIN_TOKEN>`` (``admin_auth``).

| route | what |
| --- | --- |
| ``POST /admin/campaigns`` | create (JSON: ``CampaignSpec`` fields) |
| ``GET /admin/campaigns`` | list |
| ``GET /admin/campaigns/{ref}`` | live status (``ref``: id or name) |
| ``POST /admin/campaigns/{ref}/contacts`` | import a CSV body (bad rows reported by line) |
| ``POST /admin/campaigns/{ref}/start`` / ``pause`` / ``resume`` | run control |
| ``GET /admin/campaigns/{ref}/report`` | analytics |
| ``GET /admin/dnc``, ``POST /admin/dnc``, ``DELETE /admin/dnc/{number}`` | the Do-Not-Call list |

Errors are JSON ``{"detail": "..."}``: 400 bad input, 404 unknown campaign,
409 a state that does not allow it, 413 too large, 503 telephony not configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request

from voiceflow.guard.json_limits import loads_bounded
from voiceflow.server.admin_auth import BearerToken
from voiceflow.telephony.campaign.analytics import campaign_report
from voiceflow.telephony.campaign.contacts import parse_contacts
from voiceflow.telephony.campaign.manager import CampaignManager, CampaignStateError
from voiceflow.telephony.campaign.store import CampaignSpec, UnknownCampaign
from voiceflow.telephony.dnc import DoNotCall
from voiceflow.telephony.numbers import InvalidNumber

if TYPE_CHECKING:
    from voiceflow.server.app import ServerState

#: a contacts CSV of ~100 000 rows
MAX_UPLOAD_BYTES = 8 * 1024 * 1024


def install(app: FastAPI, state: ServerState) -> None:
    guard = BearerToken(getattr(state.pipeline, "admin_token", None))
    router = APIRouter(prefix="/admin", dependencies=[Depends(guard)])

    def manager() -> CampaignManager:
        campaigns: CampaignManager | None = getattr(state.pipeline, "campaigns", None)
        if campaigns is None:
            raise HTTPException(503, "telephony is not configured (TWILIO_ACCOUNT_SID)")
        return campaigns

    async def body(request: Request) -> bytes:
        data = await request.body()
        if len(data) > MAX_UPLOAD_BYTES:
            raise HTTPException(413, f"request body over {MAX_UPLOAD_BYTES} bytes")
        return data

    async def campaign_call(coro: Any) -> Any:
        try:
            return await coro
        except UnknownCampaign as exc:
            raise HTTPException(404, str(exc)) from None
        except CampaignStateError as exc:
            raise HTTPException(409, str(exc)) from None

    @router.post("/campaigns", status_code=201)
    async def create(request: Request) -> dict[str, Any]:
        try:
            data = loads_bounded(await body(request), max_bytes=MAX_UPLOAD_BYTES)
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            spec = CampaignSpec.from_dict(data)
            campaign = await manager().store.create(spec)
        except ValueError as exc:  # JSONDecodeError is a ValueError
            raise HTTPException(400, f"invalid campaign: {exc}") from None
        return campaign.as_dict()

    @router.get("/campaigns")
    async def listing() -> list[dict[str, Any]]:
        return [c.as_dict() for c in await manager().store.all()]

    @router.get("/campaigns/{ref}")
    async def status(ref: str) -> dict[str, Any]:
        result: dict[str, Any] = await campaign_call(manager().status(ref))
        return result

    @router.post("/campaigns/{ref}/contacts")
    async def contacts(ref: str, request: Request) -> dict[str, Any]:
        campaigns = manager()
        campaign = await campaign_call(campaigns.store.get(ref))
        try:
            text = (await body(request)).decode("utf-8")
            report = parse_contacts(text)
        except UnicodeDecodeError:
            raise HTTPException(400, "the CSV body is not UTF-8") from None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        await campaigns.store.import_contacts(campaign.id, report)
        return report.as_dict()

    @router.post("/campaigns/{ref}/start")
    async def start(ref: str) -> dict[str, Any]:
        result: dict[str, Any] = await campaign_call(manager().start(ref))
        return result

    @router.post("/campaigns/{ref}/pause")
    async def pause(ref: str) -> dict[str, Any]:
        result: dict[str, Any] = await campaign_call(manager().pause(ref))
        return result

    @router.post("/campaigns/{ref}/resume")
    async def resume(ref: str) -> dict[str, Any]:
        result: dict[str, Any] = await campaign_call(manager().resume(ref))
        return result

    @router.get("/campaigns/{ref}/report")
    async def report(ref: str) -> dict[str, Any]:
        campaigns = manager()
        campaign = await campaign_call(campaigns.store.get(ref))
        return {"campaign": campaign.name} | await campaign_report(campaigns.telephony.db, campaign.id)

    @router.get("/dnc")
    async def dnc_list() -> list[dict[str, str]]:
        return await DoNotCall(manager().telephony.db).numbers()

    @router.post("/dnc")
    async def dnc_add(request: Request) -> dict[str, Any]:
        """JSON ``{"numbers": [...]}`` or a text body with one number a line."""
        raw = await body(request)
        dnc = DoNotCall(manager().telephony.db)
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                numbers = loads_bounded(raw, max_bytes=MAX_UPLOAD_BYTES).get("numbers")
            except (ValueError, AttributeError):
                numbers = None
            if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
                raise HTTPException(400, 'expected {"numbers": ["+1...", ...]}')
        else:
            try:
                numbers = [line.split(",")[0] for line in raw.decode("utf-8").splitlines()]
            except UnicodeDecodeError:
                raise HTTPException(400, "the body is not UTF-8") from None
        added, problems = await dnc.add_many(numbers, source="api")
        return {"added": added, "problems": problems}

    @router.delete("/dnc/{number}")
    async def dnc_remove(number: str) -> dict[str, Any]:
        try:
            removed = await DoNotCall(manager().telephony.db).remove(number)
        except InvalidNumber as exc:
            raise HTTPException(400, str(exc)) from None
        if not removed:
            raise HTTPException(404, f"{number} is not on the list")
        return {"removed": number}

    app.include_router(router)
