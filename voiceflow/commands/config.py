"""``voiceflow config``: the settings as this environment makes them (secrets masked), or the README table.

Exits 2 naming each variable whose value is invalid, so a deployment can check its
environment before it serves.
"""

from __future__ import annotations

import argparse
import os
import sys

from voiceflow.config import Config, ConfigError, Setting, settings, unknown_names


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "config", help="show every setting read from the environment (or --markdown: the table)"
    )
    p.add_argument("--markdown", action="store_true", help="print the README's table of settings")
    p.set_defaults(func=run)


def markdown_table() -> str:
    """The README's "Configuration" table: one row per setting, in ``Config`` order."""
    rows = ["| variable | setting | type | default | what it does |", "| --- | --- | --- | --- | --- |"]
    rows += [
        f"| `{s.env}` | `{s.key}` | {s.type} | {_default(s)} | {s.doc.replace('|', '/')} |"
        for s in settings()
    ]
    return "\n".join(rows)


def _default(s: Setting) -> str:
    return "unset" if s.default is None else f"`{s.default}`"


def run(args: argparse.Namespace) -> int:
    if args.markdown:
        print(markdown_table())
        return 0
    try:
        config = Config.from_env()
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"voiceflow config: {problem}", file=sys.stderr)
        return 2
    width = max(len(s.env) for s in settings())
    for s, value in config.describe():
        source = "env" if os.environ.get(s.env, "").strip() else "default"
        print(f"{s.env:<{width}}  {'' if value is None else value}  ({source})")
    for warning in unknown_names():
        print(f"warning: {warning}", file=sys.stderr)
    return 0
