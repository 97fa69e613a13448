"""What the client asks of a server besides uploads: deleting one, checking that it is there."""

from __future__ import annotations

from desktop.core.api import ApiError, BadAnswer, PicdropClient, PicdropError
from desktop.core.printable import printable
from desktop.core.uploader import describe_error


def delete_upload(client: PicdropClient, image_id: str, delete_token: str) -> None:
    """Delete with the stored token; raises a PicdropError when it could not be deleted.
    Already gone (deleted elsewhere, expired) counts as deleted."""
    try:
        client.delete(image_id, delete_token)
    except ApiError as exc:
        if exc.status != 404:
            raise


def check_server(client: PicdropClient, url: str) -> tuple[bool, str]:
    """Whether a picdrop server answers at `url`, and a sentence saying so."""
    try:
        health = client.health()
    except BadAnswer:
        return False, printable(f"{url} answered, but not as picdrop.")
    except PicdropError as exc:
        return False, describe_error(exc)
    version = health.get("version", "")
    version = printable(version) if isinstance(version, str) else ""
    return True, printable(f"Connected to picdrop {version} at {url}")
