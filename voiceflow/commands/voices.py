"""``voiceflow voices clone NAME FILE…``: make an ElevenLabs voice from sample recordings.

The samples go to ElevenLabs' instant voice cloning (``POST /v1/voices/add`` through the
SDK, with ``ELEVENLABS_API_KEY`` and ``VOICEFLOW_ELEVENLABS_URL``); the new voice id is
printed, ready for ``VOICEFLOW_ELEVENLABS_VOICE``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("voices", help="manage cloud voices (clone one from samples)")
    commands = parser.add_subparsers(dest="voices_command", metavar="ACTION", required=True)
    clone = commands.add_parser("clone", help="clone an ElevenLabs voice from sample recordings")
    clone.add_argument("name", help="the new voice's name")
    clone.add_argument("files", nargs="+", type=Path, help="sample recordings (WAV, MP3, OGG or FLAC)")
    clone.add_argument("--description", default=None, help="a description stored with the voice")
    clone.set_defaults(func=run_clone)


def run_clone(args: argparse.Namespace) -> int:
    from voiceflow.config import Config, ConfigError
    from voiceflow.services.tts.elevenlabs import ElevenLabsEngine
    from voiceflow.services.tts.engine import TTSError

    try:
        settings = Config.from_env().tts
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not settings.elevenlabs_api_key:
        print("error: voice cloning needs ELEVENLABS_API_KEY", file=sys.stderr)
        return 2
    engine = ElevenLabsEngine(settings.elevenlabs_api_key, base_url=settings.elevenlabs_url)
    try:
        voice_id = asyncio.run(engine.clone_voice(args.name, list(args.files), description=args.description))
    except TTSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"voice {args.name!r} created: {voice_id}")
    print(f"use it with VOICEFLOW_ELEVENLABS_VOICE={voice_id}")
    return 0
