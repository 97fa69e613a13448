"""Which addresses the server may connect to when it fetches an image from a URL for a client.

Only public unicast addresses: never loopback, private, link-local (cloud metadata services),
shared (carrier NAT), reserved, protocol-assignment, documentation, multicast or unspecified
ones. An IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo, NAT64) is judged by every
address it carries, or `::ffff:127.0.0.1` would reach the loopback. Operators (and tests) may
allow exact `address:port` pairs besides.
"""

from __future__ import annotations

import ipaddress

from backend.abuse.addresses import IPAddress

NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# Blocks Python 3.11 counts as global: the IETF protocol assignments (DS-Lite, PCP and TURN
# anycast, NAT64 discovery; 192.0.0.8 until 3.12.4, CPython gh-113171) and IPv6 documentation
# (RFC 9637). No image host lives there.
NOT_GLOBAL = (ipaddress.ip_network("192.0.0.0/24"), ipaddress.ip_network("3fff::/20"))
# IPv6 unicast on the internet is 2000::/3 (RFC 4291). Python calls much of the rest global too:
# IPv4-compatible ::a.b.c.d (which sit tunnels to that IPv4 address), site-local fec0::/10, the
# IETF's reserved blocks. Outside it only the forms carrying an IPv4 address (mapped, NAT64) pass.
GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")

Endpoint = tuple[IPAddress, int]


def _carried(address: IPAddress) -> list[IPAddress]:
    """The address and every IPv4 address it carries."""
    found: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            found.append(address.ipv4_mapped)
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address.teredo is not None:
            found.extend(address.teredo)
        if any(address in prefix for prefix in NAT64_PREFIXES):
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _in_unicast_space(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv4Address) or address in GLOBAL_UNICAST_V6:
        return True
    return address.ipv4_mapped is not None or any(address in p for p in NAT64_PREFIXES)


def is_public(address: IPAddress) -> bool:
    """Whether the address, and every address it carries, is a public unicast one."""
    return _in_unicast_space(address) and all(
        a.is_global and not a.is_multicast and not any(a in block for block in NOT_GLOBAL)
        for a in _carried(address)
    )


def parse_endpoints(value: str, what: str = "endpoints") -> frozenset[Endpoint]:
    """'127.0.0.1:8080, [::1]:9000' -> {(address, port)}. Raises ValueError naming `what`."""
    endpoints = set()
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        host, colon, port = part.rpartition(":")
        try:
            address = ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
            if not colon or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError
        except ValueError:
            raise ValueError(f"{what}: {part!r} is not an address:port") from None
        endpoints.add((address, int(port)))
    return frozenset(endpoints)


def may_connect(address: IPAddress, port: int, allowed: frozenset[Endpoint]) -> bool:
    """Whether a fetch may connect to this address and port."""
    return is_public(address) or (address, port) in allowed
