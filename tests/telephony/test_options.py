"""Telephony's settings: off without an account, a clear error when half configured."""

from __future__ import annotations

import pytest

from pipelines.echo import pipeline as echo_pipeline
from voiceflow.config import Config, ConfigError
from voiceflow.telephony.line import is_opt_out
from voiceflow.telephony.pipeline import TelephonyPipeline, with_telephony
from voiceflow.telephony.service import TelephonyOptions
from voiceflow.telephony.transfer import TransferError, parse_transfer_numbers


def test_without_an_account_sid_the_pipeline_is_left_alone() -> None:
    inner = echo_pipeline(Config())
    assert TelephonyOptions.from_config(Config()) is None
    assert with_telephony(inner, Config()) is inner


def test_half_configured_telephony_names_every_missing_piece() -> None:
    config = Config.from_env({"TWILIO_ACCOUNT_SID": "AC1", "VOICEFLOW_TRANSFER_NUMBERS": "billing=12,sales"})
    with pytest.raises(ConfigError) as caught:
        TelephonyOptions.from_config(config)
    problems = caught.value.problems
    assert problems[0] == "TWILIO_AUTH_TOKEN is required with TWILIO_ACCOUNT_SID"
    assert problems[1].startswith("VOICEFLOW_CALLBACK_URL or VOICEFLOW_PUBLIC_HOST is required")
    assert "'12'" in problems[2]


def test_a_configured_account_wraps_the_pipeline() -> None:
    config = Config.from_env(
        {
            "TWILIO_ACCOUNT_SID": "AC1",
            "TWILIO_AUTH_TOKEN": "t",
            "VOICEFLOW_PUBLIC_HOST": "agent.example.com",
            "VOICEFLOW_TRANSFER_NUMBERS": "billing=+1 (212) 555-0142, sales=+12125550143",
            "VOICEFLOW_ADMIN_TOKEN": "admin",
        }
    )
    wrapped = with_telephony(echo_pipeline(Config()), config)
    assert isinstance(wrapped, TelephonyPipeline) and wrapped.admin_token == "admin"
    assert wrapped.options.callback_url == "https://agent.example.com"
    assert wrapped.options.media_host == "agent.example.com"
    assert wrapped.options.transfer_numbers == {"billing": "+12125550142", "sales": "+12125550143"}


def test_transfer_numbers_must_be_department_equals_number() -> None:
    assert parse_transfer_numbers(None) == {}
    with pytest.raises(TransferError, match="is not department=\\+number"):
        parse_transfer_numbers("billing")


@pytest.mark.parametrize(
    ("said", "opt_out"),
    [
        ("please don't call me again", True),
        ("do not call this number", True),
        ("stop calling me", True),
        ("take me off your list", True),
        ("put me on the do not call list", True),
        ("remove my number", True),
        ("please call me again tomorrow", False),
        ("can you call me back later", False),
        ("i don't know", False),
    ],
)
def test_what_counts_as_asking_not_to_be_called(said: str, opt_out: bool) -> None:
    assert is_opt_out(said) is opt_out
