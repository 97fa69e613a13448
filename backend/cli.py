"""`picdrop-server` (also `python -m backend`): serve, housekeeping, settings reference."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from backend import __version__
from backend.settings import FIELDS, Settings, env_name


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting (`--data-dir` for PICDROP_DATA_DIR...); unset flags keep the env."""
    for f in FIELDS:
        flag = "--" + f.name.replace("_", "-")
        kind = {"int": int, "bool": None, "Path": Path}.get(str(f.type), str)
        help_text = f"{f.metadata['doc']} [{env_name(f.name)}]"
        if kind is None:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=help_text)
        else:
            parser.add_argument(flag, type=kind, metavar=f.name.upper(), help=help_text)


def settings_from_args(args: argparse.Namespace) -> Settings:
    return Settings.from_env(**{f.name: getattr(args, f.name, None) for f in FIELDS})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="picdrop-server", description="The picdrop image-sharing server."
    )
    parser.add_argument("--version", action="version", version=f"picdrop-server {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the HTTP server")
    _add_setting_flags(serve)

    for name, text in (
        ("purge-expired", "delete expired uploads now"),
        ("sweep", "delete orphan blobs and leftover temporary files now"),
        ("migrate", "create or upgrade the catalog schema"),
    ):
        p = sub.add_parser(name, help=text)
        _add_setting_flags(p)
        if name == "sweep":
            p.add_argument(
                "--grace",
                type=float,
                default=None,
                help="only blobs unreferenced for this many seconds (default: ORPHAN_GRACE)",
            )

    sub.add_parser("settings", help="print every setting with its variable and default")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "settings":
        print_settings()
        return 0
    try:
        settings = settings_from_args(args)
    except ValueError as exc:
        print(f"picdrop-server: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return serve(settings)
    service = _service(settings)
    try:
        if args.command == "purge-expired":
            print(f"purged {service.purge_expired()} expired uploads")
        elif args.command == "sweep":
            print(f"removed {service.sweep_orphans(args.grace)} orphan blobs and temporary files")
        elif args.command == "migrate":
            print("catalog schema is up to date")
    finally:
        service.catalog.close()
    return 0


def _service(settings: Settings):
    from backend.catalog import Catalog
    from backend.service import ImageService
    from backend.storage import open_store

    catalog = Catalog(settings.resolved_database_url)
    catalog.migrate()
    store = open_store(settings.resolved_storage_url, endpoint_url=settings.s3_endpoint_url or None)
    return ImageService(settings, catalog, store)


def serve(settings: Settings) -> int:
    import uvicorn

    from backend.http.app import create_app
    from backend.server import bind_socket, pin_malloc_mmap_threshold, uvicorn_config

    try:
        sock = bind_socket(settings.host, settings.port)
    except OSError as exc:
        print(
            f"picdrop-server: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    settings = dataclasses.replace(settings, port=sock.getsockname()[1])
    pin_malloc_mmap_threshold()
    app = create_app(settings)
    print(
        f"picdrop-server {__version__} listening on http://{settings.host}:{settings.port}",
        file=sys.stderr,
    )
    print(f"  links:    {settings.base_url}", file=sys.stderr)
    print(f"  data:     {settings.data_dir}", file=sys.stderr)
    print(f"  catalog:  {_redact_url(settings.resolved_database_url)}", file=sys.stderr)
    print(f"  blobs:    {settings.resolved_storage_url}", file=sys.stderr)
    uvicorn.Server(uvicorn_config(app, settings)).run(sockets=[sock])
    return 0


def _redact_url(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def print_settings() -> None:
    defaults = Settings()
    for f in FIELDS:
        default = getattr(defaults, f.name)
        print(f"{env_name(f.name)} (--{f.name.replace('_', '-')})")
        print(f"    {f.metadata['doc']}")
        if f.name == "data_dir":
            default = "the user data directory, e.g. ~/.local/share/picdrop-server"
        print(f"    default: {default!r}")


if __name__ == "__main__":
    sys.exit(main())
