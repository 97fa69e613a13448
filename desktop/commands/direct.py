"""`picdrop upload` to a server it talks to itself: the same prepare / record / upload-with-retry
steps as the app's workers, one file after the other, recorded in the same history."""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass, field

from desktop.commands.inputs import Input
from desktop.commands.report import Reporter
from desktop.core.api import CancelToken, PicdropClient, PicdropError, ServerUnreachable
from desktop.core.history import HistoryItem, HistoryStore
from desktop.core.jobs import JobState, new_key
from desktop.core.prepare import prepare
from desktop.core.retry import RetryPolicy
from desktop.core.uploader import describe_error, describe_wait, upload_with_retry

# A command should not hang for minutes on a dead server: three tries within a few seconds.
CLI_RETRY = RetryPolicy(max_attempts=3, base=0.5, cap=2.0, max_retry_after=60.0)


def upload_direct(
    inputs: list[Input],
    server: str,
    history: HistoryStore,
    reporter: Reporter,
    *,
    expires: str | None = None,
    strip: bool = True,
    policy: RetryPolicy = CLI_RETRY,
) -> None:
    uploader = DirectUploader(server, history, reporter, expires, strip, policy)
    try:
        for index, item in enumerate(inputs):
            if uploader.upload(index, item):
                continue
            # The server is unreachable: the rest would fail the same way, after the same wait.
            for rest in range(index + 1, len(inputs)):
                reporter.failed(rest, "not tried: the server is unreachable", unreachable=True)
            break
    finally:
        uploader.close()


@dataclass
class DirectUploader:
    server: str
    history: HistoryStore
    reporter: Reporter
    expires: str | None
    strip: bool
    policy: RetryPolicy
    batch: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        self.client = PicdropClient(self.server)

    def close(self) -> None:
        self.client.close()

    def upload(self, index: int, item: Input) -> bool:
        """Upload one file; False when the server could not be reached at all."""
        reporter, history = self.reporter, self.history
        try:
            prepared = prepare(item.name, item.read(), strip=self.strip)
        except OSError as exc:
            reporter.failed(index, f"cannot read this file: {exc.strerror or exc}")
            return True
        key = new_key()
        # Recorded with its bytes before the first byte is sent, exactly as the app does.
        history.add_queued(
            HistoryItem(
                key=key,
                idem_key=key,
                batch=self.batch,
                name=item.name,
                size=len(prepared.data),
                mime=prepared.mime,
                state=JobState.QUEUED,
                server=self.server,
                created_at=time.time(),
                removed=prepared.removed,
                thumbnail=prepared.thumbnail,
                expires=self.expires,
            ),
            prepared.data,
        )
        history.set_state(key, JobState.UPLOADING)
        # The row leaves "uploading" whatever happens below: done, failed, or (Ctrl+C) cancelled.
        settled = False
        try:
            result = upload_with_retry(
                self.client,
                prepared.data,
                item.name,
                prepared.mime,
                key=key,
                policy=self.policy,
                cancel=CancelToken(),
                progress=lambda sent, total: reporter.sending(index, sent, total),
                waiting=lambda error, delay, _n: reporter.waiting(
                    index, describe_wait(error, delay)
                ),
                expires=self.expires,
            )
            history.set_done(key, result)
            settled = True
        except KeyboardInterrupt:
            history.set_state(key, JobState.CANCELLED)
            settled = True
            raise
        except PicdropError as exc:
            message = describe_error(exc)
            history.set_state(key, JobState.FAILED, message)
            settled = True
            unreachable = isinstance(exc, ServerUnreachable)
            reporter.failed(index, message, unreachable=unreachable)
            return not unreachable
        finally:
            if not settled:
                history.set_state(key, JobState.FAILED, "The upload stopped on an error.")
        reporter.done(index, dataclasses.asdict(result))
        return True
