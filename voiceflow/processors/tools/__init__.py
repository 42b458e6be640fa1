"""Tools: nine call-center functions on SQLite, declared for any LLM from their signatures.

registry = build_registry(db)                   # the nine tools (see ``toolkit``)
registry.declarations()                         # ToolSpec list, for any LLM engine
outcome = await registry.call("check_order_status", '{"order_id": "1001"}')
outcome.ok, outcome.result, outcome.error       # error = {"code", "message" (speakable), ...}
tracker = ToolCallTracker(registry)             # call-id state machine, idempotent
await tracker.execute(call_id, name, arguments, generation=gen)
"""

from voiceflow.processors.tools.business import DEFAULT_DEPARTMENTS, BusinessConfig, Department
from voiceflow.processors.tools.calls import CallState, ToolCallTracker, TrackedCall
from voiceflow.processors.tools.context import ToolContext
from voiceflow.processors.tools.declare import DeclaredTool, Schema, tool
from voiceflow.processors.tools.executor import ToolExecutor, result_frame
from voiceflow.processors.tools.outcome import ToolError, ToolOutcome
from voiceflow.processors.tools.registry import ToolRegistry
from voiceflow.processors.tools.toolkit import TOOL_NAMES, CallCenterTools, build_registry
from voiceflow.services.llm.tools import ToolSpec

__all__ = [
    "DEFAULT_DEPARTMENTS",
    "TOOL_NAMES",
    "BusinessConfig",
    "CallCenterTools",
    "CallState",
    "DeclaredTool",
    "Department",
    "Schema",
    "ToolCallTracker",
    "ToolContext",
    "ToolError",
    "ToolExecutor",
    "ToolOutcome",
    "ToolRegistry",
    "ToolSpec",
    "TrackedCall",
    "build_registry",
    "result_frame",
    "tool",
]
