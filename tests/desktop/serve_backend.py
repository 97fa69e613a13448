"""Run the backend until killed: `python serve_backend.py DATA_DIR PORT`. Prints its URL when it
listens. Tests use it to kill the server (SIGKILL) mid-batch and start it again."""

import sys
import threading
from pathlib import Path

from backend.server import EmbeddedServer
from backend.settings import Settings

server = EmbeddedServer(
    Settings(data_dir=Path(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), sweep_interval=0)
)
print(server.start(), flush=True)
threading.Event().wait()
