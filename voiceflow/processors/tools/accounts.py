"""Orders and accounts: check_order_status and look_up_account (read-only)."""

from __future__ import annotations

import re
import sqlite3
from datetime import date
from typing import Any

from voiceflow.processors.tools.context import ToolContext
from voiceflow.processors.tools.declare import tool
from voiceflow.processors.tools.outcome import ToolError
from voiceflow.processors.tools.parsing import normalize_order_id
from voiceflow.processors.tools.spoken import spoken_date, spoken_digits, spoken_money


def normalize_phone(text: str) -> str | None:
    """E.164 for North American numbers ('(555) 123-0001' → '+15551230001'); None if not a phone."""
    digits = re.sub(r"\D", "", text)
    if len(digits) == 10:
        return "+1" + digits
    if len(digits) == 11 and digits.startswith("1"):
        return "+" + digits
    return None


class AccountTools:
    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx

    @tool(reads_only=True)
    async def check_order_status(self, order_id: str) -> dict[str, Any]:
        """Look up an order's status, carrier, tracking number and expected delivery date.

        Args:
            order_id: The order number, for example "1001".
        """
        number = normalize_order_id(order_id)
        row = await self.ctx.db.read(
            lambda c: c.execute("SELECT * FROM orders WHERE id = ?", (number,)).fetchone()
        )
        if row is None:
            raise ToolError(
                "order_not_found",
                f"I couldn't find order {spoken_digits(str(number))}. Could you check the number for me?",
                order_id=str(number),
            )
        today = self.ctx.now().date()

        def when(col: str) -> str | None:
            return spoken_date(date.fromisoformat(row[col]), today) if row[col] else None

        return {
            "order_id": str(row["id"]),
            "status": row["status"],
            "items": row["items"],
            "total": f"{row['total_cents'] / 100:.2f}",
            "spoken_total": spoken_money(row["total_cents"]),
            "carrier": row["carrier"],
            "tracking_number": row["tracking_number"],
            "placed_on": row["placed_on"],
            "eta": row["eta"],
            "delivered_on": row["delivered_on"],
            "spoken_eta": when("eta"),
            "spoken_delivered_on": when("delivered_on"),
            "spoken_order_id": spoken_digits(str(row["id"])),
        }

    @tool(reads_only=True)
    async def look_up_account(self, identifier: str) -> dict[str, Any]:
        """Find a customer account by phone number, email address or customer ID (like C-1001).

        Args:
            identifier: The caller's phone number, email address or customer ID.
        """
        key = identifier.strip()
        if not key:
            raise ToolError(
                "missing_argument", "What's the phone number or email on the account?", argument="identifier"
            )
        if "@" in key:
            where, value = "email = ? COLLATE NOCASE", key
        elif m := re.fullmatch(r"(?i)c[\s-]*(\d{4,})", key):
            where, value = "id = ?", f"C-{m.group(1)}"
        elif phone := normalize_phone(key):
            where, value = "phone = ?", phone
        else:
            raise ToolError(
                "invalid_identifier",
                "I can look up an account by phone number, email address or customer ID."
                " Which one do you have?",
                argument="identifier",
            )

        def find(c: sqlite3.Connection) -> dict[str, Any] | None:
            customer = c.execute(f"SELECT * FROM customers WHERE {where}", (value,)).fetchone()
            if customer is None:
                return None
            orders = c.execute(
                "SELECT id, status FROM orders WHERE customer_id = ? ORDER BY placed_on DESC, id DESC",
                (customer["id"],),
            ).fetchall()
            appointments = c.execute(
                "SELECT confirmation_number, date, time, purpose FROM appointments"
                " WHERE customer_id = ? AND status = 'booked' AND date >= ? ORDER BY date, time",
                (customer["id"], self.ctx.now().date().isoformat()),
            ).fetchall()
            return {
                "customer_id": customer["id"],
                "name": customer["name"],
                "tier": customer["tier"],
                "phone_last4": (customer["phone"] or "")[-4:],
                "email": customer["email"],
                "order_count": len(orders),
                "recent_orders": [{"order_id": str(o["id"]), "status": o["status"]} for o in orders[:3]],
                "upcoming_appointments": [dict(a) for a in appointments],
            }

        account = await self.ctx.db.read(find)
        if account is None:
            raise ToolError(
                "account_not_found",
                "I couldn't find an account with that."
                " Could you try the phone number or email on the account?",
            )
        return account
