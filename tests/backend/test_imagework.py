"""Image work's memory accounting (backend.http.imagework)."""

from __future__ import annotations

import functools

import anyio

from backend.http.budget import ByteBudget
from backend.http.imagework import ImageWork


def test_the_bytes_a_job_reads_are_charged_from_its_measure_on():
    """The measure reads the whole image too (an upload's body, a stored blob): charged as well,
    or many uploads measured at once would hold memory the budget does not see."""
    work = ImageWork(jobs=1, budget=ByteBudget(1000), seconds=10)
    charged = []

    def measure() -> int:
        charged.append(work.budget.used)
        return 100  # the pixels

    def job() -> str:
        charged.append(work.budget.used)
        return "done"

    run = functools.partial(work.background, measure, job, extra_memory=300)
    assert anyio.run(run) == "done"
    assert charged == [300, 400]
    assert work.budget.used == 0
