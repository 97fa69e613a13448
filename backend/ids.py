"""Image IDs and delete tokens. Pure functions, no I/O."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

ALPHABET = string.digits + string.ascii_letters  # base62
TOKEN_BYTES = 24  # 192 bits; the design asks for at least 128


def new_id(length: int = 10) -> str:
    """A random base62 ID. 10 characters carry log2(62**10) ≈ 59.5 bits."""
    if length < 10:
        raise ValueError("IDs shorter than 10 characters are guessable")
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def is_valid_id(value: str, length: int | None = None) -> bool:
    if not 10 <= len(value) <= 32 or (length is not None and len(value) != length):
        return False
    return all(c in ALPHABET for c in value)


def new_delete_token() -> str:
    """A URL-safe secret, shown to the uploader once and stored only as a hash."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented token against the stored hash."""
    return hmac.compare_digest(hash_token(token), stored_hash)


# -- Idempotency keys ----------------------------------------------------------------------------
# A replayed upload must return the first answer, delete token included, but the token is stored
# only as a hash. So the replay record keeps the token encrypted under a key derived from the
# client's Idempotency-Key: only someone who knows that key can recover it.


def idempotency_key_hash(key: str) -> str:
    return hashlib.sha256(b"picdrop-idempotency\0" + key.encode()).hexdigest()


def _keystream(key: str, length: int) -> bytes:
    return hashlib.shake_256(b"picdrop-seal\0" + key.encode()).digest(length)


def seal_token(token: str, key: str) -> str:
    raw = token.encode()
    return bytes(a ^ b for a, b in zip(raw, _keystream(key, len(raw)), strict=True)).hex()


def unseal_token(sealed: str, key: str) -> str:
    raw = bytes.fromhex(sealed)
    plain = bytes(a ^ b for a, b in zip(raw, _keystream(key, len(raw)), strict=True))
    return plain.decode("ascii", "replace")  # tokens are ASCII; a wrong key gives garbage
