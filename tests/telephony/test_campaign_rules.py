"""Campaign rules without speech: CSV import, calling hours, and the dialer's answers to REST errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.echo import pipeline as echo_pipeline
from tests.telephony.conftest import CALLER_ID, line_env
from voiceflow.config import Config
from voiceflow.core.clock import VirtualClock
from voiceflow.db import Database
from voiceflow.telephony.campaign.contacts import parse_contacts
from voiceflow.telephony.campaign.hours import CallingWindow, parse_quiet_days
from voiceflow.telephony.campaign.runner import CampaignRunner
from voiceflow.telephony.campaign.store import CampaignSpec, CampaignStore
from voiceflow.telephony.dnc import DoNotCall
from voiceflow.telephony.schema import TELEPHONY_MIGRATION
from voiceflow.testing.campaign_clock import run_on_virtual_clock
from voiceflow.testing.fakes.twilio_callee import Callee

NOON_CHICAGO = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)  # Monday


# -- CSV --------------------------------------------------------------------------------------------
def test_bad_rows_are_reported_by_line_and_the_rest_imported() -> None:
    text = (
        "Phone,Name,TimeZone,Plan\n"
        "(312) 555-0101,Ana,America/Chicago,gold\n"  # 2: national notation
        "12345,Bo,,\n"  # 3: not a phone number
        "+1 312 555 0103,Cy,Mars/Olympus,\n"  # 4: unknown zone
        '"+13125550104,"Di,,\n'  # 5: broken quoting swallows the rest of the row
        "+13125550105,Ed\n"  # 6: too few columns
        "\n"
        "+13125550101,Ana again,,\n"  # 8: duplicate
        "+44 20 7946 0018,Fi,Europe/London,silver\n"  # 9: international
    )
    report = parse_contacts(text)
    assert [(r.line, r.phone, r.name, r.timezone, r.fields) for r in report.rows] == [
        (2, "+13125550101", "Ana", "America/Chicago", {"plan": "gold"}),
        (9, "+442079460018", "Fi", "Europe/London", {"plan": "silver"}),
    ]
    assert report.problems == [
        "line 3: '12345' is not a valid phone number",
        "line 4: unknown time zone 'Mars/Olympus' (use an IANA name like America/Chicago)",
        "line 5: 3 columns, the header has 4",
        "line 6: 2 columns, the header has 4",
        "line 8: +13125550101 is already in this file",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("name,timezone\nAna,UTC\n", "needs a 'phone' column")],
)
def test_an_unusable_file_is_refused_whole(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_contacts(text)


async def test_importing_twice_keeps_one_contact_per_number(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "c.db", extra=[TELEPHONY_MIGRATION]) as db:
        store = CampaignStore(db)
        campaign = await store.create(CampaignSpec("c", CALLER_ID))
        first = await store.import_contacts(campaign.id, parse_contacts("phone\n+13125550101\n"))
        again = await store.import_contacts(
            campaign.id, parse_contacts("phone\n+13125550101\n+13125550102\n")
        )
        assert (first.imported, again.imported) == (1, 1)
        assert again.problems == ["line 2: +13125550101 is already in this campaign"]
        assert len(await store.contacts(campaign.id)) == 2
        with pytest.raises(ValueError, match="already exists"):
            await store.create(CampaignSpec("c", CALLER_ID))
        with pytest.raises(ValueError, match="max_concurrency must be at least 1"):
            await store.create(CampaignSpec("d", CALLER_ID, max_concurrency=0))
        with pytest.raises(ValueError, match="from_number"):
            await store.create(CampaignSpec("e", "not a number"))


# -- calling hours ----------------------------------------------------------------------------------
def test_the_window_is_nine_to_nine_in_every_zone_of_the_number() -> None:
    window = CallingWindow.of(9, 21)
    at = datetime(2026, 12, 7, 14, 30, tzinfo=UTC)  # 9:30 New York, 8:30 Chicago
    assert window.allowed(at, ["America/New_York"])
    assert not window.allowed(at, ["America/Chicago"])
    assert window.next_open(at, ["America/Chicago"]) == datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    # a number that may be in Alaska or the Aleutians waits for the later of the two
    assert window.next_open(at, ["America/Anchorage", "America/Adak"]) == datetime(
        2026, 12, 7, 19, 0, tzinfo=UTC
    )
    late = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)  # 9 PM New York: closed, 8 PM Chicago: open
    assert not window.allowed(late, ["America/New_York"]) and window.allowed(late, ["America/Chicago"])
    assert not window.allowed(at, [])  # no zone known: never


def test_quiet_days_push_the_window_to_the_next_open_day() -> None:
    window = CallingWindow.of(9, 21, "sat, sun, 2026-12-25")
    christmas_night = datetime(2026, 12, 26, 2, 30, tzinfo=UTC)  # Friday 25th, 20:30 in Chicago
    assert window.next_open(christmas_night, ["America/Chicago"]) == datetime(2026, 12, 28, 15, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="'someday'"):
        parse_quiet_days("sun, someday")


# -- REST errors during a campaign ------------------------------------------------------------------
async def test_rejected_numbers_fail_and_bad_credentials_pause_without_dialing(tmp_path: Path) -> None:
    clock = VirtualClock(start=NOON_CHICAGO.timestamp())
    async with line_env(tmp_path, echo_pipeline(Config()), clock=clock) as env:
        store = CampaignStore(env.telephony.db)
        campaign = await store.create(CampaignSpec("errors", CALLER_ID, max_attempts=3, retry_backoff_s=60))
        numbers = ["+13125550161", "+13125550162", "+13125550163"]
        await store.import_contacts(campaign.id, parse_contacts("phone\n" + "\n".join(numbers) + "\n"))
        env.twilio.rejected_numbers.add(numbers[0])
        env.twilio.callees[numbers[1]] = Callee("busy")
        env.twilio.callees[numbers[2]] = Callee("no_answer")
        await DoNotCall(env.telephony.db).add(numbers[2], source="api")
        runner = CampaignRunner(campaign, store, env.telephony, clock=clock)
        await run_on_virtual_clock(runner, clock, timeout=60)
        contacts = {c.phone: c for c in await store.contacts(campaign.id)}
        assert (contacts[numbers[0]].status, contacts[numbers[0]].attempts) == (
            "failed",
            1,
        )  # 21211: no retry
        assert "21211" in (contacts[numbers[0]].outcome or "")
        assert (contacts[numbers[1]].status, contacts[numbers[1]].attempts) == ("failed", 3)
        assert contacts[numbers[2]].status == "dnc" and not env.twilio.calls_to(numbers[2])

        # the account's token is wrong: the first dial says so, the campaign pauses, nothing is used up
        bad = await store.create(CampaignSpec("bad-token", CALLER_ID))
        await store.import_contacts(bad.id, parse_contacts("phone\n+13125550171\n+13125550172\n"))
        env.twilio.auth_token = "rotated"
        runner = CampaignRunner(bad, store, env.telephony, clock=clock)

        async def stop_once_refused() -> None:
            if runner.error is not None:
                assert runner.paused  # the campaign paused itself
                runner.stop()

        await run_on_virtual_clock(runner, clock, timeout=30, each_step=stop_once_refused)
        assert runner.error is not None and "20003" in runner.error
        left = await store.contacts(bad.id)
        assert [(c.status, c.attempts) for c in left] == [("pending", 0), ("pending", 0)]
        assert (await store.get(bad.id)).status == "paused"
        assert not env.twilio.calls_to("+13125550171") and not env.twilio.calls_to("+13125550172")
