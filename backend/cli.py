"""`picdrop-server` (also `python -m backend`): serve, housekeeping, settings reference."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import logging
import multiprocessing
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from backend import __version__, logformat
from backend.server import quiet_library_logs
from backend.settings import FIELDS, Settings, env_name
from backend.shared_state import SharedState


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
            p.add_argument(
                "--release",
                action="store_true",
                help="lift the hold a restore put on the orphan sweep, then sweep",
            )
        if name == "migrate":
            p.add_argument(
                "--to",
                default="head",
                metavar="REVISION",
                help="migrate up or down to this schema revision (default: this release's "
                "newest); before installing an older release, run its revision with this one",
            )

    backup_cmd = sub.add_parser(
        "backup",
        help="write the whole catalog to a file (servers may keep running)",
        description="Write every row of the catalog, from one consistent snapshot, to FILE "
        "(gzipped JSON lines with the schema revision). The blobs are not in it: back up the "
        "bucket or blob directory too (docs/DEPLOY.md).",
    )
    backup_cmd.add_argument("file", type=Path)
    _add_setting_flags(backup_cmd)
    restore_cmd = sub.add_parser(
        "restore",
        help="replace the catalog with a backup, keeping later takedowns (servers stopped)",
        description="Replace everything in the catalog at DATABASE_URL with the backup in FILE "
        "and migrate it to this release's schema. Takedowns and unblocks that the catalog being "
        "replaced made after the backup are applied again, and the orphan sweep is held until "
        "`picdrop-server sweep --release`. Stop every server first.",
    )
    restore_cmd.add_argument("file", type=Path)
    restore_cmd.add_argument(
        "--yes", action="store_true", required=True, help="yes, replace the catalog"
    )
    _add_setting_flags(restore_cmd)

    check_cmd = sub.add_parser(
        "check",
        help="check that the catalog and the blob store agree; --repair fixes what it can",
        description="Compare the catalog with the blob store both ways: images whose blob is "
        "missing, blobs and thumbnails no image uses (older than the orphan grace), wrong "
        "reference counts. One line per problem, then a summary. Exit status 0 when there is "
        "nothing wrong (or, with --repair, when everything was repaired), else 1. Safe to run "
        "beside running servers.",
    )
    check_cmd.add_argument("--repair", action="store_true", help="fix what can be fixed")
    check_cmd.add_argument("--json", action="store_true", help="print the report as JSON")
    check_cmd.add_argument(
        "--grace",
        type=float,
        default=None,
        help="only count unused blobs older than this many seconds (default: ORPHAN_GRACE)",
    )
    _add_setting_flags(check_cmd)

    migrate_storage = sub.add_parser(
        "migrate-storage",
        help="copy every blob from one store to another (see docs/DEPLOY.md)",
        description="Copy every blob from one store to another, skipping those already there "
        "(so it can be run again to resume or catch up), then check that every blob the catalog "
        "references is in the destination. The servers keep running: point them at the new "
        "store with the old one as STORAGE_FALLBACK_URL first (docs/DEPLOY.md).",
    )
    migrate_storage.add_argument(
        "--from", dest="source", required=True, metavar="URL", help="the store to copy from"
    )
    migrate_storage.add_argument(
        "--to", dest="dest", required=True, metavar="URL", help="the store to copy to"
    )
    migrate_storage.add_argument(
        "--jobs", type=int, default=8, help="blobs copied at once (default: 8)"
    )
    migrate_storage.add_argument(
        "--no-check",
        dest="check",
        action="store_false",
        help="skip checking the catalog's blobs against the destination afterwards",
    )
    _add_setting_flags(migrate_storage)

    settings_cmd = sub.add_parser(
        "settings", help="print every setting with its variable and default"
    )
    settings_cmd.add_argument(
        "--markdown", action="store_true", help="as the table in docs/CONFIG.md"
    )

    admin = sub.add_parser(
        "admin",
        help="moderation: reports, removals, blocks, audit log (the /api/admin operations)",
        description="The same operations as /api/admin/..., straight on the catalog. Each one "
        "that changes something is written to the audit log (actor 'cli'). Output is JSON.",
    )
    actions = admin.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text, arg in (
        ("reports", "open reports, grouped by image", None),
        ("show", "an image's record and its reports", "image_id"),
        ("remove", "remove an image (451), block its content, purge its blob", "image_id"),
        ("dismiss", "dismiss an image's open reports", "image_id"),
        ("blocks", "list the blocklist", None),
        ("unblock", "lift a block", "block_id"),
        ("purge-expired", "delete expired uploads now", None),
        ("audit", "the audit log, newest first", None),
    ):
        p = actions.add_parser(name, help=text)
        if arg == "block_id":
            p.add_argument(arg, type=int)
        elif arg:
            p.add_argument(arg)
        if name in ("remove", "dismiss", "unblock"):
            p.add_argument("--note", help="why (kept in the audit log)")
        if name == "audit":
            p.add_argument("--limit", type=int, default=100)
        _add_setting_flags(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.quiet)
    if args.command == "settings":
        print(settings_markdown() if args.markdown else settings_text(), end="")
        return 0
    try:
        settings = settings_from_args(args)
    except ValueError as exc:
        print(f"picdrop-server: {exc}", file=sys.stderr)
        return 2
    logformat.use(settings.log_format)
    try:
        return _run(args, settings)
    except Exception as exc:
        # Imported only now: the catalog package would otherwise load SQLAlchemy into the
        # process that supervises `serve --processes N`, for as long as it runs.
        from backend.catalog import CatalogDamaged
        from backend.catalog.versions import SchemaTooNew, UnknownRevision

        if not isinstance(exc, SchemaTooNew | UnknownRevision | CatalogDamaged):
            raise
        print(f"picdrop-server: {exc}", file=sys.stderr)
        return 2  # no use restarting (see the unit)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        return serve(settings, quiet=args.quiet)
    if args.command in ("backup", "restore"):
        return backup_or_restore(settings, args.command, args.file)
    if args.command == "migrate":
        from backend.catalog import Catalog
        from backend.catalog.versions import head

        catalog = Catalog(settings.resolved_database_url)
        try:
            catalog.migrate(args.to)
        finally:
            catalog.close()
        print(f"catalog schema is at revision {head() if args.to == 'head' else args.to}")
        return 0
    if args.command == "migrate-storage":
        return migrate_storage(settings, args.source, args.dest, jobs=args.jobs, check=args.check)
    if args.command == "admin":
        return admin(settings, args)
    if args.command == "check":
        return check(settings, repair=args.repair, as_json=args.json, grace=args.grace)
    from backend.assembly import build

    backend = build(settings, migrate=True)
    try:
        if args.command == "purge-expired":
            print(f"purged {backend.images.purge_expired()} expired uploads")
        elif args.command == "sweep":
            if args.release:
                from backend.catalog.backup import release_sweep

                release_sweep(backend.catalog)
                print("the orphan sweep is released: the store's blobs are this catalog's")
            removed = backend.images.sweep_orphans(args.grace)
            print(f"removed {removed} orphan blobs and temporary files")
    finally:
        backend.close()
    return 0


def backup_or_restore(settings: Settings, command: str, path: Path) -> int:
    from backend import backups
    from backend.catalog.backup import BadBackup

    try:
        if command == "backup":
            info = backups.backup(settings, path)
            print(f"backed up {sum(info.rows.values())} rows (schema {info.revision}) to {path}")
            return 0
        restored = backups.restore(settings, path)
    except BadBackup as exc:
        print(f"picdrop-server: {exc}", file=sys.stderr)
        return 1
    taken = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(restored.backup.taken_at))
    print(
        f"restored {sum(restored.backup.rows.values())} rows from the backup taken {taken} "
        f"(schema {restored.backup.revision}, now migrated); re-applied {restored.reapplied} "
        f"of {restored.carried} takedown log entries of the catalog it replaced.\n"
        "The orphan sweep is held: the store may hold blobs uploaded after the backup. Run "
        "`picdrop-server check`, then `picdrop-server sweep --release`."
    )
    return 0


def configure_logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet_library_logs()


def check(settings: Settings, *, repair: bool, as_json: bool, grace: float | None) -> int:
    """Print what `consistency.check` finds: 0 when all is well (or repaired), else 1."""
    from backend import consistency
    from backend.assembly import build

    backend = build(settings, migrate=True)
    try:
        report = consistency.check(
            backend.catalog,
            backend.store,
            grace=settings.orphan_grace if grace is None else grace,
            repair=repair,
            on_finding=None if as_json else lambda finding: print(finding.line()),
        )
    finally:
        backend.close()
    print(json.dumps(report.as_dict(), indent=2) if as_json else report.summary())
    return 1 if report.unrepaired else 0


def migrate_storage(settings: Settings, source_url: str, dest_url: str, *, jobs: int, check: bool):
    """Copy the blobs; then, unless told not to, check the catalog's against the destination."""
    from backend.catalog import Catalog
    from backend.storage import open_store, s3_options
    from backend.storage.migrate import copy_blobs, missing_keys

    options = s3_options(settings)
    source = open_store(source_url, **options)
    dest = open_store(dest_url, **options)
    last = 0.0

    def progress(report) -> None:
        nonlocal last
        if time.monotonic() - last >= 5:
            last = time.monotonic()
            print(f"  {report.copied} copied, {report.skipped} already there", file=sys.stderr)

    print(f"copying blobs from {source!r} to {dest!r}", file=sys.stderr)
    report = copy_blobs(source, dest, jobs=jobs, progress=progress)
    print(
        f"copied {report.copied} blobs ({report.bytes_copied} bytes), "
        f"{report.skipped} already there, {report.vanished} deleted meanwhile, "
        f"{len(report.failed)} failed"
    )
    status = 1 if report.failed else 0
    if check:
        catalog = Catalog(settings.resolved_database_url)
        try:
            missing = missing_keys(catalog.referenced_blob_keys(), dest)
        finally:
            catalog.close()
        if missing:
            print(f"{len(missing)} blobs the catalog references are not in the destination:")
            for key in missing[:20]:
                print(f"  {key}")
            status = 1
        else:
            print("every blob the catalog references is in the destination")
    return status


def _all(listing: Callable[..., Any]) -> Iterator[Any]:
    """Every entry of a paged admin listing, a page at a time."""
    cursor = None
    while True:
        page = listing(cursor=cursor)
        yield from page.items
        if page.next is None:
            return
        cursor = page.next


def admin(settings: Settings, args: argparse.Namespace) -> int:
    """The /api/admin operations, printed as the JSON the API answers (times in Unix seconds)."""
    from backend.assembly import build
    from backend.errors import ApiError
    from backend.http import models

    backend = build(settings, migrate=True)
    moderation = backend.moderation
    note = getattr(args, "note", None)
    try:
        if args.action == "reports":
            result = [models.ReportGroup.model_validate(g) for g in _all(moderation.open_reports)]
        elif args.action == "show":
            result = models.AdminImage.of(moderation.image_record(args.image_id, actor="cli"))
        elif args.action == "remove":
            found = moderation.remove(args.image_id, actor="cli", note=note)
            result = models.RemovalResult.model_validate(found)
        elif args.action == "dismiss":
            found = moderation.dismiss(args.image_id, actor="cli", note=note)
            result = models.DismissResult.model_validate(found)
        elif args.action == "blocks":
            result = [models.AdminBlock.model_validate(b) for b in _all(moderation.blocks)]
        elif args.action == "unblock":
            found = moderation.unblock(args.block_id, actor="cli", note=note)
            result = models.AdminBlock.model_validate(found)
        elif args.action == "purge-expired":
            result = models.PurgeResult.model_validate(moderation.purge_expired(actor="cli"))
        else:
            entries = moderation.audit_log(args.limit).items
            result = [models.AuditEntry.model_validate(e) for e in entries]
    except ApiError as exc:
        print(f"picdrop-server: {exc.message}", file=sys.stderr)
        return 1
    finally:
        backend.close()
    plain = [r.model_dump() for r in result] if isinstance(result, list) else result.model_dump()
    print(json.dumps(plain, indent=2, ensure_ascii=False, default=lambda t: t.timestamp()))
    return 0


def serve(settings: Settings, *, quiet: bool = False) -> int:
    """One process, or `settings.process_count` of them on one listening socket (uvicorn's
    supervisor starts them, restarts one that dies, and stops them all on SIGTERM/SIGINT)."""
    # With several processes this one only supervises them: it imports neither the app nor the
    # image code, which would stay in its memory for as long as the server runs.
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from backend.http.origin import public_url_warning
    from backend.logformat import announce
    from backend.server import bind_socket, pin_malloc_mmap_threshold, uvicorn_config
    from backend.storage import open_store, s3_options

    try:  # a store URL it cannot use stops it here, with why
        for url in filter(None, (settings.resolved_storage_url, settings.storage_fallback_url)):
            open_store(url, **s3_options(settings))
    except ValueError as exc:
        print(f"picdrop-server: {exc}", file=sys.stderr)
        return 2
    try:
        sock = bind_socket(settings.host, settings.port)
    except OSError as exc:
        print(
            f"picdrop-server: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    processes = settings.process_count
    settings = dataclasses.replace(settings, port=sock.getsockname()[1], processes=processes)
    pin_malloc_mmap_threshold()
    if processes == 1:
        from backend.http.app import create_app

        app = None
        try:
            # A catalog or schema it cannot run on stops it here, with why.
            app = create_app(settings, migrate=False)
            app.state.backend.catalog.migrate_when_reachable(settings.database_startup_wait)
        except BaseException:
            if app is not None:
                app.state.backend.close()
            sock.close()
            raise
    else:
        try:
            # In a process of its own: SQLAlchemy and Alembic would otherwise stay in this one's
            # memory (~25 MB) for as long as it supervises.
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as one:
                one.submit(migrate_once, settings).result()
        except BaseException:
            sock.close()
            raise
    warning = public_url_warning(settings)
    announce(
        [
            f"picdrop-server {__version__} listening on http://{settings.host}:{settings.port}",
            f"  links:    {settings.base_url}",
            f"  data:     {settings.data_dir}",
            f"  catalog:  {_redact_url(settings.resolved_database_url)}",
            f"  blobs:    {settings.resolved_storage_url}",
            f"  processes: {processes}",
            *([warning] if warning else []),
        ],
        settings.log_format,
    )
    if processes == 1:
        uvicorn.Server(uvicorn_config(app, settings)).run(sockets=[sock])
    else:
        # CACHE_BYTES is the server's memory for hot images: each process caches its share.
        shares = dataclasses.replace(settings, cache_bytes=settings.cache_bytes // processes)
        shared = SharedState.create()
        try:
            factory = functools.partial(process_app, shares, quiet, shared)
            config = uvicorn_config(factory, settings, factory=True, workers=processes)
            Multiprocess(config, sockets=[sock]).run()
        finally:
            shared.remove()
    return 0


def migrate_once(settings: Settings) -> None:
    """Schema upgrades before the processes start, so that they do not race to do them: with
    the catalog alone (see `serve`)."""
    from backend.catalog import Catalog

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(
        settings.resolved_database_url, connect_timeout=settings.database_connect_timeout
    )
    try:
        catalog.migrate_when_reachable(settings.database_startup_wait)
    finally:
        catalog.close()


def process_app(settings: Settings, quiet: bool, shared: SharedState):
    """The app of one of several `serve` processes. uvicorn spawns them (a fresh interpreter),
    so this process's logging and allocator tuning are set up again here."""
    from backend.http.app import create_app
    from backend.server import pin_malloc_mmap_threshold

    configure_logging(quiet)
    logformat.use(settings.log_format)
    pin_malloc_mmap_threshold()
    return create_app(settings, shared=shared)


def _redact_url(url: str) -> str:
    """Hide a password in a database URL before printing it (as SQLAlchemy's URL does, without
    importing it into the supervising process)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _defaults() -> list[tuple[str, str, str, str]]:
    """(variable, flag, description, default) for every setting."""
    defaults = Settings()
    rows = []
    for f in FIELDS:
        default = repr(getattr(defaults, f.name))
        if f.name == "data_dir":  # differs per user and OS
            default = "the user data directory, e.g. ~/.local/share/picdrop-server"
        rows.append((env_name(f.name), "--" + f.name.replace("_", "-"), f.metadata["doc"], default))
    return rows


def settings_text() -> str:
    return "".join(
        f"{var} ({flag})\n    {doc}\n    default: {default}\n"
        for var, flag, doc, default in _defaults()
    )


def settings_markdown() -> str:
    lines = [
        "# picdrop-server settings",
        "",
        "Every setting is an environment variable and a `picdrop-server serve` flag; a flag wins",
        "over the variable. Generated by `picdrop-server settings --markdown` (a test checks that",
        "this file is current).",
        "",
        "| variable | flag | default | meaning |",
        "|---|---|---|---|",
    ]
    for var, flag, doc, default in _defaults():
        cell = doc.replace("|", "\\|")
        lines.append(f"| `{var}` | `{flag}` | `{default}` | {cell} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
