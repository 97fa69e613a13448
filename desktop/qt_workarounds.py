"""Workarounds for bugs in the Qt bindings, applied once per process before Qt runs."""

from __future__ import annotations

import ctypes
import sys

# References given to True: far more than any run emits signals.
TRUE_REFERENCES = 1 << 40


def keep_true_alive() -> None:
    """PySide6 6.12's SignalInstance.emit() returns True without taking a reference to it, so
    every emit drops one of True's references; when they run out the interpreter aborts
    ("bool_dealloc: deallocating True or False"), mid-run or at exit. Python 3.12 makes True
    immortal; before that, give it references enough to outlive any run."""
    if sys.version_info < (3, 12):
        ctypes.c_ssize_t.from_address(id(True)).value += TRUE_REFERENCES
