"""Abuse limits that need no identity: client keys are keyed hashes of a network prefix under a
salt that rotates daily, and the addresses themselves are never stored or logged."""
