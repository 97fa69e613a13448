"""picdrop's HTTP service: validates, strips, stores and serves images.

Never imports Qt: the desktop app embeds this package, not the other way round.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("picdrop")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+source"
