"""The token a request carries in `Authorization: Bearer <token>` (delete and admin tokens)."""

from __future__ import annotations

from fastapi import Request

from backend.errors import Unauthorized


def bearer_token(request: Request, what: str) -> str:
    """The bearer token, or Unauthorized (401) naming `what` it should be, e.g. "delete token"."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(
            f"Send the {what} as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token
