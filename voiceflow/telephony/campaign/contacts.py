"""Contacts from CSV: a ``phone`` column (any common notation), optional ``name`` and ``timezone``,
every other column a custom field the agent's lines can use (``{field}``).

A bad row never stops the import: it is reported with its line number (the
header is line 1) and why, and every good row is imported. Numbers become E.164
(phonenumbers, national numbers read as US); a time zone must be an IANA name;
without one the zone is inferred from the number when the campaign dials.
"""

from __future__ import annotations

import csv
import io
import json
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from voiceflow.telephony.numbers import InvalidNumber, to_e164

__all__ = ["ContactRow", "ImportReport", "parse_contacts"]

MAX_FIELD_CHARS = 500


@dataclass(frozen=True, slots=True)
class ContactRow:
    line: int
    phone: str
    name: str = ""
    timezone: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def fields_json(self) -> str:
        return json.dumps(self.fields, sort_keys=True)


@dataclass
class ImportReport:
    rows: list[ContactRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    imported: int = 0  # rows stored (duplicates of stored contacts are not)

    def as_dict(self) -> dict[str, Any]:
        return {"imported": self.imported, "valid_rows": len(self.rows), "problems": self.problems}


def parse_contacts(text: str) -> ImportReport:
    """Parse CSV text (see module doc); ``ValueError`` only when the file as a whole is unusable."""
    report = ImportReport()
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ValueError("the CSV file is empty") from None
    except csv.Error as exc:
        raise ValueError(f"line 1: not CSV ({exc})") from None
    if "phone" not in header:
        raise ValueError(f"line 1: the header needs a 'phone' column, has {header}")
    seen: set[str] = set()
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.problems.append(f"line {reader.line_num}: not CSV ({exc})")
            continue
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            report.problems.append(f"line {line}: {len(values)} columns, the header has {len(header)}")
            continue
        row = dict(zip(header, (v.strip() for v in values), strict=True))
        try:
            phone = to_e164(row.pop("phone"))
        except InvalidNumber as exc:
            report.problems.append(f"line {line}: {exc}")
            continue
        tz = row.pop("timezone", "") or None
        if tz is not None and not _zone_ok(tz):
            report.problems.append(
                f"line {line}: unknown time zone {tz!r:.60} (use an IANA name like America/Chicago)"
            )
            continue
        if phone in seen:
            report.problems.append(f"line {line}: {phone} is already in this file")
            continue
        too_long = [k for k, v in row.items() if len(v) > MAX_FIELD_CHARS]
        if too_long:
            report.problems.append(
                f"line {line}: field {too_long[0]!r} is longer than {MAX_FIELD_CHARS} characters"
            )
            continue
        seen.add(phone)
        name = row.pop("name", "")
        report.rows.append(ContactRow(line, phone, name, tz, {k: v for k, v in row.items() if k and v}))
    return report


def _zone_ok(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True
