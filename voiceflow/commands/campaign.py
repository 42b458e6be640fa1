"""``voiceflow campaign create|import|start|pause|resume|status|report``: a client of the admin API.

The server that places the calls owns the campaigns (its callbacks end each
call), so every subcommand talks to it over HTTP: ``--server`` (default
``http://VOICEFLOW_HOST:VOICEFLOW_PORT``) with ``VOICEFLOW_ADMIN_TOKEN`` as the
bearer token. ``start --follow`` and ``status --follow`` draw a progress bar
until the campaign stops.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

__all__ = ["AdminClient", "AdminError", "progress_line", "register"]


class AdminError(RuntimeError):
    pass


class AdminClient:
    def __init__(self, server: str, token: str | None, *, timeout: float = 30.0) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"
    ) -> Any:
        req = urllib.request.Request(f"{self.server}{path}", data=body, method=method)
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        if body is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("detail", exc.reason)
            except (ValueError, AttributeError):
                detail = exc.reason
            raise AdminError(f"{method} {path}: HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise AdminError(f"cannot reach {self.server}: {getattr(exc, 'reason', exc)}") from None

    def campaign(self, name: str, action: str = "") -> str:
        return f"/admin/campaigns/{quote(name, safe='')}" + (f"/{action}" if action else "")


def progress_line(status: dict[str, Any], width: int = 30) -> str:
    done, total = status["progress"]["settled"], status["progress"]["total"]
    filled = int(width * done / total) if total else width
    state = status["campaign"]["status"]
    if status.get("error"):
        state += f" ({status['error']})"
    bar = "#" * filled + "." * (width - filled)
    return f"[{bar}] {done}/{total} settled, {status['in_flight']} in flight, {state}"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("campaign", help="outbound campaigns on a running server (admin API)")
    p.add_argument("--server", help="the voiceflow server (default http://VOICEFLOW_HOST:VOICEFLOW_PORT)")
    p.add_argument("--token", help="admin token (default VOICEFLOW_ADMIN_TOKEN)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = actions.add_parser("create", help="create a campaign")
    c.add_argument("name")
    c.add_argument("--from", dest="from_number", required=True, help="caller ID (E.164)")
    c.add_argument("--opening", help="first line to a person ({name} and CSV columns are filled in)")
    c.add_argument("--voicemail", help="the message left on answering machines")
    c.add_argument("--concurrency", type=int, dest="max_concurrency")
    c.add_argument("--cps", type=float, dest="calls_per_second", help="calls per second")
    c.add_argument("--max-attempts", type=int, dest="max_attempts")
    c.add_argument("--backoff", type=float, dest="retry_backoff_s", help="seconds before the first retry")
    c.add_argument("--quiet-days", dest="quiet_days", help="e.g. 'sun,2026-12-25'")
    i = actions.add_parser("import", help="import contacts from a CSV file (phone,name,timezone,...)")
    i.add_argument("name")
    i.add_argument("csv", type=Path)
    for action in ("start", "status"):
        a = actions.add_parser(action, help=f"{action} a campaign")
        a.add_argument("name")
        a.add_argument("--follow", action="store_true", help="show a progress bar until it stops")
    for action in ("pause", "resume"):
        actions.add_parser(action, help=f"{action} a campaign").add_argument("name")
    r = actions.add_parser("report", help="analytics of a campaign")
    r.add_argument("name")
    r.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voiceflow.commands.serve import load_config

    config = load_config("campaign")
    if config is None:
        return 2
    server = args.server or f"http://{config.server.host}:{config.server.port}"
    client = AdminClient(server, args.token or config.telephony.admin_token)
    try:
        return _dispatch(client, args)
    except AdminError as exc:
        print(f"voiceflow campaign {args.action}: {exc}", file=sys.stderr)
        return 1


def _dispatch(client: AdminClient, args: argparse.Namespace) -> int:
    if args.action == "create":
        keys = ("from_number", "opening", "voicemail", "max_concurrency", "calls_per_second", "max_attempts",
                "retry_backoff_s", "quiet_days")  # fmt: skip
        spec = {"name": args.name} | {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
        made = client.request("POST", "/admin/campaigns", json.dumps(spec).encode())
        print(f"campaign {made['name']!r} created (id {made['id']})")
    elif args.action == "import":
        try:
            body = args.csv.read_bytes()
        except OSError as exc:
            print(f"voiceflow campaign import: {exc}", file=sys.stderr)
            return 2
        report = client.request("POST", client.campaign(args.name, "contacts"), body, "text/csv")
        print(f"{report['imported']} contacts imported")
        for problem in report["problems"]:
            print(f"  skipped {problem}")
    elif args.action in ("start", "pause", "resume"):
        status = client.request("POST", client.campaign(args.name, args.action))
        print(progress_line(status))
        if args.action == "start" and args.follow:
            _follow(client, args.name)
    elif args.action == "status":
        if args.follow:
            _follow(client, args.name)
        else:
            print(progress_line(client.request("GET", client.campaign(args.name))))
    elif args.action == "report":
        report = client.request("GET", client.campaign(args.name, "report"))
        print(json.dumps(report, indent=2) if args.json else _report_table(report))
    return 0


def _follow(client: AdminClient, name: str, every: float = 1.0) -> None:
    while True:
        status = client.request("GET", client.campaign(name))
        print("\r" + progress_line(status), end="", flush=True)
        if status["campaign"]["status"] != "running":
            print()
            return
        time.sleep(every)


def _report_table(report: dict[str, Any]) -> str:
    rows = [
        ("contacts", report["contacts"]),
        ("attempts", report["attempts"]),
        ("calls by status", report["calls"]),
        ("answered by", report["answered_by"]),
        ("connect rate", report["connect_rate"]),
        ("average duration (s)", report["avg_duration_s"]),
        ("outcomes", report["outcomes"]),
        ("deferred to the calling window", report["deferrals"]),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join([f"campaign {report['campaign']}"] + [f"  {k:<{width}}  {v}" for k, v in rows])
