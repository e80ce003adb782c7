"""``arc`` command line: ``serve --target …`` runs services; ``migrate`` applies migrations."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from pydantic import ValidationError

from arc_core.settings import Settings, load_settings
from arc_platform.runtime import serve
from arc_platform.targets import TARGETS
from services.runs import schema


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arc", description="Arc Reactor control plane")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve", help="run services and/or the gateway")
    serve_cmd.add_argument(
        "--target",
        action="append",
        choices=TARGETS,
        help="what to run (repeatable); 'all' = every service and the gateway in one process (default)",
    )
    sub.add_parser("migrate", help="apply database migrations to DATABASE_URL and exit")
    return parser


async def _migrate(settings: Settings) -> None:
    if not settings.database_url:
        raise SystemExit("migrate needs DATABASE_URL (the embedded database migrates itself at start-up)")
    await schema.migrate(settings.database_url)  # the schema is Runs'


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except ValidationError as exc:
        print(f"arc: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        asyncio.run(_migrate(settings))
        return 0
    try:
        asyncio.run(serve(settings, args.target or ["all"]))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
