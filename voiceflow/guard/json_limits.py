"""JSON from the network with a size and a nesting-depth bound.

``json.loads`` recurses per nesting level: ``[[[[...`` a few thousand deep
raises ``RecursionError``, which handlers catching ``ValueError`` miss (a 500,
a 1011 close with a traceback). ``loads_bounded`` measures the depth first
(brackets outside strings, one linear pass; skipped when the text has fewer
opening brackets than the bound, as every audio message has) and raises
``JSONLimitError`` (a ``ValueError``) with a message safe to return to the client.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["MAX_DEPTH", "JSONLimitError", "json_depth", "loads_bounded"]

#: every protocol message we accept nests at most 4 levels; 32 leaves room for extensions
MAX_DEPTH = 32

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class JSONLimitError(ValueError):
    """The text is not JSON within the limits; the message names which limit."""


def json_depth(text: str) -> int:
    """The deepest bracket nesting of ``text`` (brackets inside strings do not count)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    depth = deepest = 0
    for ch in brackets:
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest


def loads_bounded(data: str | bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data`` as JSON; ``JSONLimitError`` if it is too big, too deep, not UTF-8 or not JSON."""
    if len(data) > max_bytes:
        raise JSONLimitError(f"JSON is larger than {max_bytes} bytes")
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise JSONLimitError("JSON is not UTF-8") from None
    else:
        text = data
    # nesting cannot exceed the opening brackets: a 20 ms media message has 3, so the scan is skipped
    if text.count("[") + text.count("{") > max_depth and json_depth(text) > max_depth:
        raise JSONLimitError(f"JSON nests deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except RecursionError:  # unreachable after the depth check; kept so no path can raise it
        raise JSONLimitError(f"JSON nests deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise JSONLimitError(f"not valid JSON ({_short(exc)})") from None


def _short(exc: ValueError) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:80]
