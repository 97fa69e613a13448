"""Abuse limits at the HTTP edge: uploads, reports, and 'not found' answers (ID guessing).

A client is known only by `RateLimits.client_key`: a keyed hash of its address (or its /64) that
changes every day. The address is read here, hashed, and forgotten; it is never stored, logged or
put in an error message.

'Not found' limit: every 404 a client gets counts (and so does a refused admin token). Once the
limit is used up, every request that names an ID is answered 429 — the existing IDs too, so a
client over the limit learns nothing about which IDs exist. A 404 is counted as it is about to be
sent, by the same atomic operation that checks the limit (`hit`): the one that does not fit is
sent as 429 instead, so simultaneous guesses cannot all slip in before any of them is counted.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.abuse.addresses import IPNetwork, client_address, parse_networks
from backend.abuse.ratelimit import RateLimits, Verdict
from backend.errors import RateLimited

# Paths that never name an image: not refused by the not-found limit.
EXEMPT_PATHS = frozenset(
    {
        "/",
        "/healthz",
        "/livez",
        "/openapi.json",
        "/api/docs",
        "/robots.txt",
        "/upload",
        "/api/upload",
    }
)
EXEMPT_PREFIXES = ("/static/", "/api/upload/", "/api/docs/")


def _limited(verdict: Verdict, what: str) -> RateLimited:
    seconds = verdict.retry_after
    wait = f"{seconds} seconds" if seconds != 1 else "a second"
    return RateLimited(
        f"Too many {what} from your network; try again in {wait}.",
        headers={"Retry-After": str(seconds)},
    )


class Guard:
    def __init__(self, limits: RateLimits, trusted_proxies: str) -> None:
        self.limits = limits
        self.trusted: tuple[IPNetwork, ...] = parse_networks(trusted_proxies)

    def client_key(self, scope: Scope) -> str:
        state = scope.setdefault("state", {})
        key = state.get("client_key")
        if key is None:
            client = scope.get("client")
            forwarded = [
                value.decode("latin-1")
                for name, value in scope.get("headers", ())
                if name == b"x-forwarded-for"
            ]
            address = client_address(client[0] if client else None, forwarded, self.trusted)
            key = state["client_key"] = self.limits.client_key(address)
        return key

    async def check_upload(self, request: Request) -> None:
        key = self.client_key(request.scope)
        verdict = await self.limits.ahit(self.limits.upload, "upload", key)
        if not verdict.allowed:
            raise _limited(verdict, "uploads")

    async def check_report(self, request: Request, image_id: str) -> bool:
        """Raise RateLimited, or say whether the report is new (True) or a repeat to drop."""
        key = self.client_key(request.scope)
        verdict = await self.limits.ahit(self.limits.report, "report", key)
        if not verdict.allowed:
            raise _limited(verdict, "reports")
        repeat = await self.limits.ahit(self.limits.report_repeat, "report-repeat", key, image_id)
        return repeat.allowed

    # -- the not-found limit --------------------------------------------------------------------
    @staticmethod
    def names_an_id(scope: Scope) -> bool:
        path = scope.get("path", "")
        return path not in EXEMPT_PATHS and not path.startswith(EXEMPT_PREFIXES)

    async def before(self, scope: Scope) -> RateLimited | None:
        if not self.limits.notfound or not self.names_an_id(scope):
            return None
        verdict = await self.limits.atest(self.limits.notfound, "notfound", self.client_key(scope))
        return None if verdict.allowed else _limited(verdict, "requests for missing images")

    async def count_answer(self, scope: Scope, status: int) -> RateLimited | None:
        """Count a guess that failed (404, a refused admin token) before it is answered; the
        refusal to send instead when it is one too many."""
        counts = status == 404 or (
            status in (401, 403) and scope.get("path", "").startswith("/api/admin/")
        )
        if not counts or not self.limits.notfound:
            return None
        verdict = await self.limits.ahit(self.limits.notfound, "notfound", self.client_key(scope))
        return None if verdict.allowed else _limited(verdict, "requests for missing images")


class GuardMiddleware:
    """Applies the not-found limit around every HTTP request."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = await self.guard.before(scope)
        if refused is not None:
            await self.refuse(refused, scope, receive, send)
            return
        replaced = False

        async def send_wrapper(message: Message) -> None:
            nonlocal replaced
            if replaced:  # the rest of an answer that was turned into a 429
                return
            if message["type"] == "http.response.start":
                over = await self.guard.count_answer(scope, message["status"])
                if over is not None:
                    replaced = True
                    await self.refuse(over, scope, receive, send)
                    return
            await send(message)

        await self.app(scope, receive, send_wrapper)

    @staticmethod
    async def refuse(refused: RateLimited, scope: Scope, receive: Receive, send: Send) -> None:
        from backend.http.errors import error_response

        request = Request(scope, receive)
        response = error_response(
            request, refused.status, refused.code, refused.message, refused.headers
        )
        await response(scope, receive, send)
