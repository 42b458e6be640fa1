"""Turning a tool's result dict into the values its reply template needs."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from voiceflow.processors.dialogue.templates import join, render
from voiceflow.processors.tools.business import DAY_NAMES
from voiceflow.processors.tools.spoken import spoken_digits, spoken_time

MAX_ANSWER_CHARS = 320


def _order(result: dict[str, Any], *, tracking: bool) -> str:
    status = str(result.get("status"))
    values = {**result, "spoken_eta": result.get("spoken_eta") or "soon"}
    text = render(f"order.{status}", **values)
    number = result.get("tracking_number")
    if tracking and number and status in ("shipped", "in transit", "delivered"):
        text = join(
            text,
            render(
                "track.tracking", carrier=result.get("carrier"), tracking_last4=spoken_digits(number[-4:])
            ),
        )
    return text


def _account(result: dict[str, Any]) -> str:
    count = int(result.get("order_count", 0))
    text = render("account", **result, orders_word="order" if count == 1 else "orders")
    recent = result.get("recent_orders") or []
    if recent:
        first = recent[0]
        text = join(
            text,
            render(
                "account.recent", spoken_order_id=spoken_digits(first["order_id"]), status=first["status"]
            ),
        )
    return text


def _feedback(result: dict[str, Any]) -> str:
    comment_part = " and for your comments" if result.get("comment") else ""
    return render("feedback.thanks", rating=result["rating"], comment_part=comment_part)


def _hours(result: dict[str, Any], day: str | None = None) -> str:
    """Open now / closed now; for a question about another day (a weekday name), its hours alone."""
    asked = day
    today = _weekday(str(result.get("now", ""))[:10])
    if asked is None or asked == today:
        return render("hours.open" if result.get("open_now") else "hours.closed", **result)
    row = next((r for r in result.get("hours", []) if r["day"] == asked), None)
    if row is None:
        return render("hours.day_closed", day=asked, **result)
    return render(
        "hours.day_open",
        day=asked,
        department_name=result["department_name"],
        spoken_open=spoken_time(row["open"]),
        spoken_close=spoken_time(row["close"]),
    )


_WEEKDAY = re.compile(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?\b", re.IGNORECASE)


def weekday_asked(text: str, date_entity: object = None) -> str | None:
    """The weekday an opening-hours question is about ("on Saturday", "Sundays", a resolved date)."""
    if date_entity:
        return _weekday(str(date_entity))
    m = _WEEKDAY.search(text)
    return m.group(1).capitalize() if m else None


def _weekday(iso: str | None) -> str | None:
    try:
        return DAY_NAMES[date.fromisoformat(iso).weekday()] if iso else None
    except ValueError:
        return None


def reply_for(tool: str, result: dict[str, Any], *, task: str | None, day: str | None = None) -> str:
    """The spoken answer for a successful tool call (``day``: the day an hours question asked about)."""
    if tool == "check_order_status":
        return _order(result, tracking=task == "track_delivery")
    if tool == "schedule_appointment":
        return render("booked", **result)
    if tool == "cancel_appointment":
        return render("cancelled", **result)
    if tool == "reschedule_appointment":
        return render("rescheduled", **result)
    if tool == "look_up_account":
        return _account(result)
    if tool == "collect_feedback":
        return _feedback(result)
    if tool == "get_business_hours":
        return _hours(result, day)
    if tool == "transfer_to_human":
        return render("transferred", **result)
    raise KeyError(f"no reply template for tool {tool!r}")


def speakable_excerpt(text: str, max_chars: int = MAX_ANSWER_CHARS) -> str:
    """Whole sentences of ``text`` up to about ``max_chars`` (at least one sentence)."""
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    out: list[str] = []
    for sentence in sentences:
        if out and len(" ".join([*out, sentence])) > max_chars:
            break
        out.append(sentence)
    return " ".join(out)
