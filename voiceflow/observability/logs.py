"""Structured logs: the call id on every line a call writes, PII redacted, JSON on request.

``configure_logging(level, fmt="json", redact=Redactor().redact)`` installs one root
handler whose filter stamps each record with the current call id (a context
variable: ``bind_call(call_id)`` is called when a call opens, and the call's
tasks inherit it) and passes the message and the formatted traceback through the
redactor, so a card number said by the caller never reaches a log file. With
``fmt="json"`` (``VOICEFLOW_LOG_FORMAT=json``) each line is one JSON object
(``ts``, ``level``, ``logger``, ``call_id``, ``message``, ``exc``).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

__all__ = ["CallContextFilter", "JsonFormatter", "bind_call", "configure_logging", "current_call"]

_CALL_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("voiceflow_call_id", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(call_id)s]: %(message)s"


def bind_call(call_id: str | None) -> contextvars.Token[str | None]:
    """Log lines from here on (and from tasks started from here) carry ``call_id``."""
    return _CALL_ID.set(call_id)


def current_call() -> str | None:
    return _CALL_ID.get()


class CallContextFilter(logging.Filter):
    """Adds ``call_id`` to every record and redacts its message (and traceback text)."""

    def __init__(self, redact: Callable[[str], str] | None = None) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "call_id") or record.call_id is None:
            record.call_id = _CALL_ID.get() or "-"
        if self.redact is not None:
            message = record.getMessage()
            record.msg, record.args = self.redact(message), None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self.redact(record.exc_text)
            record.exc_info = None if record.exc_text else record.exc_info
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "call_id": getattr(record, "call_id", None) or _CALL_ID.get(),
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def configure_logging(
    level: str | int = "INFO",
    *,
    fmt: str = "text",
    redact: Callable[[str], str] | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Replace the root handlers with one that stamps, redacts and formats (see module doc)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(CallContextFilter(redact))
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler
