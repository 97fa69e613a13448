"""`build(settings)`: the backend's parts, assembled once for the app, the CLI, benches and tests.

The parts and who uses whom (one way): the HTTP routes and the CLI use `ImageService` and
`Moderation`; both use the `Catalog` (rows, in SQL) and the `BlobStore` (bytes), which know
nothing of each other or of their users.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from backend.albums import Albums
from backend.catalog import Catalog
from backend.moderation import Moderation
from backend.scanner import Scanner
from backend.service import ImageService, UploadCheck
from backend.settings import Settings
from backend.storage import BlobStore, store_from_settings
from backend.sweep_process import sweep_orphans_apart


@dataclass(frozen=True)
class Backend:
    settings: Settings
    catalog: Catalog
    store: BlobStore
    images: ImageService
    moderation: Moderation
    albums: Albums

    def close(self) -> None:
        self.catalog.close()


def build(
    settings: Settings,
    *,
    catalog: Catalog | None = None,
    store: BlobStore | None = None,
    checks: Iterable[UploadCheck] = (),
    migrate: bool = False,
) -> Backend:
    """The backend for `settings`; `catalog`, `store` and extra `checks` replace or add parts
    (tests). `migrate`: bring the catalog's schema up to date now (the app does it on startup)."""
    # A child process can build the same parts; a frozen app (the desktop's embedded server, one
    # person's store) has no Python to spawn one with.
    sweep_apart = catalog is None and store is None and not getattr(sys, "frozen", False)
    catalog = catalog or Catalog(
        settings.resolved_database_url,
        pool_size=settings.database_pool_size,
        connect_timeout=settings.database_connect_timeout,
        statement_timeout=settings.database_statement_timeout,
        pool_timeout=settings.database_pool_timeout,
    )
    if migrate:
        catalog.migrate()
    store = store or store_from_settings(settings)
    screens = []
    if settings.scanner_url:
        screens.append(Scanner(settings.scanner_url, settings.scanner_timeout))
    images = ImageService(settings, catalog, store, checks=checks, screens=screens)
    moderation = Moderation(settings, catalog, store, images)
    # Before anything is stored: removed content stays out, then the operator's scanner decides.
    # The blocklist decodes every frame, so it is a check: CPU work, under the CPU limiter.
    images.checks.append(moderation.screen)
    images.fingerprint_now = moderation.fingerprint_at_upload
    if sweep_apart:
        images.orphan_sweep = partial(sweep_orphans_apart, settings)
    albums = Albums(catalog, images)
    return Backend(settings, catalog, store, images, moderation, albums)
