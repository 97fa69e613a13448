"""Refuse requests that change something when a browser says another site sent them.

picdrop's forms (report, delete confirmation, the no-JavaScript upload) carry no session, so a
page elsewhere could make a visitor's browser post them (reports in the visitor's name, an upload
counted against their address). Browsers say where a request comes from: `Sec-Fetch-Site` (every
current browser), else `Origin`. Only same-origin requests, and ones the user typed or bookmarked
(`Sec-Fetch-Site: none`), are let through. Clients that send neither header (curl, the desktop
app, ShareX) are not browsers on someone else's page, and pass.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.http.errors import error_response
from backend.http.origin import host as origin_host

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REFUSAL = (
    "This form was sent from another website, and picdrop accepts forms only from its own "
    "pages: open the page on this server and send it from there."
)
ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})


def cross_site(request: Request) -> bool:
    """Whether a browser sent this request from a page of another origin."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site.strip().lower() not in ALLOWED_FETCH_SITES
    origin = request.headers.get("origin")
    if origin is None:
        return False
    try:
        sender = urlsplit(origin.strip())
    except ValueError:
        return True
    public_url = request.app.state.settings.public_url
    if public_url:
        ours = urlsplit(public_url)
        return (sender.scheme, sender.netloc.lower()) != (ours.scheme, ours.netloc.lower())
    # No public URL: the Host header (or a trusted proxy's X-Forwarded-Host) is all we know of
    # our name (the scheme may be hidden by a TLS-terminating proxy); "null" (sandboxed or
    # privacy-sensitive contexts) never matches.
    return sender.scheme not in ("http", "https") or sender.netloc.lower() != origin_host(request)


class RefuseCrossSite:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            request = Request(scope, receive)
            if cross_site(request):
                await error_response(request, 403, "cross_site", REFUSAL)(scope, receive, send)
                return
        await self.app(scope, receive, send)
