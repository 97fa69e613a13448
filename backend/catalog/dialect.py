"""What differs between the catalog's SQL dialects, for the catalog's modules."""

from __future__ import annotations

from sqlalchemy import Connection


def dialect_insert(conn: Connection | str):
    """The INSERT with ON CONFLICT for the connection's database (or the dialect named)."""
    name = conn if isinstance(conn, str) else conn.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert
