"""Which address a request comes from, and the part of it a rate limit keys on.

The peer address is the client unless the peer is a trusted reverse proxy; then X-Forwarded-For
is read from the right, skipping trusted proxies, and the first address that is not one is the
client (the left part of the header is whatever the client wrote, and is never believed).
IPv4 clients are keyed per address (/32); IPv6 clients per /64, the smallest prefix a home or a
server is usually given, so rotating through one's own /64 does not buy more uploads.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str, what: str = "trusted proxies") -> tuple[IPNetwork, ...]:
    """'10.0.0.0/8, 127.0.0.1, ::1' -> networks. Raises ValueError naming `what`."""
    networks = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{what}: {part!r} is not an IP address or CIDR network") from None
    return tuple(networks)


def parse_address(text: str) -> IPAddress | None:
    """An address as proxies write it ('1.2.3.4', '1.2.3.4:5678', '[::1]:80', '::1')."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    return any(address in net for net in networks if net.version == address.version)


def is_trusted(peer: str | None, trusted: tuple[IPNetwork, ...]) -> bool:
    """Whether the peer (as the socket gives it) is one of the trusted proxies."""
    address = parse_address(peer) if peer else None
    return address is not None and _trusted(address, trusted)


def client_address(
    peer: str | None, forwarded_for: list[str], trusted: tuple[IPNetwork, ...]
) -> IPAddress | None:
    """The client's address, or None when there is none to be had (e.g. a Unix socket peer)."""
    address = parse_address(peer) if peer else None
    if address is None or not trusted or not _trusted(address, trusted):
        return address
    hops = [h for header in forwarded_for for h in header.split(",") if h.strip()]
    for hop in reversed(hops):
        hop_address = parse_address(hop)
        if hop_address is None:
            break  # garbage in the chain: stop at the last address we could trust
        address = hop_address
        if not _trusted(hop_address, trusted):
            break
    return address


def network_prefix(address: IPAddress) -> bytes:
    """What the rate limits key on: the IPv4 address, or the /64 of an IPv6 address."""
    if isinstance(address, ipaddress.IPv4Address):
        return b"4" + address.packed
    return b"6" + address.packed[:8]
