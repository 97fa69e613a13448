"""Image work's memory accounting (backend.http.imagework)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

import anyio
import pytest
from starlette.requests import Request

from backend.http.budget import ByteBudget
from backend.http.imagework import PIXEL_HEADROOM, ImageWork
from backend.images import TooManyPixels

MB = 1024 * 1024


@pytest.mark.parametrize(
    ("pixels", "trips"), [(1 * MB, 1), (20 * MB, 2)], ids=["in the headroom", "over it"]
)
def test_background_work_is_charged_from_its_measure_on_and_holds_its_bulk_slot(pixels, trips):
    """The measure reads the whole image too (a stored blob): charged as well, or many jobs
    measured at once would hold memory the budget does not see. Work no client waits for (the
    perceptual-hash pass, thumbnails) is measured in its bulk slot too, and done on the same
    trip when its pixels fit the headroom: small uploads always keep a slot of their own."""
    work = ImageWork(jobs=2, budget=ByteBudget(64 * MB), seconds=10)
    seen, ran = [], []
    work.job_observers.append(ran.append)

    def measure() -> int:
        seen.append((work.budget.used, work.running()))
        return pixels

    def job() -> str:
        seen.append((work.budget.used, work.running()))
        return "done"

    run = functools.partial(work.background, measure, job, extra_memory=300)
    assert anyio.run(run) == "done"
    (measured, measure_slots), (charged, work_slots) = seen
    assert measured >= 300 and charged >= 300 + pixels
    assert measure_slots == work_slots == 1
    assert len(ran) == trips
    assert work.budget.used == 0


def test_background_work_waits_for_its_bulk_slot_before_it_measures():
    """Two slots: a second background job waits while the first is measuring, and an upload
    still runs."""
    work = ImageWork(jobs=2, budget=ByteBudget(64 * MB), seconds=10)
    measuring, release = threading.Event(), threading.Event()

    def slow_measure() -> int:
        measuring.set()
        release.wait()
        return 1

    async def scenario() -> list[str]:
        done: list[str] = []

        async def background(measure: Callable[[], int]) -> None:
            done.append(await work.background(measure, lambda: "background"))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(background, slow_measure)
                await anyio.to_thread.run_sync(measuring.wait)
                tasks.start_soon(background, lambda: 1)
                while work.waiting() < 1:  # the second one waits for the bulk slot
                    await anyio.sleep(0.001)
                done.append(await work.run(_request(), bytes, lambda _data: 1, lambda _d: "upload"))
                release.set()
        return done

    assert anyio.run(scenario) == ["upload", "background", "background"]


async def _never_disconnects() -> dict:
    await anyio.sleep_forever()
    raise AssertionError("unreachable")


def _request() -> Request:
    return Request({"type": "http", "method": "POST", "headers": []}, _never_disconnects)


@pytest.mark.parametrize(
    ("body", "pixels", "trips"),
    [
        (400 * 1024, 1 * MB, 1),  # a small upload: its pixels fit the headroom
        (400 * 1024, PIXEL_HEADROOM, 1),  # exactly the headroom
        (400 * 1024, PIXEL_HEADROOM + 1, 2),  # over it: charged in full before the decode
        (400 * 1024, 20 * MB, 2),  # big: in a bulk slot
        (5 * MB, 0, 2),  # a body bigger than a small job can be
    ],
    ids=["small", "at-headroom", "over-headroom", "big-pixels", "big-body"],
)
def test_a_small_upload_is_measured_and_done_in_one_trip_a_bigger_one_charged_first(
    body, pixels, trips
):
    """Each trip to a thread costs GIL time (wake-ups, locks): a small upload is charged for
    pixels up to PIXEL_HEADROOM with its body, then measured and done in one trip, on one read
    of its body. Whatever the trips, its decode runs with all its memory charged."""
    work = ImageWork(jobs=2, budget=ByteBudget(64 * MB), seconds=10)
    ran, reads, seen = [], [], {}
    work.job_observers.append(ran.append)
    extra = 2 * body

    def read() -> bytes:
        reads.append(1)
        return b"x" * body

    def measure(data: bytes) -> int:
        seen["measure"] = (len(data), work.budget.used)
        return pixels

    def decode(data: bytes) -> str:
        seen["work"] = (len(data), work.budget.used)
        return "done"

    run = functools.partial(work.run, _request(), read, measure, decode, extra_memory=extra)
    assert anyio.run(run) == "done"
    assert (len(ran), len(reads)) == (trips, trips)
    assert seen["measure"][0] == seen["work"][0] == body
    assert seen["measure"][1] >= extra
    assert seen["work"][1] >= extra + pixels
    assert work.budget.used == 0


def test_an_upload_bigger_than_the_budget_is_refused_before_its_decode():
    work = ImageWork(jobs=2, budget=ByteBudget(1000), seconds=10)
    decoded = []
    run = functools.partial(
        work.run, _request(), lambda: b"x" * 600, lambda _data: 0, decoded.append, extra_memory=1200
    )
    with pytest.raises(TooManyPixels):
        anyio.run(run)
    assert decoded == []


def test_big_uploads_leave_a_slot_for_small_ones():
    """Two big uploads on two slots: one runs, the other waits for the bulk slot, and a small
    upload still gets the last one."""
    work = ImageWork(jobs=2, budget=ByteBudget(256 * MB), seconds=10)
    started, release = threading.Event(), threading.Event()

    def big(_data: bytes) -> str:
        started.set()
        release.wait()
        return "big"

    async def scenario() -> list[str]:
        done: list[str] = []

        async def upload(pixels: int, job: Callable[[bytes], str]) -> None:
            done.append(await work.run(_request(), bytes, lambda _data: pixels, job))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(upload, 20 * MB, big)
                tasks.start_soon(upload, 20 * MB, big)
                await anyio.to_thread.run_sync(started.wait)
                while work.waiting() < 1:  # the second big one, measured, waits for its slot
                    await anyio.sleep(0.001)
                await upload(1 * MB, lambda _data: "small")
                release.set()
        return done

    assert anyio.run(scenario) == ["small", "big", "big"]


@pytest.mark.parametrize("pixels", [1 * MB, 20 * MB], ids=["small", "big"])
def test_what_follows_the_work_keeps_its_charge_and_holds_no_slot(pixels):
    """An upload is stored (`then`) with the memory of its check still charged, so it makes no
    second claim on the budget; and in no image-work slot, as the store waits for the disk and
    for a group commit."""
    work = ImageWork(jobs=2, budget=ByteBudget(64 * MB), seconds=10)
    seen = {}

    def store(checked: str) -> str:
        seen["store"] = (checked, work.budget.used, work.running())
        return "stored"

    run = functools.partial(
        work.run, _request(), bytes, lambda _data: pixels, lambda _data: "checked", then=store
    )
    assert anyio.run(run) == "stored"
    checked, charged, slots = seen["store"]
    assert (checked, slots) == ("checked", 0)
    assert charged >= pixels
    assert work.budget.used == 0


def test_a_client_leaving_during_the_store_does_not_stop_it():
    """The work stops when its client leaves; a store under way completes, and its upload is
    what the route answers (to nobody) and counts."""
    work = ImageWork(jobs=2, budget=ByteBudget(64 * MB), seconds=10)
    gone = threading.Event()

    async def scenario() -> str:
        left = anyio.Event()

        async def receive() -> dict:
            await left.wait()
            gone.set()  # the route's watcher reads this message and stops the job at once
            return {"type": "http.disconnect"}

        def store(_checked: str) -> str:
            anyio.from_thread.run_sync(left.set)
            gone.wait()
            return "stored"

        request = Request({"type": "http", "method": "POST", "headers": []}, receive)
        with anyio.fail_after(30):
            return await work.run(request, bytes, lambda _d: MB, lambda _d: "checked", then=store)

    assert anyio.run(scenario) == "stored"
    assert work.budget.used == 0
