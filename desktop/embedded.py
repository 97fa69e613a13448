"""The built-in local server: the backend started in this process when no server is configured.

The one module of the desktop app that imports `backend.server`.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from backend.catalog import CatalogDamaged
from backend.server import EmbeddedServer, quiet_library_logs
from backend.settings import Settings
from desktop.core.paths import damaged_name

log = logging.getLogger(__name__)

LOCALHOST = "127.0.0.1"


def lan_address() -> str:
    """This machine's address on its local network: the source address the OS would use to
    reach a public address (a UDP 'connect' sends no packet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere real
            return probe.getsockname()[0]
        except OSError:
            return LOCALHOST


class LocalServerDamaged(RuntimeError):
    """The built-in server's catalog is damaged: it cannot start on the data in `data_dir`."""

    def __init__(self, data_dir: Path, reason: str) -> None:
        super().__init__(reason)
        self.data_dir = data_dir


def keep_aside(data_dir: Path) -> Path:
    """Move the built-in server's folder (catalog and images together: a catalog's images must
    not meet another catalog's orphan sweep) aside under a dated name; where it went."""
    kept = damaged_name(data_dir)
    data_dir.rename(kept)
    log.warning("the built-in server's damaged data was kept as %s", kept)
    return kept


def start_embedded_server(
    data_dir: Path, *, port: int = 0, share_on_lan: bool = False
) -> EmbeddedServer:
    """Start the backend with its data in `data_dir`, on 127.0.0.1 or (sharing) the LAN address,
    which links are then built on. Tries `port` first, so links made in an earlier run keep
    working, then any free port. Raises LocalServerDamaged when its catalog is damaged."""
    quiet_library_logs()
    host = lan_address() if share_on_lan else LOCALHOST
    data_dir.mkdir(parents=True, exist_ok=True)
    last_error: Exception | None = None
    # Only this computer's user can reach a server on 127.0.0.1: a batch of a hundred drops must
    # not wait on the public server's rate limits. Shared on the LAN, the limits apply.
    limits = {} if share_on_lan else {"upload_rate": "off", "notfound_rate": "off"}
    for candidate in [port, 0] if port else [0]:
        settings = Settings(
            data_dir=data_dir, host=host, port=candidate, sweep_interval=600, **limits
        )
        server = EmbeddedServer(settings)
        try:
            server.start()
        except CatalogDamaged as exc:
            raise LocalServerDamaged(data_dir, str(exc)) from exc
        except OSError as exc:  # the remembered port is taken by another program
            last_error = exc
            log.info("port %s unavailable (%s), picking another", candidate, exc)
            continue
        return server
    raise RuntimeError(f"the built-in server could not start: {last_error}")
