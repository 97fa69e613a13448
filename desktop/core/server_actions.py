"""What the client asks of a server besides uploads: deleting one, checking that it is there."""

from __future__ import annotations

from desktop.core.api import ApiError, BadAnswer, PicdropClient, PicdropError
from desktop.core.config import server_url_problem
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
    """Whether a picdrop server answers at `url`, and a sentence saying so (and what to do)."""
    problem = server_url_problem(url)
    if problem:
        return False, problem
    not_picdrop = (
        f"{url} answered{{}}, but it is not a picdrop server. Check the address (and the "
        "path, if picdrop runs below one)."
    )
    try:
        health = client.health()
    except BadAnswer:
        return False, printable(not_picdrop.format(""))
    except ApiError as exc:
        if exc.status >= 500 and exc.code:  # picdrop's own error answer: there, not ready
            return False, printable(f"{url} is picdrop, but not ready: {exc.message}")
        return False, printable(not_picdrop.format(f" {exc.status}"))
    except PicdropError as exc:
        return False, describe_error(exc) + " Check the address and that the server is running."
    if health.get("status") != "ok":
        return False, printable(not_picdrop.format(""))
    version = health.get("version", "")
    version = printable(version) if isinstance(version, str) else ""
    return True, printable(f"Connected to picdrop {version} at {url}")
