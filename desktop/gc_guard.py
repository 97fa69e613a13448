"""Run Python's cycle collector on the GUI thread only.

The collector runs in whichever thread happens to allocate when a threshold is crossed: with
requests and the embedded server busy in other threads, that is often not the GUI thread. If the
cycle it frees holds a Qt object (a widget, a pixmap, a signal blocker), the C++ destructor then
runs off the GUI thread, which Qt does not allow and which can crash. So automatic collection is
turned off and a timer on the GUI thread collects instead (the usual PySide/PyQt recipe).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        gc.disable()
        self._timer = QTimer(self, interval=INTERVAL_MS)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> None:
        # Same generational policy as the automatic collector, just on this thread.
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self.threshold[generation]:
                gc.collect(generation)
                break

    def stop(self) -> None:
        self._timer.stop()
        gc.enable()
