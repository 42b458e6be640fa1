"""A 50-contact campaign across a day of calling hours, on the virtual clock, against the fake Twilio.

The calls are real: the fake dials our running offline agent over the Media
Stream with people (Piper speech), answering machines (greeting + beep, the
message after the beep recorded and transcribed here with Whisper tiny.en), fax
tones, busy lines and no answers. The campaign's clock starts Monday 8 AM in New
York and runs until every contact is settled; contacts span six US time zones.
"""

from __future__ import annotations

import sqlite3
import statistics
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.telephony.conftest import CALLER_ID, line_env
from tests.telephony.speech import human, machine, transcribe
from voiceflow.core.clock import VirtualClock
from voiceflow.pipeline import Pipeline
from voiceflow.telephony.campaign.contacts import parse_contacts
from voiceflow.telephony.campaign.runner import CampaignRunner
from voiceflow.telephony.campaign.store import CampaignSpec, CampaignStore
from voiceflow.telephony.dnc import DoNotCall
from voiceflow.telephony.numbers import zones_of
from voiceflow.testing.campaign_clock import run_on_virtual_clock
from voiceflow.testing.fakes.twilio_callee import Callee

START = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)  # Monday, 8 AM in New York, 3 AM in Honolulu
AREAS = ["212", "312", "303", "602", "213", "808", "907"]  # NY, Chicago, Denver, Phoenix, LA, Hawaii, Alaska
KINDS = (
    ["human"] * 6
    + ["optout"] * 2
    + ["voicemail"] * 7
    + ["fax"] * 5
    + ["busy_then_human"] * 3
    + ["busy"] * 9
    + ["no_answer"] * 10
    + ["no_answer_then_voicemail"] * 2
    + ["dnc"] * 5
    + ["dnc_midway"]
)
SPEC = CampaignSpec(
    name="december-deliveries",
    from_number=CALLER_ID,
    opening="Hi {name}, this is Acme Home calling about your {product}.",
    voicemail="Hello {name}, this is Acme Home about your delivery. Please call us back. Goodbye.",
    max_concurrency=4,
    calls_per_second=2.0,
    max_attempts=3,
    retry_backoff_s=600.0,
)


def number(i: int) -> str:
    return f"+1{AREAS[i % len(AREAS)]}55501{i:02d}"


def callee(kind: str) -> Callee | list[Callee]:
    return {
        "human": human("Hello?", "Thanks, goodbye."),
        "optout": human("Hello?", "Please don't call me again."),
        "voicemail": machine(),
        "fax": Callee("fax"),
        "busy_then_human": [Callee("busy"), human("Hello?", "Thanks, goodbye.")],
        "busy": Callee("busy"),
        "no_answer": Callee("no_answer"),
        "no_answer_then_voicemail": [Callee("no_answer"), machine()],
        "dnc": human("Hello?"),
        "dnc_midway": Callee("busy"),
    }[kind]


def contacts_csv() -> str:
    lines = ["phone,name,timezone,product"]
    for i, _ in enumerate(KINDS):
        tz = "America/Los_Angeles" if i == 0 else ""  # the contact's zone wins over the number's
        lines.append(f"{number(i)},Person {i},{tz},sofa")
    lines += [
        "not a number,Bad Number,,lamp",  # line 52
        "+12125550177,Nowhere,Mars/Olympus,lamp",  # line 53: unknown time zone
        "+12125550178,Too,Many,Columns,here",  # line 54
    ]
    return "\n".join(lines) + "\n"


def zones(i: int) -> tuple[str, ...]:
    return ("America/Los_Angeles",) if i == 0 else zones_of(number(i))


async def test_fifty_contacts_across_a_day(tmp_path: Path, offline_pipeline: Callable[[], Pipeline]) -> None:
    clock = VirtualClock(start=START.timestamp())
    async with line_env(tmp_path, offline_pipeline(), clock=clock) as env:
        for i, kind in enumerate(KINDS):
            env.twilio.callees[number(i)] = callee(kind)
        store = CampaignStore(env.telephony.db)
        dnc = DoNotCall(env.telephony.db)
        added, bad = await dnc.add_many(
            [number(i) for i, k in enumerate(KINDS) if k == "dnc"], source="import"
        )
        assert (added, bad) == (5, [])
        campaign = await store.create(SPEC)
        report = await store.import_contacts(campaign.id, parse_contacts(contacts_csv()))
        assert report.imported == 50
        assert [p.split(":")[0] for p in report.problems] == ["line 52", "line 53", "line 54"]
        assert "Mars/Olympus" in report.problems[1]

        midway = number(KINDS.index("dnc_midway"))
        midway_added = False

        async def add_midway_to_dnc() -> None:  # the API adds it after its first (busy) attempt
            nonlocal midway_added
            if not midway_added and any(c.done.is_set() for c in env.twilio.calls_to(midway)):
                await dnc.add(midway, source="api")
                midway_added = True

        runner = CampaignRunner(campaign, store, env.telephony, clock=clock)
        await run_on_virtual_clock(runner, clock, timeout=900, each_step=add_midway_to_dnc)
        fake_calls = list(env.twilio.calls.values())
        contacts = {c.phone: c for c in await store.contacts(campaign.id)}
        from voiceflow.telephony.campaign.analytics import campaign_report

        analytics = await campaign_report(env.telephony.db, campaign.id)
        db = env.telephony.db.path

    by_number = {number(i): (i, kind) for i, kind in enumerate(KINDS)}
    dialed = Counter(c.to for c in fake_calls)

    # no DNC number is ever dialed (listed before the run, or added while it ran)
    for i, kind in enumerate(KINDS):
        if kind == "dnc":
            assert dialed[number(i)] == 0 and contacts[number(i)].status == "dnc"
    assert dialed[midway] == 1 and contacts[midway].status == "dnc"
    # the two callees who asked by voice are on the list now, and were called once
    conn = sqlite3.connect(db)
    voice_dnc = {r[0] for r in conn.execute("SELECT phone FROM dnc WHERE source = 'voice'")}
    conn.close()
    assert voice_dnc == {number(i) for i, k in enumerate(KINDS) if k == "optout"}

    # no call placed outside the callee's 9 AM - 9 PM
    for call in fake_calls:
        i, _ = by_number[call.to]
        at = datetime.fromtimestamp(call.created_at, UTC)
        for zone in zones(i):
            local = at.astimezone(ZoneInfo(zone))
            assert 9 <= local.hour < 21, (call.to, zone, local)
    # ... and the early zones were deferred, not dropped
    honolulu = [number(i) for i in range(len(KINDS)) if number(i).startswith("+1808") and dialed[number(i)]]
    assert len(honolulu) >= 5
    assert all(contacts[n].deferrals >= 1 for n in honolulu)
    assert contacts[number(0)].deferrals >= 1  # its own zone (Los Angeles), not New York's

    # concurrency never exceeded the limit
    assert env.twilio.max_active <= SPEC.max_concurrency
    assert runner.progress.max_in_flight <= SPEC.max_concurrency

    # retries follow the policy: busy / no answer up to 3 attempts, backing off 10 then 20 minutes
    for i, kind in enumerate(KINDS):
        times = sorted(c.created_at for c in fake_calls if c.to == number(i))
        if kind in ("busy", "no_answer"):
            assert len(times) == 3 and contacts[number(i)].status == "failed", (kind, times)
            assert times[1] - times[0] >= 600 and times[2] - times[1] >= 1200
        elif kind in ("busy_then_human", "no_answer_then_voicemail"):
            assert len(times) == 2 and contacts[number(i)].status == "done"
            assert times[1] - times[0] >= 600
        elif kind in ("human", "optout", "voicemail", "fax"):
            assert len(times) == 1
    assert all(c.status in ("done", "failed", "dnc", "fax") for c in contacts.values())

    # voicemails left on every machine: the fake recorded the audio after the beep; we transcribe it
    machines = [c for c in fake_calls if c.callee.kind == "voicemail"]
    assert len(machines) == 9
    for call in machines:
        assert call.answered_by == "machine_end_beep"
        words = set(await transcribe(call.recording))
        assert len(words & {"hello", "home", "delivery", "call", "back", "goodbye", "please"}) >= 5, words
    # people heard the opening with their own name and the CSV's custom field, and conversed
    assert analytics["outcomes"]["conversation"] == 9  # 6 who answered, 3 after a busy first try
    first_human = next(c for c in fake_calls if c.callee.kind == "human" and by_number[c.to][1] == "human")
    heard = set(await transcribe(first_human.played.heard))
    assert {"acme", "sofa", "person"} <= heard or {"home", "sofa"} <= heard, heard
    # faxes hung up at once and marked
    for call in (c for c in fake_calls if c.callee.kind == "fax"):
        assert contacts[call.to].status == "fax" and call.hung_up_by == "api"

    # analytics match the fake's own record
    assert analytics["calls"] == dict(Counter(c.status for c in fake_calls))
    assert analytics["answered_by"] == dict(Counter(c.answered_by for c in fake_calls if c.answered_by))
    answered = [c.duration for c in fake_calls if c.status == "completed"]
    assert analytics["answered"] == len(answered)
    assert analytics["avg_duration_s"] == round(statistics.mean(answered), 1)
    assert analytics["outcomes"]["voicemail"] == 9
    assert analytics["outcomes"]["opted_out"] == 2
    assert analytics["outcomes"]["fax"] == 5
    assert analytics["progress"] == {"settled": 50, "total": 50}
