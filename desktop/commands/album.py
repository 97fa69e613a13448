"""`picdrop upload --album`: one link for the uploaded files, asked for once they are all done and
recorded in the history (`picdrop delete` with the album's link deletes it, not its images)."""

from __future__ import annotations

from desktop.commands.report import Outcome, Reporter
from desktop.commands.status import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE
from desktop.core.albums import MIN_ALBUM_IMAGES, AlbumFailed, AlbumRequest, make_album
from desktop.core.api import AlbumResult, PicdropClient
from desktop.core.history import HistoryStore
from desktop.core.jobs import new_key
from desktop.core.pipeline import is_picdrop_server


def publish_album(
    server: str, outcomes: list[Outcome], history: HistoryStore, reporter: Reporter
) -> tuple[int, AlbumResult | None]:
    """Make the album of the uploaded files and print its link after theirs: the exit status
    it adds (EXIT_OK when made) and the album."""
    if not is_picdrop_server(server):  # the app sent them to a ShareX custom uploader
        reporter.note("no album: the files did not go to a picdrop server (albums are its)")
        return EXIT_FAILED, None
    members = tuple((o.result["id"], o.result["delete_token"]) for o in outcomes if o.result)
    if len(members) < MIN_ALBUM_IMAGES:
        reporter.note(f"no album: an album needs {MIN_ALBUM_IMAGES} or more uploaded images")
        return EXIT_FAILED, None
    client = PicdropClient(server)
    try:
        album = make_album(client, AlbumRequest(server, members))
    except AlbumFailed as exc:
        reporter.note(str(exc))
        return (EXIT_UNREACHABLE if exc.unreachable else EXIT_FAILED), None
    finally:
        client.close()
    history.add_album(new_key(), server, album)
    reporter.album(album)
    return EXIT_OK, album
