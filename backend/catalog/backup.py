"""A catalog backup: every table's rows with the schema revision they belong to, as gzipped JSON
lines, the same for SQLite and PostgreSQL (a backup of one restores into the other).

`write_backup` reads one consistent snapshot while the servers keep running. `load_backup`
empties the database (its schema down to nothing), builds the backup's revision, loads the
rows and migrates to this release's newest schema, in one transaction on PostgreSQL.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, delete, func, insert, inspect, select, text

from backend.catalog import versions
from backend.catalog.catalog import Catalog
from backend.catalog.schema import blobs, catalog_state, metadata

FORMAT = "picdrop-catalog-backup"
BATCH = 1000
SWEEP_HOLD = "sweep_hold"
SWEEP_RELEASED = "sweep_released"


class BadBackup(ValueError):
    """Not a picdrop catalog backup, or a damaged one."""


@dataclass(frozen=True)
class BackupInfo:
    revision: str
    taken_at: float
    rows: dict[str, int]


def write_backup(catalog: Catalog, path: Path) -> BackupInfo:
    """Every row of every table, from one snapshot."""
    rows: dict[str, int] = {}
    # As private as the database: it holds delete-token hashes and the audit log.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with (
        catalog.reading() as conn,
        open(fd, "wb") as raw,
        gzip.open(raw, "wt", encoding="utf-8") as out,
    ):
        if catalog.is_postgresql:  # SQLite: a read transaction is one snapshot already
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        revision = versions.current(conn)
        if revision is None:
            raise BadBackup("the catalog is empty: there is nothing to back up")
        info = {"format": FORMAT, "revision": revision, "taken_at": time.time()}
        out.write(json.dumps(info) + "\n")
        for table in metadata.sorted_tables:
            if table.name not in _tables(conn):
                continue  # an older schema
            rows[table.name] = 0
            for row in conn.execution_options(yield_per=BATCH).execute(select(table)):
                out.write(json.dumps({"t": table.name, "r": list(row)}) + "\n")
                rows[table.name] += 1
    return BackupInfo(revision, info["taken_at"], rows)


def load_backup(catalog: Catalog, path: Path) -> BackupInfo:
    """Replace everything in the catalog with the backup, then migrate to the newest schema."""
    rows: dict[str, int] = {}
    with _lines(path) as lines, catalog.writing() as conn:
        info = _header(next(lines, None))
        versions.migrate(conn, "base")
        versions.migrate(conn, info["revision"])
        tables = {t.name: t for t in metadata.sorted_tables if t.name in _tables(conn)}
        batch: list[dict] = []
        table = None
        for number, line in enumerate(lines, start=2):
            name, values = _row(line, number)
            if table is None or name != table.name:
                _insert(conn, table, batch)
                if name not in tables:
                    raise BadBackup(f"line {number}: not a picdrop catalog table: {name!r}")
                table, batch = tables[name], []
            if len(values) != len(table.columns):
                raise BadBackup(f"line {number}: not a row of {name}")
            batch.append(dict(zip([c.name for c in table.columns], values, strict=True)))
            rows[table.name] = rows.get(table.name, 0) + 1
            if len(batch) >= BATCH:
                _insert(conn, table, batch)
                batch = []
        _insert(conn, table, batch)
        if catalog.is_postgresql:
            _reset_sequences(conn, tables.values())
        versions.migrate(conn, "head")
    return BackupInfo(info["revision"], info["taken_at"], rows)


def _row(line: str, number: int) -> tuple[str, list]:
    try:
        item = json.loads(line)
        name, values = item["t"], item["r"]
    except (ValueError, TypeError, KeyError):
        raise BadBackup(f"line {number}: not a line of a picdrop catalog backup") from None
    if not isinstance(name, str) or not isinstance(values, list):
        raise BadBackup(f"line {number}: not a line of a picdrop catalog backup")
    return name, values


def _insert(conn: Connection, table, batch: list[dict]) -> None:
    if table is not None and batch:
        conn.execute(insert(table), batch)


def _reset_sequences(conn: Connection, tables) -> None:
    """Rows came with their IDs: the next generated ID follows the highest one."""
    for table in tables:
        for column in table.primary_key.columns:
            if column.autoincrement is True or (
                column.autoincrement == "auto" and column.type.python_type is int
            ):
                top = conn.execute(select(func.max(column))).scalar()
                if top is not None:
                    conn.execute(
                        text("SELECT setval(pg_get_serial_sequence(:t, :c), :v)"),
                        {"t": table.name, "c": column.name, "v": top},
                    )


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


@contextmanager
def _lines(path: Path) -> Iterator[Iterator[str]]:
    """The backup's lines; a file that is not gzip, or is cut short, is refused."""

    def read() -> Iterator[str]:
        try:
            yield from file
        except (OSError, EOFError) as exc:
            raise BadBackup(f"{path}: not a complete picdrop catalog backup ({exc})") from None

    with gzip.open(path, "rt", encoding="utf-8") as file:
        yield read()


def _header(line: str | None) -> dict:
    try:
        info = json.loads(line or "")
    except ValueError:
        info = None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise BadBackup("not a picdrop catalog backup")
    if not versions.known(info["revision"]):
        raise versions.SchemaTooNew(
            f"the backup's schema (revision {info['revision']}) is newer than this release knows"
        )
    return info


# -- the hold on the orphan sweep (see backend/sweep_guard.py) -----------------------------------
def hold_sweep(catalog: Catalog, reason: str) -> None:
    _set_state(catalog, SWEEP_HOLD, reason)


def sweep_hold(catalog: Catalog) -> tuple[str | None, bool]:
    """(why a restore held the sweep or None, whether an operator ever released it)."""
    with catalog.reading() as conn:
        state = dict(conn.execute(select(catalog_state.c.key, catalog_state.c.value)).all())
    return state.get(SWEEP_HOLD), SWEEP_RELEASED in state


def references_blobs(catalog: Catalog) -> bool:
    with catalog.reading() as conn:
        return conn.execute(select(blobs.c.key).limit(1)).first() is not None


def release_sweep(catalog: Catalog) -> None:
    """The operator's word: the store's blobs are this catalog's to sweep."""
    with catalog.writing() as conn:
        conn.execute(delete(catalog_state).where(catalog_state.c.key == SWEEP_HOLD))
    _set_state(catalog, SWEEP_RELEASED, str(time.time()))


def _set_state(catalog: Catalog, key: str, value: str) -> None:
    with catalog.writing() as conn:
        conn.execute(delete(catalog_state).where(catalog_state.c.key == key))
        conn.execute(insert(catalog_state).values(key=key, value=value))
