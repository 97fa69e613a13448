"""The upload pipeline's state machine, without a server or Qt: workers and reports run one at a
time from a hand-driven loop, and the destination is a fake that does what each test scripts."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from desktop.core.api import ApiError, CancelToken, ServerUnreachable, UploadResult
from desktop.core.history import HistoryStore
from desktop.core.intake import BytesSource, FileSource
from desktop.core.jobs import Job, JobState
from desktop.core.pipeline import Pipeline, PipelineEvents
from desktop.core.retry import RetryPolicy

NO_WAIT = RetryPolicy(max_attempts=3, base=0.0, cap=0.0)


def png(color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(out, "PNG")
    return out.getvalue()


@dataclass
class Sent:
    destination: str
    idem_key: str
    name: str
    data: bytes
    expires: str | None


@dataclass
class FakeHost:
    """Every client made talks to this; `script` says how each upload try ends (None: 201)."""

    script: list[Exception | None] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def client(self, destination: str) -> FakeClient:
        return FakeClient(self, destination)


@dataclass
class FakeClient:
    host: FakeHost
    destination: str

    def upload(
        self,
        data: bytes,
        name: str,
        mime: str,
        *,
        idempotency_key: str,
        expires: str | None,
        progress: Callable[[int, int], None] | None,
        cancel: CancelToken,
    ) -> UploadResult:
        self.host.sent.append(Sent(self.destination, idempotency_key, name, data, expires))
        outcome = self.host.script.pop(0) if self.host.script else None
        if outcome is not None:
            raise outcome
        if progress is not None:
            progress(len(data), len(data))
        n = len(self.host.sent)
        return UploadResult(
            id=f"id{n}",
            url=f"{self.destination}/id{n}.png",
            page_url=f"{self.destination}/id{n}",
            thumbnail_url="",
            delete_url="",
            delete_token=f"token{n}",
            width=4,
            height=4,
            size=len(data),
            mime=mime,
            sha256="",
        )

    def delete(self, image_id: str, token: str) -> None:
        self.host.deleted.append(image_id)

    def close(self) -> None:
        pass


class Recorder(PipelineEvents):
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def job_changed(self, job: Job) -> None:
        self.seen.append(("changed", job.state.value))

    def job_done(self, job: Job) -> None:
        self.seen.append(("done", job.key))

    def job_removed(self, job: Job) -> None:
        self.seen.append(("removed", job.name))

    def batch_finished(self, batch: str) -> None:
        self.seen.append(("batch", batch))

    def of(self, kind: str) -> list[str]:
        return [what for k, what in self.seen if k == kind]


class Loop:
    """Workers and reports, run one at a time when the test says so."""

    def __init__(self) -> None:
        self.work: list[Callable[[], None]] = []
        self.reports: list[Callable[[], None]] = []

    def start(self, work: Callable[[], None]) -> None:
        self.work.append(work)

    def post(self, report: Callable[[], None]) -> None:
        self.reports.append(report)

    def step_work(self) -> None:
        self.work.pop(0)()

    def deliver(self) -> None:
        while self.reports:
            self.reports.pop(0)()

    def settle(self) -> None:
        while self.work or self.reports:
            if self.reports:
                self.reports.pop(0)()
            else:
                self.work.pop(0)()


@pytest.fixture
def history(tmp_path: Path):
    store = HistoryStore(tmp_path / "history.sqlite3")
    yield store
    store.close()


@dataclass
class Rig:
    pipeline: Pipeline
    loop: Loop
    host: FakeHost
    events: Recorder
    staged: list[str]


@pytest.fixture
def rig(history: HistoryStore) -> Rig:
    loop, host, events, staged = Loop(), FakeHost(), Recorder(), []
    pipeline = Pipeline(
        history,
        "http://dest.test/",
        events,
        start=loop.start,
        post=loop.post,
        parallel=2,
        policy=NO_WAIT,
        client_factory=host.client,
        after_staging=lambda key, _data: staged.append(key),
    )
    return Rig(pipeline, loop, host, events, staged)


def test_a_batch_is_staged_recorded_sent_and_finished(rig: Rig, history: HistoryStore) -> None:
    batch = rig.pipeline.enqueue(
        [BytesSource(png(), "a.png"), BytesSource(png((0, 0, 9)), "b.png")], expires="1d"
    )
    jobs = rig.pipeline.queue.batch_jobs(batch)
    assert [j.state for j in jobs] == [JobState.QUEUED, JobState.QUEUED]
    rig.loop.settle()

    assert [j.state for j in jobs] == [JobState.DONE, JobState.DONE]
    # One idempotency key per file, the job's; the bytes sent are the ones recorded.
    assert [s.idem_key for s in rig.host.sent] == [j.idem_key for j in jobs]
    assert {s.destination for s in rig.host.sent} == {"http://dest.test"}
    assert {s.expires for s in rig.host.sent} == {"1d"}
    for job in jobs:
        item = history.get(job.key)
        assert item is not None and item.state is JobState.DONE
        assert item.url == job.result.url and item.server == "http://dest.test"
        assert history.payload(job.key) is None  # sent: the stored copy is gone
    assert rig.events.of("batch") == [batch]
    # The thumbnail maker got each file, and nothing waited for it.
    assert rig.staged == [j.key for j in jobs]


def test_a_folder_is_expanded_by_its_staging_worker(rig: Rig, tmp_path: Path) -> None:
    folder = tmp_path / "pictures"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.png").write_bytes(png())
    (folder / "sub" / "a.png").write_bytes(png((1, 2, 3)))
    (folder / "notes.txt").write_text("not an image")
    empty = tmp_path / "empty"
    empty.mkdir()

    batch = rig.pipeline.enqueue([FileSource(folder), FileSource(empty)])
    assert [j.name for j in rig.pipeline.queue.batch_jobs(batch)] == ["pictures", "empty"]
    rig.loop.settle()

    jobs = rig.pipeline.queue.batch_jobs(batch)
    assert [(j.name, j.state) for j in jobs] == [
        ("empty", JobState.FAILED),
        ("b.png", JobState.DONE),
        ("a.png", JobState.DONE),
    ]
    assert jobs[0].error == "There are no images in this folder."
    assert rig.events.of("removed") == ["pictures"]
    assert rig.events.of("batch") == [batch]  # once, when the files were done


@pytest.mark.parametrize(
    ("script", "state", "tries", "unreachable", "can_retry"),
    [
        ([], JobState.DONE, 1, False, False),
        ([ApiError(503, "Busy")], JobState.DONE, 2, False, False),  # retried, same key
        ([ApiError(429, "Slow down", retry_after=0)], JobState.DONE, 2, False, False),
        # Final, never retried, and no Retry offered: the same bytes get the same answer.
        ([ApiError(400, "Not an image")], JobState.FAILED, 1, False, False),
        ([ApiError(415, "Not a type we take")], JobState.FAILED, 1, False, False),
        ([ApiError(503, "Busy")] * 3, JobState.FAILED, 3, False, True),
        ([ServerUnreachable("http://dest.test", "refused")] * 3, JobState.FAILED, 3, True, True),
    ],
)
def test_send_outcomes(
    rig: Rig,
    history: HistoryStore,
    script: list[Exception],
    state: JobState,
    tries: int,
    unreachable: bool,
    can_retry: bool,
) -> None:
    rig.host.script = list(script)
    rig.pipeline.enqueue([BytesSource(png(), "a.png")])
    rig.loop.settle()
    (job,) = rig.pipeline.queue
    assert job.state is state
    assert job.unreachable is unreachable
    assert len(rig.host.sent) == tries
    assert {s.idem_key for s in rig.host.sent} == {job.idem_key}
    item = history.get(job.key)
    assert item is not None and item.state is state
    assert job.can_retry is can_retry
    if state is JobState.FAILED:
        assert item.error == job.error != ""
        assert history.payload(job.key) is not None  # kept for a retry
        rig.pipeline.retry(job.key)
        assert (job.state is not JobState.FAILED) is can_retry  # started again, or not


def test_parallel_limit_and_pause(rig: Rig) -> None:
    rig.pipeline.set_paused(True)
    rig.pipeline.enqueue([BytesSource(png((i, 0, 0)), f"{i}.png") for i in range(3)])
    rig.loop.settle()  # staged, none sent while paused
    assert rig.host.sent == []
    assert all(j.ready and j.state is JobState.QUEUED for j in rig.pipeline.queue)

    rig.pipeline.set_paused(False)
    assert [j.state for j in rig.pipeline.queue].count(JobState.UPLOADING) == 2
    assert len(rig.loop.work) == 2  # two senders started, the third waits for a slot
    rig.loop.settle()
    assert [j.state for j in rig.pipeline.queue] == [JobState.DONE] * 3


def test_cancelled_before_staging_is_never_sent(rig: Rig, history: HistoryStore) -> None:
    rig.pipeline.enqueue([BytesSource(png(), "a.png")])
    (job,) = rig.pipeline.queue
    rig.pipeline.cancel(job.key)
    rig.loop.settle()
    assert job.state is JobState.CANCELLED
    assert rig.host.sent == []
    item = history.get(job.key)
    assert item is not None and item.state is JobState.CANCELLED  # not resumed next start


def test_retry_after_cancel_sends_a_new_key(rig: Rig, history: HistoryStore) -> None:
    rig.pipeline.enqueue([BytesSource(png(), "a.png")])
    (job,) = rig.pipeline.queue
    rig.loop.step_work()  # staged
    rig.loop.deliver()  # ready: its sender is started
    rig.pipeline.cancel(job.key)
    first = job.idem_key
    rig.pipeline.retry(job.key)
    rig.loop.settle()
    assert job.state is JobState.DONE
    assert job.idem_key != first
    # The cancelled try stopped before sending; the retry sent under the new key.
    assert [s.idem_key for s in rig.host.sent] == [job.idem_key]
    assert history.get(job.key).idem_key == job.idem_key


def test_an_upload_done_as_it_was_cancelled_is_taken_back(rig: Rig) -> None:
    rig.pipeline.enqueue([BytesSource(png(), "a.png")])
    (job,) = rig.pipeline.queue
    rig.loop.step_work()  # staged
    rig.loop.deliver()
    rig.loop.step_work()  # sent: the server has it, its answer is on the way
    rig.pipeline.cancel(job.key)
    rig.loop.settle()
    assert job.state is JobState.CANCELLED
    assert job.result is None
    assert rig.host.deleted == ["id1"]


def test_resume_sends_the_recorded_bytes_to_the_recorded_destination(
    history: HistoryStore,
) -> None:
    first = Rig(*_pipeline(history, "http://old.test"))
    first.pipeline.enqueue([BytesSource(png(), "a.png")])
    first.loop.step_work()  # staged and recorded, then the app stops
    first.pipeline.stop()

    (job,) = first.pipeline.queue
    recorded = history.payload(job.key)

    second = Rig(*_pipeline(history, "http://new.test"))
    (key,) = second.pipeline.resume_unfinished()
    second.loop.settle()
    (sent,) = second.host.sent
    assert (sent.destination, sent.idem_key, sent.data) == ("http://old.test", key, recorded)
    assert second.pipeline.queue.get(key).state is JobState.DONE


def _pipeline(history: HistoryStore, destination: str):
    loop, host, events = Loop(), FakeHost(), Recorder()
    pipeline = Pipeline(
        history,
        destination,
        events,
        start=loop.start,
        post=loop.post,
        policy=NO_WAIT,
        client_factory=host.client,
    )
    return pipeline, loop, host, events, []


@pytest.mark.parametrize(
    ("destination", "stripped"),
    [
        ("http://dest.test", False),  # a picdrop server strips itself: the setting applies
        ("sxcu:Other", True),  # any other host: the strip here is the only one, always on
    ],
)
def test_metadata_is_removed_for_every_host_but_a_picdrop_server_when_turned_off(
    history: HistoryStore, destination: str, stripped: bool
) -> None:
    from tests.backend import imagesamples as samples

    pipeline, loop, host, _events, _ = _pipeline(history, destination)
    pipeline.strip = False
    pipeline.enqueue([BytesSource(samples.jpeg_with_metadata(), "photo.jpg")])
    loop.settle()
    (sent,) = host.sent
    leaked = [s for s in samples.JPEG_SECRETS if s in sent.data]
    assert (leaked == []) is stripped


@dataclass
class SendsThenLosesTheServer:
    """Every try sends the whole body, then the connection drops before any answer."""

    def upload(self, data: bytes, name: str, mime: str, *, progress, **_kw) -> UploadResult:
        progress(0, len(data))
        progress(len(data) // 2, len(data))
        progress(len(data), len(data))
        raise ServerUnreachable("http://dest.test", "the connection was reset")

    def close(self) -> None:
        pass


def test_a_waiting_upload_shows_no_speed(history: HistoryStore) -> None:
    loop = Loop()
    pipeline = Pipeline(
        history, "http://dest.test", Recorder(), start=loop.start, post=loop.post,
        policy=RetryPolicy(max_attempts=5, base=0.0, cap=0.0),
        client_factory=lambda _d: SendsThenLosesTheServer(),
    )  # fmt: skip
    pipeline.enqueue([BytesSource(png(), "a.png")])
    (job,) = pipeline.queue
    while not job.status:  # staged, then sent until the first wait is reported
        loop.step_work() if not loop.reports else loop.reports.pop(0)()
    assert job.sent == 0 and job.speed == 0.0
    pipeline.stop()


@pytest.mark.parametrize(("handover", "first_try_reads"), [(64 << 20, 0), (0, 1)])
def test_a_first_try_sends_the_staged_bytes_and_a_retry_reads_them_back(
    rig: Rig, history: HistoryStore, monkeypatch, handover: int, first_try_reads: int
) -> None:
    """Staged bytes go to their first try from memory (within HANDOVER_BYTES), not read back
    from history; a retry reads what history recorded. Either way the same bytes are sent."""
    from desktop.core import pipeline

    monkeypatch.setattr(pipeline, "HANDOVER_BYTES", handover)
    reads: list[str] = []
    read = history.payload
    monkeypatch.setattr(history, "payload", lambda key: reads.append(key) or read(key))
    rig.host.script = [ServerUnreachable("http://dest.test", "refused")] * 3
    batch = rig.pipeline.enqueue([BytesSource(png(), "a.png")])
    (job,) = rig.pipeline.queue.batch_jobs(batch)
    rig.loop.settle()
    assert job.state is JobState.FAILED and len(reads) == first_try_reads

    rig.pipeline.retry(job.key)
    rig.loop.settle()
    assert job.state is JobState.DONE and len(reads) == first_try_reads + 1
    assert len({s.data for s in rig.host.sent}) == 1 and len(rig.host.sent) == 4
