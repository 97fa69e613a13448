"""Admin listings (reports, blocks, audit log) come in pages with a cursor, a fixed number of
queries a page whatever its size."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event

from backend.assembly import build
from backend.catalog import Catalog
from backend.catalog.catalog import MIGRATIONS
from backend.catalog.moderation import Fingerprint, ModerationCatalog
from backend.errors import BadRequest
from backend.settings import Settings
from tests.backend.test_moderation_http import ADMIN, admin, settings_overrides  # noqa: F401


@pytest.fixture(params=["sqlite", "postgresql"])
def moderation(request, tmp_path):
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else ""
    backend = build(Settings(data_dir=tmp_path, sweep_interval=0, database_url=url), migrate=True)
    yield backend.moderation
    backend.close()


@pytest.fixture
def selects():
    seen: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def every_page(listing, limit: int) -> list[tuple]:
    pages, cursor = [], None
    while True:
        page = listing(limit, cursor=cursor)
        pages.append(page.items)
        if page.next is None:
            return pages
        cursor = page.next


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 100])
def test_report_pages_visit_every_image_once_in_order(moderation, selects, limit):
    # 9 images: report counts 1..3, first reported at interleaved times, ties on both.
    for n in range(9):
        for k in range(n % 3 + 1):
            moderation.db.add_report(
                f"img{n:07d}", "spam", None, sha256=None, dhash=None,
                max_open_per_image=50, now=1000.0 + (n // 2) + k * 100,
            )  # fmt: skip
    expected = sorted(
        (g for g in every_page(moderation.open_reports, 100)[0]),
        key=lambda g: (-g.count, g.first_reported_at, g.image_id),
    )
    selects.clear()

    pages = every_page(moderation.open_reports, limit)

    assert [g for page in pages for g in page] == expected
    assert len(expected) == 9 and {g.count for g in expected} == {1, 2, 3}
    assert all(len(page) <= limit for page in pages)
    assert len(selects) <= 3 * len(pages)  # no query per image


@pytest.mark.parametrize("limit", [1, 3, 100])
def test_block_and_audit_pages_visit_every_entry_once(moderation, limit):
    for n in range(7):
        hashes = [Fingerprint("sha256", f"{n:064x}")]
        moderation.db.remove(f"img{n:07d}", hashes=hashes, actor="cli", note=None)

    blocks = [b.id for page in every_page(moderation.blocks, limit) for b in page]
    audit = [e.id for page in every_page(moderation.audit_log, limit) for e in page]

    assert len(blocks) == 7 and blocks == sorted(blocks)
    assert len(audit) == 7 and audit == sorted(audit, reverse=True)


@pytest.mark.parametrize("cursor", ["", "x", "1:nan:abc", "-1", "1:2", "9" * 30, "1:inf:a"])
def test_a_cursor_not_made_here_is_a_400(moderation, cursor):
    for listing in (moderation.open_reports, moderation.blocks, moderation.audit_log):
        if listing is moderation.open_reports and cursor in ("1:2",):
            continue  # not enough fields for a report cursor: checked below
        with pytest.raises(BadRequest):
            listing(10, cursor=cursor)
    with pytest.raises(BadRequest):
        moderation.open_reports(10, cursor="1:2")


@pytest.mark.parametrize("path", ["/api/admin/reports", "/api/admin/blocks", "/api/admin/audit"])
def test_admin_listings_answer_a_next_cursor_and_refuse_strange_ones(client, path):
    key = {"/api/admin/reports": "images", "/api/admin/blocks": "blocks"}.get(path, "entries")
    first = admin(client, "GET", path, params={"limit": 1})
    assert first.status_code == 200 and first.json() == {key: [], "next": None}
    bad = admin(client, "GET", path, params={"cursor": "not:a:cursor"})
    assert bad.status_code == 400 and bad.json()["code"]


def test_audit_log_pages_over_http(client):
    for _ in range(3):  # each dismissal is audited, reports or not
        assert admin(client, "POST", "/api/admin/images/AAAAAAAAAA/dismiss").status_code == 200
    first = admin(client, "GET", "/api/admin/audit", params={"limit": 2}).json()
    rest = admin(client, "GET", "/api/admin/audit", params={"cursor": first["next"]}).json()
    ids = [e["id"] for e in first["entries"] + rest["entries"]]
    assert len(first["entries"]) == 2 and rest["next"] is None
    assert ids == sorted(set(ids), reverse=True) and len(ids) == 3


def test_migration_lists_the_open_reports_already_there(tmp_path):
    """Reports made before the listing's summary (migration 0005) are listed after it."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with catalog.writing() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
        conn.exec_driver_sql(
            "INSERT INTO reports (image_id, reason, created_at, status) VALUES"
            " ('a', 'spam', 3, 'open'), ('b', 'spam', 1, 'open'), ('b', 'spam', 2, 'open'),"
            " ('c', 'spam', 0, 'dismissed')"
        )
    catalog.migrate()
    groups = ModerationCatalog(catalog).open_report_groups(10)
    assert [(g.image_id, g.count, g.first) for g, _, _ in groups] == [("b", 2, 1.0), ("a", 1, 3.0)]
    catalog.close()


@pytest.mark.parametrize("path", ["/api/admin/reports", "/api/admin/blocks", "/api/admin/audit"])
@pytest.mark.parametrize(
    "number",
    [
        "²",  # str.isdigit() says yes, int() says no
        "٣",  # an Arabic-Indic digit: int() reads it, no cursor of ours has it
        "１",  # a fullwidth digit
        "9" * 19,  # 19 digits: past SQLite's 64-bit integers
        str(2**63),
    ],
)
def test_a_cursor_number_not_made_here_is_a_400_over_http(client, path, number):
    cursor = f"{number}:1.0:AAAAAAAAAA" if path.endswith("reports") else number
    answer = admin(client, "GET", path, params={"cursor": cursor})
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "bad_request"
