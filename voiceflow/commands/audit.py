"""``voiceflow audit``: the HIPAA / PCI DSS compliance report for this environment's deployment.

Reads the configuration (``voiceflow.config``), the database and audit log in
``VOICEFLOW_DATA_DIR`` and the log files given with ``--log``; prints a table, or
JSON (``--json``), and writes the HTML report with ``--html FILE``. ``--purge``
runs the retention purge first. Exits 1 when a control fails (so CI or cron can
alert), 0 otherwise, 2 on a configuration error.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from voiceflow.config import Config

if TYPE_CHECKING:
    from voiceflow.compliance.controls import Deployment


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("audit", help="compliance audit (HIPAA / PCI DSS controls) of this deployment")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--html", type=Path, default=None, help="write the readable HTML report to this file")
    p.add_argument(
        "--log", type=Path, action="append", default=[], help="a log file to scan for PII (repeatable)"
    )
    p.add_argument("--purge", action="store_true", help="apply VOICEFLOW_RETENTION_DAYS before auditing")
    p.set_defaults(func=run)


def deployment_from(config: Config, log_files: list[Path]) -> Deployment:
    """What the auditor looks at, from the configuration."""
    from voiceflow.compliance.controls import Deployment
    from voiceflow.transports.twilio import connect_stream_twiml

    return Deployment(
        server=config.server,
        security=config.security,
        data_dir=config.paths.data_dir,
        llm_base_url=config.llm.base_url,
        log_files=log_files,
        twiml=lambda host: connect_stream_twiml(host, caller=None, call_sid=None),
        plain_admin_token=bool(config.telephony.admin_token),
    )


def run(args: argparse.Namespace) -> int:
    from voiceflow.commands.serve import load_config
    from voiceflow.compliance.report import audit
    from voiceflow.compliance.retention import DB_FILE, purge

    config = load_config("audit")
    if config is None:
        return 2
    if args.purge:
        days = config.security.retention_days
        if days is None:
            print("voiceflow audit: --purge needs VOICEFLOW_RETENTION_DAYS")
            return 2
        deleted = purge(config.paths.data_dir / DB_FILE, days)
        if not args.json:
            print(f"purged (older than {days} days): {deleted or 'nothing to purge'}")
    report = audit(deployment_from(config, args.log))
    if args.html is not None:
        args.html.write_text(report.as_html(), encoding="utf-8")
    if args.json:
        print(json.dumps(report.as_json(), indent=1))
    else:
        for r in report.results:
            print(f"{r.status.upper():4}  {r.id:6} {r.title:40} {r.evidence}")
            if r.status != "pass":
                print(f"{'':12} fix: {r.remediation}")
        c = report.counts()
        print(f"\nrisk score {report.score:g}/100, grade {report.grade}: "
              f"{c['pass']} pass, {c['warn']} warn, {c['fail']} fail")  # fmt: skip
        if args.html is not None:
            print(f"HTML report: {args.html}")
    return 1 if report.failing() else 0
