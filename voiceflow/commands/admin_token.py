"""``voiceflow admin-token NAME --scope read|admin``: a new admin bearer token and the entry to configure.

The token is printed once; only its SHA-256 goes into ``VOICEFLOW_ADMIN_TOKENS``
(comma-separate several entries). Give it to the operator as
``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "admin-token", help="make an admin API bearer token (prints the token and its hashed entry)"
    )
    p.add_argument("name", help="who or what holds it (recorded as the actor in the audit log)")
    p.add_argument("--scope", choices=["read", "admin"], default="read", help="read (default) or admin")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voiceflow.security.tokens import AdminToken, TokenError, TokenStore, hash_token, new_token

    token = new_token()
    entry = AdminToken(args.name, args.scope, hash_token(token)).entry
    try:
        TokenStore.parse(entry)
    except TokenError as exc:
        print(f"voiceflow admin-token: {exc}")
        return 2
    print(f"token (give it to {args.name}; it is not stored anywhere): {token}")
    print(f"add to VOICEFLOW_ADMIN_TOKENS: {entry}")
    return 0
