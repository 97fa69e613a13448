"""The address policy of uploads from a URL, without any network: which addresses the server
may connect to, and the operator's exact address:port allowances."""

from __future__ import annotations

import ipaddress

import pytest

from backend.abuse.destinations import is_public, may_connect, parse_endpoints


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",  # loopback
        "127.0.0.2",
        "0.0.0.0",  # unspecified
        "10.1.2.3",  # private
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # link-local: cloud metadata services
        "100.64.0.1",  # shared address space (carrier NAT)
        "192.0.2.1",  # documentation
        "192.0.0.8",  # IETF protocol assignments (Python < 3.12.4 calls this one global)
        "192.0.0.9",
        "::ffff:192.0.0.8",
        "198.18.0.1",  # benchmarking
        "224.0.0.1",  # multicast
        "240.0.0.1",  # reserved
        "255.255.255.255",  # broadcast
        "::",
        "::1",
        "fe80::1",  # link-local
        "fc00::1",  # unique local
        "fd12:3456::1",
        "ff02::1",  # multicast
        "2001:db8::1",  # documentation
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a00:1::",  # 6to4 of 10.0.0.1
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo carrying 127.0.0.1
        # Python 3.11 calls these global:
        "::127.0.0.1",  # IPv4-compatible (deprecated ::/96, tunnelled to IPv4 by sit)
        "::10.0.0.1",
        "::ffff:0:7f00:1",  # IPv4-translated (::ffff:0:0/96)
        "fec0::1",  # site-local (deprecated, still routed inside some networks)
        "4000::1",  # reserved by the IETF (not in the global unicast 2000::/3)
        "3fff::1",  # documentation (RFC 9637)
    ],
)
def test_non_public_addresses_are_refused(address):
    assert not is_public(ipaddress.ip_address(address))
    assert not may_connect(ipaddress.ip_address(address), 80, frozenset())


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "1.1.1.1", "2606:4700::1111", "::ffff:93.184.216.34", "64:ff9b::5db8:d822"],
)
def test_public_addresses_are_allowed(address):
    assert is_public(ipaddress.ip_address(address))


def test_an_allowance_names_one_exact_address_and_port():
    allowed = parse_endpoints("127.0.0.1:8080, [::1]:9000")
    loopback = ipaddress.ip_address("127.0.0.1")
    assert may_connect(loopback, 8080, allowed)
    assert may_connect(ipaddress.ip_address("::1"), 9000, allowed)
    assert not may_connect(loopback, 8081, allowed)
    assert not may_connect(ipaddress.ip_address("127.0.0.2"), 8080, allowed)
    assert not may_connect(ipaddress.ip_address("::1"), 8080, allowed)


@pytest.mark.parametrize(
    "value", ["127.0.0.1", "localhost:80", "127.0.0.1:0", "127.0.0.1:65536", "10.0.0.0/8:80"]
)
def test_malformed_allowances_are_refused(value):
    with pytest.raises(ValueError, match="not an address:port"):
        parse_endpoints(value)
