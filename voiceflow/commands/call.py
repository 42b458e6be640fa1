"""``voiceflow call``: a simulated phone call to the offline agent through the real Twilio path.

An in-process server runs the pipeline; each caller line (text spoken by Piper,
or a WAV file) goes over ``/twilio/media`` as 8 kHz mu-law at real time, and the
next line waits for the agent's answer. Prints both sides, the tools called and
each turn's voice-to-voice latency with its per-stage breakdown.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

#: the first run trains the intent model and indexes kb/ before the server answers
PREPARE_TIMEOUT_S = 600.0

DEFAULT_LINES = [
    "Hi, where is my order one zero zero two?",
    "What time do you close on Saturday?",
    "Thanks, goodbye.",
]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("call", help="simulate a phone call to the agent (offline, real Twilio protocol)")
    p.add_argument("lines", nargs="*", help="what the caller says, one argument per turn (or WAV paths)")
    p.add_argument("--wav", action="append", type=Path, default=[], help="a caller turn from a WAV file")
    p.add_argument("--pipeline", default="offline", help="pipeline to call (default offline)")
    p.add_argument("--caller", default="+15550100001", help="caller's phone number (memory is keyed by it)")
    p.add_argument("--out", type=Path, default=None, help="write the agent's audio as WAV files here")
    p.add_argument("--barge-in", action="store_true", help="talk over the agent's answers to interrupt them")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the transcript")
    p.add_argument(
        "--fake-providers",
        action="store_true",
        help="start the pipeline's local fake provider servers and point it at them (no keys, no network)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(_call(args))


def _lines(args: argparse.Namespace) -> list[tuple[str, bytes, int]]:
    from voiceflow.sim.speech import synthesize
    from voiceflow.transports.local import read_wav

    out: list[tuple[str, bytes, int]] = []
    texts = list(args.lines) or ([] if args.wav else DEFAULT_LINES)
    for item in texts:
        path = Path(item)
        if item.lower().endswith(".wav") and path.exists():
            args.wav.append(path)
            continue
        out.append((item, synthesize(item, 16000), 16000))
    for path in args.wav:
        pcm, rate, channels = read_wav(path)
        if channels != 1:
            raise SystemExit(f"{path}: need a mono WAV, got {channels} channels")
        out.append((f"[{path.name}]", pcm, rate))
    return out


async def _call(args: argparse.Namespace) -> int:
    async with contextlib.AsyncExitStack() as fakes:
        overrides: dict[str, str] = {}
        if args.fake_providers:
            try:
                overrides = await start_fake_providers(args.pipeline, fakes)
            except LookupError as exc:
                print(f"voiceflow call: {exc}", file=sys.stderr)
                return 2
        return await _call_with(args, overrides)


async def start_fake_providers(name: str, stack: contextlib.AsyncExitStack) -> dict[str, str]:
    """Start the local fakes of pipeline ``name`` (closed with ``stack``); the settings that use them.

    The pipeline module names its hook in ``FAKE_PROVIDERS = "module:function"`` (an async
    ``function(stack) -> {ENV_NAME: value}``); it is imported only here, on request, so the
    product itself never imports the test kit.
    """
    import importlib

    try:
        module = importlib.import_module(name.partition(":")[0] if ":" in name else f"pipelines.{name}")
    except ModuleNotFoundError:
        raise LookupError(f"no pipeline {name!r}") from None
    target = getattr(module, "FAKE_PROVIDERS", None)
    if not isinstance(target, str) or ":" not in target:
        raise LookupError(f"pipeline {name!r} has no fake providers (it sets no FAKE_PROVIDERS hook)")
    hook_module, _, attr = target.partition(":")
    hook = getattr(importlib.import_module(hook_module), attr)
    overrides: dict[str, str] = await hook(stack)
    return overrides


async def _call_with(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    from voiceflow.commands.serve import PipelineNotFound, load_config, load_pipeline, serve_in_background
    from voiceflow.config import ConfigError
    from voiceflow.server.app import create_app
    from voiceflow.sim.scripted_call import CallWatchers, TurnResult, run_scripted_call

    say = (lambda *a, **k: None) if args.json else print
    config = load_config("call", overrides)
    if config is None:
        return 2
    try:
        pipeline = load_pipeline(args.pipeline, config)
    except (PipelineNotFound, ConfigError) as exc:
        print(f"voiceflow call: {exc}", file=sys.stderr)
        return 2
    lines = _lines(args)
    app = create_app(  # its lifespan prepares the pipeline and shuts it down
        pipeline, config.server, security=config.security, data_dir=config.paths.data_dir
    )
    watchers = CallWatchers(app.state.voiceflow.calls)

    def show(turn: TurnResult) -> None:
        if args.json:
            return
        if turn.spoken is not None:
            print(f"\ncaller : {turn.line}")
        for text in turn.server.heard:
            print(f"  heard: {text}")
        for tool in turn.server.tools:
            print(f"  tool : {tool}")
        for text in turn.server.withdrawn:
            print(f"  withdrawn (the caller went on): {text}")
        for text in turn.server.said:
            print(f"agent  : {text}")
        if turn.reply is None and turn.spoken is not None:
            print("agent  : (no answer)")
        lat = turn.latency
        if lat is not None and lat.v2v_ms is not None:
            stages = ", ".join(f"{k} {v:.0f}" for k, v in lat.breakdown().items())
            print(f"  latency: voice-to-voice {lat.v2v_ms:.0f} ms  [{stages}]")
        if turn.clear_ms is not None:
            print(f"  barge-in: clear {turn.clear_ms:.0f} ms after the caller started talking")

    say("loading models (the first run also trains the intent model and indexes kb/)...", flush=True)
    async with serve_in_background(app, startup_timeout_s=PREPARE_TIMEOUT_S) as server:
        result = await run_scripted_call(
            server.ws_url("/twilio/media"),
            lines,
            watchers,
            caller=args.caller,
            barge_in=args.barge_in,
            expect_greeting=getattr(pipeline, "greets", True),  # a pipeline may answer without a greeting
            on_turn=show,
            twilio_auth_token=config.server.twilio_auth_token,
        )
    if args.out is not None:
        from voiceflow.transports.local import write_wav

        args.out.mkdir(parents=True, exist_ok=True)
        write_wav(args.out / "agent.wav", result.agent_audio, 8000)
        for i, turn in enumerate([result.greeting, *result.turns]):
            if turn is not None and turn.reply is not None:
                write_wav(args.out / f"agent_turn{i}.wav", turn.reply.audio, 8000)
    summary = _summary(result)
    if args.json:
        print(json.dumps(summary))
    else:
        v2v = [t["v2v_ms"] for t in summary["turns"] if t["v2v_ms"] is not None]
        print(
            f"\ncall {result.call_sid}: {len(result.turns)} turns, "
            f"{'agent hung up' if result.hung_up_by_agent else 'caller hung up'}"
            + (f", voice-to-voice {', '.join(f'{v:.0f}' for v in v2v)} ms" if v2v else "")
        )
        if args.out is not None:
            print(f"agent audio written to {args.out}/")
    answered = all(t.reply is not None for t in result.turns)
    return 0 if answered else 1


def _summary(result: Any) -> dict[str, Any]:
    turns = []
    for t in result.turns:
        lat = t.latency
        turns.append(
            {
                "caller": t.line,
                "heard": t.server.heard,
                "agent": t.server.said,
                "withdrawn": t.server.withdrawn,
                "tools": t.server.tools,
                "v2v_ms": None if lat is None else lat.v2v_ms,
                "client_v2v_ms": t.client_v2v_ms,
                "stages_ms": None if lat is None else lat.breakdown(),
                "clear_ms": t.clear_ms,
            }
        )
    greeting = result.greeting.server.said if result.greeting else []
    return {
        "call_sid": result.call_sid,
        "greeting": greeting,
        "turns": turns,
        "agent_hung_up": result.hung_up_by_agent,
    }
