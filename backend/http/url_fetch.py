"""Uploads from a URL: the server fetches the image for the client, then treats it like any
upload (same byte limit, same checks).

The fetch is a way into the server's network, so every hop is checked before it is made: only
http and https, the host name resolved here and every address it resolves to checked by
`backend.abuse.destinations` (a public address, or an `address:port` the operator allowed),
then the connection made to that checked address (the Host header and TLS name stay the
host's), so a second lookup cannot answer differently (DNS rebinding). Redirects are followed
by hand, each through the same checks. The answer is read as it streams and dropped at the
byte limit; the whole fetch, redirects included, has one deadline.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import httpx

from backend.abuse.destinations import Endpoint, may_connect, parse_endpoints
from backend.errors import ApiError, BadRequest
from backend.http.body import UploadBody, too_large

if TYPE_CHECKING:
    from backend.abuse.addresses import IPAddress
    from backend.settings import Settings

SCHEMES = ("http", "https")
MAX_REDIRECTS = 5
MAX_URL_LENGTH = 2048


class UrlRefused(ApiError):
    """The URL, or one it redirects to, leads somewhere this server does not fetch from."""

    status = 422
    code = "url_refused"


class UrlUnreachable(ApiError):
    """The fetch was allowed but did not bring an answer: no such host, refused, an error."""

    status = 422
    code = "url_unreachable"


class UrlTimeout(ApiError):
    status = 422
    code = "url_timeout"


@dataclass(frozen=True)
class UrlFetcher:
    max_bytes: int
    timeout: float
    allowed: frozenset[Endpoint] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> UrlFetcher:
        return cls(
            settings.max_bytes,
            settings.url_fetch_timeout,
            parse_endpoints(settings.url_fetch_allow),
        )

    async def fetch(self, url: str, body: UploadBody) -> None:
        """Write the image at `url` into `body`. Raises UrlRefused, UrlUnreachable, UrlTimeout,
        BadRequest (not a URL) or PayloadTooLarge (stopped at the limit)."""
        if len(url) > MAX_URL_LENGTH:
            raise BadRequest(f"The address is longer than {MAX_URL_LENGTH} characters.")
        try:
            with anyio.fail_after(self.timeout):
                # trust_env off: no proxy from the environment may carry the request elsewhere.
                async with httpx.AsyncClient(trust_env=False, timeout=self.timeout) as client:
                    await self._follow(client, url, body)
        except (TimeoutError, httpx.TimeoutException):
            raise UrlTimeout(
                f"The image at that address did not arrive within {self.timeout:g} seconds."
            ) from None
        except httpx.HTTPError:
            raise UrlUnreachable("The image could not be fetched from that address.") from None
        except UnicodeError:  # httpx decodes a redirect's host from IDNA before _follow sees it
            raise BadRequest("That address redirects to one that is not valid.") from None

    async def _follow(self, client: httpx.AsyncClient, url: str, body: UploadBody) -> None:
        target = _parse(url)
        for _ in range(MAX_REDIRECTS + 1):
            response = await client.send(await self._pinned(client, target), stream=True)
            try:
                if response.is_redirect:
                    target = _parse(response.headers["location"], target)
                    continue
                if response.status_code != 200:
                    raise UrlUnreachable(
                        f"That address answered HTTP {response.status_code}, not an image."
                    )
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise too_large(self.max_bytes)
                async for chunk in response.aiter_raw():
                    body.write(chunk)  # PayloadTooLarge as soon as the limit is crossed
                return
            finally:
                await response.aclose()
        raise UrlRefused(f"That address redirects more than {MAX_REDIRECTS} times.")

    async def _pinned(self, client: httpx.AsyncClient, target: httpx.URL) -> httpx.Request:
        """A request to `target` that connects to a checked address of its host."""
        port = target.port or (443 if target.scheme == "https" else 80)
        host = target.raw_host.decode("ascii")  # IDNA-encoded, as DNS and TLS know it
        address = await self._checked_address(host, port)
        extensions = {"sni_hostname": host} if target.scheme == "https" else {}
        return client.build_request(
            "GET",
            target.copy_with(host=str(address)),
            headers={
                "Host": target.netloc.decode("ascii"),
                "Accept": "image/*",
                "Accept-Encoding": "identity",  # the bytes counted are the bytes stored
            },
            extensions=extensions,
        )

    async def _checked_address(self, host: str, port: int) -> IPAddress:
        try:
            found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            raise UrlUnreachable("The host name of that address could not be found.") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).partition("%")[0]) for info in found]
        if not addresses or not all(may_connect(a, port, self.allowed) for a in addresses):
            raise UrlRefused(
                "That address leads to a private or local network; this server fetches "
                "images from public addresses only."
            )
        return addresses[0]


def _parse(url: str, base: httpx.URL | None = None) -> httpx.URL:
    """`url` (relative to `base`, a redirect's) as an address this server may fetch."""
    try:
        target = base.join(url) if base else httpx.URL(url.strip())
        host = target.host  # decoded from IDNA here: 'xn--' raises UnicodeError
    except (httpx.InvalidURL, UnicodeError):
        raise BadRequest("That is not a valid web address.") from None
    if target.scheme not in SCHEMES:
        raise UrlRefused("Only http:// and https:// addresses can be fetched.")
    if not host:
        raise BadRequest("That web address has no host.")
    return target
