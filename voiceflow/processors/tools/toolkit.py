"""The nine call-center tools, assembled into one registry."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime

from voiceflow.db import Database
from voiceflow.processors.tools.accounts import AccountTools
from voiceflow.processors.tools.appointments import AppointmentTools
from voiceflow.processors.tools.business import BusinessConfig
from voiceflow.processors.tools.context import ToolContext
from voiceflow.processors.tools.registry import ToolRegistry
from voiceflow.processors.tools.service import ServiceTools

TOOL_NAMES = (
    "check_order_status",
    "schedule_appointment",
    "cancel_appointment",
    "reschedule_appointment",
    "transfer_to_human",
    "look_up_account",
    "get_business_hours",
    "collect_feedback",
    "end_call",
)


class CallCenterTools:
    """The tool objects sharing one context, and the registry that exposes them."""

    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        self.accounts = AccountTools(ctx)
        self.appointments = AppointmentTools(ctx)
        self.service = ServiceTools(ctx)
        self.registry = ToolRegistry()
        for group in (self.accounts, self.appointments, self.service):
            self.registry.register_object(group)


def build_registry(
    db: Database,
    *,
    config: BusinessConfig | None = None,
    now: Callable[[], datetime] | None = None,
    rng: random.Random | None = None,
) -> ToolRegistry:
    """A ``ToolRegistry`` of the nine tools over ``db`` (``now`` and ``rng`` injectable for tests)."""
    ctx = ToolContext(db, config or BusinessConfig(), now, rng or random.Random())
    return CallCenterTools(ctx).registry
