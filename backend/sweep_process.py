"""The server's periodic orphan sweep, run in a child process of its own.

A sweep walks the whole store. In the serving process its Python work takes the GIL from the
event loop in turns of up to 5 ms (`sys.getswitchinterval`), which put the cached GET's p99 at
~20 ms while a 100k-blob sweep ran, and the memory it touched stayed with the process. A child
has its own GIL and hands all its memory back when it exits. It is spawned, not forked: the
server has threads and open connections, which a fork would copy in whatever state they were.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from backend.settings import Settings

NICENESS = 10  # background work: a tenth of the CPU share of the serving process when both want it


def sweep_orphans_apart(settings: Settings) -> int:
    """`ImageService.sweep_orphans` on the catalog and store of `settings`, in a child process;
    returns how many it removed."""
    context = multiprocessing.get_context("spawn")
    # Niced before it imports anything: on a busy machine requests come first, the sweep waits.
    with ProcessPoolExecutor(
        max_workers=1, mp_context=context, initializer=os.nice, initargs=(NICENESS,)
    ) as child:
        return child.submit(_sweep_orphans, settings).result()


def _sweep_orphans(settings: Settings) -> int:
    from backend import logformat
    from backend.assembly import build
    from backend.cli import configure_logging

    configure_logging(quiet=True)  # the sweep's warnings (a hold) go where the server's do
    logformat.use(settings.log_format)
    backend = build(settings)
    try:
        return backend.images.sweep_orphans()
    finally:
        backend.close()
