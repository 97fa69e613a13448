"""This server's address as its clients see it, for the links it builds (upload answers, pages,
oEmbed, the ShareX uploader) and for telling its own pages from other sites.

PICDROP_PUBLIC_URL decides when it is set. Otherwise the request says: its Host header and the
socket's scheme, or, when the peer is a trusted proxy (PICDROP_TRUSTED_PROXIES), the
X-Forwarded-Proto and X-Forwarded-Host that proxy sets (TLS ended at the proxy, a port other
than the default). From any other peer those headers are ignored: a client could otherwise point
the links the server hands out at a host of its choosing.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

from starlette.requests import Request

from backend.abuse.addresses import is_trusted
from backend.settings import Settings, env_name

SCHEMES = frozenset({"http", "https"})
# A DNS name (or a container's, with '_'), or an IP literal, with an optional port, and no longer
# than a name can be: anything else is not a host to link to.
HOST = re.compile(
    r"(?:[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9_.])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?"
)


def _nearest(request: Request, name: str) -> str | None:
    """The value the nearest proxy set: the last of a comma-separated chain."""
    hops = [hop.strip() for value in request.headers.getlist(name) for hop in value.split(",")]
    hops = [hop for hop in hops if hop]
    return hops[-1] if hops else None


def base_url(request: Request) -> str:
    """scheme://host[:port] (and the root path) of this server, without a trailing slash."""
    configured = request.app.state.settings.public_url
    if configured:
        return configured.rstrip("/")
    url = urlsplit(str(request.base_url))
    if not HOST.fullmatch(url.netloc):
        # Starlette checks the Host header's characters, not its length: a 1 MB Host would be
        # in every link (a 100-image album page of 400 MB). Name the address reached instead.
        without_host = [(k, v) for k, v in request.scope["headers"] if k != b"host"]
        url = urlsplit(str(Request({**request.scope, "headers": without_host}).base_url))
    client = request.client
    if is_trusted(client.host if client else None, request.app.state.guard.trusted):
        scheme = (_nearest(request, "x-forwarded-proto") or "").lower()
        if scheme in SCHEMES:
            url = url._replace(scheme=scheme)
        host = _nearest(request, "x-forwarded-host")
        if host and HOST.fullmatch(host):
            url = url._replace(netloc=host)
    return urlunsplit(url).rstrip("/")


def host(request: Request) -> str:
    """host[:port] of this server as the client addressed it (lower case)."""
    return urlsplit(base_url(request)).netloc.lower()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def public_url_warning(settings: Settings) -> str | None:
    """What to tell an operator whose links would be built from each request's Host header."""
    if settings.public_url or _loopback(settings.host):
        return None
    return (
        f"warning: {env_name('public_url')} is empty and the server listens on {settings.host}: "
        "links are built from each request's Host header (and, from the trusted proxies, "
        "X-Forwarded-Host/-Proto). Set it to the address clients use, e.g. https://img.example.org."
    )
